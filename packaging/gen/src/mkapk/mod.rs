//! Builds an apk v3 package (the format of OpenWrt 25.12 and later), as
//! `apk mkpkg --info ... --script ... --files DIR` does without a signing key:
//!
//! ```text
//! "ADBd" + raw deflate of:
//!   "ADB." "pckg"                      file header: magic, schema of the root object
//!   ADB block                          package: info, paths (directories and their files), scripts
//!   DATA block per non-empty file      path index, file index (both 1-based), the file's bytes
//! ```
//!
//! Directories and the files in each are sorted by name, and data blocks follow that order, as
//! apk's extractor expects. A file's `hash` is the SHA-256 of its bytes; the package's `hashes`
//! is, as mkpkg makes it, the first 20 bytes of the SHA-256 of the ADB block taken while that
//! field still holds zeros. No SIG block: such a package installs with `apk add
//! --allow-untrusted`.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::adb_write::{self, AdbError, AdbWriter, NULL, Val};
use crate::stage::Tree;

mod metadata;
pub use metadata::{Dep, Info};

/// `pckg`, the schema of a package's root object.
const SCHEMA_PACKAGE: &[u8; 4] = b"pckg";

// Field numbers of the package schema (apk-tools apk_adb.h).
mod pkg {
    pub const INFO: usize = 1;
    pub const PATHS: usize = 2;
    pub const SCRIPTS: usize = 3;
    pub const MAX: usize = 5;
}
mod info {
    pub const NAME: usize = 1;
    pub const VERSION: usize = 2;
    pub const HASHES: usize = 3;
    pub const DESCRIPTION: usize = 4;
    pub const ARCH: usize = 5;
    pub const LICENSE: usize = 6;
    pub const ORIGIN: usize = 7;
    pub const MAINTAINER: usize = 8;
    pub const URL: usize = 9;
    pub const BUILD_TIME: usize = 11;
    pub const INSTALLED_SIZE: usize = 12;
    pub const DEPENDS: usize = 15;
    pub const PROVIDES: usize = 16;
    pub const REPLACES: usize = 17;
    pub const INSTALL_IF: usize = 18;
    pub const RECOMMENDS: usize = 19;
    pub const MAX: usize = 21;
}
mod acl {
    pub const MODE: usize = 1;
    pub const USER: usize = 2;
    pub const GROUP: usize = 3;
    pub const MAX: usize = 4;
}
mod file {
    pub const NAME: usize = 1;
    pub const ACL: usize = 2;
    pub const SIZE: usize = 3;
    pub const MTIME: usize = 4;
    pub const HASH: usize = 5;
    pub const MAX: usize = 6;
}
mod dir {
    pub const NAME: usize = 1;
    pub const ACL: usize = 2;
    pub const FILES: usize = 3;
    pub const MAX: usize = 3;
}
mod dep {
    pub const NAME: usize = 1;
    pub const VERSION: usize = 2;
    pub const MATCH: usize = 3;
    pub const MAX: usize = 3;
}

/// Length of the package's `hashes` field (a SHA-1-sized prefix of a SHA-256).
const PACKAGE_ID_LEN: usize = 20;

#[derive(Debug, Error)]
pub enum MkapkError {
    #[error("failed to build the package: invalid {field} {value:?}: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("failed to build the package: required info field {0} is missing")]
    Missing(&'static str),
    #[error("failed to build the package")]
    Adb(#[from] AdbError),
    #[error("failed to compress the package")]
    Compress(#[source] std::io::Error),
}

fn invalid(field: &'static str, value: &str, reason: &'static str) -> MkapkError {
    MkapkError::Invalid {
        field,
        value: value.to_string(),
        reason,
    }
}

/// Script slots of the package schema, by their mkpkg names.
pub const SCRIPT_NAMES: [&str; 7] = [
    "trigger",
    "pre-install",
    "post-install",
    "pre-deinstall",
    "post-deinstall",
    "pre-upgrade",
    "post-upgrade",
];

/// Scripts by slot name (one of `SCRIPT_NAMES`).
pub type Scripts = BTreeMap<String, Vec<u8>>;

/// The finished package file.
pub fn build(info: &Info, tree: &Tree, scripts: &Scripts) -> Result<Vec<u8>, MkapkError> {
    info.validate()?;
    for name in scripts.keys() {
        if !SCRIPT_NAMES.contains(&name.as_str()) {
            return Err(invalid("script type", name, "not an apk script slot"));
        }
    }
    let plain = |part: &str| !part.is_empty() && part != "." && part != ".." && !part.contains('/');
    for (path, d) in &tree.dirs {
        if !path.is_empty() && !path.split('/').all(plain) {
            return Err(invalid("directory", path, "not a plain relative path"));
        }
        if let Some(name) = d.files.keys().find(|n| !plain(n)) {
            return Err(invalid("file name", name, "not a plain name"));
        }
    }

    let mut w = AdbWriter::new();
    let (root, id_at) = write_package(&mut w, info, tree, scripts)?;
    let mut adb = w.finish(root);
    let id = Sha256::digest(&adb);
    adb[id_at..id_at + PACKAGE_ID_LEN].copy_from_slice(&id[..PACKAGE_ID_LEN]);

    let mut stream = Vec::with_capacity(adb.len() + tree.content_size() as usize + 1024);
    stream.extend_from_slice(b"ADB.");
    stream.extend_from_slice(SCHEMA_PACKAGE);
    adb_write::block(adb_write::BLOCK_ADB, &adb, &mut stream)?;
    // Paths and files are numbered from 1 in the (sorted) order of the ADB block.
    for (path_idx, d) in (1u32..).zip(tree.dirs.values()) {
        for (file_idx, f) in (1u32..).zip(d.files.values()) {
            if f.data.is_empty() {
                continue;
            }
            let mut hdr = [0u8; 8];
            hdr[..4].copy_from_slice(&path_idx.to_le_bytes());
            hdr[4..].copy_from_slice(&file_idx.to_le_bytes());
            adb_write::block_parts(adb_write::BLOCK_DATA, &[&hdr, &f.data], &mut stream)?;
        }
    }

    // mkpkg's default: "ADBd" and a raw deflate stream at zlib's level 9.
    let mut out = b"ADBd".to_vec();
    let mut z = DeflateEncoder::new(&mut out, Compression::best());
    z.write_all(&stream).map_err(MkapkError::Compress)?;
    z.finish().map_err(MkapkError::Compress)?;
    Ok(out)
}

/// Writes the package object; returns it and the offset of the `hashes` bytes to fill in.
fn write_package(
    w: &mut AdbWriter,
    info: &Info,
    tree: &Tree,
    scripts: &Scripts,
) -> Result<(Val, usize), MkapkError> {
    let root_name = w.blob(b"root")?;
    let acl_of = |w: &mut AdbWriter, mode: u32| -> Result<Val, AdbError> {
        let mut f = [NULL; acl::MAX];
        f[acl::MODE - 1] = w.int(mode.into())?;
        f[acl::USER - 1] = root_name;
        f[acl::GROUP - 1] = root_name;
        w.object(&f)
    };

    let mut paths = Vec::with_capacity(tree.dirs.len());
    for (path, d) in &tree.dirs {
        let mut files = Vec::with_capacity(d.files.len());
        for (name, f) in &d.files {
            let mut fi = [NULL; file::MAX];
            fi[file::NAME - 1] = w.blob(name.as_bytes())?;
            fi[file::ACL - 1] = acl_of(w, f.mode)?;
            fi[file::SIZE - 1] = w.int(f.data.len() as u64)?;
            fi[file::MTIME - 1] = w.int(f.mtime)?;
            fi[file::HASH - 1] = w.blob(&Sha256::digest(&f.data))?;
            files.push(w.object(&fi)?);
        }
        let mut di = [NULL; dir::MAX];
        // The root directory has no name.
        di[dir::NAME - 1] = w.blob(path.as_bytes())?;
        di[dir::ACL - 1] = acl_of(w, d.mode)?;
        di[dir::FILES - 1] = w.array(&files)?;
        paths.push(w.object(&di)?);
    }
    let paths = w.array(&paths)?;

    let mut pi = [NULL; info::MAX];
    let mut text = |w: &mut AdbWriter, i: usize, v: Option<&str>| -> Result<(), AdbError> {
        pi[i - 1] = v.map_or(Ok(NULL), |v| w.blob(v.as_bytes()))?;
        Ok(())
    };
    text(w, info::NAME, Some(&info.name))?;
    text(w, info::VERSION, Some(&info.version))?;
    text(w, info::DESCRIPTION, info.description.as_deref())?;
    text(w, info::ARCH, Some(&info.arch))?;
    text(w, info::LICENSE, info.license.as_deref())?;
    text(w, info::ORIGIN, info.origin.as_deref())?;
    text(w, info::MAINTAINER, info.maintainer.as_deref())?;
    text(w, info::URL, info.url.as_deref())?;
    let (id, id_at) = w.blob_unshared(&[0; PACKAGE_ID_LEN])?;
    pi[info::HASHES - 1] = id;
    if let Some(t) = info.build_time {
        pi[info::BUILD_TIME - 1] = w.int(t)?;
    }
    // mkpkg never writes zero: an empty package still takes some room.
    pi[info::INSTALLED_SIZE - 1] = w.int(tree.content_size().max(1))?;
    for (i, deps) in [
        (info::DEPENDS, &info.depends),
        (info::PROVIDES, &info.provides),
        (info::REPLACES, &info.replaces),
        (info::INSTALL_IF, &info.install_if),
        (info::RECOMMENDS, &info.recommends),
    ] {
        pi[i - 1] = write_deps(w, deps)?;
    }
    let pkginfo = w.object(&pi)?;

    let mut sc = [NULL; SCRIPT_NAMES.len()];
    for (slot, name) in sc.iter_mut().zip(SCRIPT_NAMES) {
        if let Some(body) = scripts.get(name) {
            *slot = w.blob(body)?;
        }
    }
    let scripts = w.object(&sc)?;

    let mut p = [NULL; pkg::MAX];
    p[pkg::INFO - 1] = pkginfo;
    p[pkg::PATHS - 1] = paths;
    p[pkg::SCRIPTS - 1] = scripts;
    Ok((w.object(&p)?, id_at))
}

fn write_deps(w: &mut AdbWriter, deps: &[Dep]) -> Result<Val, AdbError> {
    let mut items = Vec::with_capacity(deps.len());
    for d in deps {
        let mut f = [NULL; dep::MAX];
        f[dep::NAME - 1] = w.blob(d.name.as_bytes())?;
        if let Some((bits, version)) = &d.constraint {
            f[dep::VERSION - 1] = w.blob(version.as_bytes())?;
            // "Equal" is the default when a version is given.
            if *bits != 1 {
                f[dep::MATCH - 1] = w.int((*bits).into())?;
            }
        }
        items.push(w.object(&f)?);
    }
    w.array(&items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_needs_name_version_and_arch() {
        let mut info = Info::default();
        let tree = Tree::default();
        assert!(matches!(
            build(&info, &tree, &Scripts::new()),
            Err(MkapkError::Missing("name"))
        ));
        info.set("name", "arcway").unwrap();
        info.set("version", "0.1.0-r1").unwrap();
        assert!(matches!(
            build(&info, &tree, &Scripts::new()),
            Err(MkapkError::Missing("arch"))
        ));
        info.set("arch", "x86_64").unwrap();
        assert!(build(&info, &tree, &Scripts::new()).is_ok());
        assert!(info.set("colour", "blue").is_err());
        info.set("version", "0.1.0-1").unwrap();
        assert!(build(&info, &tree, &Scripts::new()).is_err());
    }

    #[test]
    fn refuses_paths_that_leave_the_tree() {
        let mut info = Info::default();
        for (k, v) in [("name", "a"), ("version", "1"), ("arch", "noarch")] {
            info.set(k, v).unwrap();
        }
        let dir = || crate::stage::Dir {
            mode: 0o755,
            files: BTreeMap::new(),
        };
        for bad in ["etc/..", "/etc", "etc//x", "."] {
            let mut tree = Tree::default();
            tree.dirs.insert(bad.to_string(), dir());
            assert!(build(&info, &tree, &Scripts::new()).is_err(), "{bad}");
        }
    }
}
