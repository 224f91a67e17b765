//! Credentials file: validation names the broken field, saving is atomic and private.

use std::os::unix::fs::PermissionsExt as _;

use arcway::credentials::PrivateKey;
use arcway::credentials::{self, Credentials, DEFAULT_ARC_PORT};
use serde_json::{Value, json};

struct Keys {
    private: String,
    public: String,
    server: String,
}

fn keys() -> Keys {
    let private = PrivateKey::generate().unwrap();
    Keys {
        public: private.public_key().to_base64(),
        private: private.expose_base64(),
        server: PrivateKey::generate().unwrap().public_key().to_base64(),
    }
}

fn valid(k: &Keys) -> Value {
    json!({
        "simId": "8942310022000000001",
        "arcClientPeerPrivateKey": k.private,
        "arcClientPeerPublicKey": k.public,
        "arcClientPeerIpAddress": "100.127.201.2",
        "arcServerPeerPublicKey": k.server,
        "arcServerEndpoint": "abc.arc.example.net:11010",
        "arcAllowedIPs": ["100.127.0.0/16"],
    })
}

fn load_value(v: &Value) -> Result<Credentials, credentials::Error> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arc.json");
    std::fs::write(&path, v.to_string()).unwrap();
    credentials::load(&path)
}

/// Full error chain as the daemon prints it.
fn chain(e: credentials::Error) -> String {
    format!("{:#}", anyhow::Error::from(e))
}

#[test]
fn valid_file_loads_with_defaults() {
    let k = keys();
    let mut v = valid(&k);
    v["arcServerEndpoint"] = json!("abc.arc.example.net");
    let c = load_value(&v).unwrap();
    assert_eq!(c.server_endpoint.port, DEFAULT_ARC_PORT);
    assert_eq!(c.ip_address.to_string(), "100.127.201.2");
    assert_eq!(c.public_key.to_base64(), k.public);
    assert_eq!(c.allowed_ips[0].to_string(), "100.127.0.0/16");
}

#[test]
fn public_key_is_optional_and_derived() {
    let k = keys();
    let mut v = valid(&k);
    v.as_object_mut().unwrap().remove("arcClientPeerPublicKey");
    assert_eq!(load_value(&v).unwrap().public_key.to_base64(), k.public);
}

#[test]
fn every_broken_field_is_named() {
    let k = keys();
    let other_public = PrivateKey::generate().unwrap().public_key().to_base64();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "arcClientPeerPrivateKey",
            json!("AAAA"),
            "arcClientPeerPrivateKey: not 32 bytes of base64",
        ),
        (
            "arcClientPeerPrivateKey",
            json!("%%%"),
            "arcClientPeerPrivateKey: not 32 bytes of base64",
        ),
        (
            "arcClientPeerPrivateKey",
            Value::Null,
            "arcClientPeerPrivateKey: missing",
        ),
        (
            "arcClientPeerPrivateKey",
            json!(5),
            "arcClientPeerPrivateKey: not a string",
        ),
        (
            "arcClientPeerPublicKey",
            json!(other_public),
            "arcClientPeerPublicKey: does not match",
        ),
        (
            "arcClientPeerPublicKey",
            json!("short"),
            "arcClientPeerPublicKey: not 32 bytes of base64",
        ),
        (
            "arcClientPeerIpAddress",
            json!("100.127.201"),
            "arcClientPeerIpAddress: not an IPv4 address",
        ),
        (
            "arcClientPeerIpAddress",
            json!("2001:db8::2"),
            "arcClientPeerIpAddress: not an IPv4 address",
        ),
        (
            "arcClientPeerIpAddress",
            Value::Null,
            "arcClientPeerIpAddress: missing",
        ),
        (
            "arcServerPeerPublicKey",
            json!("x"),
            "arcServerPeerPublicKey: not 32 bytes of base64",
        ),
        (
            "arcServerEndpoint",
            json!("host:0"),
            "arcServerEndpoint: port",
        ),
        (
            "arcServerEndpoint",
            json!("host:99999"),
            "arcServerEndpoint: port",
        ),
        (
            "arcServerEndpoint",
            json!("bad host:1"),
            "arcServerEndpoint: host",
        ),
        ("arcServerEndpoint", json!(""), "arcServerEndpoint: empty"),
        (
            "arcAllowedIPs",
            json!(["100.127.0.0/33"]),
            "arcAllowedIPs: item 0 is not a CIDR",
        ),
        (
            "arcAllowedIPs",
            json!(["100.127.0.0/16", "nonsense"]),
            "arcAllowedIPs: item 1",
        ),
        (
            "arcAllowedIPs",
            json!("100.127.0.0/16"),
            "arcAllowedIPs: not a list",
        ),
        ("coverage", json!("mars"), "coverage: neither jp nor global"),
        ("coverage", json!(1), "coverage: not a string"),
        (
            "additionalAllowedIPs",
            json!(["10.0.0.0/8x"]),
            "additionalAllowedIPs: item 0",
        ),
        ("mtu", json!(100), "mtu: not an integer"),
        (
            "persistentKeepalive",
            json!(-1),
            "persistentKeepalive: not an integer",
        ),
        ("simId", json!(""), "simId: empty"),
    ];
    for (field, value, expected) in cases {
        let mut v = valid(&k);
        v[field] = value.clone();
        let err = load_value(&v).expect_err(&format!("{field}={value} accepted"));
        assert_eq!(err.field(), Some(field));
        let text = chain(err);
        assert!(text.contains(expected), "{field}={value}: got {text:?}");
        assert!(!text.contains(&k.private), "private key leaked in {text:?}");
    }
}

#[test]
fn not_json_and_not_object_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arc.json");
    std::fs::write(&path, "{ nope").unwrap();
    assert!(matches!(
        credentials::load(&path),
        Err(credentials::Error::Parse { .. })
    ));
    std::fs::write(&path, "[1,2]").unwrap();
    assert!(chain(credentials::load(&path).unwrap_err()).contains("not a JSON object"));
    assert!(matches!(
        credentials::load(dir.path().join("absent")),
        Err(credentials::Error::Read { .. })
    ));
}

#[test]
fn debug_never_shows_the_private_key() {
    let k = keys();
    let c = load_value(&valid(&k)).unwrap();
    let text = format!("{c:?} {:?} {c:#?}", c.private_key);
    assert!(!text.contains(&k.private));
    assert!(text.contains("redacted"));
    assert!(
        text.contains(&k.public),
        "public key helps debugging and is not secret"
    );
}

#[test]
fn save_is_mode_0600_and_round_trips() {
    let k = keys();
    let c = load_value(&valid(&k)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arc.json");
    // An existing world-readable file must not pass its mode on.
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    credentials::save_atomic(&path, &c).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(credentials::load(&path).unwrap(), c);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temp files left behind: {names:?}");
}

#[test]
fn save_into_missing_directory_fails_cleanly() {
    let k = keys();
    let c = load_value(&valid(&k)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = credentials::save_atomic(dir.path().join("missing/arc.json"), &c).unwrap_err();
    assert!(matches!(err, credentials::Error::Write { .. }));
}

#[test]
fn empty_or_null_allowed_ips_route_the_platform_but_missing_is_an_error() {
    let k = keys();
    for empty in [json!([]), Value::Null] {
        let mut v = valid(&k);
        v["arcAllowedIPs"] = empty.clone();
        let c = load_value(&v).unwrap_or_else(|e| panic!("{empty}: {}", chain(e)));
        let nets: Vec<String> = c.allowed_ips.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["100.127.0.0/16"], "{empty}");
    }
    let mut v = valid(&k);
    v.as_object_mut().unwrap().remove("arcAllowedIPs");
    let err = load_value(&v).expect_err("a file without arcAllowedIPs is damaged");
    assert_eq!(err.field(), Some("arcAllowedIPs"));
}

#[test]
fn coverage_is_kept_across_a_save() {
    let k = keys();
    let mut v = valid(&k);
    v["coverage"] = json!("global");
    let c = load_value(&v).unwrap();
    assert_eq!(c.coverage, Some(arcway::config::Coverage::Global));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arc.json");
    credentials::save_atomic(&path, &c).unwrap();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("\"coverage\": \"global\"")
    );
    assert_eq!(credentials::load(&path).unwrap(), c);
    // Files of earlier versions name none.
    assert_eq!(load_value(&valid(&k)).unwrap().coverage, None);
}
