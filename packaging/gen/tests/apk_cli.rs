//! `arcway-gen mkapk` and `arcway-gen apk-inspect` end to end: stage a tree, pack it, read it
//! back, extract it, compare.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn arcway_gen(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arcway-gen"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("arcway-gen runs")
}

fn write(path: &Path, body: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn packs_and_reads_back_a_staged_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let staged = tmp.path().join("data");
    fs::create_dir(&staged).unwrap();
    fs::set_permissions(&staged, fs::Permissions::from_mode(0o755)).unwrap();
    write(&staged.join("usr/sbin/tool"), "#!/bin/sh\necho hi\n", 0o755);
    write(&staged.join("etc/tool/tool.conf"), "secret: 1\n", 0o600);
    fs::set_permissions(staged.join("etc/tool"), fs::Permissions::from_mode(0o700)).unwrap();
    let script = tmp.path().join("post-install");
    write(&script, "#!/bin/sh\nexit 0\n", 0o755);
    let apk = tmp.path().join("tool.apk");

    let out = arcway_gen(
        &[
            "mkapk",
            "--info",
            "name:tool",
            "--info",
            "version:1.2.3-r1",
            "--info",
            "arch:x86_64",
            "--info",
            "description:a tool: with a colon",
            "--info",
            "depends:b a",
            "--script",
            &format!("post-install:{}", script.display()),
            "--files",
            staged.to_str().unwrap(),
            "--output",
            apk.to_str().unwrap(),
        ],
        &[("SOURCE_DATE_EPOCH", "1000")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let root = tmp.path().join("root");
    let scripts = tmp.path().join("scripts");
    let out = arcway_gen(
        &[
            "apk-inspect",
            apk.to_str().unwrap(),
            "--extract",
            root.to_str().unwrap(),
            "--scripts",
            scripts.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    for line in [
        "compression: deflate",
        "schema: pckg",
        "signatures: 0",
        "info.name: tool",
        "info.version: 1.2.3-r1",
        "info.description: a tool: with a colon",
        "info.arch: x86_64",
        "info.installed-size: 28",
        "info.depends: a b",
        "package-id: matches the ADB block",
        "script: post-install 17 bytes",
        "dir: / 0755 root root",
        "dir: /etc/tool 0700 root root",
        "data-blocks: 2 verified",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "{line:?} not in\n{report}"
        );
    }
    assert!(report.lines().any(|l| {
        l.starts_with("file: /etc/tool/tool.conf 0600 root root size=10 mtime=1000 sha256=")
    }));
    assert_eq!(
        fs::read_to_string(root.join("etc/tool/tool.conf")).unwrap(),
        "secret: 1\n"
    );
    assert_eq!(mode(&root.join("etc/tool")), 0o700);
    assert_eq!(mode(&root.join("etc/tool/tool.conf")), 0o600);
    assert_eq!(mode(&root.join("usr/sbin/tool")), 0o755);
    assert_eq!(
        fs::read_to_string(scripts.join("post-install")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
}

#[test]
fn refuses_incomplete_or_damaged_input() {
    let tmp = tempfile::tempdir().unwrap();
    let apk = tmp.path().join("x.apk");
    let out = arcway_gen(
        &[
            "mkapk",
            "--info",
            "name:x",
            "--files",
            "/nonexistent",
            "--output",
            apk.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());

    fs::write(&apk, b"ADBd not deflate at all").unwrap();
    let out = arcway_gen(&["apk-inspect", apk.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("x.apk"));
}
