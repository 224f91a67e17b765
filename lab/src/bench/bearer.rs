//! Bearer trials: ModemManager (the fake, as a child process on its own private bus) reports
//! the bearer gone while Wi-Fi is down, and the platform class's route must switch at once.
//! Timed from writing the `drop` command (the fake emits the D-Bus signal on reading it) to the
//! route in the platform class's table changing, read with `ip` every millisecond or so.

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::daemon::{Daemon, HealthOverride};
use crate::inject::LinkSwitch;
use crate::{Lab, Role};

/// The platform class is the first class of the bench configuration.
const PLATFORM_TABLE: &str = "7110";

struct FakeMm {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    bus: String,
}

impl FakeMm {
    fn start() -> anyhow::Result<FakeMm> {
        let exe = std::env::current_exe().context("failed to find arcway-lab")?;
        let mut child = Command::new(exe)
            .args(["fake-mm", "--interface", "wwan0", "--connected"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("failed to start the fake ModemManager")?;
        let stdin = child.stdin.take().context("no stdin")?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let mut bus = String::new();
        for line in lines.by_ref() {
            let line = line?;
            if let Some(addr) = line.strip_prefix("bus ") {
                bus = addr.to_owned();
            }
            if line == "ready" {
                break;
            }
        }
        if bus.is_empty() {
            bail!("the fake ModemManager printed no bus address");
        }
        Ok(FakeMm {
            child,
            stdin,
            lines,
            bus,
        })
    }

    fn say(&mut self, command: &str) -> anyhow::Result<()> {
        writeln!(self.stdin, "{command}")?;
        let answer = self.lines.next().context("the fake ModemManager ended")??;
        if !answer.starts_with("ok") {
            bail!("{command}: {answer}");
        }
        Ok(())
    }
}

impl Drop for FakeMm {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn platform_route(lab: &Lab) -> String {
    lab.ip(Role::Gw, &["route", "show", "table", PLATFORM_TABLE])
        .unwrap_or_default()
}

/// Runs `trials` bearer drops; returns the milliseconds each took to reach the route.
pub fn trials(
    lab: &Lab,
    health: &HealthOverride,
    wifi: &LinkSwitch,
    trials: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut fake = FakeMm::start()?;
    let mut arcway = Daemon::start_with(lab, health, Some(&fake.bus))?;
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
        fake.say("drop")?;
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
        fake.say("restore")?;
    }
    wifi.set(true)?;
    Ok(took)
}
