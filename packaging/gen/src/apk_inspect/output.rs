//! The report (one fact per line) and extraction to a directory.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::schema::INFO_FIELDS;
use super::{InspectError, Package};

pub(super) fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(2 * b.len()), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// "/" for the root, "/etc/arcway" for the others.
fn abs(dir: &str) -> String {
    format!("/{dir}")
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        format!("/{name}")
    } else {
        format!("/{dir}/{name}")
    }
}

impl Package {
    /// One fact per line, for people and for `grep -x` in tests.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "compression: {}", self.compression);
        let _ = writeln!(s, "schema: pckg");
        let _ = writeln!(
            s,
            "adb: compat {} version {}",
            self.adb_compat, self.adb_version
        );
        let _ = writeln!(s, "signatures: {}", self.signatures);
        for name in INFO_FIELDS {
            if let Some(v) = self.info.get(name) {
                let _ = writeln!(s, "info.{name}: {v}");
            }
        }
        let _ = writeln!(
            s,
            "package-id: {}",
            if self.id_matches {
                "matches the ADB block"
            } else {
                "MISMATCH"
            }
        );
        for (name, body) in &self.scripts {
            let _ = writeln!(s, "script: {name} {} bytes", body.len());
        }
        for d in &self.dirs {
            let a = &d.acl;
            let _ = writeln!(
                s,
                "dir: {} {:04o} {} {}",
                abs(&d.name),
                a.mode,
                a.user,
                a.group
            );
        }
        for d in &self.dirs {
            for f in &d.files {
                let a = &f.acl;
                let _ = write!(
                    s,
                    "file: {} {:04o} {} {} size={} mtime={}",
                    join(&d.name, &f.name),
                    a.mode,
                    a.user,
                    a.group,
                    f.size,
                    f.mtime
                );
                match &f.target {
                    Some(t) => {
                        let _ = writeln!(s, " target={}", hex(t));
                    }
                    None => {
                        let alg = if f.hash.len() == 32 {
                            "sha256"
                        } else {
                            "sha512"
                        };
                        let _ = writeln!(s, " {alg}={}", hex(&f.hash));
                    }
                }
            }
        }
        let _ = writeln!(s, "data-blocks: {} verified", self.data_blocks);
        s
    }

    /// Writes the files with their modes under `root` (directories too, the root excepted),
    /// and each script as `scripts/<name>` (mode 0755) when `scripts` is given.
    pub fn extract(&self, root: &Path, scripts: Option<&Path>) -> Result<(), InspectError> {
        let w = |path: &Path| {
            let path = path.to_path_buf();
            move |source| InspectError::Write { path, source }
        };
        for d in &self.dirs {
            if d.files.iter().any(|f| f.target.is_some()) {
                return Err(InspectError::Format(format!(
                    "{}: links and devices are not extracted here",
                    abs(&d.name)
                )));
            }
        }
        for d in &self.dirs {
            let dir = root.join(&d.name);
            fs::create_dir_all(&dir).map_err(w(&dir))?;
            for f in &d.files {
                let p = dir.join(&f.name);
                fs::write(&p, &f.data).map_err(w(&p))?;
                fs::set_permissions(&p, fs::Permissions::from_mode(f.acl.mode)).map_err(w(&p))?;
            }
        }
        // Modes last and deepest first, so a 0700 directory does not lock out its own files.
        for d in self.dirs.iter().rev().filter(|d| !d.name.is_empty()) {
            let dir = root.join(&d.name);
            fs::set_permissions(&dir, fs::Permissions::from_mode(d.acl.mode)).map_err(w(&dir))?;
        }
        if let Some(sdir) = scripts {
            fs::create_dir_all(sdir).map_err(w(sdir))?;
            for (name, body) in &self.scripts {
                let p = sdir.join(name);
                fs::write(&p, body).map_err(w(&p))?;
                fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).map_err(w(&p))?;
            }
        }
        Ok(())
    }
}
