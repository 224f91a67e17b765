//! SORACOM coverage end to end, against a fake Japan API and a fake Global API on distinct
//! hosts (127.0.0.1 and 127.0.0.2), each with its own SIMs; and the API's manners: 429 with
//! Retry-After, `X-Soracom-Lang: en`, the missing permission named on 403.

#[path = "bootstrap_support.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use arcway::bootstrap::{
    AuthKeyArgs, BootstrapCommand, Coverage, Endpoints, Error, HookOptions, RateLimit,
    bootstrap_if_missing, rebootstrap, run, run_authkey,
};
use arcway::config::{self, Config};
use arcway::credentials;
use arcway_lab::soracom::{FakeCoverage, FakeIdentity, FakeSoracom, Fault, FaultRule};
use support::*;

fn coverages(identity: &FakeIdentity) -> (FakeSoracom, FakeSoracom) {
    let jp: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let g: SocketAddr = "127.0.0.2:0".parse().unwrap();
    FakeSoracom::start_coverages(jp, g, identity.clone()).expect("fakes start")
}

fn config(credentials: &Path, extra: &str) -> Config {
    let text = format!(
        "version: 1\narc:\n  credentials: {}\n  bootstrap: authkey\n{extra}uplinks:\n  wifi: {{interface: wlan0}}\n\
         classes:\n  - name: default\n    paths: [wifi]\n",
        credentials.display()
    );
    config::parse_str(&text, "test.yaml").expect("config")
}

fn options(env: &Env, jp: &FakeSoracom, g: &FakeSoracom, key_file: &Path) -> HookOptions {
    HookOptions {
        api: Endpoints {
            jp: jp.url(),
            global: g.url(),
        },
        ca_file: Some(env.ca.clone()),
        auth_key_file: key_file.to_owned(),
        client: fast(),
        ..HookOptions::default()
    }
}

/// Requests each fake has seen.
fn seen(jp: &FakeSoracom, g: &FakeSoracom) -> (usize, usize) {
    (jp.log().len(), g.log().len())
}

#[test]
fn the_config_key_parses_and_is_checked() {
    let cfg = config(
        Path::new("/var/lib/arcway/arc.json"),
        "  coverage: global\n",
    );
    assert_eq!(cfg.arc.unwrap().coverage, Some(Coverage::Global));
    let cfg = config(Path::new("/var/lib/arcway/arc.json"), "");
    assert_eq!(cfg.arc.unwrap().coverage, None);
    let text = "version: 1\narc:\n  coverage: mars\nuplinks:\n  wifi: {interface: wlan0}\n";
    let e = config::parse_str(text, "t.yaml").unwrap_err().to_string();
    assert!(e.contains("coverage") || e.contains("mars"), "{e}");
}

#[test]
fn a_global_authkey_bootstraps_against_the_global_host_only() {
    let identity = FakeIdentity::example().unwrap();
    let (jp, g) = coverages(&identity);
    assert_eq!(
        (jp.coverage(), g.coverage()),
        (FakeCoverage::Japan, FakeCoverage::Global)
    );
    assert_ne!(jp.addr().ip(), g.addr().ip());
    let env = Env::new(&jp);
    let key_file = env.auth_key_file(&identity);
    let opts = options(&env, &jp, &g, &key_file);

    let cfg = config(&env.output, "  coverage: global\n");
    let creds = block_on(bootstrap_if_missing(&cfg, &opts)).expect("bootstrapped");
    assert_eq!(creds.coverage, Some(Coverage::Global));
    assert_eq!(g.counters().sims_created, 1);
    assert_eq!(seen(&jp, &g).0, 0, "the Japan host was asked");
    let sim = creds.sim_id.clone().unwrap();
    assert!(g.sim(&sim).is_some() && jp.sim(&sim).is_none());

    // Later runs without the key take the coverage stored with the SIM.
    let plain = config(&env.output, "");
    let again = block_on(rebootstrap(&plain, &opts)).expect("re-bootstrapped");
    assert_eq!(again.sim_id.as_deref(), Some(sim.as_str()));
    assert_eq!(g.counters().sims_created, 1);
    assert_eq!(g.counters().sessions, 2);
    assert_eq!(seen(&jp, &g).0, 0, "the Japan host was asked");

    // Asking for Japan with a Global SIM stops before any request.
    let before = seen(&jp, &g);
    let wrong = config(&env.output, "  coverage: jp\n");
    let e = block_on(rebootstrap(&wrong, &opts)).unwrap_err();
    assert!(matches!(e, Error::CoverageMismatch { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("asks for jp coverage") && text.contains("is for global coverage"),
        "{text}"
    );
    assert_eq!(seen(&jp, &g), before);
}

#[test]
fn the_coverage_saved_with_the_authkey_picks_the_host_for_a_first_sim() {
    let identity = FakeIdentity::example().unwrap();
    let (jp, g) = coverages(&identity);
    let env = Env::new(&jp);
    let key_file = env.dir.path().join("saved-authkey.json");
    let text = serde_json::json!({
        "authKeyId": identity.auth_key_id,
        "authKey": identity.auth_key,
        "coverage": "global",
    });
    std::fs::write(&key_file, text.to_string()).unwrap();
    let opts = options(&env, &jp, &g, &key_file);
    let creds = block_on(bootstrap_if_missing(&config(&env.output, ""), &opts)).expect("ok");
    assert_eq!(creds.coverage, Some(Coverage::Global));
    assert_eq!(
        (jp.counters().sims_created, g.counters().sims_created),
        (0, 1)
    );
    assert_eq!(seen(&jp, &g).0, 0);
}

#[test]
fn the_command_saves_the_coverage_and_refuses_a_mismatch_before_any_call() {
    let identity = FakeIdentity::example().unwrap();
    let (jp, g) = coverages(&identity);
    let env = Env::new(&jp);
    let key_file = env.auth_key_file(&identity);
    let store = env.dir.path().join("store.json");
    let args = |coverage, url: String| {
        BootstrapCommand::Authkey(AuthKeyArgs {
            coverage,
            auth_key_file: Some(key_file.clone()),
            api_endpoint: Some(url),
            ca_file: Some(env.ca.clone()),
            output: Some(env.output.clone()),
            rotate: false,
            save_auth_key: true,
            auth_key_store: store.clone(),
        })
    };
    let none = env.dir.path().join("none.yaml");
    block_on(run(&args(Some(Coverage::Global), g.url()), &none)).expect("bootstrapped");
    let saved = arcway::bootstrap::read_auth_key_file(&store).unwrap();
    assert_eq!(saved.coverage, Some(Coverage::Global));
    assert_eq!(
        credentials::load(&env.output).unwrap().coverage,
        Some(Coverage::Global)
    );
    let before = seen(&jp, &g);
    let e = block_on(run(&args(Some(Coverage::Jp), jp.url()), &none)).unwrap_err();
    assert!(format!("{e:#}").contains("is for global coverage"), "{e:#}");
    assert_eq!(seen(&jp, &g), before);
}

#[test]
fn a_global_sim_is_unknown_to_the_japan_host() {
    let identity = FakeIdentity::example().unwrap();
    let (jp, g) = coverages(&identity);
    let env = Env::new(&jp);
    let key = auth_key(&identity);
    let global = env.api(&g, fast());
    let japan = env.api(&jp, fast());
    let sim_id = block_on(async {
        let token = global.auth(&key).await.unwrap();
        global.create_virtual_sim(&token).await.unwrap().sim_id
    });
    let (get, session) = block_on(async {
        let token = japan.auth(&key).await.unwrap();
        (
            japan.get_sim(&token, &sim_id).await.unwrap_err(),
            japan.create_arc_session(&token, &sim_id).await.unwrap_err(),
        )
    });
    for e in [get, session] {
        assert!(e.to_string().contains("HTTP 404"), "{e}");
    }
}

#[test]
fn a_429_is_retried_after_retry_after_even_for_the_billable_call() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let rule = Fault::TooManyRequests {
        retry_after: Some("1".into()),
    };
    fake.inject(FaultRule::new("POST", "/v1/sims", rule).times(1));
    let started = Instant::now();
    let out = block_on(run_authkey(
        &env.api(&fake, fast()),
        &auth_key(&identity),
        &env.flow(false),
    ))
    .expect("bootstrapped after the wait");
    assert!(out.created_sim);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let creates: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|l| l.method == "POST" && l.path == "/v1/sims")
        .collect();
    assert_eq!(
        creates.iter().map(|l| l.status).collect::<Vec<_>>(),
        [429, 201]
    );
    let gap = creates[1].at - creates[0].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    assert_eq!(fake.counters().sims_created, 1);
}

#[test]
fn a_429_longer_than_the_bound_or_repeated_fails_with_the_servers_answer() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let limit = RateLimit {
        retries: 2,
        max_wait: Duration::from_secs(5),
        default_wait: Duration::from_millis(50),
    };
    let long = Fault::TooManyRequests {
        retry_after: Some("3600".into()),
    };
    fake.inject(FaultRule::new("POST", "/v1/auth", long).times(1));
    let api = env.api(&fake, fast()).with_rate_limit(limit);
    let started = Instant::now();
    let e = block_on(run_authkey(&api, &auth_key(&identity), &env.flow(false))).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.to_string().contains("HTTP 429"), "{e}");
    assert_eq!(fake.counters().auth, 0, "the 429 was answered by the fault");

    // Without a Retry-After the default wait applies, and the retries are bounded.
    fake.clear_faults();
    let bare = Fault::TooManyRequests { retry_after: None };
    fake.inject(FaultRule::new("POST", "/v1/auth", bare));
    let e = block_on(run_authkey(&api, &auth_key(&identity), &env.flow(false))).unwrap_err();
    assert!(e.to_string().contains("HTTP 429"), "{e}");
    let tries = fake.log().iter().filter(|l| l.path == "/v1/auth").count();
    assert_eq!(
        tries,
        1 + 3,
        "one earlier request, then one try and two retries"
    );
}

#[test]
fn every_call_asks_for_english_and_a_403_names_the_permission() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let api = env.api(&fake, fast());
    block_on(run_authkey(&api, &auth_key(&identity), &env.flow(false))).unwrap();
    block_on(run_authkey(&api, &auth_key(&identity), &env.flow(true))).unwrap();
    let log = fake.log();
    assert!(log.iter().any(|l| l.method == "PUT"));
    for l in &log {
        assert_eq!(l.lang.as_deref(), Some("en"), "{} {}", l.method, l.path);
    }

    // soratun's documented policy has no Sim:renewArcSimCredentials: rotation says so.
    let forbidden = Fault::status(403, "SEM0403", "You are not allowed to call this API");
    fake.inject(FaultRule::new("PUT", "/v1/sims/", forbidden));
    let e = block_on(run_authkey(&api, &auth_key(&identity), &env.flow(true))).unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e}");
    assert!(e.to_string().contains("Sim:renewArcSimCredentials"), "{e}");
}
