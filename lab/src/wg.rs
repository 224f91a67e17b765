//! WireGuard in the lab: keys, wireguard-go in a private mount namespace, Arc credentials.
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cmd::{netns_exec_private_wg, run_input, run_text};
use crate::error::{LabError, Result};
use crate::process::{ChildGuard, spawn_logged};

/// A WireGuard key pair in base64, as `wg genkey` / `wg pubkey` print them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub private: String,
    pub public: String,
}

impl KeyPair {
    pub fn generate() -> Result<KeyPair> {
        let private = run_text(Command::new("wg").arg("genkey"))?
            .trim()
            .to_owned();
        let output = run_input(
            Command::new("wg").arg("pubkey"),
            Some(&format!("{private}\n")),
        )?;
        let public = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok(KeyPair { private, public })
    }
}

/// A `wireguard-go -f IF` running in a namespace with its own tmpfs on /run/wireguard, so the
/// same interface name can exist in several namespaces without their UAPI sockets colliding.
#[derive(Debug)]
pub struct WireGuardGo {
    guard: ChildGuard,
    control: WgControl,
}

/// Talks to one wireguard-go through `wg`, entering its mount and network namespaces.
#[derive(Debug, Clone)]
pub struct WgControl {
    pid: i32,
    ifname: String,
}

impl WireGuardGo {
    pub(crate) fn start(ns: &str, ifname: &str, log: &Path, detached: bool) -> Result<WireGuardGo> {
        let mut cmd = netns_exec_private_wg(ns, &["wireguard-go", "-f", ifname]);
        let guard = spawn_logged(&mut cmd, &format!("wireguard-go {ifname}"), log, detached)?;
        let control = WgControl {
            pid: guard.pid(),
            ifname: ifname.to_owned(),
        };
        Ok(WireGuardGo { guard, control })
    }

    /// Waits until wireguard-go itself (not the launcher before its exec) has its socket.
    pub(crate) fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let pid = self.pid();
        let sock = format!("/proc/{pid}/root/run/wireguard/{}.sock", self.ifname());
        let deadline = Instant::now() + timeout;
        loop {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "wireguard-go" && Path::new(&sock).exists() {
                return Ok(());
            }
            if !self.guard.is_running() || Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!("wireguard-go {} ready: {}", self.ifname(), self.guard.log()),
                });
            }
            sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> i32 {
        self.guard.pid()
    }

    pub fn ifname(&self) -> &str {
        &self.control.ifname
    }

    pub fn control(&self) -> &WgControl {
        &self.control
    }

    pub fn guard_mut(&mut self) -> &mut ChildGuard {
        &mut self.guard
    }

    pub fn into_parts(self) -> (ChildGuard, WgControl) {
        (self.guard, self.control)
    }

    /// Runs `wg ARGS` against this instance.
    pub fn wg(&self, args: &[&str]) -> Result<String> {
        self.control.wg(args)
    }

    pub fn set_private_key(&self, private: &str) -> Result<()> {
        self.control.set_private_key(private)
    }
}

impl WgControl {
    pub(crate) fn new(pid: i32, ifname: &str) -> WgControl {
        WgControl {
            pid,
            ifname: ifname.to_owned(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Runs `wg ARGS` (its mount namespace holds the UAPI socket).
    pub fn wg(&self, args: &[&str]) -> Result<String> {
        self.wg_input(args, None)
    }

    fn wg_input(&self, args: &[&str], input: Option<&str>) -> Result<String> {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid.to_string(), "-m", "-n", "wg"])
            .args(args);
        let output = run_input(&mut cmd, input)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Sets the private key without writing it to any file.
    pub fn set_private_key(&self, private: &str) -> Result<()> {
        let args = ["set", &self.ifname, "private-key", "/dev/stdin"];
        self.wg_input(&args, Some(&format!("{private}\n")))?;
        Ok(())
    }
}

/// arcway's credentials file (SORACOM field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArcCredentials {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sim_id: Option<String>,
    pub arc_client_peer_private_key: String,
    pub arc_client_peer_public_key: String,
    pub arc_client_peer_ip_address: String,
    pub arc_server_peer_public_key: String,
    pub arc_server_endpoint: String,
    #[serde(rename = "arcAllowedIPs")]
    pub arc_allowed_ips: Vec<String>,
}

impl ArcCredentials {
    /// The same credentials with another endpoint ("host:port"), e.g. a name from /etc/hosts.
    pub fn with_endpoint(mut self, endpoint: &str) -> ArcCredentials {
        self.arc_server_endpoint = endpoint.to_owned();
        self
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the file with mode 0600 (also when it existed with looser permissions).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(LabError::io(path))?;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(LabError::io(path))?;
        file.write_all(self.to_json().as_bytes())
            .map_err(LabError::io(path))
    }
}
