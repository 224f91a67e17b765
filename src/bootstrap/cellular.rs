//! The cellular path as Krypton needs it: the interface exists, is up with carrier, and has an
//! IPv4 address. The request's socket is then bound to that interface, that address and the
//! cellular path's mark, so it can never leave over Wi-Fi.

use std::ffi::CStr;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::Error;
use crate::probe::Binding;

/// What the kernel says about one interface (in the calling thread's network namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellularState {
    Missing,
    AdminDown,
    NoCarrier,
    NoAddress,
    Up(Ipv4Addr),
}

impl CellularState {
    fn reason(&self) -> &'static str {
        match self {
            CellularState::Missing => "does not exist",
            CellularState::AdminDown => "is down",
            CellularState::NoCarrier => "has no carrier",
            CellularState::NoAddress => "has no IPv4 address",
            CellularState::Up(_) => "is up",
        }
    }
}

/// Reads `interface`'s flags and first IPv4 address with getifaddrs(3) (netlink underneath,
/// so it sees the namespace of the calling thread, unlike /sys).
pub fn cellular_state(interface: &str) -> std::io::Result<CellularState> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (mut flags, mut address) = (None, None);
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) };
        if name.to_bytes() != interface.as_bytes() {
            continue;
        }
        flags = Some(flags.unwrap_or(0) | ifa.ifa_flags);
        if address.is_none() && !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr is non-null and at least a sockaddr.
            let family = unsafe { (*ifa.ifa_addr).sa_family };
            if i32::from(family) == libc::AF_INET {
                // SAFETY: AF_INET entries hold a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                address = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    let lower_up = libc::IFF_LOWER_UP as u32;
    Ok(match (flags, address) {
        (None, _) => CellularState::Missing,
        (Some(f), _) if f & libc::IFF_UP as u32 == 0 => CellularState::AdminDown,
        (Some(f), _) if f & lower_up == 0 || f & libc::IFF_RUNNING as u32 == 0 => {
            CellularState::NoCarrier
        }
        (Some(_), None) => CellularState::NoAddress,
        (Some(_), Some(a)) => CellularState::Up(a),
    })
}

/// A binding to the cellular path, or a clear error saying why the path cannot be used.
pub fn cellular_binding(interface: &str, mark: Option<u32>) -> Result<Binding, Error> {
    let down = |reason: String| Error::CellularDown {
        interface: interface.to_owned(),
        reason,
    };
    match cellular_state(interface).map_err(|e| down(format!("cannot be read ({e})")))? {
        CellularState::Up(addr) => Ok(Binding {
            interface: interface.to_owned(),
            mark,
            source_v4: Some(addr),
            source_v6: None,
        }),
        state => Err(down(state.reason().to_owned())),
    }
}

/// Polls until the cellular path is usable; `None` waits for ever (drop the future to stop).
pub async fn wait_for_cellular(
    interface: &str,
    mark: Option<u32>,
    timeout: Option<Duration>,
    poll: Duration,
) -> Result<Binding, Error> {
    let started = Instant::now();
    let mut logged = false;
    loop {
        match cellular_binding(interface, mark) {
            Ok(b) => return Ok(b),
            Err(Error::CellularDown { reason, .. }) => {
                if let Some(after) = timeout.filter(|t| started.elapsed() >= *t) {
                    return Err(Error::CellularWait {
                        interface: interface.to_owned(),
                        after,
                        reason,
                    });
                }
                if !logged {
                    tracing::info!(%interface, %reason, "waiting for the cellular path");
                    logged = true;
                }
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_up_and_a_missing_interface_is_named() {
        assert_eq!(
            cellular_state("lo").unwrap(),
            CellularState::Up(Ipv4Addr::LOCALHOST)
        );
        let e = cellular_binding("nosuchif0", Some(3))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "failed to use the cellular path: interface nosuchif0 does not exist"
        );
    }
}
