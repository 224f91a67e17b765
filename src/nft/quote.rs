//! The one way a string gets into the nftables script.
//!
//! nft has no escapes inside a quoted string, `*` at the end of a quoted interface name is a
//! wildcard, and an unquoted word may be a keyword: rather than escaping, each kind of
//! string is checked against a charset that nft reads as a single literal token, and a string
//! outside it is refused. The renderers pass every string through [`token`], so no interface
//! name, cgroup path or class name can change the structure of the table.

use std::fmt;

/// What a string is in the script, which decides its charset and whether it is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `iifname "..."`, `oifname "..."`, vmap keys: quoted.
    Ifname,
    /// `socket cgroupv2 level N "..."`: quoted, relative to the cgroup v2 root.
    Cgroup,
    /// Chain, counter and protocol names, port ranges: unquoted.
    Word,
    /// `comment "..."`: quoted.
    Comment,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Ifname => "interface name",
            Kind::Cgroup => "cgroup path",
            Kind::Word => "name",
            Kind::Comment => "comment",
        })
    }
}

/// A string refused for the script, with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value} cannot go into the nftables table: {reason}")]
pub struct Unsafe {
    pub kind: Kind,
    /// The string, escaped so that it is safe to log.
    pub value: String,
    pub reason: String,
}

/// Linux's limit is IFNAMSIZ (16) including the terminating NUL.
pub const IFNAME_MAX: usize = 15;
/// NAME_MAX of a cgroup directory, and a bound on the whole path.
const CGROUP_SEGMENT_MAX: usize = 255;
const CGROUP_MAX: usize = 1024;
/// nftables refuses longer comments.
const COMMENT_MAX: usize = 128;
/// Chain, counter and object names (NFT_NAME_MAXLEN - 1).
const WORD_MAX: usize = 255;

fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// An interface name as the kernel accepts it (1..=15 bytes, not `.` or `..`, no `/`, `:`
/// or whitespace) and as nft reads it literally (letters, digits, `_`, `-`, `.`).
pub fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("interface name is empty".to_owned());
    }
    let shown = name.escape_debug();
    if name.len() > IFNAME_MAX {
        return Err(format!(
            "interface name `{shown}` is longer than {IFNAME_MAX} bytes"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a valid interface name"));
    }
    if let Some(c) = name.chars().find(|c| !plain(*c)) {
        let what = match c {
            '/' | ':' => format!("`{c}`"),
            c if c.is_whitespace() => "whitespace".to_owned(),
            c if c.is_control() => format!("the control character {}", c.escape_debug()),
            c => format!("`{c}`, which nftables would parse"),
        };
        return Err(format!(
            "interface name `{shown}` contains {what} (use letters, digits, `_`, `-`, `.`)"
        ));
    }
    Ok(())
}

/// A cgroup v2 path: segments of letters, digits and `_ - . @ : + ,` (systemd's unit names),
/// none of them `.` or `..`, separated by `/`.
pub fn check_cgroup(path: &str) -> Result<(), String> {
    let shown = path.escape_debug();
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Err("cgroup path is empty".to_owned());
    }
    if path.len() > CGROUP_MAX {
        return Err(format!("cgroup path is longer than {CGROUP_MAX} bytes"));
    }
    for segment in trimmed.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(format!(
                "cgroup path `{shown}` has an empty, `.` or `..` component"
            ));
        }
        if segment.len() > CGROUP_SEGMENT_MAX {
            return Err(format!(
                "cgroup path `{shown}` has a component longer than {CGROUP_SEGMENT_MAX} bytes"
            ));
        }
    }
    let ok = |c: char| plain(c) || matches!(c, '/' | '@' | ':' | '+' | ',');
    if let Some(c) = path.chars().find(|c| !ok(*c)) {
        return Err(format!(
            "cgroup path `{shown}` contains `{}` (use letters, digits, `_ - . @ : + ,` and `/`)",
            c.escape_debug()
        ));
    }
    Ok(())
}

fn check_word(word: &str, max: usize) -> Result<(), String> {
    let starts_ok = word
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !starts_ok || word.len() > max || !word.chars().all(plain) {
        return Err(format!(
            "expected 1 to {max} of letters, digits, `_`, `-`, `.`, starting with a letter or digit"
        ));
    }
    Ok(())
}

/// `value` as it goes into the script: checked for its kind, quoted where nft wants quotes.
pub fn token(kind: Kind, value: &str) -> Result<String, Unsafe> {
    let checked = match kind {
        Kind::Ifname => check_ifname(value),
        Kind::Cgroup => check_cgroup(value),
        Kind::Word => check_word(value, WORD_MAX),
        Kind::Comment => check_word(value, COMMENT_MAX),
    };
    checked.map_err(|reason| Unsafe {
        kind,
        value: format!("\"{}\"", value.escape_debug()),
        reason,
    })?;
    Ok(match kind {
        Kind::Word => value.to_owned(),
        Kind::Ifname | Kind::Cgroup | Kind::Comment => format!("\"{value}\""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_and_stay_literal() {
        for ok in [
            "wlan0",
            "wwan0",
            "br-lan",
            "eth0.2",
            "phy0-ap0",
            "a",
            "abcdefghijklmno",
        ] {
            assert_eq!(check_ifname(ok), Ok(()), "{ok}");
            assert_eq!(token(Kind::Ifname, ok).unwrap(), format!("\"{ok}\""));
        }
        for bad in [
            "",
            ".",
            "..",
            "abcdefghijklmnop",
            "a/b",
            "a:1",
            "a b",
            "a\tb",
            "a\"b",
            "eth*",
            "a;b",
            "a{b",
            "a}b",
            "a\\b",
            "$x",
            "a\nb",
            "é",
        ] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
            assert!(token(Kind::Ifname, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cgroup_paths_are_plain_relative_paths() {
        for ok in [
            "system.slice/telemetry.service",
            "/system.slice/getty@tty1.service/",
            "user.slice/user-1000.slice/app:x+y,z",
        ] {
            assert!(check_cgroup(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/", "a//b", "a/../b", "./a", "a\"b", "a b", "a\\x2d", "a*",
        ] {
            assert!(check_cgroup(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refused_strings_are_shown_escaped() {
        let err = token(Kind::Comment, "a\"\n;b").unwrap_err();
        assert_eq!(err.value, "\"a\\\"\\n;b\"");
        assert!(
            err.to_string()
                .starts_with("comment \"a\\\"\\n;b\" cannot go into")
        );
        assert!(token(Kind::Word, "-x").is_err());
        assert_eq!(token(Kind::Word, "8000-9000").unwrap(), "8000-9000");
    }
}
