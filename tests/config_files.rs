//! Loading configuration files that are missing, empty, binary, huge, directories or
//! unreadable: always one clear error, never a panic.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use arcway::config::{self, ConfigError, MAX_FILE_BYTES};

const EXAMPLE: &str = include_str!("../examples/arcway.yaml");

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, bytes).expect("write test file");
    path
}

fn load_err(path: &Path) -> ConfigError {
    match config::load(path) {
        Ok(_) => panic!("{} loaded, expected an error", path.display()),
        Err(e) => e,
    }
}

#[test]
fn example_file_loads() {
    let c = config::load(Path::new("examples/arcway.yaml")).expect("example loads");
    assert_eq!(c.classes.len(), 4);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.yaml");
    let e = load_err(&path);
    assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: failed to read the configuration file (it does not exist)",
            path.display()
        )
    );
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_err(dir.path());
    assert!(matches!(e, ConfigError::Directory { .. }), "{e:?}");
    assert!(
        e.to_string()
            .ends_with("failed to read the configuration file: it is a directory"),
        "{e}"
    );
}

#[test]
fn character_device() {
    let e = load_err(Path::new("/dev/zero"));
    assert!(matches!(e, ConfigError::NotRegular { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "/dev/zero: failed to read the configuration file: it is not a regular file"
    );
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "empty.yaml", b"");
    let e = load_err(&path);
    assert!(matches!(e, ConfigError::Empty { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: failed to parse the configuration: the file is empty",
            path.display()
        )
    );
}

#[test]
fn only_comments_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "comments.yaml",
        b"# nothing here\n\n   \n---\n# still nothing\n",
    );
    assert!(matches!(load_err(&path), ConfigError::Empty { .. }));
}

#[test]
fn nul_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "nul.yaml", b"version: 1\narc:\x00\n");
    let e = load_err(&path);
    assert!(matches!(e, ConfigError::Binary { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:5: failed to parse the configuration: NUL byte; the file is not YAML text",
            path.display()
        )
    );
}

#[test]
fn invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "latin1.yaml", b"version: 1\n# caf\xe9\n");
    let e = load_err(&path);
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:6: failed to parse the configuration: invalid UTF-8; the file is not YAML text",
            path.display()
        )
    );
}

#[test]
fn random_binary() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = write(&dir, "blob.yaml", &bytes);
    assert!(matches!(load_err(&path), ConfigError::Binary { .. }));
}

#[test]
fn huge_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\n");
    while text.len() as u64 <= MAX_FILE_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let path = write(&dir, "huge.yaml", text.as_bytes());
    let e = load_err(&path);
    assert!(matches!(e, ConfigError::TooLarge { .. }), "{e:?}");
    assert!(
        e.to_string().ends_with("it is larger than 1048576 bytes"),
        "{e}"
    );
}

#[test]
fn just_under_the_limit_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(EXAMPLE);
    while (text.len() as u64) < MAX_FILE_BYTES - 100 {
        text.push_str("# padding\n");
    }
    config::load(&write(&dir, "big.yaml", text.as_bytes()))
        .expect("a large but allowed file loads");
}

#[test]
fn byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "bom.yaml", format!("\u{feff}{EXAMPLE}").as_bytes());
    config::load(&path).expect("a UTF-8 BOM is fine");
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "bad.yaml",
        EXAMPLE.replace("mtu: 1420", "mtu: 100").as_bytes(),
    );
    let e = load_err(&path);
    assert_eq!(e.diagnostics().len(), 1, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:16:8: arc.mtu: mtu 100 is out of range 1280..=9000",
            path.display()
        )
    );
}

#[test]
fn unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = write(&dir, "secret.yaml", EXAMPLE.as_bytes());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything; a thread whose filesystem uid is not 0 loses that power (and only
    // that thread), so the test sees what an unprivileged reader sees.
    let result = std::thread::spawn(move || {
        // SAFETY: setfsuid only changes this thread's filesystem credentials.
        unsafe { libc::setfsuid(65534) };
        config::load(&path).map(|_| ()).map_err(|e| e.to_string())
    })
    .join()
    .expect("thread");
    let message = result.expect_err("an unreadable file must not load");
    assert!(
        message.ends_with("secret.yaml: failed to read the configuration file (permission denied)"),
        "{message}"
    );
}
