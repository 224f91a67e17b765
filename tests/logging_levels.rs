//! The daemon's log level as configured and reloaded: `debug` prints debug lines, `arcway
//! reload` to `warn` silences everything below warnings and answers only once the new
//! configuration is in force, a bad file makes `arcway reload` fail with the reasons, and a
//! reload back to `debug` brings debug lines back. Root: the daemon runs in a private network
//! namespace (unshare(1)), where its rules and tables touch nothing else.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_arcway");

fn config(dir: &Path, level: &str) -> String {
    format!(
        "version: 1\n\
         uplinks:\n  wifi: {{interface: wlan0}}\n\
         classes:\n  - name: default\n    paths: [wifi]\n\
         budget: {{state_file: {dir}/accounting.json}}\n\
         status: {{socket: {dir}/arcway.sock}}\n\
         logging: {{level: {level}, format: plain}}\n",
        dir = dir.display()
    )
}

struct Daemon {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Lines until one matches `want` (returned) or `within` passes (None).
    fn wait_for(&self, within: Duration, mut want: impl FnMut(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Every line written within `within`.
    fn collect(&self, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => out.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("arcway exited: {out:?}"),
            }
        }
        out
    }
}

fn reload(config: &Path, socket: Option<&Path>) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["reload", "--config"]).arg(config);
    if let Some(socket) = socket {
        cmd.arg("--socket").arg(socket);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_debug(line: &str) -> bool {
    line.contains(" DEBUG ") || line.starts_with("DEBUG ")
}

fn below_warn(line: &str) -> bool {
    ["DEBUG", "INFO", "TRACE"]
        .iter()
        .any(|l| line.starts_with(&format!("{l} ")) || line.contains(&format!(" {l} ")))
}

#[test]
fn the_level_follows_the_configuration_and_reload_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("arcway.yaml");
    std::fs::write(&cfg, config(dir.path(), "debug")).unwrap();
    let mut child = Command::new("unshare")
        .args(["--net", "--", BIN, "run", "--config"])
        .arg(&cfg)
        .env_remove("ARCWAY_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare starts arcway");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let daemon = Daemon { child, lines };

    // Start-up may log "arcway started" before or after its first debug line: wait for both.
    let mut debug_seen = false;
    let started = daemon.wait_for(Duration::from_secs(10), |l| {
        debug_seen |= is_debug(l);
        l.contains("arcway started")
    });
    assert!(started.is_some(), "arcway started");
    if !debug_seen {
        let first = daemon.wait_for(Duration::from_secs(10), is_debug);
        assert!(first.is_some(), "no debug line at logging.level: debug");
    }

    std::fs::write(&cfg, config(dir.path(), "warn")).unwrap();
    let (code, out, err) = reload(&cfg, None);
    assert_eq!(code, 0, "reload to warn: {out}{err}");
    assert_eq!(out, format!("reloaded {}\n", cfg.display()));
    // Lines from before the switch were written before the answer; let the reader take them.
    daemon.collect(Duration::from_millis(300));

    // A bad file: refused with its position, the old configuration (and level) stays, and
    // the refusal is logged at error, which `warn` shows. A file that does not load cannot
    // name the socket: without --socket the command still fails with the reasons.
    std::fs::write(&cfg, config(dir.path(), "warn") + "bogus: 1\n").unwrap();
    let socket = dir.path().join("arcway.sock");
    let (code, out, err) = reload(&cfg, Some(&socket));
    assert_eq!(code, 2, "reload of a bad file: {out}{err}");
    assert!(
        err.contains("the reload failed")
            && err.contains("running configuration stays")
            && err.contains("bogus"),
        "the reasons are printed: {err}"
    );
    assert!(out.is_empty(), "{out}");
    let (code, out, err) = reload(&cfg, None);
    assert_eq!(code, 2, "reload of a bad file without --socket: {out}{err}");
    assert!(err.contains("bogus"), "the reasons are printed: {err}");
    let quiet = daemon.collect(Duration::from_secs(3));
    assert!(
        quiet.iter().any(|l| l.contains("reload refused")),
        "the refusal is logged: {quiet:?}"
    );
    let louder: Vec<_> = quiet.iter().filter(|l| below_warn(l)).collect();
    assert!(
        louder.is_empty(),
        "lines below warn after the reload: {louder:?}"
    );

    std::fs::write(&cfg, config(dir.path(), "debug")).unwrap();
    let (code, out, err) = reload(&cfg, None);
    assert_eq!(code, 0, "reload to debug: {out}{err}");
    assert!(
        daemon.wait_for(Duration::from_secs(10), is_debug).is_some(),
        "debug lines are back after a reload to debug"
    );
}

#[test]
fn reload_without_a_daemon_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("arcway.yaml");
    std::fs::write(&cfg, config(dir.path(), "info")).unwrap();
    let (code, _, err) = reload(&cfg, None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not running"), "{err}");
}
