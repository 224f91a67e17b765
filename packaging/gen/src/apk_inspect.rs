//! Reads an apk v3 package and checks it against the format (apk-v3(5), apk-tools' package
//! schema), independently of `mkapk`: nothing here comes from the writer. It undoes the
//! compression, walks the blocks (one ADB block, optional SIG blocks, then DATA blocks), decodes
//! the package object field by field, and verifies what apk checks when it installs: data blocks
//! in path/file order, each one's size and SHA-256 against the file entry. It also checks what
//! mkpkg guarantees: sorted paths and files, the installed size, the package's `hashes`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::read::DeflateDecoder;
use sha2::{Digest, Sha256, Sha512};
use thiserror::Error;

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

// Value tags: the top 4 bits of a little-endian u32 (apk-v3(5), "WIRE FORMAT").
const T_SPECIAL: u32 = 0x0;
const T_INT: u32 = 0x1;
const T_INT32: u32 = 0x2;
const T_INT64: u32 = 0x3;
const T_BLOB8: u32 = 0x8;
const T_BLOB16: u32 = 0x9;
const T_BLOB32: u32 = 0xa;
const T_ARRAY: u32 = 0xd;
const T_OBJECT: u32 = 0xe;

// Block types: the top 2 bits of a block's first word ("BLOCKS").
const B_ADB: u32 = 0;
const B_SIG: u32 = 1;
const B_DATA: u32 = 2;
const B_EXT: u32 = 3;

/// A decoded value.
#[derive(Debug, Clone)]
enum Value<'a> {
    Null,
    True,
    False,
    Int(u64),
    Blob { bytes: &'a [u8], at: usize },
    Slots(Vec<u32>),
}

/// The ADB block, for decoding values.
struct Adb<'a> {
    bytes: &'a [u8],
}

impl<'a> Adb<'a> {
    fn slice(&self, at: usize, len: usize) -> Result<&'a [u8], InspectError> {
        at.checked_add(len)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or_else(|| value_err(format!("{len} bytes at {at} run past the block")))
    }

    fn u32_at(&self, at: usize) -> Result<u32, InspectError> {
        Ok(u32::from_le_bytes(
            self.slice(at, 4)?.try_into().expect("4 bytes"),
        ))
    }

    fn decode(&self, tag: u32) -> Result<Value<'a>, InspectError> {
        let off = (tag & 0x0fff_ffff) as usize;
        Ok(match tag >> 28 {
            T_SPECIAL => match off {
                0 => Value::Null,
                1 => Value::True,
                2 => Value::False,
                _ => return Err(value_err(format!("unknown special value {tag:#x}"))),
            },
            T_INT => Value::Int(off as u64),
            T_INT32 => Value::Int(self.u32_at(off)?.into()),
            T_INT64 => Value::Int(u64::from_le_bytes(
                self.slice(off, 8)?.try_into().expect("8 bytes"),
            )),
            T_BLOB8 | T_BLOB16 | T_BLOB32 => {
                let width = match tag >> 28 {
                    T_BLOB8 => 1,
                    T_BLOB16 => 2,
                    _ => 4,
                };
                let mut len = [0u8; 4];
                len[..width].copy_from_slice(self.slice(off, width)?);
                let len = u32::from_le_bytes(len) as usize;
                Value::Blob {
                    bytes: self.slice(off + width, len)?,
                    at: off + width,
                }
            }
            T_ARRAY | T_OBJECT => {
                let n = self.u32_at(off)? as usize;
                if n == 0 {
                    return Err(value_err(format!("object at {off} has no slot count")));
                }
                let raw = self.slice(off, 4 * n)?;
                Value::Slots(
                    raw.chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
                        .collect(),
                )
            }
            t => return Err(value_err(format!("unknown value type {t:#x}"))),
        })
    }

    /// An object's slots 1..; `what` names it in errors. Null reads as an empty object.
    fn object(&self, tag: u32, what: &str) -> Result<Vec<u32>, InspectError> {
        match self.decode(tag)? {
            Value::Null => Ok(Vec::new()),
            Value::Slots(mut s) => {
                s.remove(0);
                Ok(s)
            }
            other => Err(schema_err(format!("{what} is not an object: {other:?}"))),
        }
    }

    fn int(&self, tag: u32, what: &str) -> Result<Option<u64>, InspectError> {
        match self.decode(tag)? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(i)),
            other => Err(schema_err(format!("{what} is not an integer: {other:?}"))),
        }
    }

    fn blob(&self, tag: u32, what: &str) -> Result<Option<(&'a [u8], usize)>, InspectError> {
        match self.decode(tag)? {
            Value::Null => Ok(None),
            Value::Blob { bytes, at } => Ok(Some((bytes, at))),
            other => Err(schema_err(format!("{what} is not a blob: {other:?}"))),
        }
    }

    fn text(&self, tag: u32, what: &str) -> Result<Option<String>, InspectError> {
        self.blob(tag, what)?
            .map(|(b, _)| {
                String::from_utf8(b.to_vec())
                    .map_err(|_| schema_err(format!("{what} is not UTF-8")))
            })
            .transpose()
    }
}

/// Field `i` (1-based) of an object's slots, null when absent.
fn field(slots: &[u32], i: usize) -> u32 {
    slots.get(i - 1).copied().unwrap_or(0)
}

/// Fails on a set slot past the schema's last field.
fn no_extra(slots: &[u32], known: usize, what: &str) -> Result<(), InspectError> {
    match slots.iter().skip(known).position(|&v| v != 0) {
        Some(i) => Err(schema_err(format!(
            "{what} has unknown field {}",
            known + i + 1
        ))),
        None => Ok(()),
    }
}

// Package schema (apk-tools' apk_adb.c): field names in slot order.
const PACKAGE_FIELDS: [&str; 5] = ["info", "paths", "scripts", "triggers", "replaces-priority"];
const INFO_FIELDS: [&str; 21] = [
    "name",
    "version",
    "hashes",
    "description",
    "arch",
    "license",
    "origin",
    "maintainer",
    "url",
    "repo-commit",
    "build-time",
    "installed-size",
    "file-size",
    "provider-priority",
    "depends",
    "provides",
    "replaces",
    "install-if",
    "recommends",
    "layer",
    "tags",
];
const SCRIPT_FIELDS: [&str; 7] = [
    "trigger",
    "pre-install",
    "post-install",
    "pre-deinstall",
    "post-deinstall",
    "pre-upgrade",
    "post-upgrade",
];

/// Splits off and undoes the compression; returns its name and the ADB stream.
fn decompress(file: &[u8]) -> Result<(&'static str, Vec<u8>), InspectError> {
    let inflate = |z: &[u8]| -> Result<Vec<u8>, InspectError> {
        let mut d = DeflateDecoder::new(z);
        let mut out = Vec::new();
        d.read_to_end(&mut out).map_err(InspectError::Decompress)?;
        if d.total_in() != z.len() as u64 {
            return Err(InspectError::Format(format!(
                "{} bytes after the end of the deflate stream",
                z.len() as u64 - d.total_in()
            )));
        }
        Ok(out)
    };
    match file.get(..4) {
        Some(b"ADB.") => Ok(("none", file.to_vec())),
        Some(b"ADBd") => Ok(("deflate", inflate(&file[4..])?)),
        Some(b"ADBc") => match file.get(4..6) {
            Some([0, _]) => Ok(("none", file[6..].to_vec())),
            Some([1, _]) => Ok(("deflate", inflate(&file[6..])?)),
            Some([2, _]) => Err(InspectError::Format(
                "zstd compression is not read here".into(),
            )),
            _ => Err(InspectError::Format("unknown compression".into())),
        },
        _ => Err(InspectError::Format("no ADB magic".into())),
    }
}

struct Block<'a> {
    kind: u32,
    at: usize,
    payload: &'a [u8],
}

/// Splits the stream after the file header into blocks, checking framing and padding.
fn blocks(stream: &[u8], mut at: usize) -> Result<Vec<Block<'_>>, InspectError> {
    let mut out = Vec::new();
    while at < stream.len() {
        let bad = |what: &str| InspectError::Block {
            at,
            what: what.to_string(),
        };
        let word = stream
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| bad("truncated header"))?;
        let (kind, hdr, raw) = if word >> 30 == B_EXT {
            let x = stream
                .get(at + 8..at + 16)
                .ok_or_else(|| bad("truncated extended header"))?;
            let size = u64::from_le_bytes(x.try_into().expect("8 bytes"));
            let size = usize::try_from(size).map_err(|_| bad("size too large"))?;
            (word & 0x3fff_ffff, 16, size)
        } else {
            (word >> 30, 4, (word & 0x3fff_ffff) as usize)
        };
        if raw < hdr {
            return Err(bad("size smaller than its header"));
        }
        let padded = raw.next_multiple_of(8);
        let end = at.checked_add(padded).filter(|&e| e <= stream.len());
        let end = end.ok_or_else(|| bad("runs past the end of the file"))?;
        if stream[at + raw..end].iter().any(|&b| b != 0) {
            return Err(bad("padding is not zero"));
        }
        out.push(Block {
            kind,
            at,
            payload: &stream[at + hdr..at + raw],
        });
        at = end;
    }
    Ok(out)
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

type InfoFields = BTreeMap<&'static str, String>;

/// Info fields as text, and where the `hashes` bytes are (offset, length).
fn read_info(adb: &Adb, tag: u32) -> Result<(InfoFields, Option<(usize, usize)>), InspectError> {
    let slots = adb.object(tag, "info")?;
    no_extra(&slots, INFO_FIELDS.len(), "info")?;
    let mut out = BTreeMap::new();
    let mut id_at = None;
    for (i, name) in INFO_FIELDS.iter().enumerate() {
        let tag = field(&slots, i + 1);
        let text = match *name {
            "hashes" | "repo-commit" => adb.blob(tag, name)?.map(|(b, at)| {
                if *name == "hashes" && b.len() == 20 {
                    id_at = Some((at, b.len()));
                }
                hex(b)
            }),
            "build-time" | "installed-size" | "file-size" | "provider-priority" | "layer" => {
                adb.int(tag, name)?.map(|v| v.to_string())
            }
            "depends" | "provides" | "replaces" | "install-if" | "recommends" => {
                let items = adb.object(tag, name)?;
                let deps = items
                    .iter()
                    .map(|&d| read_dep(adb, d))
                    .collect::<Result<Vec<_>, _>>()?;
                let sorted = deps.windows(2).all(|w| w[0].0 <= w[1].0);
                if !sorted {
                    return Err(schema_err(format!("{name} are not sorted by name")));
                }
                (!deps.is_empty()).then(|| {
                    deps.into_iter()
                        .map(|(_, s)| s)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
            }
            "tags" => {
                let items = adb.object(tag, name)?;
                let tags = items
                    .iter()
                    .map(|&t| adb.text(t, "tag").map(Option::unwrap_or_default))
                    .collect::<Result<Vec<_>, _>>()?;
                (!tags.is_empty()).then(|| tags.join(" "))
            }
            _ => adb.text(tag, name)?,
        };
        if let Some(t) = text {
            out.insert(*name, t);
        }
    }
    for required in ["name", "version", "arch"] {
        if !out.contains_key(required) {
            return Err(schema_err(format!("info has no {required}")));
        }
    }
    Ok((out, id_at))
}

/// A dependency's name, and its text form (`name`, `name>=1.0`, `!name`).
fn read_dep(adb: &Adb, tag: u32) -> Result<(String, String), InspectError> {
    let d = adb.object(tag, "dependency")?;
    no_extra(&d, 3, "dependency")?;
    let name = adb
        .text(field(&d, 1), "dependency name")?
        .ok_or_else(|| schema_err("dependency without a name"))?;
    let version = adb.text(field(&d, 2), "dependency version")?;
    // Match bits: 1 equal, 2 less, 4 greater, 8 fuzzy, 16 conflict; equal when unset.
    let bits = adb.int(field(&d, 3), "dependency match")?.unwrap_or(1);
    let conflict = if bits & 16 != 0 { "!" } else { "" };
    let text = match version {
        None => format!("{conflict}{name}"),
        Some(v) => {
            let op = match bits & 15 {
                1 => "=",
                2 => "<",
                3 => "<=",
                4 => ">",
                5 => ">=",
                9 => "~",
                6 => "><",
                b => return Err(schema_err(format!("dependency {name}: match bits {b}"))),
            };
            format!("{conflict}{name}{op}{v}")
        }
    };
    Ok((name, text))
}

fn read_acl(adb: &Adb, tag: u32, what: &str) -> Result<Acl, InspectError> {
    let a = adb.object(tag, what)?;
    no_extra(&a, 4, what)?;
    let mode = adb
        .int(field(&a, 1), "mode")?
        .ok_or_else(|| schema_err(format!("{what} has no mode")))?;
    if mode > 0o7777 {
        return Err(schema_err(format!("{what} mode {mode:o} has type bits")));
    }
    Ok(Acl {
        mode: mode as u32,
        user: adb.text(field(&a, 2), "user")?.unwrap_or_default(),
        group: adb.text(field(&a, 3), "group")?.unwrap_or_default(),
    })
}

fn read_paths(adb: &Adb, tag: u32) -> Result<Vec<DirEntry>, InspectError> {
    let mut dirs: Vec<DirEntry> = Vec::new();
    for &dtag in &adb.object(tag, "paths")? {
        let d = adb.object(dtag, "directory")?;
        no_extra(&d, 3, "directory")?;
        let name = adb
            .text(field(&d, 1), "directory name")?
            .unwrap_or_default();
        let plain = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('/');
        if !name.is_empty() && !name.split('/').all(plain) {
            return Err(schema_err(format!("directory name {name:?}")));
        }
        if let Some(prev) = dirs.last()
            && prev.name.as_bytes() >= name.as_bytes()
        {
            return Err(schema_err(format!(
                "paths not sorted: {:?} before {name:?}",
                prev.name
            )));
        }
        let acl = read_acl(adb, field(&d, 2), "directory acl")?;
        let mut files: Vec<FileEntry> = Vec::new();
        for &ftag in &adb.object(field(&d, 3), "files")? {
            let f = adb.object(ftag, "file")?;
            no_extra(&f, 6, "file")?;
            let fname = adb
                .text(field(&f, 1), "file name")?
                .ok_or_else(|| schema_err(format!("a file in {name:?} has no name")))?;
            if !plain(&fname) {
                return Err(schema_err(format!("file name {fname:?} in {name:?}")));
            }
            if let Some(prev) = files.last()
                && prev.name.as_bytes() >= fname.as_bytes()
            {
                return Err(schema_err(format!(
                    "files in {name:?} not sorted at {fname:?}"
                )));
            }
            let target = adb.blob(field(&f, 6), "target")?.map(|(b, _)| b.to_vec());
            let hash = adb.blob(field(&f, 5), "hash")?.map(|(b, _)| b.to_vec());
            let hash = hash.unwrap_or_default();
            if target.is_none() && ![32, 64].contains(&hash.len()) {
                return Err(schema_err(format!(
                    "{name}/{fname}: regular file without a SHA-256 or SHA-512 hash"
                )));
            }
            files.push(FileEntry {
                acl: read_acl(adb, field(&f, 2), "file acl")?,
                size: adb.int(field(&f, 3), "size")?.unwrap_or(0),
                mtime: adb.int(field(&f, 4), "mtime")?.unwrap_or(0),
                hash,
                target,
                name: fname,
                data: Vec::new(),
            });
        }
        dirs.push(DirEntry { name, acl, files });
    }
    Ok(dirs)
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

fn hex(b: &[u8]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Little-endian u32s, for hand-assembled ADB blocks.
    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// A package assembled by hand from apk-v3(5), uncompressed ("ADB." form): one directory
    /// (the root) holding one file `f` with content "x".
    fn hand_made(content_in_block: &[u8], path_idx: u32) -> Vec<u8> {
        let hash = Sha256::digest(b"x");
        // ADB block payload; offsets below are into it.
        let mut adb = vec![0, 0, 0, 0, 0, 0, 0, 0]; // compat 0, version 0, root patched below
        let blob8 = |adb: &mut Vec<u8>, s: &[u8]| -> u32 {
            let at = adb.len() as u32;
            adb.push(s.len() as u8);
            adb.extend_from_slice(s);
            0x8000_0000 | at
        };
        let object = |adb: &mut Vec<u8>, slots: &[u32]| -> u32 {
            while !adb.len().is_multiple_of(4) {
                adb.push(0);
            }
            let at = adb.len() as u32;
            let mut all = vec![slots.len() as u32 + 1];
            all.extend_from_slice(slots);
            adb.extend_from_slice(&words(&all));
            0xe000_0000 | at
        };
        let name = blob8(&mut adb, b"a");
        let version = blob8(&mut adb, b"1-r0");
        let arch = blob8(&mut adb, b"x86_64");
        let root = blob8(&mut adb, b"root");
        let fname = blob8(&mut adb, b"f");
        let fhash = blob8(&mut adb, &hash);
        let int = |v: u32| 0x1000_0000 | v;
        let acl_dir = object(&mut adb, &[int(0o755), root, root]);
        let acl_file = object(&mut adb, &[int(0o644), root, root]);
        let file = object(&mut adb, &[fname, acl_file, int(1), int(0), fhash]);
        let files = 0xd000_0000 | (object(&mut adb, &[file]) & 0x0fff_ffff); // an array tag
        let dir = object(&mut adb, &[0, acl_dir, files]);
        let paths = object(&mut adb, &[dir]);
        let mut info = [0u32; 12];
        info[0] = name;
        info[1] = version;
        info[4] = arch;
        info[11] = int(1);
        let info = object(&mut adb, &info);
        let pkg = object(&mut adb, &[info, paths]);
        adb[4..8].copy_from_slice(&pkg.to_le_bytes());

        let mut out = b"ADB.pckg".to_vec();
        let block = |out: &mut Vec<u8>, kind: u32, payload: &[u8]| {
            out.extend_from_slice(&((kind << 30) | (payload.len() as u32 + 4)).to_le_bytes());
            out.extend_from_slice(payload);
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
        };
        block(&mut out, 0, &adb);
        let mut data = words(&[path_idx, 1]);
        data.extend_from_slice(content_in_block);
        block(&mut out, 2, &data);
        out
    }

    #[test]
    fn reads_a_package_assembled_from_the_spec() {
        let pkg = inspect(&hand_made(b"x", 1)).unwrap();
        assert_eq!(pkg.compression, "none");
        assert_eq!(pkg.info["name"], "a");
        assert_eq!(pkg.info["version"], "1-r0");
        assert_eq!(pkg.info["installed-size"], "1");
        assert_eq!(pkg.dirs.len(), 1);
        let f = &pkg.dirs[0].files[0];
        assert_eq!(
            (f.name.as_str(), f.acl.mode, f.data.as_slice()),
            ("f", 0o644, &b"x"[..])
        );
        assert!(!pkg.id_matches, "no hashes field");
        assert!(
            pkg.render()
                .contains("file: /f 0644 root root size=1 mtime=0 sha256=")
        );
    }

    #[test]
    fn rejects_data_that_does_not_match_its_entry() {
        let err = inspect(&hand_made(b"y", 1)).unwrap_err();
        assert!(
            matches!(err, InspectError::Data(ref s) if s.contains("hash mismatch")),
            "{err}"
        );
        let err = inspect(&hand_made(b"x", 2)).unwrap_err();
        assert!(
            matches!(err, InspectError::Data(ref s) if s.contains("path 2 file 1")),
            "{err}"
        );
        let err = inspect(&hand_made(b"xx", 1)).unwrap_err();
        assert!(matches!(err, InspectError::Data(_)), "{err}");
    }

    #[test]
    fn rejects_bad_framing() {
        let good = hand_made(b"x", 1);
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 8);
        assert!(inspect(&truncated).is_err());
        let mut schema = good.clone();
        schema[4..8].copy_from_slice(b"indx");
        assert!(matches!(inspect(&schema), Err(InspectError::Format(_))));
        let mut padding = good.clone();
        let last = padding.len() - 1;
        padding[last] = 1;
        assert!(matches!(inspect(&padding), Err(InspectError::Block { .. })));
        assert!(inspect(b"PK\x03\x04").is_err());
    }

    fn sample() -> (
        crate::mkapk::Info,
        crate::stage::Tree,
        crate::mkapk::Scripts,
    ) {
        use crate::stage::{Dir, File, Tree};
        let mut info = crate::mkapk::Info::default();
        for (k, v) in [
            ("name", "arcway"),
            ("version", "0.1.0-r1"),
            ("arch", "aarch64_cortex-a53"),
            ("description", "test package"),
            ("depends", "nftables-json kmod-wireguard"),
        ] {
            info.set(k, v).unwrap();
        }
        let file = |mode, data: &[u8]| File {
            mode,
            mtime: 1_700_000_000,
            data: data.to_vec(),
        };
        let mut tree = Tree::default();
        let dir = |mode, files: Vec<(&str, File)>| Dir {
            mode,
            files: files.into_iter().map(|(n, f)| (n.to_string(), f)).collect(),
        };
        tree.dirs.insert(String::new(), dir(0o755, vec![]));
        tree.dirs.insert("etc".into(), dir(0o755, vec![]));
        tree.dirs.insert(
            "etc/arcway".into(),
            dir(
                0o700,
                vec![
                    ("arcway.yaml", file(0o600, b"a: 1\n")),
                    ("empty", file(0o644, b"")),
                ],
            ),
        );
        tree.dirs.insert(
            "usr/sbin".into(),
            dir(0o755, vec![("arcway", file(0o755, &[0x7f; 70_000]))]),
        );
        let mut scripts = crate::mkapk::Scripts::new();
        scripts.insert("post-install".into(), b"#!/bin/sh\ntrue\n".to_vec());
        (info, tree, scripts)
    }

    #[test]
    fn reads_back_what_mkapk_writes() {
        let (info, tree, scripts) = sample();
        let apk = crate::mkapk::build(&info, &tree, &scripts).unwrap();
        assert_eq!(&apk[..4], b"ADBd");
        let pkg = inspect(&apk).unwrap();
        assert_eq!(pkg.compression, "deflate");
        assert_eq!(pkg.signatures, 0);
        assert_eq!(pkg.info["arch"], "aarch64_cortex-a53");
        assert_eq!(pkg.info["depends"], "kmod-wireguard nftables-json");
        assert_eq!(pkg.info["installed-size"], "70005");
        assert_eq!(pkg.info["hashes"].len(), 40);
        assert!(pkg.id_matches);
        assert_eq!(pkg.data_blocks, 2, "the empty file has no data block");
        let names: Vec<&str> = pkg.dirs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["", "etc", "etc/arcway", "usr/sbin"]);
        assert_eq!(pkg.dirs[2].acl.mode, 0o700);
        let yaml = &pkg.dirs[2].files[0];
        assert_eq!(
            (yaml.acl.mode, yaml.data.as_slice()),
            (0o600, &b"a: 1\n"[..])
        );
        assert_eq!(yaml.acl.user, "root");
        assert_eq!(pkg.scripts["post-install"], b"#!/bin/sh\ntrue\n");
        let text = pkg.render();
        assert!(
            text.contains("\ndir: /etc/arcway 0700 root root\n"),
            "{text}"
        );
        assert!(text.contains(
            "\nfile: /usr/sbin/arcway 0755 root root size=70000 mtime=1700000000 sha256="
        ));
    }

    #[test]
    fn packages_are_reproducible() {
        let (info, tree, scripts) = sample();
        let a = crate::mkapk::build(&info, &tree, &scripts).unwrap();
        let b = crate::mkapk::build(&info, &tree, &scripts).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn extracts_files_modes_and_scripts() {
        let (info, tree, scripts) = sample();
        let pkg = inspect(&crate::mkapk::build(&info, &tree, &scripts).unwrap()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let sdir = tmp.path().join("scripts");
        pkg.extract(&root, Some(&sdir)).unwrap();
        let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("etc/arcway"), 0o700);
        assert_eq!(mode("etc/arcway/arcway.yaml"), 0o600);
        assert_eq!(mode("usr/sbin/arcway"), 0o755);
        assert_eq!(fs::read(root.join("etc/arcway/empty")).unwrap(), b"");
        assert_eq!(
            fs::read(sdir.join("post-install")).unwrap(),
            b"#!/bin/sh\ntrue\n"
        );
    }
}
