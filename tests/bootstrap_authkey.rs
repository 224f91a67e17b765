//! `bootstrap authkey` against the fake SORACOM API on loopback: SIM reuse, faults, rotation.

#[path = "bootstrap_support.rs"]
mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use arcway::bootstrap::{Error, pending_path, run_authkey};
use arcway::credentials;
use arcway_lab::soracom::{FakeIdentity, Fault, FaultRule};
use support::*;

#[test]
fn first_run_creates_one_sim_and_a_second_run_reuses_it() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let api = env.api(&fake, fast());
    let key = auth_key(&identity);

    let first = block_on(run_authkey(&api, &key, &env.flow(false))).expect("first run");
    assert!(first.created_sim && !first.replaced_existing);
    let saved = credentials::load(&env.output).unwrap();
    let sim_id = saved.sim_id.clone().expect("simId saved");
    assert_eq!(fake.counters().sims_created, 1);
    assert_eq!(
        fake.sim(&sim_id).unwrap().public_key.unwrap(),
        saved.public_key.to_base64(),
        "the saved private key belongs to the SIM's key"
    );
    assert_eq!(
        saved.server_public_key.to_base64(),
        identity.server_public_key
    );
    assert_eq!(saved.ip_address.to_string(), "100.127.201.2");
    let mode = std::fs::metadata(&env.output).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!pending_path(&env.output).exists());

    let second = block_on(run_authkey(&api, &key, &env.flow(false))).expect("second run");
    assert!(!second.created_sim && second.replaced_existing);
    assert_eq!(second.credentials.sim_id.as_deref(), Some(sim_id.as_str()));
    assert_eq!(second.credentials.private_key, saved.private_key);
    let c = fake.counters();
    assert_eq!((c.sims_created, c.sessions, c.auth), (1, 2, 2));
}

#[test]
fn existing_sim_is_reused_and_hints_are_kept() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let (old, _) = existing_credentials(&fake, &env.output);
    let out = block_on(run_authkey(
        &env.api(&fake, fast()),
        &auth_key(&identity),
        &env.flow(false),
    ))
    .expect("run");
    assert_eq!(out.credentials.sim_id.as_deref(), Some(EXISTING_SIM));
    assert_eq!(out.credentials.private_key, old.private_key);
    assert_eq!(out.credentials.mtu, Some(1380));
    assert_eq!(fake.counters().sims_created, 0);
}

/// Runs against an existing credentials file with `rule` injected; returns the error text
/// after checking that the file is byte-for-byte what it was and no SIM was created.
fn failing_run(
    rule: Option<FaultRule>,
    wrong_key: bool,
) -> (String, arcway_lab::soracom::Counters) {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let (_, before) = existing_credentials(&fake, &env.output);
    if let Some(rule) = rule {
        fake.inject(rule);
    }
    let mut key = auth_key(&identity);
    if wrong_key {
        key.secret = arcway::bootstrap::Secret::new("secret-wrong");
    }
    let opts = arcway::https::ClientOptions {
        total_timeout: Duration::from_millis(700),
        max_body: 64 * 1024,
        ..fast()
    };
    let err = block_on(run_authkey(&env.api(&fake, opts), &key, &env.flow(false)))
        .expect_err("the run fails");
    assert_eq!(
        std::fs::read(&env.output).unwrap(),
        before,
        "credentials untouched"
    );
    let counters = fake.counters();
    assert_eq!(counters.sims_created, 0);
    (chain(&err), counters)
}

#[test]
fn api_errors_name_the_code_and_message_and_leave_the_file_untouched() {
    let (e, _) = failing_run(None, true);
    assert!(e.contains("HTTP 401 AUM0004: Invalid AuthKey"), "{e}");
    assert!(!e.contains("secret-wrong"), "{e}");

    let forbidden = Fault::status(403, "AUM0005", "Not allowed: Sim:createArcSession");
    let (e, c) = failing_run(Some(FaultRule::new("POST", "/v1/sims/", forbidden)), false);
    assert!(e.contains("failed to create the Arc session of SIM"), "{e}");
    assert!(
        e.contains("HTTP 403 AUM0005: Not allowed: Sim:createArcSession"),
        "{e}"
    );
    assert_eq!(c.sessions, 0);

    // Asked to wait longer than arcway waits: the server's answer at once.
    let long = Fault::TooManyRequests {
        retry_after: Some("3600".into()),
    };
    let (e, _) = failing_run(Some(FaultRule::new("POST", "/v1/auth", long)), false);
    assert!(e.contains("HTTP 429 COM0009: Too Many Requests"), "{e}");
}

#[test]
fn server_errors_and_timeouts_are_retried_4xx_is_not() {
    let identity = FakeIdentity::example().unwrap();
    for (fault, retried) in [
        (Fault::status(500, "COM0000", "Internal error"), true),
        (Fault::Hang, true),
        (Fault::status(400, "COM0001", "Bad request"), false),
    ] {
        let fake = fake_api(identity.clone());
        let env = Env::new(&fake);
        fake.inject(FaultRule::new("POST", "/v1/auth", fault.clone()));
        let opts = arcway::https::ClientOptions {
            total_timeout: Duration::from_millis(500),
            ..fast()
        };
        let err = block_on(run_authkey(
            &env.api(&fake, opts),
            &auth_key(&identity),
            &env.flow(false),
        ))
        .expect_err("fails");
        let attempts = fake.with_state(|s| s.log.iter().filter(|l| l.path == "/v1/auth").count());
        assert_eq!(
            attempts,
            if retried { 3 } else { 1 },
            "{fault:?}: {}",
            chain(&err)
        );
        if fault == Fault::Hang {
            assert!(chain(&err).contains("within 500ms"), "{}", chain(&err));
        } else {
            assert!(chain(&err).contains("COM00"), "{}", chain(&err));
        }
    }
}

#[test]
fn a_timeout_slower_than_the_limit_fails_and_a_short_delay_passes() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    fake.inject(
        FaultRule::new("POST", "/v1/auth", Fault::Delay(Duration::from_millis(150))).times(1),
    );
    block_on(run_authkey(
        &env.api(&fake, fast()),
        &auth_key(&identity),
        &env.flow(false),
    ))
    .expect("a short delay is fine");
}

#[test]
fn broken_answers_are_named_and_leave_the_file_untouched() {
    let (e, _) = failing_run(
        Some(FaultRule::new("POST", "/v1/auth", Fault::MalformedJson)),
        false,
    );
    assert!(
        e.contains("failed to authenticate with the AuthKey: the answer is malformed JSON"),
        "{e}"
    );
    let (e, _) = failing_run(
        Some(FaultRule::new("POST", "/v1/sims/", Fault::TruncatedBody)),
        false,
    );
    assert!(e.contains("the body ended after"), "{e}");
    for chunked in [true, false] {
        let huge = Fault::HugeBody {
            bytes: 2 * 1024 * 1024,
            chunked,
        };
        let (e, _) = failing_run(Some(FaultRule::new("POST", "/v1/auth", huge)), false);
        assert!(e.contains("larger than the limit of 65536 bytes"), "{e}");
    }
}

#[test]
fn sim_creation_is_never_retried_and_a_half_done_run_is_resumed() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let key = auth_key(&identity);
    // A lost answer to the billable call must not lead to a second attempt.
    fake.inject(FaultRule::new("POST", "/v1/sims", Fault::Hang).times(1));
    let opts = arcway::https::ClientOptions {
        total_timeout: Duration::from_millis(400),
        ..fast()
    };
    let e = block_on(run_authkey(
        &env.api(&fake, opts.clone()),
        &key,
        &env.flow(false),
    ))
    .unwrap_err();
    let posts = fake.with_state(|s| s.log.iter().filter(|l| l.path == "/v1/sims").count());
    assert_eq!(posts, 1, "{}", chain(&e));

    // The SIM is created but the session call fails: the SIM is remembered, not recreated.
    fake.clear_faults();
    fake.inject(FaultRule::new(
        "POST",
        "/v1/sims/",
        Fault::status(500, "COM0000", "boom"),
    ));
    let e = block_on(run_authkey(
        &env.api(&fake, opts.clone()),
        &key,
        &env.flow(false),
    ))
    .unwrap_err();
    assert!(
        chain(&e).contains("HTTP 500 COM0000: boom"),
        "{}",
        chain(&e)
    );
    assert!(!env.output.exists());
    assert!(pending_path(&env.output).exists());
    assert_eq!(fake.counters().sims_created, 1);
    fake.clear_faults();
    let out =
        block_on(run_authkey(&env.api(&fake, opts), &key, &env.flow(false))).expect("resumed");
    assert!(!out.created_sim);
    assert_eq!(fake.counters().sims_created, 1);
    assert!(!pending_path(&env.output).exists());
}

#[test]
fn rotation_sends_only_a_public_key_made_here() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let (old, before) = existing_credentials(&fake, &env.output);
    let out = block_on(run_authkey(
        &env.api(&fake, fast()),
        &auth_key(&identity),
        &env.flow(true),
    ))
    .expect("rotation");
    assert!(out.rotated);
    let saved = credentials::load(&env.output).unwrap();
    assert_ne!(saved.private_key, old.private_key);
    assert_ne!(std::fs::read(&env.output).unwrap(), before);
    let c = fake.counters();
    assert_eq!(c.put_public_keys, vec![saved.public_key.to_base64()]);
    assert_eq!(
        fake.sim(EXISTING_SIM).unwrap().public_key.unwrap(),
        saved.public_key.to_base64()
    );
    assert_eq!(c.sims_created, 0);
    let secret = saved.private_key.expose_base64();
    fake.with_state(|s| {
        assert!(
            s.log.iter().all(|l| !l.body.contains(&secret)),
            "private key sent"
        );
    });
}

#[test]
fn a_rotated_key_whose_answer_was_lost_is_recovered() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let (_, before) = existing_credentials(&fake, &env.output);
    // The key reaches the server, the session call then fails.
    fake.inject(FaultRule::new(
        "POST",
        "/v1/sims/",
        Fault::status(503, "COM0000", "busy"),
    ));
    let api = env.api(&fake, fast());
    let key = auth_key(&identity);
    block_on(run_authkey(&api, &key, &env.flow(true))).unwrap_err();
    assert_eq!(std::fs::read(&env.output).unwrap(), before);
    fake.clear_faults();
    // No --rotate this time: the pending key is the one the server has.
    let out = block_on(run_authkey(&api, &key, &env.flow(false))).expect("recovered");
    assert_eq!(
        fake.sim(EXISTING_SIM).unwrap().public_key.unwrap(),
        out.credentials.public_key.to_base64()
    );
}

#[test]
fn a_key_the_server_does_not_have_asks_for_rotation() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    existing_credentials(&fake, &env.output);
    fake.add_sim(EXISTING_SIM, &new_private().public_key().to_base64());
    let e = block_on(run_authkey(
        &env.api(&fake, fast()),
        &auth_key(&identity),
        &env.flow(false),
    ))
    .unwrap_err();
    assert!(matches!(e, Error::KeyMismatch { .. }), "{e}");
    assert!(e.to_string().contains("--rotate"));
}
