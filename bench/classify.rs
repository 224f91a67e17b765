//! Throughput of a LAN -> internet TCP stream through the lab gateway, with and without
//! arcway's table (marks, connmark save/restore, per-class counters, NAT), routed plainly
//! over Wi-Fi either way. Run as root through `bench/classify`; the last line is JSON.

use std::time::Instant;

use anyhow::{Context, bail};
use arcway::model::PathId;
use arcway::nft::{CountedPath, MarkClass, NatPath, NftInputs, TableExtras, render_replace_with};
use arcway_lab::{Lab, LabOptions, Role};

const SECONDS: u32 = 4;
/// Rounds alternate which setup runs first (ABBA), so drift on a shared machine cancels.
const ROUNDS: usize = 6;

/// What any router has without arcway: masquerade out of the uplink.
const PLAIN_NAT: &str = "table ip bench_nat {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname \"wlan0\" masquerade\n\t}\n}\n";
const NO_PLAIN_NAT: &str = "table ip bench_nat {}\ndelete table ip bench_nat\n";

fn arcway_table() -> String {
    let mark = |n: u32| n << 16;
    let inputs = NftInputs {
        fwmark_mask: 0x00ff_0000,
        nat: vec![
            NatPath {
                path: PathId::Wifi,
                ifname: "wlan0".into(),
                snat_to: None,
            },
            NatPath {
                path: PathId::Cellular,
                ifname: "wwan0".into(),
                snat_to: None,
            },
        ],
        classes: vec![
            MarkClass {
                name: "platform".into(),
                mark: mark(16),
                destinations: vec!["100.127.0.0/16".parse().unwrap()],
                ..MarkClass::default()
            },
            MarkClass {
                name: "bulk".into(),
                mark: mark(17),
                destinations: vec!["203.0.113.0/24".parse().unwrap()],
                protocols: vec!["tcp".into()],
                ports: vec!["443".into(), "5201".into(), "8000-9000".into()],
                ..MarkClass::default()
            },
            MarkClass {
                name: "svc".into(),
                mark: mark(18),
                uids: vec![1000],
                ..MarkClass::default()
            },
        ],
    };
    let extras = TableExtras {
        counted: vec![
            CountedPath {
                path: PathId::Wifi,
                ifname: "wlan0".into(),
            },
            CountedPath {
                path: PathId::Cellular,
                ifname: "wwan0".into(),
            },
        ],
        default_class: Some("default".into()),
        ..TableExtras::default()
    };
    render_replace_with(&inputs, &extras).expect("renders")
}

/// One iperf3 run from the LAN host; received bits per second.
fn iperf(lab: &Lab) -> anyhow::Result<f64> {
    let out = lab
        .command(
            Role::Lan,
            &[
                "iperf3",
                "-c",
                "203.0.113.100",
                "-t",
                &SECONDS.to_string(),
                "-J",
            ],
        )
        .output()
        .context("failed to run iperf3")?;
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("failed to parse iperf3 output")?;
    json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .with_context(|| {
            format!(
                "no result from iperf3: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
}

fn bulk_bytes(lab: &Lab) -> anyhow::Result<u64> {
    let out = lab.exec_ok(
        Role::Gw,
        &["nft", "-j", "list", "counters", "table", "inet", "arcway"],
    )?;
    let json: serde_json::Value =
        serde_json::from_str(&out).context("failed to parse the nft counters")?;
    let items = json["nftables"].as_array().map_or(&[][..], Vec::as_slice);
    Ok(items
        .iter()
        .map(|item| &item["counter"])
        .filter(|c| c["table"] == "arcway" && c["name"] == "class.bulk.wifi.tx")
        .filter_map(|c| c["bytes"].as_u64())
        .sum())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    }
}

fn main() -> anyhow::Result<()> {
    let lab = Lab::build(LabOptions {
        iperf3: true,
        ..LabOptions::default()
    })
    .context("failed to build the lab (run as root)")?;
    std::thread::sleep(std::time::Duration::from_millis(300)); // iperf3 -s listening
    let table = arcway_table();
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut counted = 0;
    let mut apply_ms = Vec::new();
    let plain = |lab: &Lab| -> anyhow::Result<f64> {
        lab.nft(Role::Gw, "table inet arcway {}\ndelete table inet arcway\n")?;
        lab.nft(Role::Gw, PLAIN_NAT)?;
        iperf(lab)
    };
    let mut ratios = Vec::new();
    for round in 0..ROUNDS {
        let mut arcway = |lab: &Lab| -> anyhow::Result<f64> {
            lab.nft(Role::Gw, NO_PLAIN_NAT).ok();
            let start = Instant::now();
            lab.nft(Role::Gw, &table)?;
            apply_ms.push(start.elapsed().as_secs_f64() * 1000.0);
            let bps = iperf(lab)?;
            counted += bulk_bytes(lab)?;
            Ok(bps)
        };
        let (a, b) = if round.is_multiple_of(2) {
            let a = plain(&lab)?;
            (a, arcway(&lab)?)
        } else {
            let b = arcway(&lab)?;
            (plain(&lab)?, b)
        };
        without.push(a);
        with.push(b);
        ratios.push(b / a);
        println!(
            "round {}: without {:.0} Mbit/s, with {:.0} Mbit/s, ratio {:.3}",
            round + 1,
            a / 1e6,
            b / 1e6,
            b / a
        );
    }
    lab.nft(Role::Gw, NO_PLAIN_NAT).ok();
    let (w0, w1) = (median(without.clone()), median(with.clone()));
    if counted == 0 {
        bail!("the stream was not counted as bulk: the table did not classify it");
    }
    println!();
    println!("{:<28} {:>12}", "setup", "Mbit/s (median)");
    println!("{:<28} {:>12.0}", "plain NAT, no arcway table", w0 / 1e6);
    println!("{:<28} {:>12.0}", "arcway table (bulk class)", w1 / 1e6);
    let ratio = median(ratios);
    println!("{:<28} {:>12.3}", "ratio (median of rounds)", ratio);
    println!(
        "{:<28} {:>12.1}",
        "table apply (ms, median)",
        median(apply_ms.clone())
    );
    let json = serde_json::json!({
        "throughput_ratio": (ratio * 1000.0).round() / 1000.0,
        "ratio_of_medians": (w1 / w0 * 1000.0).round() / 1000.0,
        "without_mbps": (w0 / 1e6).round(),
        "with_mbps": (w1 / 1e6).round(),
        "rounds": ROUNDS,
        "seconds_per_run": SECONDS,
        "bulk_bytes_counted": counted,
        "table_apply_ms": (median(apply_ms) * 10.0).round() / 10.0,
    });
    println!("{json}");
    Ok(())
}
