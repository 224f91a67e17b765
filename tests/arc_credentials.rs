//! Broken credentials: `arcway run` keeps the gateway going without Arc and names the field
//! in status (root, lab); `arcway bootstrap import` refuses with exit 2. The binary runs as it
//! would from a shell.

mod arc_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arcway::credentials::PrivateKey;
use arcway_lab::Health;
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

/// The problem status reports for `object`, if any.
fn problem(status: &Value, object: &str) -> Option<String> {
    status["problems"]
        .as_array()?
        .iter()
        .find(|p| p["object"] == object)
        .and_then(|p| p["error"].as_str().map(str::to_owned))
}

/// A broken credentials file turns Arc off, not the gateway: the daemon runs, the default
/// class goes by Wi-Fi and fails over to cellular, platform traffic takes cellular, and
/// status names the file's error. Each broken field is reported after SIGHUP; the fixed file
/// and SIGHUP bring Arc up. Exit 2 stays for a bad configuration file only.
#[test]
fn a_broken_credentials_file_turns_arc_off_not_the_gateway() {
    let lab = arc_support::lab();
    let creds_path = lab.credentials_path();
    let good = std::fs::read_to_string(&creds_path).unwrap();
    std::fs::write(&creds_path, "{\"arcClientPeerPrivateKey\": ").unwrap();
    let bin = arcway();
    let mut arcway = arc_support::start(&lab, &lab.arcway_config(&Health::FAST));
    let degraded = arcway.wait_until(Duration::from_secs(10), |a| {
        a.class_route("default").as_deref() == Some("via wifi")
            && a.class_route("platform").as_deref() == Some("via cellular")
            && a.status()
                .is_ok_and(|s| problem(&s, "credentials").is_some())
    });
    assert!(
        degraded.is_some(),
        "status {:?}\n{}",
        arcway.status().ok(),
        arc_support::tail(&arcway.log(), 40)
    );
    let status = arcway.status().unwrap();
    let error = problem(&status, "credentials").unwrap();
    assert!(error.contains("JSON"), "{error}");
    assert!(arcway.is_running());
    let human = Command::new(bin)
        .args(["status", "--socket"])
        .arg(lab.arcway_socket())
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains("PROBLEM credentials since"), "{human}");

    // Wi-Fi/cellular failover works without Arc.
    lab.wifi_carrier(false).unwrap();
    let moved = arcway.wait_until(Duration::from_secs(5), |a| {
        a.class_route("default").as_deref() == Some("via cellular")
    });
    eprintln!("default class on cellular {moved:?} after carrier loss, without Arc");
    assert!(moved.is_some(), "{:?}", arcway.status().ok());
    lab.wifi_carrier(true).unwrap();

    // Each broken field is named after SIGHUP; the daemon keeps running.
    let names = [
        "arcClientPeerPrivateKey",
        "arcClientPeerPublicKey",
        "arcClientPeerIpAddress",
        "arcServerPeerPublicKey",
        "arcServerEndpoint",
        "arcAllowedIPs",
    ];
    for case in cases(good_arcway, names, top) {
        match &case.text {
            Some(text) => std::fs::write(&creds_path, text).unwrap(),
            None => {
                let _ = std::fs::remove_file(&creds_path);
            }
        }
        arcway.signal(libc::SIGHUP);
        let named = arcway.wait_until(Duration::from_secs(5), |a| {
            a.status()
                .is_ok_and(|s| problem(&s, "credentials").is_some_and(|e| e.contains(case.expect)))
        });
        let shown = arcway
            .status()
            .ok()
            .and_then(|s| problem(&s, "credentials"));
        eprintln!("{}: {shown:?}", case.name);
        assert!(named.is_some(), "{}: {shown:?}", case.name);
        assert!(arcway.is_running(), "{}: arcway exited", case.name);
    }

    std::fs::write(&creds_path, good).unwrap();
    arcway.signal(libc::SIGHUP);
    arc_support::wait_arc_up(&arcway, Duration::from_secs(15));
    let status = arcway.status().unwrap();
    assert_eq!(problem(&status, "credentials"), None, "{status}");
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
}

/// A bad configuration file is still exit 2 before anything is touched.
#[test]
fn a_bad_configuration_file_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("arcway.sock");
    let config = dir.path().join("arcway.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\n\
             arc: {{credentials: {creds}, interface: \"aw\\\"0\"}}\n\
             uplinks: {{wifi: {{interface: awtestw0}}}}\n\
             status: {{socket: {socket}}}\n",
            creds = dir.path().join("creds.json").display(),
            socket = socket.display(),
        ),
    )
    .unwrap();
    let out = run(&["run".as_ref(), "--config".as_ref(), config.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("arc.interface"), "{stderr}");
    assert!(!socket.exists(), "the status socket was opened");
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
