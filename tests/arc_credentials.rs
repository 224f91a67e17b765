//! Broken credentials stop `arcway run` and `arcway bootstrap import` before anything happens:
//! exit 2, and the message names the field. The binary runs as it would from a shell.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arcway::credentials::PrivateKey;
use serde_json::{Value, json};

fn arcway() -> PathBuf {
    arcway_lab::bin_path("arcway").expect("arcway binary")
}

/// Runs the binary with a deadline: a broken case that starts the daemon must not hang here.
fn run(args: &[&std::ffi::OsStr]) -> Output {
    let mut child = Command::new(arcway())
        .args(args)
        .env_remove("ARCWAY_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("arcway spawns");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("arcway {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

fn public(k: &PrivateKey) -> String {
    k.public_key().to_base64()
}

/// A valid credentials file in arcway's format.
fn good_arcway() -> Value {
    let client = PrivateKey::generate().unwrap();
    json!({
        "arcClientPeerPrivateKey": client.expose_base64(),
        "arcClientPeerPublicKey": public(&client),
        "arcClientPeerIpAddress": "100.127.201.2",
        "arcServerPeerPublicKey": public(&PrivateKey::generate().unwrap()),
        "arcServerEndpoint": "203.0.113.10:11010",
        "arcAllowedIPs": ["100.127.0.0/16"],
    })
}

/// The same in soratun's arc.json layout.
fn good_soratun() -> Value {
    let client = PrivateKey::generate().unwrap();
    json!({
        "privateKey": client.expose_base64(),
        "publicKey": public(&client),
        "simId": "8942310022000000002",
        "profile": {"authKeyId": "keyId-x", "authKey": "secret-x"},
        "arcSessionStatus": {
            "arcClientPeerIpAddress": "100.127.201.2",
            "arcServerPeerPublicKey": public(&PrivateKey::generate().unwrap()),
            "arcServerEndpoint": "203.0.113.10:11010",
            "arcAllowedIPs": ["100.127.0.0/16"],
        }
    })
}

/// One broken case: the file text (None: no file) and what the error must mention.
struct Case {
    name: &'static str,
    text: Option<String>,
    expect: &'static str,
}

/// Each field broken in turn, in a layout where `at` finds a field's parent object.
type Locate = for<'a> fn(&'a mut Value, &str) -> &'a mut Value;

fn cases(good: fn() -> Value, names: [&'static str; 6], at: Locate) -> Vec<Case> {
    let [private, public_key, ip, server, endpoint, allowed] = names;
    let broken = |field: &'static str, value: Value| {
        let mut v = good();
        *at(&mut v, field) = value;
        Case {
            name: field,
            text: Some(v.to_string()),
            expect: field,
        }
    };
    vec![
        broken(private, json!("not-a-key")),
        broken(public_key, json!(public(&PrivateKey::generate().unwrap()))),
        broken(ip, json!("100.127.201")),
        broken(server, json!("AAAA")),
        broken(endpoint, json!("arc.example.net:0")),
        broken(allowed, json!(["100.127.0.0/33"])),
        Case {
            name: "malformed JSON",
            text: Some("{\"arcClientPeerPrivateKey\": ".into()),
            expect: "JSON",
        },
        Case {
            name: "missing file",
            text: None,
            expect: "No such file",
        },
    ]
}

fn top<'a>(v: &'a mut Value, field: &str) -> &'a mut Value {
    &mut v[field]
}

fn soratun_at<'a>(v: &'a mut Value, field: &str) -> &'a mut Value {
    match field {
        "privateKey" | "publicKey" => &mut v[field],
        _ => &mut v["arcSessionStatus"][field],
    }
}

fn write_case(dir: &Path, case: &Case) -> PathBuf {
    let path = dir.join("creds.json");
    let _ = std::fs::remove_file(&path);
    if let Some(text) = &case.text {
        std::fs::write(&path, text).unwrap();
    }
    path
}

#[test]
fn arcway_run_refuses_each_broken_credentials_field_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arcway.sock");
    let config = dir.path().join("arcway.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             arc: {{credentials: {creds}, interface: awtest0}}\n\
             uplinks: {{wifi: {{interface: awtestw0}}}}\n\
             classes:\n\
             \x20 - {{name: platform, match: {{destinations: [100.127.0.0/16]}}, paths: [arc]}}\n\
             \x20 - {{name: default, paths: [wifi]}}\n\
             status: {{socket: {socket}}}\n",
            creds = dir.path().join("creds.json").display(),
            socket = socket.display(),
        ),
    )
    .unwrap();
    let names = [
        "arcClientPeerPrivateKey",
        "arcClientPeerPublicKey",
        "arcClientPeerIpAddress",
        "arcServerPeerPublicKey",
        "arcServerEndpoint",
        "arcAllowedIPs",
    ];
    // The configuration itself is fine, so every failure below is the credentials'.
    let check = run(&[
        "check-config".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for case in cases(good_arcway, names, top) {
        let path = write_case(dir.path(), &case);
        // The daemon must not get past its first step on this host: the same loader refuses
        // the file here first, or the case is wrong and the binary is not run.
        assert!(
            arcway::credentials::load(&path).is_err(),
            "case {} is not broken",
            case.name
        );
        let started = Instant::now();
        let out = run(&["run".as_ref(), "--config".as_ref(), config.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr.lines().last().unwrap_or_default();
        eprintln!(
            "run, {}: exit {:?} in {} ms: {message}",
            case.name,
            out.status.code(),
            started.elapsed().as_millis()
        );
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", case.name);
        assert!(message.contains(case.expect), "{}: {stderr}", case.name);
        assert!(
            !socket.exists(),
            "{}: the status socket was opened",
            case.name
        );
    }
}

#[test]
fn bootstrap_import_refuses_each_broken_soratun_field_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("arc.json");
    let names = [
        "privateKey",
        "publicKey",
        "arcClientPeerIpAddress",
        "arcServerPeerPublicKey",
        "arcServerEndpoint",
        "arcAllowedIPs",
    ];
    for case in cases(good_soratun, names, soratun_at) {
        let path = write_case(dir.path(), &case);
        let out = run(&[
            "bootstrap".as_ref(),
            "import".as_ref(),
            path.as_os_str(),
            "--output".as_ref(),
            output.as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "import, {}: exit {:?}: {}",
            case.name,
            out.status.code(),
            stderr.trim()
        );
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", case.name);
        assert!(stderr.contains(case.expect), "{}: {stderr}", case.name);
        assert!(!output.exists(), "{}: output written", case.name);
    }
    // The good file imports, so the failures above were the broken fields.
    let path = dir.path().join("good.json");
    std::fs::write(&path, good_soratun().to_string()).unwrap();
    let out = run(&[
        "bootstrap".as_ref(),
        "import".as_ref(),
        path.as_os_str(),
        "--output".as_ref(),
        output.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(arcway::credentials::load(&output).is_ok());
}
