//! systemd's service notification protocol (sd_notify), spoken directly over a datagram socket.
//!
//! `Type=notify` units get `NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace);
//! each notification is one datagram of `KEY=value` lines. Without `NOTIFY_SOCKET` every call
//! is a no-op, so the daemon can call these unconditionally (OpenWrt's procd, a shell).

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

/// A notification that does not go out within this long is dropped rather than stall the daemon.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("failed to use NOTIFY_SOCKET `{addr}`: expected an absolute path or an @abstract name")]
    InvalidAddress { addr: String },
    #[error("failed to create a socket for systemd notifications")]
    Socket(#[source] io::Error),
    #[error("failed to notify systemd on `{addr}`")]
    Send { addr: String, source: io::Error },
}

/// Sends notifications to the service manager, if there is one.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    target: Option<Arc<Target>>,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: SocketAddr,
    name: String,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; disabled when it is unset or empty.
    pub fn from_env() -> Result<Notifier, NotifyError> {
        Notifier::new(std::env::var_os("NOTIFY_SOCKET").as_deref())
    }

    /// From a `NOTIFY_SOCKET` value: `/run/systemd/notify` or `@abstract`.
    pub fn new(addr: Option<&OsStr>) -> Result<Notifier, NotifyError> {
        let Some(raw) = addr.filter(|a| !a.is_empty()) else {
            return Ok(Notifier::disabled());
        };
        let name = raw.to_string_lossy().into_owned();
        let invalid = || NotifyError::InvalidAddress { addr: name.clone() };
        let bytes = raw.as_bytes();
        let addr = match bytes.first() {
            Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]).map_err(|_| invalid())?,
            Some(b'/') => SocketAddr::from_pathname(raw).map_err(|_| invalid())?,
            _ => return Err(invalid()),
        };
        let socket = UnixDatagram::unbound().map_err(NotifyError::Socket)?;
        socket
            .set_write_timeout(Some(SEND_TIMEOUT))
            .map_err(NotifyError::Socket)?;
        Ok(Notifier {
            target: Some(Arc::new(Target { socket, addr, name })),
        })
    }

    pub fn disabled() -> Notifier {
        Notifier { target: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Startup (or a reload) is complete.
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.send("READY=1")
    }

    /// A one-line status shown by `systemctl status`.
    pub fn status(&self, text: &str) -> Result<(), NotifyError> {
        self.send(&format!("STATUS={}", one_line(text)))
    }

    /// Keep-alive for `WatchdogSec=`; send at [`Watchdog::ping_interval`].
    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.send("WATCHDOG=1")
    }

    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.send("STOPPING=1")
    }

    /// A reload started; systemd (Type=notify-reload) pairs it with the next `ready()` using
    /// the monotonic timestamp.
    pub fn reloading(&self) -> Result<(), NotifyError> {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()))
    }

    /// Sends raw `KEY=value` lines.
    pub fn send(&self, state: &str) -> Result<(), NotifyError> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        target
            .socket
            .send_to_addr(state.as_bytes(), &target.addr)
            .map(drop)
            .map_err(|source| NotifyError::Send {
                addr: target.name.clone(),
                source,
            })
    }
}

/// The service watchdog systemd asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchdog {
    /// `WatchdogSec=`: systemd kills the service after this long without a ping.
    pub timeout: Duration,
}

impl Watchdog {
    /// Half the timeout, as systemd recommends, so one late ping is not fatal.
    pub fn ping_interval(&self) -> Duration {
        self.timeout / 2
    }

    /// From `$WATCHDOG_USEC` and `$WATCHDOG_PID`; `None` when no watchdog is meant for us.
    pub fn from_env() -> Option<Watchdog> {
        let var = |k| std::env::var(k).ok();
        Watchdog::from_values(
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
    }

    /// The parsing behind `from_env`: a positive `usec`, and `pid` absent or equal to ours.
    pub fn from_values(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Watchdog> {
        let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
        if let Some(pid) = pid.filter(|p| !p.is_empty()) {
            // The variables were meant for another process (inherited through a fork).
            if pid.trim().parse::<u32>().ok()? != own_pid {
                return None;
            }
        }
        Some(Watchdog {
            timeout: Duration::from_micros(usec),
        })
    }
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect()
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares reload timestamps with.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_parsing() {
        let w = |u, p| Watchdog::from_values(u, p, 42);
        let six_s = Some(Watchdog {
            timeout: Duration::from_secs(6),
        });
        assert_eq!(w(Some("6000000"), None), six_s);
        assert_eq!(w(Some("6000000"), Some("42")), six_s);
        assert_eq!(
            six_s.map(|w| w.ping_interval()),
            Some(Duration::from_secs(3))
        );
        assert_eq!(w(Some("6000000"), Some("41")), None);
        assert_eq!(w(Some("0"), None), None);
        assert_eq!(w(Some("soon"), None), None);
        assert_eq!(w(None, Some("42")), None);
    }

    #[test]
    fn unset_or_bad_addresses() {
        assert!(!Notifier::new(None).unwrap().is_enabled());
        assert!(!Notifier::new(Some(OsStr::new(""))).unwrap().is_enabled());
        assert!(Notifier::disabled().ready().is_ok());
        let bad = Notifier::new(Some(OsStr::new("vsock:2:1234")));
        assert!(matches!(bad, Err(NotifyError::InvalidAddress { .. })));
    }

    #[test]
    fn monotonic_clock_moves() {
        let a = monotonic_usec();
        assert!(a > 0);
        assert!(monotonic_usec() >= a);
    }
}
