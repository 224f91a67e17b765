//! Every line arcway prints or logs during bootstrap (tracing at TRACE, summaries, errors in
//! Display and Debug form) is free of the AuthKey id and secret, API keys and tokens, and
//! private keys.

#[path = "bootstrap_support.rs"]
mod support;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arcway::bootstrap::{AuthKeyArgs, BootstrapCommand, Coverage, run};
use arcway::credentials;
use arcway_lab::soracom::{FakeIdentity, Fault, FaultRule};
use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn args(env: &Env, url: &str, key_file: PathBuf, rotate: bool) -> BootstrapCommand {
    BootstrapCommand::Authkey(AuthKeyArgs {
        coverage: Some(Coverage::Global),
        auth_key_file: Some(key_file),
        api_endpoint: Some(url.to_owned()),
        ca_file: Some(env.ca.clone()),
        output: Some(env.output.clone()),
        rotate,
        save_auth_key: true,
        auth_key_store: env.dir.path().join("store").join("authkey.json"),
    })
}

#[test]
fn nothing_printed_or_logged_holds_a_secret() {
    let identity = FakeIdentity::example().unwrap();
    let fake = fake_api(identity.clone());
    let env = Env::new(&fake);
    let key_file = env.auth_key_file(&identity);
    let wrong = env.dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        "authKeyId: keyId-wrongwrong\nauthKey: secret-wrongwrong\n",
    )
    .unwrap();
    let missing_config = env.dir.path().join("none.yaml");

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let mut printed = Vec::new();
    let mut private_keys = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let mut go = |cmd: BootstrapCommand| match block_on(run(&cmd, &missing_config)) {
            Ok(summary) => printed.push(format!("{summary}\n{summary:?}\n{cmd:?}")),
            Err(e) => printed.push(format!("{e}\n{e:#}\n{e:?}")),
        };
        go(args(&env, &fake.url(), key_file.clone(), false));
        private_keys.push(credentials::load(&env.output).unwrap().private_key);
        go(args(&env, &fake.url(), key_file.clone(), true));
        private_keys.push(credentials::load(&env.output).unwrap().private_key);
        go(args(&env, &fake.url(), wrong.clone(), false));
        fake.inject(FaultRule::new("POST", "/v1/sims/", Fault::MalformedJson));
        go(args(&env, &fake.url(), key_file.clone(), false));
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let printed = printed.join("\n");
    assert!(logs.contains("rotated the Arc key"), "{logs}");
    assert!(
        printed.contains("HTTP 401 AUM0004: Invalid AuthKey"),
        "{printed}"
    );
    assert!(printed.contains("malformed JSON"), "{printed}");
    assert!(env.dir.path().join("store").join("authkey.json").exists());

    let mut secrets: Vec<String> = vec![
        identity.auth_key_id.clone(),
        identity.auth_key.clone(),
        "keyId-wrongwrong".into(),
        "secret-wrongwrong".into(),
    ];
    fake.with_state(|s| {
        assert!(s.tokens.len() >= 3);
        for (api_key, token) in &s.tokens {
            secrets.push(api_key.clone());
            secrets.push(token.clone());
        }
    });
    secrets.extend(private_keys.iter().map(|k| k.expose_base64()));
    let mut lines = 0;
    for line in logs.lines().chain(printed.lines()) {
        lines += 1;
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "a secret in: {line}");
        }
    }
    assert!(lines > 20, "too little output to judge: {lines} lines");
}
