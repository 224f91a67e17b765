//! The daemon's hook and the `arc.bootstrap` configuration keys, against the fake API.

#[path = "bootstrap_support.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use arcway::bootstrap::{
    Endpoints, Error, HookOptions, RebootstrapPolicy, Rebootstrapper, bootstrap_if_missing,
    rebootstrap,
};
use arcway::config::{self, BootstrapMethod, Config};
use arcway::credentials;
use arcway_lab::soracom::{FakeIdentity, FakeSoracom};
use support::*;

const CLASSES: &str = "classes:\n  - name: default\n    paths: [wifi, cellular]\n";

fn config(credentials: &Path, extra: &str) -> Config {
    let text = format!(
        "version: 1\narc:\n  credentials: {}\n{extra}uplinks:\n  wifi: {{interface: wlan0}}\n  cellular: {{interface: wwan0}}\n{CLASSES}",
        credentials.display()
    );
    config::parse_str(&text, "test.yaml").expect("config")
}

fn options(env: &Env, fake: &FakeSoracom, identity: &FakeIdentity) -> HookOptions {
    HookOptions {
        api: Endpoints {
            jp: fake.url(),
            global: fake.url(),
        },
        ca_file: Some(env.ca.clone()),
        auth_key_file: env.auth_key_file(identity),
        client: fast(),
        ..HookOptions::default()
    }
}

#[test]
fn config_keys_parse_and_are_checked() {
    let cfg = config(
        Path::new("/var/lib/arcway/arc.json"),
        "  bootstrap: authkey\n  rebootstrap_on_auth_failure: true\n",
    );
    let arc = cfg.arc.as_ref().unwrap();
    assert_eq!(arc.bootstrap, Some(BootstrapMethod::AuthKey));
    assert!(arc.rebootstrap_on_auth_failure);
    assert!(RebootstrapPolicy::from_config(&cfg).enabled);
    let plain = config(Path::new("/var/lib/arcway/arc.json"), "");
    assert_eq!(plain.arc.as_ref().unwrap().bootstrap, None);
    assert!(!RebootstrapPolicy::from_config(&plain).enabled);

    let e = config::parse_str(
        "version: 1\narc:\n  bootstrap: krypton\nuplinks:\n  wifi: {interface: wlan0}\n",
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("arc.bootstrap") && e.contains("uplinks.cellular"),
        "{e}"
    );
    let e = config::parse_str(
        "version: 1\narc:\n  rebootstrap_on_auth_failure: true\nuplinks:\n  wifi: {interface: wlan0}\n",
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("rebootstrap_on_auth_failure needs arc.bootstrap"),
        "{e}"
    );
    let e = config::parse_str(
        "version: 1\narc:\n  bootstrap: magic\nuplinks:\n  wifi: {interface: wlan0}\n",
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("magic") || e.contains("bootstrap"), "{e}");
}

#[test]
fn missing_credentials_are_fetched_once_and_then_loaded() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let cfg = config(&env.output, "  bootstrap: authkey\n");
    let opts = options(&env, &fake, &identity);
    let first = block_on(bootstrap_if_missing(&cfg, &opts)).expect("bootstrapped");
    assert_eq!(credentials::load(&env.output).unwrap(), first);
    let again = block_on(bootstrap_if_missing(&cfg, &opts)).expect("loaded");
    assert_eq!(again, first);
    let c = fake.counters();
    assert_eq!(
        (c.sims_created, c.auth),
        (1, 1),
        "the second start only reads the file"
    );
}

#[test]
fn without_arc_bootstrap_a_missing_file_is_an_error() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let cfg = config(&env.output, "");
    let e = block_on(bootstrap_if_missing(&cfg, &options(&env, &fake, &identity))).unwrap_err();
    assert!(matches!(e, Error::Load { .. }), "{e}");
    // A broken file is reported, never silently replaced.
    std::fs::write(&env.output, "{").unwrap();
    let cfg = config(&env.output, "  bootstrap: authkey\n");
    let e = block_on(bootstrap_if_missing(&cfg, &options(&env, &fake, &identity))).unwrap_err();
    assert!(matches!(e, Error::Load { .. }), "{e}");
    assert_eq!(fake.counters().auth, 0);
}

#[test]
fn rebootstrap_never_creates_a_sim_and_rotates_when_the_key_is_unknown() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let cfg = config(
        &env.output,
        "  bootstrap: authkey\n  rebootstrap_on_auth_failure: true\n",
    );
    let opts = options(&env, &fake, &identity);

    let e = block_on(rebootstrap(&cfg, &opts)).unwrap_err();
    assert!(matches!(e, Error::WouldCreateSim), "{e}");
    assert_eq!(fake.counters().sims_created, 0);

    let (old, _) = existing_credentials(&fake, &env.output);
    // The server has lost our key (another client rotated it): a key made here replaces it.
    fake.add_sim(EXISTING_SIM, &new_private().public_key().to_base64());
    let mut r = Rebootstrapper::new(RebootstrapPolicy::from_config(&cfg));
    let now = Instant::now();
    let fresh = block_on(r.on_auth_failure(&cfg, &opts, now))
        .expect("due")
        .expect("re-bootstrapped");
    assert_ne!(fresh.private_key, old.private_key);
    assert_eq!(fresh.sim_id.as_deref(), Some(EXISTING_SIM));
    let c = fake.counters();
    assert_eq!((c.sims_created, c.put_public_keys.len()), (0, 1));
    assert!(block_on(r.on_auth_failure(&cfg, &opts, now + Duration::from_secs(1))).is_none());
}
