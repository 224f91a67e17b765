//! `arc:` and `uplinks:`: the three paths and their interfaces.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::{Check, key, names, pos_or};
use crate::config::error::Pos;
use crate::config::kinds::{Backend, Nl80211Mode, OnStop};
use crate::config::raw::{RawArc, RawUplinks, S};
use crate::config::types::{ArcConfig, BootstrapMethod, Uplinks, WifiConfig};
use crate::model::PathId;

/// The paths present in the configuration.
pub fn configured(arc: &Option<ArcConfig>, uplinks: &Uplinks) -> BTreeSet<PathId> {
    let mut paths = BTreeSet::new();
    if arc.is_some() {
        paths.insert(PathId::Arc);
    }
    if uplinks.wifi.is_some() {
        paths.insert(PathId::Wifi);
    }
    if uplinks.cellular.is_some() {
        paths.insert(PathId::Cellular);
    }
    paths
}

pub fn check(
    c: &mut Check,
    arc: Option<S<RawArc>>,
    uplinks: Option<S<RawUplinks>>,
) -> (Option<ArcConfig>, Uplinks) {
    let arc_pos = arc.as_ref().map(Pos::of);
    let bootstrap_pos = arc.as_ref().map(|a| {
        let here = Pos::of(a);
        (
            pos_or(&a.value.bootstrap, here),
            pos_or(&a.value.rebootstrap_on_auth_failure, here),
        )
    });
    let arc_if_pos = arc.as_ref().map(|a| pos_or(&a.value.interface, Pos::of(a)));
    let arc = arc.map(|a| check_arc(c, a));
    let uplinks_pos = uplinks.as_ref().map_or(Pos::START, Pos::of);
    let (mut wifi, mut cellular) = (None, None);
    let mut interfaces: Vec<(String, Pos, String)> = Vec::new();
    if let Some(u) = uplinks.map(|u| u.value) {
        if let Some(w) = u.wifi {
            check_interface(c, "uplinks.wifi.interface", &w.value.interface);
            interfaces.push((
                "uplinks.wifi.interface".into(),
                Pos::of(&w.value.interface),
                w.value.interface.value.clone(),
            ));
            wifi = Some(WifiConfig {
                interface: w.value.interface.value,
                nl80211: w.value.nl80211.map_or(Nl80211Mode::Auto, |m| m.value),
            });
        }
        if let Some(cell) = u.cellular {
            if let Some(i) = &cell.value.interface {
                check_interface(c, "uplinks.cellular.interface", i);
                interfaces.push((
                    "uplinks.cellular.interface".into(),
                    Pos::of(i),
                    i.value.clone(),
                ));
            }
            cellular = Some(super::cellular::check(c, cell));
        }
    }
    if let (Some(a), Some(pos), Some(if_pos)) = (&arc, arc_pos, arc_if_pos) {
        interfaces.insert(0, ("arc.interface".into(), if_pos, a.interface.clone()));
        if wifi.is_none() {
            c.err(
                "arc",
                pos,
                "arc needs uplinks.wifi: the tunnel is carried by the Wi-Fi uplink",
            );
        }
    }
    if let (Some(a), Some((pos, re_pos))) = (&arc, bootstrap_pos) {
        check_bootstrap(c, a, cellular.is_some(), pos, re_pos);
    }
    for (i, (path, pos, name)) in interfaces.iter().enumerate() {
        if let Some((first, ..)) = interfaces[..i].iter().find(|(_, _, n)| n == name) {
            c.err(
                path.as_str(),
                *pos,
                format!("interface `{name}` is already used by {first}"),
            );
        }
    }
    if arc.is_none() && wifi.is_none() && cellular.is_none() {
        c.err(
            "uplinks",
            uplinks_pos,
            "no path is configured (configure arc:, uplinks.wifi or uplinks.cellular)",
        );
    }
    (arc, Uplinks { wifi, cellular })
}

/// Krypton authenticates by the Air line, so it needs the cellular uplink; re-bootstrapping
/// needs a method to bootstrap with.
fn check_bootstrap(c: &mut Check, arc: &ArcConfig, cellular: bool, pos: Pos, re_pos: Pos) {
    if arc.bootstrap == Some(BootstrapMethod::Krypton) && !cellular {
        c.err(
            "arc.bootstrap",
            pos,
            "bootstrap: krypton needs uplinks.cellular: Krypton is reached over the Air line only",
        );
    }
    if arc.rebootstrap_on_auth_failure && arc.bootstrap.is_none() {
        c.err(
            "arc.rebootstrap_on_auth_failure",
            re_pos,
            "rebootstrap_on_auth_failure needs arc.bootstrap (krypton or authkey)",
        );
    }
}

fn check_interface(c: &mut Check, path: &str, name: &S<String>) {
    if let Err(m) = names::interface_name(&name.value) {
        c.err(path, Pos::of(name), m);
    }
}

pub(super) fn check_absolute(c: &mut Check, path: &str, value: &Option<S<PathBuf>>) {
    if let Some(v) = value.as_ref().filter(|v| !v.value.is_absolute()) {
        c.err(
            path,
            Pos::of(v),
            format!("`{}` must be an absolute path", v.value.display()),
        );
    }
}

fn check_arc(c: &mut Check, arc: S<RawArc>) -> ArcConfig {
    let here = Pos::of(&arc);
    let a = arc.value;
    let p = |k| key("arc", k);
    let interface = a.interface.map_or_else(
        || "arc0".to_owned(),
        |i| {
            check_interface(c, &p("interface"), &i);
            i.value
        },
    );
    check_absolute(c, &p("credentials"), &a.credentials);
    let mtu = match &a.mtu {
        Some(m) if !(1280..=9000).contains(&m.value) => {
            c.err(
                p("mtu"),
                Pos::of(m),
                format!("mtu {} is out of range 1280..=9000", m.value),
            );
            1420
        }
        Some(m) => u16::try_from(m.value).unwrap_or(1420),
        None => 1420,
    };
    let keepalive = a
        .keepalive
        .as_ref()
        .map_or(Duration::from_secs(25), |k| k.value.0);
    if keepalive.subsec_millis() != 0 || keepalive > Duration::from_secs(65535) {
        let pos = pos_or(&a.keepalive, here);
        c.err(
            p("keepalive"),
            pos,
            "keepalive must be whole seconds up to 65535s (0s turns it off)",
        );
    }
    let listen_port = a.listen_port.as_ref().and_then(|lp| {
        let port = u16::try_from(lp.value).ok().filter(|&v| v != 0);
        if port.is_none() {
            c.err(
                p("listen_port"),
                Pos::of(lp),
                format!(
                    "listen_port {} is out of range 1..=65535 (leave it out for a random port)",
                    lp.value
                ),
            );
        }
        port
    });
    let userspace_command = match a.userspace_command {
        Some(cmd) if cmd.value.first().is_none_or(|s| s.trim().is_empty()) => {
            c.err(
                p("userspace_command"),
                Pos::of(&cmd),
                "userspace_command needs at least the program name",
            );
            Vec::new()
        }
        Some(cmd) => cmd.value,
        None => vec!["wireguard-go".to_owned(), "-f".to_owned()],
    };
    let endpoint = a.endpoint.and_then(|e| {
        names::endpoint(&e.value)
            .map_err(|m| c.err(p("endpoint"), Pos::of(&e), m))
            .ok()
    });
    let handshake_timeout = a
        .handshake_timeout
        .as_ref()
        .map_or(Duration::from_secs(20), |h| h.value.0);
    if handshake_timeout.is_zero() {
        c.err(
            p("handshake_timeout"),
            pos_or(&a.handshake_timeout, here),
            "handshake_timeout must be more than zero",
        );
    }
    ArcConfig {
        credentials: a
            .credentials
            .map_or_else(|| PathBuf::from("/var/lib/arcway/arc.json"), |c| c.value),
        interface,
        mtu,
        keepalive,
        listen_port,
        extra_allowed_ips: a
            .extra_allowed_ips
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.value.0)
            .collect(),
        backend: a.backend.unwrap_or(Backend::Auto),
        userspace_command,
        endpoint,
        handshake_timeout,
        on_stop: a.on_stop.unwrap_or(OnStop::Remove),
        bootstrap: a.bootstrap.as_ref().map(|b| b.value),
        rebootstrap_on_auth_failure: a.rebootstrap_on_auth_failure.is_some_and(|r| r.value),
        coverage: a.coverage.as_ref().map(|c| c.value),
    }
}
