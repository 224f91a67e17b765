//! The package schema (apk-tools' apk_adb.c): field names in slot order, and the walk from the
//! root object down to files.

use std::collections::BTreeMap;

use super::wire::{Adb, field, no_extra};
use super::{Acl, DirEntry, FileEntry, InspectError, hex, schema_err};

// Package schema (apk-tools' apk_adb.c): field names in slot order.
pub(super) const PACKAGE_FIELDS: [&str; 5] =
    ["info", "paths", "scripts", "triggers", "replaces-priority"];
pub(super) const INFO_FIELDS: [&str; 21] = [
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
pub(super) const SCRIPT_FIELDS: [&str; 7] = [
    "trigger",
    "pre-install",
    "post-install",
    "pre-deinstall",
    "post-deinstall",
    "pre-upgrade",
    "post-upgrade",
];

pub(super) type InfoFields = BTreeMap<&'static str, String>;

/// Info fields as text, and where the `hashes` bytes are (offset, length).
pub(super) fn read_info(
    adb: &Adb,
    tag: u32,
) -> Result<(InfoFields, Option<(usize, usize)>), InspectError> {
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

pub(super) fn read_paths(adb: &Adb, tag: u32) -> Result<Vec<DirEntry>, InspectError> {
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
