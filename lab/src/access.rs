//! Using a running lab from tests: names, commands, processes, credentials, /etc/hosts.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::cleanup::etc_netns;
use crate::cmd::{describe, netns_exec, netns_exec_private_wg, nft, run, run_text};
use crate::error::{LabError, Result};
use crate::lab::{Lab, LabOptions, lock};
use crate::plan;
use crate::process::ChildGuard;
use crate::role::Role;
use crate::state::LabState;
use crate::wg::WgControl;

impl Lab {
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The namespace name of a role, e.g. "aw1f2e3-gw".
    pub fn ns(&self, role: Role) -> String {
        role.ns(&self.prefix)
    }

    pub fn options(&self) -> &LabOptions {
        &self.opts
    }

    /// How long `Lab::build` took.
    pub fn build_time(&self) -> Duration {
        *lock(&self.built_in)
    }

    /// /run/arcway-lab/<prefix>: state file, logs, credentials.
    pub fn state_dir(&self) -> PathBuf {
        LabState::dir(&self.prefix)
    }

    /// The credentials file written at build time (mode 0600).
    pub fn credentials_path(&self) -> PathBuf {
        self.state_dir().join("arc.json")
    }

    pub fn arc_credentials_json(&self) -> String {
        self.arc_credentials().to_json()
    }

    pub fn write_arc_credentials(&self, path: &Path) -> Result<()> {
        self.arc_credentials().write(path)
    }

    /// The Arc server's wireguard-go, e.g. `lab.arc_server().wg(&["show", "wg0"])`.
    pub fn arc_server(&self) -> WgControl {
        WgControl::new(*lock(&self.arc_server_pid), plan::ARC_SERVER_IF)
    }

    /// The topology as text (namespaces, links, addresses, routes).
    pub fn describe(&self) -> String {
        plan::describe(&self.prefix, self.opts.ipv6)
    }

    /// Writes /etc/netns/<ns>/hosts, which `ip netns exec` (so `exec` and `spawn`) binds over
    /// /etc/hosts: a way to give the Arc endpoint a name, e.g. an IPv6-only one.
    pub fn write_hosts(&self, role: Role, entries: &[(&str, &str)]) -> Result<()> {
        let dir = etc_netns(&self.ns(role));
        fs::create_dir_all(&dir).map_err(LabError::io(&dir))?;
        let mut text = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for (name, addr) in entries {
            text.push_str(&format!("{addr} {name}\n"));
        }
        let path = dir.join("hosts");
        fs::write(&path, text).map_err(LabError::io(path))
    }

    /// `ip netns exec <ns> ARGS...`, ready to be adjusted (env, current dir) and run.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, role: Role, args: &[S]) -> Command {
        netns_exec(&self.ns(role), args)
    }

    /// `command` with a private tmpfs on /run/wireguard, for programs that start wireguard-go
    /// themselves (arcway with the userspace backend), so parallel labs never share sockets.
    pub fn command_private_wg<S: AsRef<std::ffi::OsStr>>(&self, role: Role, args: &[S]) -> Command {
        netns_exec_private_wg(&self.ns(role), args)
    }

    /// Runs a command in a namespace and returns its output whatever the exit status.
    pub fn exec<S: AsRef<std::ffi::OsStr>>(&self, role: Role, args: &[S]) -> Result<Output> {
        let mut cmd = self.command(role, args);
        cmd.output().map_err(|source| LabError::Spawn {
            command: describe(&cmd),
            source,
        })
    }

    /// Runs a command in a namespace, fails unless it exits 0, returns stdout.
    pub fn exec_ok<S: AsRef<std::ffi::OsStr>>(&self, role: Role, args: &[S]) -> Result<String> {
        run_text(&mut self.command(role, args))
    }

    /// Starts a long-running command in a namespace; its output goes to a log file in the
    /// state directory (`guard.log()`), its PID into the state file. Drop the guard to end it.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, role: Role, args: &[S]) -> Result<ChildGuard> {
        let what = args
            .first()
            .map(|a| {
                a.as_ref()
                    .to_string_lossy()
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default();
        self.start_owned(self.command(role, args), &what)
    }

    /// Like `spawn` for a prepared command (see `command`), e.g. with extra environment.
    pub fn spawn_command(&self, what: &str, cmd: Command) -> Result<ChildGuard> {
        self.start_owned(cmd, what)
    }

    /// Applies an nftables script in a namespace (one atomic transaction).
    pub fn nft(&self, role: Role, script: &str) -> Result<()> {
        nft(&self.ns(role), script)
    }

    /// `ip route get DST` in a namespace, e.g. to see which link a destination uses.
    pub fn route_get(&self, role: Role, dst: &str) -> Result<String> {
        run_text(Command::new("ip").args(["-n", &self.ns(role), "route", "get", dst]))
    }

    /// `ip -n <ns> ARGS...` (fails unless it exits 0).
    pub fn ip(&self, role: Role, args: &[&str]) -> Result<String> {
        run_text(Command::new("ip").args(["-n", &self.ns(role)]).args(args))
    }

    pub(crate) fn ip_quiet(&self, role: Role, args: &[&str]) -> Result<()> {
        run(Command::new("ip").args(["-n", &self.ns(role)]).args(args)).map(|_| ())
    }
}
