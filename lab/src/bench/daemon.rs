//! arcway in the gateway as the benchmark and the demo run it: arcway's default health
//! settings (only the probe targets point at lab hosts), info logging, a private
//! /run/wireguard, and what /proc says about its footprint.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::bin::bin_path;
use crate::lab::Lab;
use crate::process::ChildGuard;
use crate::role::Role;
use crate::state::LabState;

/// Extra health keys for the arc and wifi paths, e.g. `interval: 500ms, down_after: 1s`
/// (YAML flow-map entries). Empty: arcway's defaults.
#[derive(Debug, Clone, Default)]
pub struct HealthOverride {
    pub arc: String,
    pub wifi: String,
}

/// The configuration for the lab `prefix`. Health sets nothing but probe targets (unless
/// `extra` says more), so every interval, timeout, down_after and up_after is arcway's
/// default. The Wi-Fi probes are the default ones (ICMP echo and TCP connect) aimed at the
/// internet host; Arc's default probe already is the lab's platform.
pub fn config(prefix: &str, extra: &HealthOverride) -> String {
    config_with(prefix, extra, false)
}

/// `config`, with ModemManager as the cellular path's source of truth when `modem` is set
/// (cellular probed every 200 ms so the bearer trials recover quickly).
pub fn config_with(prefix: &str, extra: &HealthOverride, modem: bool) -> String {
    let dir = LabState::dir(prefix);
    let more = |s: &str| {
        if s.trim().is_empty() {
            String::new()
        } else {
            format!(", {s}")
        }
    };
    format!(
        "version: 1\n\
         arc:\n  credentials: {creds}\n  interface: arc0\n\
         uplinks:\n  wifi: {{interface: wlan0}}\n  cellular: {{interface: wwan0{modem}}}\n\
         health:\n\
         {cell}\
         \x20 arc: {{probes: [{{icmp: 100.127.100.127}}]{arc}}}\n\
         \x20 wifi: {{probes: [{{icmp: 203.0.113.100}}, {{tcp: \"203.0.113.100:443\"}}]{wifi}}}\n\
         classes:\n\
         \x20 - name: platform\n    match: {{destinations: [100.127.0.0/16]}}\n    paths: [arc, cellular]\n\
         \x20 - name: default\n    paths: [wifi, cellular]\n\
         budget: {{state_file: {ledger}}}\n\
         status: {{socket: {socket}}}\n\
         logging: {{level: info, format: plain}}\n",
        creds = dir.join("arc.json").display(),
        ledger = dir.join("accounting.json").display(),
        socket = dir.join("arcway.sock").display(),
        arc = more(&extra.arc),
        wifi = more(&extra.wifi),
        modem = if modem { ", modem: {}" } else { "" },
        cell = if modem {
            "  cellular: {probes: [{icmp: 100.127.100.127}], interval: 200ms, timeout: 200ms, up_after: 500ms}\n"
        } else {
            ""
        },
    )
}

/// arcway running in a lab's gateway; dropping it ends the process.
pub struct Daemon {
    guard: ChildGuard,
    bin: PathBuf,
    socket: PathBuf,
    config: PathBuf,
}

impl Daemon {
    pub fn start(lab: &Lab, extra: &HealthOverride) -> anyhow::Result<Daemon> {
        Daemon::start_with(lab, extra, None)
    }

    /// `start`, with ModemManager on the bus at `modem_bus` when given.
    pub fn start_with(
        lab: &Lab,
        extra: &HealthOverride,
        modem_bus: Option<&str>,
    ) -> anyhow::Result<Daemon> {
        let dir = lab.state_dir();
        let path = dir.join("arcway.yaml");
        std::fs::write(&path, config_with(lab.prefix(), extra, modem_bus.is_some()))
            .with_context(|| format!("failed to write {}", path.display()))?;
        let bin = bin_path("arcway")?;
        let args = [
            bin.display().to_string(),
            "run".into(),
            "--config".into(),
            path.display().to_string(),
        ];
        let mut cmd = lab.command_private_wg(Role::Gw, &args);
        cmd.env_remove("ARCWAY_LOG");
        if let Some(bus) = modem_bus {
            cmd.env("DBUS_SYSTEM_BUS_ADDRESS", bus);
        }
        let guard = lab.spawn_command("arcway", cmd)?;
        Ok(Daemon {
            guard,
            bin,
            socket: dir.join("arcway.sock"),
            config: path,
        })
    }

    /// The configuration arcway runs with.
    pub fn config(&self) -> anyhow::Result<String> {
        std::fs::read_to_string(&self.config)
            .with_context(|| format!("failed to read {}", self.config.display()))
    }

    /// Writes `config` and sends SIGHUP.
    pub fn reload(&self, config: &str) -> anyhow::Result<()> {
        std::fs::write(&self.config, config)
            .with_context(|| format!("failed to write {}", self.config.display()))?;
        // SAFETY: kill(2) on the PID of a child this guard owns.
        if unsafe { libc::kill(self.pid(), libc::SIGHUP) } != 0 {
            bail!("failed to send SIGHUP to arcway");
        }
        Ok(())
    }

    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn log(&self) -> String {
        self.guard.log()
    }

    fn query(&self, what: &str) -> anyhow::Result<Value> {
        let out = Command::new(&self.bin)
            .args([what, "--json", "--socket"])
            .arg(&self.socket)
            .output()
            .with_context(|| format!("failed to run arcway {what}"))?;
        if !out.status.success() {
            bail!(
                "arcway {what} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("failed to parse arcway {what}"))
    }

    pub fn status(&self) -> anyhow::Result<Value> {
        self.query("status")
    }

    /// The event log, oldest first.
    pub fn events(&self) -> anyhow::Result<Vec<Value>> {
        Ok(self.query("events")?["events"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Where a class goes, as `arcway status` says it: "via arc", "via cellular", ...
    pub fn class_route(&self, class: &str) -> Option<String> {
        let s = self.status().ok()?;
        let c = s["classes"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == class)?;
        let r = &c["route"];
        Some(format!(
            "{} {}",
            r["kind"].as_str()?,
            r["path"].as_str().unwrap_or("")
        ))
    }

    /// The engine's word for a path's state ("up", "down", "recovering", ...).
    pub fn path_state(&self, path: &str) -> Option<String> {
        let s = self.status().ok()?;
        let p = s["paths"].as_array()?.iter().find(|p| p["name"] == path)?;
        p["state"].as_str().map(str::to_owned)
    }

    /// Polls until `check` holds; false after `timeout` or when arcway exited.
    pub fn wait(&mut self, timeout: Duration, check: impl Fn(&Daemon) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && self.guard.is_running() {
            if check(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Every path up and the platform class via Arc: the state each trial starts from.
    pub fn wait_steady(&mut self, timeout: Duration) -> bool {
        self.wait(timeout, |d| {
            ["arc", "wifi", "cellular"]
                .iter()
                .all(|p| d.path_state(p).as_deref() == Some("up"))
                && d.class_route("platform").as_deref() == Some("via arc")
        })
    }
}

/// Resident and peak resident memory of a process, in KiB.
pub fn memory_kib(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User plus system CPU time of a process (all its threads) and of the children it has
/// waited for: a daemon that forks helpers (as `nft`) pays for them too. Children still
/// running (wireguard-go) are not in it.
pub fn cpu_time(pid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name's closing parenthesis: utime, stime, cutime and cstime
    // are the 12th to the 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let ticks = rest
        .split(' ')
        .skip(11)
        .take(4)
        .map(|f| f.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// Children of `pid` (wireguard-go, when arcway runs the userspace backend).
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s[s.rfind(')')? + 2..].to_owned();
                    rest.split(' ').nth(1)?.parse::<i32>().ok()
                })
                == Some(pid)
        })
        .collect()
}
