//! A staged package tree (what `apk mkpkg --files DIR` reads): every directory with its mode and
//! its regular files. Owners are not read: like the OpenWrt SDK, which packs under fakeroot,
//! everything belongs to root.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StageError {
    #[error("failed to read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to stage {0}: only directories and regular files are packaged")]
    Unsupported(PathBuf),
    #[error("failed to stage {0}: the name is not UTF-8")]
    Name(PathBuf),
}

/// Directories by path relative to the tree's root, without leading or trailing slash; the root
/// itself is "". Ordered by bytes, which is the order apk-tools keeps them in.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tree {
    pub dirs: BTreeMap<String, Dir>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dir {
    /// Permission bits (07777).
    pub mode: u32,
    pub files: BTreeMap<String, File>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub mode: u32,
    pub mtime: u64,
    pub data: Vec<u8>,
}

impl Tree {
    /// Reads the tree under `root`. With `clamp`, no modification time is later than it
    /// (SOURCE_DATE_EPOCH: reproducible packages).
    pub fn from_dir(root: &Path, clamp: Option<u64>) -> Result<Self, StageError> {
        let mut tree = Tree::default();
        tree.add_dir(root, String::new(), clamp)?;
        Ok(tree)
    }

    fn add_dir(&mut self, path: &Path, rel: String, clamp: Option<u64>) -> Result<(), StageError> {
        let io = |source| StageError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::symlink_metadata(path).map_err(io)?;
        let mut dir = Dir {
            mode: meta.permissions().mode() & 0o7777,
            files: BTreeMap::new(),
        };
        let mut subdirs = Vec::new();
        for entry in fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            let child = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| StageError::Name(child.clone()))?;
            let meta = fs::symlink_metadata(&child).map_err(|source| StageError::Io {
                path: child.clone(),
                source,
            })?;
            if meta.is_dir() {
                let sub = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                subdirs.push((child, sub));
            } else if meta.is_file() {
                let data = fs::read(&child).map_err(|source| StageError::Io {
                    path: child.clone(),
                    source,
                })?;
                let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
                let file = File {
                    mode: meta.permissions().mode() & 0o7777,
                    mtime: clamp.map_or(mtime, |c| mtime.min(c)),
                    data,
                };
                dir.files.insert(name, file);
            } else {
                return Err(StageError::Unsupported(child));
            }
        }
        self.dirs.insert(rel, dir);
        for (child, sub) in subdirs {
            self.add_dir(&child, sub, clamp)?;
        }
        Ok(())
    }

    /// Sum of the regular files' sizes: apk-tools' installed size.
    pub fn content_size(&self) -> u64 {
        self.dirs
            .values()
            .flat_map(|d| d.files.values())
            .map(|f| f.data.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_modes_contents_and_clamps_times() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(root.join("etc/arcway")).unwrap();
        fs::set_permissions(root.join("etc/arcway"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(root.join("etc/arcway/a.yaml"), "x: 1\n").unwrap();
        fs::set_permissions(
            root.join("etc/arcway/a.yaml"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let tree = Tree::from_dir(root, Some(1000)).unwrap();
        let names: Vec<&str> = tree.dirs.keys().map(String::as_str).collect();
        assert_eq!(names, ["", "etc", "etc/arcway"]);
        let d = &tree.dirs["etc/arcway"];
        assert_eq!(d.mode, 0o700);
        let f = &d.files["a.yaml"];
        assert_eq!(
            (f.mode, f.mtime, f.data.as_slice()),
            (0o600, 1000, &b"x: 1\n"[..])
        );
        assert_eq!(tree.content_size(), 5);
    }

    #[test]
    fn refuses_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", tmp.path().join("link")).unwrap();
        assert!(matches!(
            Tree::from_dir(tmp.path(), None),
            Err(StageError::Unsupported(_))
        ));
    }
}
