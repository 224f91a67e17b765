//! IPv6 carrier failover: the default class's IPv6 from the LAN host to the internet host
//! (`dual::INTERNET_V6`), Wi-Fi's carrier cut. IPv6 replies carry no path stamp, so a
//! trial ends with the first reply to a request sent after the carrier was down: with
//! Wi-Fi's link down, only cellular can have carried it.
use std::net::Ipv6Addr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::daemon::{Daemon, HealthOverride};
use super::progress;
use crate::dual::{Families, INTERNET_V6};
use crate::inject::LinkSwitch;
use crate::pathtag::Via;
use crate::pingstream::PingStream;
use crate::{Lab, LabOptions, Role};

const PACE: Duration = Duration::from_millis(1);
const TIMEOUT: Duration = Duration::from_secs(30);
/// Cellular probes every 30 s by default: a first failed IPv6 round costs one interval.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Both families of the default class on Wi-Fi, and cellular up in both to take them
/// (its rounds are 30 s apart: IPv6 over cellular is unproven until one passed).
fn on_wifi(d: &Daemon) -> bool {
    let Ok(s) = d.status() else {
        return false;
    };
    let default = s["classes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "default"))
        .cloned()
        .unwrap_or_default();
    default["route"]["kind"] == "via"
        && default["route"]["path"] == "wifi"
        && default["route_ipv6"].is_null()
        && s["paths"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "cellular"))
            .is_some_and(|c| c["state"] == "up" && c["families"].is_null())
}

/// Carrier-loss trials for IPv6 in a dual-stack lab of its own; the failover times in ms.
pub fn trials(health: &HealthOverride, trials: usize) -> anyhow::Result<Vec<Option<f64>>> {
    let lab = Lab::build(LabOptions {
        ipv6: true,
        ..LabOptions::default()
    })
    .context("failed to build the dual-stack lab")?;
    lab.dual_stack(Families::BOTH, Families::BOTH)?;
    let mut arcway = Daemon::start(&lab, health)?;
    if !arcway.wait(READY_TIMEOUT, on_wifi) {
        bail!(
            "IPv6 never went via Wi-Fi: status {:?}\n{}",
            arcway.status().ok(),
            arcway.log()
        );
    }
    let dst: Ipv6Addr = INTERNET_V6.parse().context("internet IPv6 address")?;
    let stream = PingStream::start(&lab.ns(Role::Lan), dst, PACE)?;
    if stream
        .wait_reply(Via::Other, Instant::now(), Duration::from_secs(10))
        .is_none()
    {
        bail!("no IPv6 echo reply from the LAN host");
    }
    let wifi = LinkSwitch::wifi(lab.prefix())?;
    let mut out = Vec::new();
    for i in 1..=trials {
        if !arcway.wait(READY_TIMEOUT, on_wifi) {
            bail!("IPv6 did not come back to Wi-Fi:\n{}", arcway.log());
        }
        sleep(Duration::from_millis(500));
        let cut = wifi.set(false)?;
        let down = cut.at + cut.took;
        let deadline = Instant::now() + TIMEOUT;
        let first = loop {
            let reply = stream
                .since(down)
                .iter()
                .filter_map(|e| e.reply)
                .map(|r| r.at)
                .min();
            if reply.is_some() || Instant::now() >= deadline {
                break reply;
            }
            sleep(Duration::from_millis(5));
        };
        let ms = first.map(|t| t.duration_since(cut.at).as_secs_f64() * 1000.0);
        progress(&format!(
            "IPv6 carrier trial {i}: failover {}",
            ms.map_or_else(|| "timeout".to_owned(), |ms| format!("{ms:.1} ms"))
        ));
        out.push(ms);
        sleep(Duration::from_secs(1));
        wifi.set(true)?;
    }
    drop(stream);
    drop(arcway);
    lab.close().context("failed to remove the dual-stack lab")?;
    Ok(out)
}
