//! Processes started in the lab: guards that end them by PID, and records that survive us.
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long a process gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_millis(1500);

/// A PID with its start time, so a later `down` never signals a recycled PID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    pub pid: i32,
    pub start: u64,
    pub what: String,
}

impl PidRecord {
    pub fn of(pid: i32, what: &str) -> PidRecord {
        PidRecord {
            pid,
            start: start_time(pid).unwrap_or(0),
            what: what.to_owned(),
        }
    }

    /// True while the recorded process (not a later one with the same PID) lives.
    pub fn is_alive(&self) -> bool {
        start_time(self.pid).is_some_and(|s| s == self.start) && !is_zombie(self.pid)
    }
}

/// Field 22 of /proc/PID/stat: start time in clock ticks since boot.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(false)
}

pub(crate) fn signal(pid: i32, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill(2) has no memory effects; a stale PID yields ESRCH, which is fine here.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// SIGTERM to all, a grace period, then SIGKILL to whatever remains. `alive` tells (and reaps).
pub(crate) fn terminate<T>(
    items: &mut [T],
    pid: impl Fn(&T) -> i32,
    alive: impl Fn(&mut T) -> bool,
) {
    // Only live processes are signalled: a reaped child's PID may already belong to another.
    for item in items.iter_mut() {
        if alive(item) {
            signal(pid(item), libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && items.iter_mut().any(&alive) {
        sleep(Duration::from_millis(10));
    }
    for item in items.iter_mut() {
        if alive(item) {
            signal(pid(item), libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && items.iter_mut().any(&alive) {
        sleep(Duration::from_millis(10));
    }
}

/// A process started in the lab; dropping the guard ends it (SIGTERM, then SIGKILL).
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    what: String,
    log: Option<PathBuf>,
    armed: bool,
}

impl ChildGuard {
    pub(crate) fn new(child: Child, what: &str, log: Option<PathBuf>) -> ChildGuard {
        ChildGuard {
            child,
            what: what.to_owned(),
            log,
            armed: true,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    /// The file receiving the process's stdout and stderr, if any.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The process's output so far (empty when it has no log file).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// True while the process runs (reaps it once it has exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The exit code once the process has exited (a signal death gives 128 + signal).
    pub fn exit_code(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let status = self.child.try_wait().ok().flatten()?;
        status.code().or_else(|| status.signal().map(|s| 128 + s))
    }

    /// Ends the process now and waits for it.
    pub fn stop(&mut self) {
        stop_all(std::slice::from_mut(self));
    }

    /// Leaves the process running when the guard is dropped.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

/// Ends several guarded processes together, sharing one grace period.
pub fn stop_all(guards: &mut [ChildGuard]) {
    terminate(
        guards,
        |g| if g.armed { g.pid() } else { 0 },
        |g| g.armed && g.is_running(),
    );
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.armed {
            self.stop();
        }
    }
}

/// Starts `cmd` with stdin closed and stdout+stderr appended to `log`. A detached process gets
/// its own process group, so a Ctrl-C at the terminal that ran `arcway-lab up` spares it.
pub(crate) fn spawn_logged(
    cmd: &mut std::process::Command,
    what: &str,
    log: &Path,
    detached: bool,
) -> crate::error::Result<ChildGuard> {
    use crate::error::LabError;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;

    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(LabError::io(dir))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(LabError::io(log))?;
    let err = out.try_clone().map_err(LabError::io(log))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    if detached {
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(|source| LabError::Spawn {
        command: crate::cmd::describe(cmd),
        source,
    })?;
    Ok(ChildGuard::new(child, what, Some(log.to_owned())))
}
