//! Bearer trials: Debian's ModemManager (in the gateway namespace, driving the lab's emulated
//! modem) reports the bearer gone while Wi-Fi is down, and the platform class's route must
//! switch at once. Timed from the modem writing the network-side deactivation
//! (`+CGEV: NW PDN DEACT`) to the route in the platform class's table changing, read with
//! `ip` every millisecond or so. Between trials the bearer is connected again with mmcli,
//! as the connection manager of a gateway in observe mode would.

use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::daemon::{Daemon, HealthOverride};
use crate::inject::LinkSwitch;
use crate::mm::ModemManager;
use crate::{Lab, Role};

/// The platform class is the first class of the bench configuration.
const PLATFORM_TABLE: &str = "7110";

fn platform_route(lab: &Lab) -> String {
    lab.ip(Role::Gw, &["route", "show", "table", PLATFORM_TABLE])
        .unwrap_or_default()
}

/// Runs `trials` bearer drops; returns the daemon's name and version and the milliseconds
/// each drop took to reach the route.
pub fn trials(
    lab: &Lab,
    health: &HealthOverride,
    wifi: &LinkSwitch,
    trials: usize,
) -> anyhow::Result<(String, Vec<f64>)> {
    let mm = lab
        .start_modem_manager()
        .context("failed to start ModemManager")?;
    mm.connect_with_mmcli(0)
        .context("failed to connect the bearer")?;
    let mut arcway = Daemon::start_with(lab, health, Some(mm.address()))?;
    if !arcway.wait(Duration::from_secs(30), |d| {
        d.class_route("platform").as_deref() == Some("via arc")
    }) {
        bail!(
            "arcway with ModemManager never reached Arc:\n{}",
            arcway.log()
        );
    }
    wifi.set(false)?;
    let mut took = Vec::new();
    for i in 1..=trials {
        if !arcway.wait(Duration::from_secs(30), |d| {
            d.class_route("platform").as_deref() == Some("via cellular")
        }) {
            bail!("platform never went via cellular:\n{}", arcway.log());
        }
        sleep(Duration::from_millis(300));
        let start = Instant::now();
        if !mm.modem(0).drop_bearer() {
            bail!("the bearer was not connected");
        }
        loop {
            if platform_route(lab).contains("unreachable") {
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!("the platform route never changed after the bearer drop");
            }
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        super::progress(&format!(
            "bearer trial {i}: route switched after {ms:.1} ms"
        ));
        took.push(ms);
        mm.connect_with_mmcli(0)
            .context("failed to connect the bearer again")?;
    }
    wifi.set(true)?;
    Ok((ModemManager::version(), took))
}
