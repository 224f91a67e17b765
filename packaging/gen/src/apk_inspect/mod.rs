//! Reads an apk v3 package and checks it against the format (apk-v3(5), apk-tools' package
//! schema), independently of `mkapk`: nothing here comes from the writer. It undoes the
//! compression, walks the blocks (one ADB block, optional SIG blocks, then DATA blocks), decodes
//! the package object field by field, and verifies what apk checks when it installs: data blocks
//! in path/file order, each one's size and SHA-256 against the file entry. It also checks what
//! mkpkg guarantees: sorted paths and files, the installed size, the package's `hashes`.

mod output;
mod schema;
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256, Sha512};
use thiserror::Error;

use output::hex;
use schema::{PACKAGE_FIELDS, SCRIPT_FIELDS, read_info, read_paths};
use wire::{Adb, B_ADB, B_DATA, B_SIG, Block, blocks, decompress, field, no_extra};

#[derive(Debug, Error)]
pub enum InspectError {
    #[error("not an apk v3 package: {0}")]
    Format(String),
    #[error("failed to decompress the package")]
    Decompress(#[source] std::io::Error),
    #[error("bad block at byte {at}: {what}")]
    Block { at: usize, what: String },
    #[error("bad value in the ADB block: {0}")]
    Value(String),
    #[error("package does not follow the schema: {0}")]
    Schema(String),
    #[error("file data does not match the package: {0}")]
    Data(String),
    #[error("failed to write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn schema_err(s: impl Into<String>) -> InspectError {
    InspectError::Schema(s.into())
}

fn value_err(s: impl Into<String>) -> InspectError {
    InspectError::Value(s.into())
}

/// A decoded package.
#[derive(Debug)]
pub struct Package {
    pub compression: &'static str,
    pub adb_compat: u8,
    pub adb_version: u8,
    pub signatures: usize,
    /// Info fields by schema name, rendered as text (hex for hashes, space-separated lists).
    pub info: BTreeMap<&'static str, String>,
    pub scripts: BTreeMap<&'static str, Vec<u8>>,
    pub dirs: Vec<DirEntry>,
    pub data_blocks: usize,
    /// The package's `hashes` equals the SHA-256 prefix of its ADB block taken with the field
    /// zeroed (mkpkg's construction).
    pub id_matches: bool,
}

#[derive(Debug)]
pub struct DirEntry {
    /// Relative to the root, "" for the root itself.
    pub name: String,
    pub acl: Acl,
    pub files: Vec<FileEntry>,
}

#[derive(Debug)]
pub struct FileEntry {
    pub name: String,
    pub acl: Acl,
    pub size: u64,
    pub mtime: u64,
    pub hash: Vec<u8>,
    /// Symlink, hard link or device: apk's `target` blob (type bits, then the target).
    pub target: Option<Vec<u8>>,
    /// The file's bytes from its data block (empty for an empty file).
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Acl {
    pub mode: u32,
    pub user: String,
    pub group: String,
}

/// Reads and checks a package file.
pub fn inspect(file: &[u8]) -> Result<Package, InspectError> {
    let (compression, stream) = decompress(file)?;
    if stream.get(..4) != Some(b"ADB.") {
        return Err(InspectError::Format(
            "no ADB. header after decompression".into(),
        ));
    }
    match stream.get(4..8) {
        Some(b"pckg") => {}
        Some(s) => {
            return Err(InspectError::Format(format!(
                "schema {:?}, not a package (pckg)",
                String::from_utf8_lossy(s)
            )));
        }
        None => return Err(InspectError::Format("truncated header".into())),
    }
    let blocks = blocks(&stream, 8)?;

    // One ADB block first, then signatures, then data.
    let Some(first) = blocks.first() else {
        return Err(InspectError::Format("no blocks".into()));
    };
    if first.kind != B_ADB {
        return Err(InspectError::Block {
            at: first.at,
            what: "the first block is not the ADB block".into(),
        });
    }
    let mut signatures = 0;
    let mut data = Vec::new();
    for b in &blocks[1..] {
        match b.kind {
            B_SIG if data.is_empty() => signatures += 1,
            B_DATA => data.push(b),
            k => {
                return Err(InspectError::Block {
                    at: b.at,
                    what: format!("block type {k} not allowed here"),
                });
            }
        }
    }

    let adb = Adb {
        bytes: first.payload,
    };
    if adb.bytes.len() < 8 {
        return Err(value_err("ADB block shorter than its header"));
    }
    let (adb_compat, adb_version) = (adb.bytes[0], adb.bytes[1]);
    if adb_compat != 0 {
        return Err(InspectError::Format(format!(
            "ADB compat version {adb_compat}"
        )));
    }
    let root = adb.u32_at(4)?;
    let pkg = adb.object(root, "package")?;
    no_extra(&pkg, PACKAGE_FIELDS.len(), "package")?;

    let (info, id_at) = read_info(&adb, field(&pkg, 1))?;
    let mut dirs = read_paths(&adb, field(&pkg, 2))?;
    let mut scripts = BTreeMap::new();
    let sc = adb.object(field(&pkg, 3), "scripts")?;
    no_extra(&sc, SCRIPT_FIELDS.len(), "scripts")?;
    for (i, name) in SCRIPT_FIELDS.iter().enumerate() {
        if let Some((body, _)) = adb.blob(field(&sc, i + 1), name)? {
            scripts.insert(*name, body.to_vec());
        }
    }

    verify_data(&mut dirs, &data)?;

    let total: u64 = dirs.iter().flat_map(|d| &d.files).map(|f| f.size).sum();
    let declared = info.get("installed-size").map(String::as_str);
    if declared != Some(&total.max(1).to_string()) {
        return Err(schema_err(format!(
            "installed-size {declared:?} is not the files' total {total}"
        )));
    }

    let id_matches = match id_at {
        Some((at, len)) => {
            let mut copy = adb.bytes.to_vec();
            copy[at..at + len].fill(0);
            Sha256::digest(&copy)[..len] == adb.bytes[at..at + len]
        }
        None => false,
    };

    Ok(Package {
        compression,
        adb_compat,
        adb_version,
        signatures,
        info,
        scripts,
        dirs,
        data_blocks: data.len(),
        id_matches,
    })
}

/// Pairs the data blocks with the regular, non-empty files in path and file order, as apk's
/// extractor does, and checks their numbering, size and hash.
fn verify_data(dirs: &mut [DirEntry], data: &[&Block]) -> Result<(), InspectError> {
    let mut blocks = data.iter();
    for (pi, d) in dirs.iter_mut().enumerate() {
        for (fi, f) in d.files.iter_mut().enumerate() {
            if f.target.is_some() || f.size == 0 {
                continue;
            }
            let path = format!("{}/{}", d.name, f.name);
            let b = blocks
                .next()
                .ok_or_else(|| InspectError::Data(format!("no data block for {path}")))?;
            let (idx, content) = b
                .payload
                .split_at_checked(8)
                .ok_or_else(|| InspectError::Data(format!("data block at {} too short", b.at)))?;
            let path_idx = u32::from_le_bytes(idx[..4].try_into().expect("4 bytes"));
            let file_idx = u32::from_le_bytes(idx[4..].try_into().expect("4 bytes"));
            if (path_idx as usize, file_idx as usize) != (pi + 1, fi + 1) {
                return Err(InspectError::Data(format!(
                    "data block at {} is for path {path_idx} file {file_idx}, expected {path} \
                     (path {} file {})",
                    b.at,
                    pi + 1,
                    fi + 1
                )));
            }
            if content.len() as u64 != f.size {
                return Err(InspectError::Data(format!(
                    "{path}: {} bytes of data, the entry says {}",
                    content.len(),
                    f.size
                )));
            }
            let actual = match f.hash.len() {
                32 => Sha256::digest(content).to_vec(),
                _ => Sha512::digest(content).to_vec(),
            };
            if actual != f.hash {
                return Err(InspectError::Data(format!("{path}: hash mismatch")));
            }
            f.data = content.to_vec();
        }
    }
    if let Some(b) = blocks.next() {
        return Err(InspectError::Data(format!(
            "data block at {} belongs to no file",
            b.at
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
