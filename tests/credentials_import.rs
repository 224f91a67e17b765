//! Import of soratun's arc.json: conversion, and an existing output is never damaged.

use std::os::unix::fs::PermissionsExt as _;

use arcway::config::Coverage;
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

/// The session part of every layout, as soratun's ArcSession marshals it (no private key).
fn session(allowed: Value) -> Value {
    json!({
        "arcServerPeerPublicKey": PrivateKey::generate().unwrap().public_key().to_base64(),
        "arcServerEndpoint": "203.0.113.10:11010",
        "arcAllowedIPs": allowed,
        "arcClientPeerIpAddress": "100.127.201.2",
    })
}

/// What `soratun bootstrap cellular` and `soratun bootstrap sim` write: an empty simId (the
/// field has no omitempty), no profile, and whatever allowed IPs Krypton gave (often null).
fn krypton_layout(private: &PrivateKey, allowed: Value) -> Value {
    json!({
        "privateKey": private.expose_base64(),
        "publicKey": private.public_key().to_base64(),
        "simId": "",
        "logLevel": 2,
        "enableMetrics": true,
        "interface": "soratun0",
        "mtu": 1420,
        "persistentKeepalive": 60,
        "arcSessionStatus": session(allowed),
    })
}

fn import(v: &Value) -> (credentials::ImportSummary, credentials::Credentials) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("arc.json.soratun");
    let output = dir.path().join("arc.json");
    std::fs::write(&input, serde_json::to_string_pretty(v).unwrap()).unwrap();
    let summary = credentials::import_command(&input, &output)
        .unwrap_or_else(|e| panic!("import of {v:#} failed: {e:#}"));
    (summary, credentials::load(&output).unwrap())
}

#[test]
fn the_authkey_layout_keeps_its_sim_and_coverage() {
    let private = PrivateKey::generate().unwrap();
    for (endpoint, coverage) in [
        (Some("https://g.api.soracom.io"), Some(Coverage::Global)),
        (Some("https://api.soracom.io"), Some(Coverage::Jp)),
        // soratun's default when the profile names no endpoint.
        (None, Some(Coverage::Jp)),
        (Some("https://api.example.net"), None),
    ] {
        let mut profile = json!({"authKey": "secret-x", "authKeyId": "keyId-x"});
        if let Some(e) = endpoint {
            profile["endpoint"] = json!(e);
        }
        let v = json!({
            "privateKey": private.expose_base64(),
            "publicKey": private.public_key().to_base64(),
            "simId": "8942310022000000002",
            "logLevel": 2,
            "enableMetrics": true,
            "interface": "soratun0",
            "mtu": 1420,
            "persistentKeepalive": 60,
            "profile": profile,
            "arcSessionStatus": session(json!(["100.127.0.0/16"])),
        });
        let (summary, c) = import(&v);
        assert_eq!(c.coverage, coverage, "{endpoint:?}");
        assert_eq!(summary.coverage, coverage);
        assert_eq!(c.sim_id.as_deref(), Some("8942310022000000002"));
        let text = summary.to_string();
        assert!(text.contains("profile.authKey is not copied"), "{text}");
        assert!(!text.contains("secret-x"), "{text}");
    }
}

#[test]
fn the_cellular_and_sim_layouts_import_with_no_sim_and_the_platform_routed() {
    let private = PrivateKey::generate().unwrap();
    for allowed in [Value::Null, json!([]), json!(["100.127.0.0/16"])] {
        let (summary, c) = import(&krypton_layout(&private, allowed.clone()));
        assert_eq!(c.sim_id, None, "{allowed}");
        assert_eq!(c.coverage, None);
        assert_eq!(c.private_key.expose_base64(), private.expose_base64());
        let nets: Vec<String> = c.allowed_ips.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["100.127.0.0/16"], "{allowed}");
        let text = summary.to_string();
        assert!(text.contains("simId is empty"), "{text}");
        assert_eq!(
            text.contains("arcAllowedIPs is empty"),
            !allowed.is_array() || allowed.as_array().unwrap().is_empty(),
            "{text}"
        );
    }
    // `bootstrap sim` through krypton-cli may leave the key only in the session.
    let mut v = krypton_layout(&private, Value::Null);
    let top = v.as_object_mut().unwrap();
    top.remove("privateKey");
    top.remove("publicKey");
    v["arcSessionStatus"]["arcClientPeerPrivateKey"] = json!(private.expose_base64());
    let (_, c) = import(&v);
    assert_eq!(c.public_key, private.public_key());
}

#[test]
fn keys_in_any_letter_case_are_read_as_go_reads_them() {
    let private = PrivateKey::generate().unwrap();
    let server = PrivateKey::generate().unwrap().public_key().to_base64();
    let v = json!({
        "PRIVATEKEY": private.expose_base64(),
        "PublicKey": private.public_key().to_base64(),
        "SimID": "8942310022000000002",
        "MTU": 1380,
        "persistentkeepalive": 30,
        "AdditionalAllowedIPs": ["10.128.0.0/9"],
        "PostUp": [["ip", "route", "add", "10.0.0.0/8", "dev", "soratun0"]],
        "postdown": [["true"]],
        "Profile": {"ENDPOINT": "https://g.api.soracom.io"},
        "ArcSessionStatus": {
            "ArcServerPeerPublicKey": server,
            "arcserverendpoint": "203.0.113.10",
            "ARCALLOWEDIPS": ["100.127.0.0/16", "100.127.10.16/28"],
            "arcClientPeerIPAddress": "100.127.201.2",
        },
    });
    let (summary, c) = import(&v);
    assert_eq!(c.sim_id.as_deref(), Some("8942310022000000002"));
    assert_eq!(c.mtu, Some(1380));
    assert_eq!(c.persistent_keepalive, Some(30));
    assert_eq!(c.additional_allowed_ips[0].to_string(), "10.128.0.0/9");
    assert_eq!(c.server_public_key.to_base64(), server);
    assert_eq!(c.server_endpoint.port, 11010);
    assert_eq!(c.allowed_ips.len(), 2);
    assert_eq!(c.ip_address.to_string(), "100.127.201.2");
    assert_eq!(c.coverage, Some(Coverage::Global));
    let text = summary.to_string();
    assert!(text.contains("postUp is ignored"), "{text}");
    assert!(text.contains("postDown is ignored"), "{text}");
}

#[test]
fn exports_carry_the_same_session() {
    let private = PrivateKey::generate().unwrap();
    let mut v = krypton_layout(&private, json!(["100.127.0.0/16"]));
    v["simId"] = json!("8942310022000000002");
    v["profile"] = json!({"endpoint": "https://g.api.soracom.io"});
    let (_, c) = import(&v);
    let settings = credentials::ExportSettings {
        extra_allowed_ips: vec!["10.128.0.0/9".parse().unwrap()],
        ..credentials::ExportSettings::from_credentials(&c)
    };
    let wg = credentials::to_wg_quick(&c, &settings);
    for line in [
        format!("PrivateKey = {}", private.expose_base64()),
        "Address = 100.127.201.2/32".to_owned(),
        "MTU = 1420".to_owned(),
        format!("PublicKey = {}", c.server_public_key),
        "Endpoint = 203.0.113.10:11010".to_owned(),
        "AllowedIPs = 100.127.0.0/16, 10.128.0.0/9".to_owned(),
        "PersistentKeepalive = 60".to_owned(),
    ] {
        assert!(wg.lines().any(|l| l == line), "{line:?} missing in:\n{wg}");
    }
    // soratun's format imports back to the same credentials.
    let back: Value = serde_json::from_str(&credentials::to_soratun(&c, &settings)).unwrap();
    let (_, again) = import(&back);
    assert_eq!(again.private_key.expose_base64(), private.expose_base64());
    assert_eq!(again.sim_id, c.sim_id);
    assert_eq!(again.coverage, Some(Coverage::Global));
    assert_eq!(again.allowed_ips, c.allowed_ips);
    assert_eq!(again.additional_allowed_ips, settings.extra_allowed_ips);
}
