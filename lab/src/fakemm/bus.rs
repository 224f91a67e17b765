//! A private dbus-daemon in a temporary directory, ended by PID when dropped.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{LabError, Result};
use crate::process::signal;

/// A dbus-daemon listening on a unix *path* socket (usable from any network namespace).
pub struct PrivateBus {
    dir: tempfile::TempDir,
    address: String,
    pid: i32,
}

fn config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
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

impl PrivateBus {
    /// Starts `dbus-daemon --fork` and reads its address and PID.
    pub fn start() -> Result<PrivateBus> {
        let dir = tempfile::Builder::new()
            .prefix("arcway-bus")
            .tempdir()
            .map_err(LabError::io("/tmp"))?;
        let conf = dir.path().join("bus.conf");
        std::fs::write(&conf, config(&dir.path().join("bus.sock"))).map_err(LabError::io(&conf))?;
        let command = format!("dbus-daemon --config-file={}", conf.display());
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--fork", "--print-address=1", "--print-pid=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| LabError::Spawn {
                command: command.clone(),
                source,
            })?;
        let mut lines = Vec::new();
        if let Some(out) = child.stdout.take() {
            let mut reader = BufReader::new(out);
            for _ in 0..2 {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                lines.push(line.trim().to_owned());
            }
        }
        let status = child.wait().map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
        let pid = lines.get(1).and_then(|p| p.parse::<i32>().ok());
        match (lines.first(), pid) {
            (Some(address), Some(pid)) if status.success() && !address.is_empty() => {
                Ok(PrivateBus {
                    address: address.clone(),
                    pid,
                    dir,
                })
            }
            _ => Err(LabError::Command {
                command,
                status: status.to_string(),
                stderr: lines.join(" "),
            }),
        }
    }

    /// The address to connect to, `unix:path=...,guid=...`.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Kills the daemon now (clients see their connection close).
    pub fn kill(&mut self) {
        if self.pid > 0 {
            signal(self.pid, libc::SIGKILL);
            wait_gone(self.pid);
            self.pid = 0;
        }
    }
}

fn wait_gone(pid: i32) {
    // The daemon forked away from us, so it is not our child: poll until it is gone.
    let rec = crate::process::PidRecord::of(pid, "dbus-daemon");
    for _ in 0..200 {
        if !rec.is_alive() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        if self.pid > 0 {
            signal(self.pid, libc::SIGTERM);
            wait_gone(self.pid);
        }
    }
}
