//! Package metadata as mkpkg's `--info KEY:VALUE` takes it, and apk's rules for names,
//! versions and dependencies.

use super::{MkapkError, invalid};

/// Package metadata (mkpkg's `--info` fields).
#[derive(Debug, Default, Clone)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub description: Option<String>,
    pub license: Option<String>,
    pub origin: Option<String>,
    pub maintainer: Option<String>,
    pub url: Option<String>,
    pub build_time: Option<u64>,
    pub depends: Vec<Dep>,
    pub provides: Vec<Dep>,
    pub replaces: Vec<Dep>,
    pub install_if: Vec<Dep>,
    pub recommends: Vec<Dep>,
}

impl Info {
    /// Sets a field from mkpkg's `KEY:VALUE` form. Dependency lists are separated by spaces.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), MkapkError> {
        let text = || Some(value.to_string());
        match key {
            "name" => self.name = value.to_string(),
            "version" => self.version = value.to_string(),
            "arch" => self.arch = value.to_string(),
            "description" => self.description = text(),
            "license" => self.license = text(),
            "origin" => self.origin = text(),
            "maintainer" => self.maintainer = text(),
            "url" => self.url = text(),
            "build-time" => {
                let t = value
                    .parse()
                    .map_err(|_| invalid("build-time", value, "not a number of seconds"))?;
                self.build_time = Some(t);
            }
            "depends" => self.depends = Dep::parse_list(value)?,
            "provides" => self.provides = Dep::parse_list(value)?,
            "replaces" => self.replaces = Dep::parse_list(value)?,
            "install-if" => self.install_if = Dep::parse_list(value)?,
            "recommends" => self.recommends = Dep::parse_list(value)?,
            _ => return Err(invalid("info field", key, "not one this writer knows")),
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), MkapkError> {
        if self.name.is_empty() {
            return Err(MkapkError::Missing("name"));
        }
        if self.version.is_empty() {
            return Err(MkapkError::Missing("version"));
        }
        if self.arch.is_empty() {
            return Err(MkapkError::Missing("arch"));
        }
        if !valid_name(&self.name) {
            return Err(invalid("name", &self.name, "not a package name"));
        }
        if !valid_version(&self.version) {
            return Err(invalid("version", &self.version, "not an apk version"));
        }
        Ok(())
    }
}

/// One dependency: a name, optionally with a version constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dep {
    pub name: String,
    /// apk's match bits (1 equal, 2 less, 4 greater, 8 fuzzy) and the version.
    pub constraint: Option<(u32, String)>,
}

impl Dep {
    /// `name`, or `name<op>version` with op one of = < > <= >= ~.
    pub fn parse(s: &str) -> Result<Self, MkapkError> {
        let split = s.find(['<', '>', '=', '~']);
        let Some(at) = split else {
            if !valid_name(s) {
                return Err(invalid("dependency", s, "not a package name"));
            }
            return Ok(Dep {
                name: s.to_string(),
                constraint: None,
            });
        };
        let (name, rest) = s.split_at(at);
        let ops: [(&str, u32); 6] = [("<=", 3), (">=", 5), ("=", 1), ("<", 2), (">", 4), ("~", 9)];
        let Some((op, bits)) = ops.into_iter().find(|(op, _)| rest.starts_with(op)) else {
            return Err(invalid("dependency", s, "unknown version operator"));
        };
        let version = &rest[op.len()..];
        if !valid_name(name) {
            return Err(invalid("dependency", s, "not a package name"));
        }
        if !valid_version(version) {
            return Err(invalid("dependency", s, "not an apk version"));
        }
        Ok(Dep {
            name: name.to_string(),
            constraint: Some((bits, version.to_string())),
        })
    }

    /// Sorted and without duplicates, the order apk-tools stores a dependency array in.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, MkapkError> {
        let mut deps = s
            .split_ascii_whitespace()
            .map(Dep::parse)
            .collect::<Result<Vec<_>, _>>()?;
        deps.sort();
        deps.dedup();
        Ok(deps)
    }
}

/// apk's package names: a letter or digit, then letters, digits and `+-._`.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
}

/// apk's version syntax: `1.2.3`, an optional letter, `_suffix[N]` parts (alpha, beta, pre,
/// rc, cvs, svn, git, hg, p), an optional `~hexhash`, an optional `-rN`.
pub fn valid_version(s: &str) -> bool {
    fn digits(s: &str) -> (&str, &str) {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        s.split_at(n)
    }
    let (first, mut rest) = digits(s);
    if first.is_empty() {
        return false;
    }
    while let Some(r) = rest.strip_prefix('.') {
        let (d, r) = digits(r);
        if d.is_empty() {
            return false;
        }
        rest = r;
    }
    if rest.starts_with(|c: char| c.is_ascii_lowercase()) {
        rest = &rest[1..];
    }
    const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
    while let Some(r) = rest.strip_prefix('_') {
        let Some(s) = SUFFIXES.iter().find(|s| r.starts_with(*s)) else {
            return false;
        };
        rest = digits(&r[s.len()..]).1;
    }
    if let Some(r) = rest.strip_prefix('~') {
        let n = r.bytes().take_while(u8::is_ascii_hexdigit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    if let Some(r) = rest.strip_prefix("-r") {
        let (d, r) = digits(r);
        if d.is_empty() {
            return false;
        }
        rest = r;
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_apk_syntax() {
        for ok in [
            "0.1.0-r1",
            "1",
            "1.2.3a",
            "2.0_rc1-r0",
            "1.0_p2_git",
            "3.1~abc12-r9",
        ] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in [
            "",
            "v1",
            "1..2",
            "1.0-1",
            "1.0_foo",
            "1.0-r",
            "1.0 ",
            "0.1.0-r1x",
        ] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn dependencies_parse_sort_and_dedup() {
        let deps =
            Dep::parse_list("nftables-json  kmod-wireguard kmod-nft-core kmod-wireguard").unwrap();
        let names: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["kmod-nft-core", "kmod-wireguard", "nftables-json"]);
        assert_eq!(
            Dep::parse("libc>=1.2").unwrap().constraint,
            Some((5, "1.2".to_string()))
        );
        assert!(Dep::parse("-bad").is_err());
        assert!(Dep::parse("x=>1").is_err());
    }
}
