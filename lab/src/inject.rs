//! Timed failure injection for measurements, usable on any lab by its prefix (also one that
//! `arcway-lab up` left running).
//!
//! Carrier loss is one in-process SIOCSIFFLAGS on a socket opened inside the access point's
//! namespace: the same kernel path as `ip link set wifi0 down` (dev_change_flags) without a
//! process start, so the timestamp taken right before the syscall is the moment of the cut.
use std::ffi::c_char;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::cmd::nft;
use crate::error::{LabError, Result};
use crate::http::in_netns;
use crate::plan::AP_WIFI_IF;
use crate::role::Role;

/// When a change was made: the instant before the kernel was asked, and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct Injected {
    pub at: Instant,
    pub took: Duration,
}

/// Sets one interface of one namespace up or down.
pub struct LinkSwitch {
    fd: OwnedFd,
    name: [c_char; libc::IFNAMSIZ],
    label: String,
}

impl LinkSwitch {
    pub fn open(ns: &str, ifname: &str) -> Result<LinkSwitch> {
        let label = format!("{ifname} in {ns}");
        if ifname.len() >= libc::IFNAMSIZ {
            return Err(LabError::io(&label)(std::io::Error::other("name too long")));
        }
        let fd = in_netns(ns, || {
            // SAFETY: plain socket(2); ownership passes to the OwnedFd below.
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: a fresh descriptor nobody else owns.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        })?
        .map_err(LabError::io(&label))?;
        let mut name = [0 as c_char; libc::IFNAMSIZ];
        for (d, s) in name.iter_mut().zip(ifname.bytes()) {
            *d = s as c_char;
        }
        Ok(LinkSwitch { fd, name, label })
    }

    /// The access point's end of the Wi-Fi link of the lab `prefix`.
    pub fn wifi(prefix: &str) -> Result<LinkSwitch> {
        LinkSwitch::open(&Role::Ap.ns(prefix), AP_WIFI_IF)
    }

    fn request(&self) -> libc::ifreq {
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        req.ifr_name = self.name;
        req
    }

    fn ioctl(&self, op: libc::Ioctl, req: &mut libc::ifreq) -> Result<()> {
        // SAFETY: SIOC[GS]IFFLAGS read or write one ifreq that lives across the call.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), op, req as *mut libc::ifreq) };
        if rc != 0 {
            return Err(LabError::io(&self.label)(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Sets the interface administratively up or down.
    pub fn set(&self, up: bool) -> Result<Injected> {
        let mut req = self.request();
        self.ioctl(libc::SIOCGIFFLAGS as libc::Ioctl, &mut req)?;
        // SAFETY: SIOCGIFFLAGS filled in the flags member of the union.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        let up_flag = libc::IFF_UP as libc::c_short;
        req.ifr_ifru.ifru_flags = if up {
            flags | up_flag
        } else {
            flags & !up_flag
        };
        let at = Instant::now();
        self.ioctl(libc::SIOCSIFFLAGS as libc::Ioctl, &mut req)?;
        Ok(Injected {
            at,
            took: at.elapsed(),
        })
    }
}

const WIFI_DROP: &str = "arcway_lab_wifi_drop";

/// Drops everything crossing the access point's Wi-Fi link (or stops doing so), keeping
/// carrier. `at` is taken before `nft` starts, so a measured detection time includes the
/// tool's own run time and is never shorter than the truth.
pub fn wifi_blackhole(prefix: &str, on: bool) -> Result<Injected> {
    let mut script = format!("add table inet {WIFI_DROP}\ndelete table inet {WIFI_DROP}\n");
    if on {
        script.push_str(&format!(
            "table inet {WIFI_DROP} {{\n\
             chain input {{ type filter hook input priority -10; iifname \"{AP_WIFI_IF}\" counter drop; }}\n\
             chain forward {{ type filter hook forward priority -10; iifname \"{AP_WIFI_IF}\" counter drop; oifname \"{AP_WIFI_IF}\" counter drop; }}\n\
             chain output {{ type filter hook output priority -10; oifname \"{AP_WIFI_IF}\" counter drop; }}\n\
             }}\n"
        ));
    }
    let at = Instant::now();
    nft(&Role::Ap.ns(prefix), &script)?;
    Ok(Injected {
        at,
        took: at.elapsed(),
    })
}
