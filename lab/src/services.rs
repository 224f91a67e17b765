//! Processes the lab starts: HTTP servers, wireguard-go, anything a test spawns. Each PID
//! goes into the state file, each output into a log file under the state directory.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bin::lab_bin;
use crate::cmd::netns_exec;
use crate::error::{LabError, Result};
use crate::http::HttpThreads;
use crate::lab::{Lab, lock};
use crate::process::{ChildGuard, PidRecord, spawn_logged};
use crate::role::Role;
use crate::wg::WireGuardGo;

impl Lab {
    /// HTTP on `hosts` x `ports`: the arcway-lab binary in the namespace, else threads here.
    pub(crate) fn start_http(&self, role: Role, hosts: &[&str], ports: &[u16]) -> Result<()> {
        let addrs: Vec<SocketAddr> = hosts
            .iter()
            .flat_map(|h| ports.iter().map(move |p| format!("{h}:{p}")))
            .filter_map(|a| a.parse().ok())
            .collect();
        let body = format!("arcway-lab {role} {}\n", hosts.join(" "));
        let bin = lab_bin().filter(|_| !self.opts.http_in_process);
        let Some(bin) = bin else {
            let threads = HttpThreads::start(&self.ns(role), &addrs, &body)?;
            lock(&self.http).push(threads);
            return Ok(());
        };
        let mut cmd = netns_exec(&self.ns(role), &[bin.as_os_str()]);
        cmd.arg("http-serve")
            .args(addrs.iter().map(|a| a.to_string()));
        cmd.args(["--body", &body]);
        let mut guard = self.start_owned(cmd, &format!("http-{role}"))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !guard.log().contains("listening") {
            if !guard.is_running() || Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!("http server in {role}: {}", guard.log()),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        lock(&self.children).push(guard);
        Ok(())
    }

    /// Starts a process whose PID goes into the state file, logging to the state directory.
    pub(crate) fn start_owned(&self, mut cmd: Command, what: &str) -> Result<ChildGuard> {
        let guard = spawn_logged(&mut cmd, what, &self.log_path(what), self.opts.detached)?;
        self.record(PidRecord::of(guard.pid(), what));
        Ok(guard)
    }

    /// Starts `wireguard-go -f IFNAME` in `role` with a private /run/wireguard and waits until
    /// its UAPI socket answers. Dropping the result ends it (and its TUN device goes away).
    pub fn start_wireguard(&self, role: Role, ifname: &str) -> Result<WireGuardGo> {
        let mut wg = self.start_wireguard_go(role, ifname)?;
        wg.wait_ready(Duration::from_secs(5))?;
        Ok(wg)
    }

    pub(crate) fn start_wireguard_go(&self, role: Role, ifname: &str) -> Result<WireGuardGo> {
        let what = format!("wireguard-go-{role}-{ifname}");
        let wg = WireGuardGo::start(
            &self.ns(role),
            ifname,
            &self.log_path(&what),
            self.opts.detached,
        )?;
        self.record(PidRecord::of(wg.pid(), &what));
        Ok(wg)
    }

    pub(crate) fn record(&self, rec: PidRecord) {
        let mut state = lock(&self.state);
        state.pids.push(rec);
        if let Err(e) = state.save() {
            tracing::warn!(prefix = %self.prefix, error = %e, "failed to save lab state");
        }
    }

    pub(crate) fn log_path(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name: String = what
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.state_dir()
            .join("logs")
            .join(format!("{n:03}-{name}.log"))
    }
}
