//! Running arcway itself in the lab's gateway: a configuration that fits the lab, the
//! process, and its status as JSON for assertions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bin::bin_path;
use crate::cmd::describe;
use crate::error::{LabError, Result};
use crate::lab::Lab;
use crate::process::ChildGuard;
use crate::role::Role;

/// Health settings short enough for tests, as YAML flow maps per path.
pub struct Health {
    pub arc: &'static str,
    pub wifi: &'static str,
    pub cellular: &'static str,
}

impl Health {
    /// Fast probing everywhere: switches within about a second.
    pub const FAST: Health = Health {
        arc: "{probes: [{icmp: 100.127.100.127}], interval: 200ms, timeout: 200ms, down_after: 600ms, up_after: 1s}",
        wifi: "{probes: [{icmp: 203.0.113.100}], interval: 200ms, timeout: 200ms, down_after: 600ms, up_after: 1s}",
        cellular: "{probes: [{icmp: 100.127.100.127}], interval: 1s, timeout: 500ms, down_after: 3s, up_after: 1s}",
    };
}

impl Lab {
    /// Where arcway's status socket lives for this lab.
    pub fn arcway_socket(&self) -> PathBuf {
        self.state_dir().join("arcway.sock")
    }

    /// A configuration for arcway in the gateway: Arc over wlan0, cellular on wwan0, the
    /// platform class on [arc, cellular] and everything else on [wifi, cellular]. Every file
    /// arcway writes stays in the lab's state directory.
    pub fn arcway_config(&self, health: &Health) -> String {
        format!(
            "version: 1\n\
             arc:\n  credentials: {creds}\n  interface: arc0\n  handshake_timeout: 5s\n\
             uplinks:\n  wifi: {{interface: wlan0}}\n  cellular: {{interface: wwan0}}\n\
             health:\n  arc: {arc}\n  wifi: {wifi}\n  cellular: {cell}\n\
             classes:\n\
             \x20 - name: platform\n    match: {{destinations: [100.127.0.0/16]}}\n    paths: [arc, cellular]\n\
             \x20 - name: default\n    paths: [wifi, cellular]\n\
             budget: {{state_file: {ledger}}}\n\
             status: {{socket: {socket}}}\n\
             logging: {{level: debug, format: plain}}\n",
            creds = self.credentials_path().display(),
            ledger = self.state_dir().join("accounting.json").display(),
            arc = health.arc,
            wifi = health.wifi,
            cell = health.cellular,
            socket = self.arcway_socket().display(),
        )
    }

    /// Writes `config` into the state directory and starts `arcway run` in the gateway.
    pub fn start_arcway(&self, config: &str) -> Result<Arcway> {
        self.start_arcway_with(config, &[])
    }

    /// Like `start_arcway`, with extra environment (e.g. `NOTIFY_SOCKET`, `WATCHDOG_USEC`).
    ///
    /// arcway runs in a private mount namespace whose /run/wireguard is this lab's own
    /// directory: parallel labs never share UAPI sockets, while a later arcway in the same lab
    /// finds (and adopts) a userspace device an earlier one left running, as after a restart.
    pub fn start_arcway_with(&self, config: &str, env: &[(&str, &str)]) -> Result<Arcway> {
        let path = self.state_dir().join("arcway.yaml");
        std::fs::write(&path, config).map_err(|source| LabError::Io {
            path: path.clone(),
            source,
        })?;
        let wg_dir = self.state_dir().join("wireguard");
        for dir in [Path::new("/run/wireguard"), wg_dir.as_path()] {
            std::fs::create_dir_all(dir).map_err(|source| LabError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let bin = bin_path("arcway")?;
        // Says which build runs: tests/pkg/release-lab checks that it is the shipped one.
        eprintln!("lab: starting {}", bin.display());
        let args = [
            "unshare".to_owned(),
            "--mount".into(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            "mount --bind \"$0\" /run/wireguard && exec \"$@\"".into(),
            wg_dir.display().to_string(),
            bin.display().to_string(),
            "run".into(),
            "--config".into(),
            path.display().to_string(),
        ];
        let mut cmd = self.command(Role::Gw, &args);
        cmd.env("ARCWAY_LOG", "debug,zbus=warn");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let guard = self.spawn_command("arcway", cmd)?;
        Ok(Arcway {
            guard,
            bin,
            config: path,
            socket: self.arcway_socket(),
        })
    }
}

/// arcway running in the lab; dropping it ends the process.
pub struct Arcway {
    guard: ChildGuard,
    bin: PathBuf,
    config: PathBuf,
    socket: PathBuf,
}

impl Arcway {
    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    pub fn config_path(&self) -> &PathBuf {
        &self.config
    }

    /// Everything arcway printed so far.
    pub fn log(&self) -> String {
        self.guard.log()
    }

    pub fn is_running(&mut self) -> bool {
        self.guard.is_running()
    }

    fn query(&self, what: &str) -> Result<Value> {
        let mut cmd = Command::new(&self.bin);
        cmd.args([what, "--json", "--socket"]).arg(&self.socket);
        let out = cmd.output().map_err(|source| LabError::Spawn {
            command: describe(&cmd),
            source,
        })?;
        if !out.status.success() {
            return Err(LabError::Command {
                command: describe(&cmd),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        serde_json::from_slice(&out.stdout).map_err(|source| LabError::Parse {
            what: format!("`arcway {what} --json`"),
            source,
        })
    }

    /// `arcway status --json`.
    pub fn status(&self) -> Result<Value> {
        self.query("status")
    }

    /// `arcway events --json`.
    pub fn events(&self) -> Result<Value> {
        self.query("events")
    }

    /// The state of a path ("up", "down", ...), if the daemon answers.
    pub fn path_state(&self, path: &str) -> Option<String> {
        let s = self.status().ok()?;
        s["paths"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == path)
            .and_then(|p| p["state"].as_str().map(str::to_owned))
    }

    /// Where a class goes: "via arc", "held on cellular", "unreachable".
    pub fn class_route(&self, class: &str) -> Option<String> {
        let s = self.status().ok()?;
        let c = s["classes"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == class)?;
        let route = &c["route"];
        Some(match (route["kind"].as_str()?, route["path"].as_str()) {
            ("via", Some(p)) => format!("via {p}"),
            ("held_on", Some(p)) => format!("held on {p}"),
            (kind, _) => kind.to_owned(),
        })
    }

    /// Polls `check` every 50 ms until it holds or `timeout` passes; returns how long it took.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Arcway) -> bool,
    ) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if check(self) {
                return Some(start.elapsed());
            }
            sleep(Duration::from_millis(50));
        }
        None
    }

    /// Waits until the status socket answers (arcway is up and serving).
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |a| a.status().is_ok()).is_some()
    }

    /// Sends a signal to arcway.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with a PID this guard started and still owns.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// SIGTERM, then waits up to `timeout` for the exit; returns the exit code if it exited.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        self.signal(libc::SIGTERM);
        self.wait_exit(timeout)
    }

    /// SIGKILL: no teardown at all, as after a crash or an OOM kill.
    pub fn kill(&mut self, timeout: Duration) -> Option<i32> {
        self.signal(libc::SIGKILL);
        self.wait_exit(timeout)
    }

    /// Waits for the process to exit on its own; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(code) = self.guard.exit_code() {
                return Some(code);
            }
            sleep(Duration::from_millis(20));
        }
        None
    }
}
