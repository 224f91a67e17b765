use std::fs;
use std::os::unix::fs::PermissionsExt;

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
    assert!(
        text.contains(
            "\nfile: /usr/sbin/arcway 0755 root root size=70000 mtime=1700000000 sha256="
        )
    );
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
