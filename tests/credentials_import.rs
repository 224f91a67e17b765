//! Import of soratun's arc.json: conversion, and an existing output is never damaged.

use std::os::unix::fs::PermissionsExt as _;

use arcway::credentials;
use arcway::credentials::PrivateKey;
use serde_json::{Value, json};

fn soratun_file() -> (Value, String) {
    let private = PrivateKey::generate().unwrap();
    let v = json!({
        "privateKey": private.expose_base64(),
        "publicKey": private.public_key().to_base64(),
        "simId": "8942310022000000002",
        "logLevel": 2,
        "enableMetrics": true,
        "interface": "soratun0",
        "additionalAllowedIPs": ["10.128.0.0/9"],
        "mtu": 1380,
        "persistentKeepalive": 60,
        "postUp": [["echo", "up"]],
        "profile": {"authKeyId": "keyId-xxx", "authKey": "secret-should-not-travel", "endpoint": "https://api.example.net"},
        "arcSessionStatus": {
            "arcServerPeerPublicKey": PrivateKey::generate().unwrap().public_key().to_base64(),
            "arcServerEndpoint": "abc.arc.example.net:11010",
            "arcAllowedIPs": ["100.127.0.0/16", "100.127.10.16/28"],
            "arcClientPeerIpAddress": "100.127.201.2",
        }
    });
    (v, private.expose_base64())
}

#[test]
fn converts_soratun_fields_and_drops_the_authkey() {
    let (v, private) = soratun_file();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("soratun.json");
    let output = dir.path().join("arc.json");
    std::fs::write(&input, v.to_string()).unwrap();

    let summary = credentials::import_command(&input, &output).unwrap();
    assert!(!summary.replaced_existing);
    assert_eq!(summary.allowed_ips, 3);
    assert!(!summary.to_string().contains(&private));

    let written = std::fs::read_to_string(&output).unwrap();
    assert!(!written.contains("secret-should-not-travel"));
    let c = credentials::load(&output).unwrap();
    assert_eq!(c.private_key.expose_base64(), private);
    assert_eq!(c.mtu, Some(1380));
    assert_eq!(c.persistent_keepalive, Some(60));
    assert_eq!(c.additional_allowed_ips[0].to_string(), "10.128.0.0/9");
    assert_eq!(c.sim_id.as_deref(), Some("8942310022000000002"));
    assert_eq!(
        std::fs::metadata(&output).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn soratun_errors_name_soratun_fields() {
    let (mut v, _) = soratun_file();
    v["arcSessionStatus"]["arcServerEndpoint"] = json!("abc:0");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("soratun.json");
    std::fs::write(&input, v.to_string()).unwrap();
    let err = credentials::import_soratun(&input).unwrap_err();
    assert_eq!(err.field(), Some("arcSessionStatus.arcServerEndpoint"));
}

#[test]
fn failed_import_leaves_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("arc.json");
    let original = b"{\"precious\": true}\n";
    std::fs::write(&output, original).unwrap();
    std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::metadata(&output).unwrap();

    let broken = |edit: &dyn Fn(&mut Value)| {
        let (mut v, _) = soratun_file();
        edit(&mut v);
        let input = dir.path().join("in.json");
        std::fs::write(&input, v.to_string()).unwrap();
        credentials::import_command(&input, &output).unwrap_err();
    };
    broken(&|v| v["privateKey"] = json!("AAAA"));
    broken(&|v| v["publicKey"] = json!(PrivateKey::generate().unwrap().public_key().to_base64()));
    broken(&|v| v["arcSessionStatus"]["arcAllowedIPs"] = json!(["100.127.0.0/99"]));
    broken(&|v| {
        v.as_object_mut()
            .unwrap()
            .remove("arcSessionStatus")
            .map(|_| ())
            .unwrap()
    });
    credentials::import_command(dir.path().join("absent.json"), &output).unwrap_err();

    assert_eq!(std::fs::read(&output).unwrap(), original);
    let after = std::fs::metadata(&output).unwrap();
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["arc.json", "in.json"], "temp files left behind");
}
