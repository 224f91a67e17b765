//! Rotation in the arcway lab (root): credentials from the fake API open a tunnel to the lab's
//! Arc server; after `--rotate` the server learns only the new public key, the private key
//! stays in the saved file, and the tunnel works again with it.

#[path = "bootstrap_support.rs"]
mod support;

use std::time::Duration;

use arcway::bootstrap::run_authkey;
use arcway::credentials::{self, Credentials};
use arcway_lab::soracom::FakeIdentity;
use arcway_lab::{Lab, LabOptions, Role, WireGuardGo, plan};
use support::*;

const IF: &str = "wgrot";
const WAIT: Duration = Duration::from_millis(700);

/// A WireGuard client in the gateway configured from arcway's credentials file.
fn tunnel(lab: &Lab, creds: &Credentials) -> WireGuardGo {
    let wg = lab.start_wireguard(Role::Gw, IF).expect("wireguard-go");
    wg.set_private_key(&creds.private_key.expose_base64())
        .expect("private key");
    let endpoint = creds.server_endpoint.to_string();
    let peer = creds.server_public_key.to_base64();
    wg.wg(&[
        "set",
        IF,
        "peer",
        &peer,
        "endpoint",
        &endpoint,
        "allowed-ips",
        "100.127.0.0/16",
    ])
    .expect("peer");
    let addr = format!("{}/32", creds.ip_address);
    lab.ip(Role::Gw, &["addr", "add", &addr, "dev", IF])
        .unwrap();
    lab.ip(Role::Gw, &["link", "set", IF, "up"]).unwrap();
    lab.ip(Role::Gw, &["route", "add", "100.127.100.127/32", "dev", IF])
        .unwrap();
    wg
}

#[test]
fn rotation_keeps_the_private_key_local_and_the_tunnel_working() {
    let lab = Lab::build(LabOptions::default()).expect("lab");
    let identity = FakeIdentity::for_lab(&lab).unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let api = env.api(&fake, fast());
    let key = auth_key(&identity);

    let first = block_on(run_authkey(&api, &key, &env.flow(false))).expect("bootstrap");
    let old_public = first.credentials.public_key.to_base64();
    assert_eq!(old_public, lab.arc_credentials().arc_client_peer_public_key);
    let wg = tunnel(&lab, &credentials::load(&env.output).unwrap());
    assert!(
        lab.ping_dev(Role::Gw, IF, plan::PLATFORM, 10, WAIT),
        "tunnel with the bootstrapped key"
    );

    block_on(run_authkey(&api, &key, &env.flow(true))).expect("rotation");
    let rotated = credentials::load(&env.output).unwrap();
    let new_public = rotated.public_key.to_base64();
    assert_ne!(new_public, old_public);
    assert_eq!(fake.counters().put_public_keys, vec![new_public.clone()]);
    assert_eq!(rotated.sim_id, first.credentials.sim_id);
    let secret = rotated.private_key.expose_base64();
    fake.with_state(|s| assert!(s.log.iter().all(|l| !l.body.contains(&secret))));

    // The platform binds the new public key to the SIM: so does the lab's Arc server.
    let server = lab.arc_server();
    server
        .wg(&["set", plan::ARC_SERVER_IF, "peer", &old_public, "remove"])
        .unwrap();
    let allowed = format!("{}/32", plan::ARC_CLIENT_IP);
    server
        .wg(&[
            "set",
            plan::ARC_SERVER_IF,
            "peer",
            &new_public,
            "allowed-ips",
            &allowed,
        ])
        .unwrap();
    assert!(
        !lab.ping_dev(Role::Gw, IF, plan::PLATFORM, 3, WAIT),
        "the old key no longer gets through"
    );
    drop(wg);
    let _wg = tunnel(&lab, &rotated);
    assert!(
        lab.ping_dev(Role::Gw, IF, plan::PLATFORM, 10, WAIT),
        "tunnel with the rotated key"
    );
    let peers = server
        .wg(&["show", plan::ARC_SERVER_IF, "latest-handshakes"])
        .unwrap();
    assert!(peers.contains(&new_public), "{peers}");
}
