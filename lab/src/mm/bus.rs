//! A private system bus: `dbus-daemon` with a permissive policy and the real polkitd on it,
//! which ModemManager asks before every privileged call. Both run as children of this
//! process and end when the value is dropped.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::process::ChildGuard;

pub const POLKITD: &str = "/usr/lib/polkit-1/polkitd";

fn config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

/// `ip netns exec NS` in front of a program when a namespace is given.
pub(crate) fn in_ns(netns: Option<&str>, program: &str) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => Command::new(program),
    }
}

pub(crate) fn spawn_logged(mut cmd: Command, what: &str, log: &Path) -> Result<ChildGuard> {
    crate::process::spawn_logged(&mut cmd, what, log, false)
}

pub struct SystemBus {
    address: String,
    // Dropped in order: polkitd before the bus it is on.
    pub(crate) polkit: ChildGuard,
    pub(crate) daemon: ChildGuard,
}

impl SystemBus {
    pub fn start(dir: &Path, netns: Option<&str>) -> Result<SystemBus> {
        let conf = dir.join("bus.conf");
        std::fs::write(&conf, config(&dir.join("bus.sock"))).map_err(LabError::io(&conf))?;
        let mut cmd = in_ns(netns, "dbus-daemon");
        cmd.arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let command = crate::cmd::describe(&cmd);
        let mut child = cmd.spawn().map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let daemon = ChildGuard::new(child, "dbus-daemon", None);
        let address = line.trim().to_owned();
        if address.is_empty() {
            return Err(LabError::Command {
                command,
                status: "no address printed".into(),
                stderr: String::new(),
            });
        }
        let mut cmd = in_ns(netns, POLKITD);
        cmd.arg("--no-debug")
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address);
        let polkit = spawn_logged(cmd, "polkitd", &dir.join("polkitd.log"))?;
        let bus = SystemBus {
            address,
            polkit,
            daemon,
        };
        bus.wait_name("org.freedesktop.PolicyKit1", Duration::from_secs(10))?;
        Ok(bus)
    }

    /// The address for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The address as a system names its bus in `DBUS_SYSTEM_BUS_ADDRESS`: the socket path
    /// without the server GUID, so a client may reconnect to a new bus at the same path (a
    /// GUID in the address makes the client refuse any other bus instance).
    pub fn path_address(&self) -> String {
        self.address
            .split(',')
            .filter(|part| !part.starts_with("guid="))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Ends polkitd and the bus daemon and removes the socket the daemon leaves behind when
    /// it was killed, so a new bus can listen at the same path.
    pub(crate) fn stop(&mut self) {
        self.polkit.stop();
        self.daemon.stop();
        if let Some(dir) = self.dir_of() {
            let _ = std::fs::remove_file(dir.join("bus.sock"));
        }
    }

    pub fn has_owner(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .args([
                &format!("--bus={}", self.address),
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &format!("string:{name}"),
            ])
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    }

    pub fn wait_name(&self, name: &str, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.has_owner(name) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(LabError::Command {
            command: format!("wait for {name} on {}", self.address),
            status: format!("not on the bus after {limit:?}"),
            stderr: String::new(),
        })
    }

    pub fn dir_of(&self) -> Option<PathBuf> {
        self.address
            .strip_prefix("unix:path=")
            .and_then(|p| p.split(',').next())
            .and_then(|p| Path::new(p).parent().map(Path::to_owned))
    }
}
