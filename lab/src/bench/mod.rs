//! The failover benchmark: arcway (with its default health settings) in a fresh lab, a LAN
//! host sending one echo per millisecond to the platform, and timed failures.
//!
//! Each figure comes from the echo stream, not from arcway's own account: a failover ends
//! with the first reply the platform stamped as answered over the new path (`measure`).
mod bearer;
mod clock;
pub mod daemon;
mod dual;
pub mod report;
pub mod stall;

use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::inject::{Injected, LinkSwitch};
use crate::measure::{Step, settle_on, step};
use crate::pathtag::{self, PLATFORM_V4, Via};
use crate::pingstream::PingStream;
use crate::{Lab, LabOptions, Role};
use clock::rfc3339_ms;
use daemon::{Daemon, HealthOverride, children, cpu_time, memory_kib};
use report::{Flap, Report};

/// How much to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub prefix: Option<String>,
    pub trials: usize,
    pub blackhole_trials: usize,
    pub idle: Duration,
    pub flap_secs: u32,
    /// Bearer-drop trials (ModemManager as the cellular path's source of truth).
    pub bearer_trials: usize,
    /// Carrier-loss trials while a tunnel restart waits on a hanging DNS answer.
    pub stall_trials: usize,
    /// IPv6 carrier-loss trials, in a dual-stack lab of their own.
    pub v6_trials: usize,
    /// Health keys beyond the defaults (to compare candidate settings; empty for the figures).
    pub health: HealthOverride,
}

const PACE: Duration = Duration::from_millis(1);
/// Generous bounds: a step that takes this long has failed.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);
const FAILBACK_TIMEOUT: Duration = Duration::from_secs(60);

fn progress(text: &str) {
    eprintln!("bench: {text}");
}

fn describe(what: &str, s: &Step) {
    let t = s
        .ms()
        .map_or_else(|| "timeout".to_owned(), |ms| format!("{ms:.1} ms"));
    progress(&format!(
        "{what}: {t}, {} of {} echoes lost (injection took {} us)",
        s.lost,
        s.sent,
        s.injected.took.as_micros()
    ));
}

pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let lab = Lab::build(LabOptions {
        prefix: opts.prefix.clone(),
        ..LabOptions::default()
    })
    .context("failed to build the lab")?;
    progress(&format!(
        "lab {} built in {} ms",
        lab.prefix(),
        lab.build_time().as_millis()
    ));
    pathtag::install(lab.prefix())?;
    if opts.stall_trials > 0 {
        stall::prepare(&lab)?;
    }
    let mut arcway = Daemon::start(&lab, &opts.health)?;
    let binary = arcway.bin().display().to_string();
    let mut report = Report {
        release: binary.contains("/release/"),
        binary,
        health: [("arc", &opts.health.arc), ("wifi", &opts.health.wifi)]
            .iter()
            .filter(|(_, h)| !h.trim().is_empty())
            .map(|(p, h)| format!("{p}: {{{h}}}"))
            .collect::<Vec<_>>()
            .join("; "),
        idle: opts.idle,
        flap: Flap {
            seconds: opts.flap_secs,
            ..Flap::default()
        },
        ..Report::default()
    };
    let started = Instant::now();
    if !arcway.wait_steady(Duration::from_secs(30)) {
        bail!("arcway never had every path up:\n{}", arcway.log());
    }
    progress(&format!(
        "every path up, platform via Arc {} ms after start",
        started.elapsed().as_millis()
    ));
    footprint(&arcway, opts.idle, &mut report)?;

    let stream = PingStream::start(&lab.ns(Role::Lan), PLATFORM_V4, PACE)?;
    if !settle_on(&stream, Via::Arc, Duration::from_secs(10)) {
        bail!("no echo reply via Arc from the LAN host");
    }
    let wifi = LinkSwitch::wifi(lab.prefix())?;
    for i in 1..=opts.trials {
        ready(&mut arcway, &stream)?;
        let down = step(&stream, Via::Cellular, FAILOVER_TIMEOUT, || wifi.set(false))?;
        describe(&format!("carrier trial {i}: failover"), &down);
        report.carrier.push(down);
        // Let arcway see the outage for a while, as a real one would last.
        sleep(Duration::from_secs(1));
        let up = step(&stream, Via::Arc, FAILBACK_TIMEOUT, || wifi.set(true))?;
        describe(&format!("carrier trial {i}: failback"), &up);
        report.carrier_back.push(up);
    }
    for i in 1..=opts.stall_trials {
        ready(&mut arcway, &stream)?;
        stall::known(&lab, false)?;
        arcway.reload(&stall::restart_config(&arcway.config()?, i))?;
        // The old tunnel is gone and the new one waits for the name.
        sleep(Duration::from_millis(300));
        let down = step(&stream, Via::Cellular, FAILOVER_TIMEOUT, || wifi.set(false))?;
        describe(&format!("stall trial {i}: failover"), &down);
        report.stall.push(down);
        stall::known(&lab, true)?;
        sleep(Duration::from_secs(1));
        let up = step(&stream, Via::Arc, FAILBACK_TIMEOUT, || wifi.set(true))?;
        describe(&format!("stall trial {i}: failback"), &up);
    }
    let blackhole = |on: bool| {
        let at = Instant::now();
        lab.wifi_blackhole(on)?;
        Ok(Injected {
            at,
            took: at.elapsed(),
        })
    };
    for i in 1..=opts.blackhole_trials {
        ready(&mut arcway, &stream)?;
        let down = step(&stream, Via::Cellular, FAILOVER_TIMEOUT, || blackhole(true))?;
        describe(&format!("blackhole trial {i}: failover"), &down);
        report.blackhole.push(down);
        sleep(Duration::from_secs(1));
        let up = step(&stream, Via::Arc, FAILBACK_TIMEOUT, || blackhole(false))?;
        describe(&format!("blackhole trial {i}: failback"), &up);
        report.blackhole_back.push(up);
    }
    ready(&mut arcway, &stream)?;
    report.flap = flap(&arcway, &stream, &wifi, opts.flap_secs)?;
    if let Some((rss, hwm)) = memory_kib(arcway.pid()) {
        report.rss_end_kib = rss;
        report.hwm_end_kib = hwm;
    }
    drop(stream);
    if opts.bearer_trials > 0 {
        drop(arcway);
        (report.bearer_daemon, report.bearer) =
            bearer::trials(&lab, &opts.health, &wifi, opts.bearer_trials)?;
    }
    lab.close().context("failed to remove the lab")?;
    if opts.v6_trials > 0 {
        report.carrier_v6 = dual::trials(&opts.health, opts.v6_trials)?;
    }
    Ok(report)
}

/// Before each trial: every path up again (Wi-Fi takes its own up_after after Arc is back)
/// and the platform's replies coming via Arc.
fn ready(arcway: &mut Daemon, stream: &PingStream) -> anyhow::Result<()> {
    if !arcway.wait_steady(FAILBACK_TIMEOUT) {
        bail!("arcway did not get every path up again:\n{}", arcway.log());
    }
    if !settle_on(stream, Via::Arc, FAILBACK_TIMEOUT) {
        bail!("replies did not come back via Arc");
    }
    sleep(Duration::from_millis(500));
    Ok(())
}

/// RSS once settled, then CPU over `idle` with nothing but arcway's own probes running.
fn footprint(arcway: &Daemon, idle: Duration, report: &mut Report) -> anyhow::Result<()> {
    let pid = arcway.pid();
    sleep(Duration::from_secs(5));
    report.rss_kib = memory_kib(pid).context("failed to read arcway's memory")?.0;
    let wg = children(pid).into_iter().next();
    let before = (cpu_time(pid), wg.and_then(cpu_time), Instant::now());
    progress(&format!(
        "RSS {} KiB; measuring idle CPU for {} s",
        report.rss_kib,
        idle.as_secs()
    ));
    sleep(idle);
    let wall = before.2.elapsed().as_secs_f64();
    let used = cpu_time(pid)
        .zip(before.0)
        .map(|(b, a)| (b - a).as_secs_f64())
        .context("failed to read arcway's CPU time")?;
    report.cpu_pct_idle = used / wall * 100.0;
    if let (Some(wg), Some(start)) = (wg, before.1) {
        let cpu = cpu_time(wg).map(|t| (t - start).as_secs_f64() / wall * 100.0);
        report.wg = memory_kib(wg).zip(cpu).map(|((rss, _), cpu)| (rss, cpu));
    }
    Ok(())
}

/// Carrier down at even seconds, up at odd ones; counts what moved meanwhile.
fn flap(
    arcway: &Daemon,
    stream: &PingStream,
    wifi: &LinkSwitch,
    secs: u32,
) -> anyhow::Result<Flap> {
    progress(&format!("flapping the Wi-Fi carrier for {secs} s"));
    // arcway's own clock bounds the window: events carry RFC 3339 UTC times with
    // milliseconds in one fixed format, which sort as strings.
    let before = rfc3339_ms(SystemTime::now());
    let start = Instant::now();
    let mut last_up = start;
    for k in 0..secs {
        let at = start + Duration::from_secs(u64::from(k));
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            sleep(wait);
        }
        let up = k % 2 == 1;
        let done = wifi.set(up)?;
        if up {
            last_up = done.at;
        }
    }
    let end = start + Duration::from_secs(u64::from(secs));
    if let Some(wait) = end.checked_duration_since(Instant::now()) {
        sleep(wait);
    }
    let after = rfc3339_ms(SystemTime::now());
    let events = arcway.events()?;
    // Leave the carrier up whatever `secs` was.
    wifi.set(true)?;
    let added: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["at"]
                .as_str()
                .is_some_and(|at| at >= before.as_str() && at <= after.as_str())
        })
        .collect();
    let moved = |e: &&&Value| {
        e["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("class "))
    };
    let switches = added
        .iter()
        .filter(moved)
        .filter(|e| e["subject"] == "class platform")
        .count();
    let all_switches = added.iter().filter(moved).count();
    // From just before the first cut, so the move off Arc counts too.
    let mut paths: Vec<Via> = stream
        .since(start - Duration::from_millis(100))
        .iter()
        .take_while(|e| e.sent < end)
        .filter_map(|e| e.reply.map(|r| r.via))
        .collect();
    paths.dedup();
    let recovered = stream.wait_reply(Via::Arc, end, FAILBACK_TIMEOUT);
    let flap = Flap {
        seconds: secs,
        switches,
        all_switches,
        reply_path_changes: paths.len().saturating_sub(1),
        recovered_ms: recovered.map(|t| t.duration_since(last_up).as_secs_f64() * 1000.0),
    };
    progress(&format!("{flap:?}"));
    Ok(flap)
}
