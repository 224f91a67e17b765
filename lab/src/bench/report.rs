//! The benchmark's figures: a table for people and one JSON line for scripts.
use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::measure::Step;

/// Everything one run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub binary: String,
    pub release: bool,
    /// Health keys set beyond the probe targets; empty when every setting is the default.
    pub health: String,
    pub carrier: Vec<Step>,
    pub carrier_back: Vec<Step>,
    pub blackhole: Vec<Step>,
    pub blackhole_back: Vec<Step>,
    /// Carrier loss while a tunnel restart waits on a hanging DNS answer.
    pub stall: Vec<Step>,
    pub flap: Flap,
    pub idle: Duration,
    pub rss_kib: u64,
    pub rss_end_kib: u64,
    pub hwm_end_kib: u64,
    pub cpu_pct_idle: f64,
    /// wireguard-go (userspace backend here): RSS and idle CPU, for context.
    pub wg: Option<(u64, f64)>,
    /// Network-side bearer drop (written by the emulated modem) to the platform route
    /// switch, per trial, in ms.
    pub bearer: Vec<f64>,
    /// The ModemManager the bearer trials ran against, e.g. `ModemManager 1.20.4`.
    pub bearer_daemon: String,
    /// IPv6 Wi-Fi carrier loss to the first IPv6 reply over cellular, per trial, in ms
    /// (`None`: no reply in time).
    pub carrier_v6: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Flap {
    pub seconds: u32,
    /// Platform class moves arcway logged while the carrier flapped.
    pub switches: usize,
    /// Moves of any class (platform and default) in the same window.
    pub all_switches: usize,
    /// Changes of the path the LAN host's echo replies took in the same window.
    pub reply_path_changes: usize,
    /// From the last carrier up to the first reply via Arc again.
    pub recovered_ms: Option<f64>,
}

/// Median and maximum; `None` when a step timed out (a missing reply is no figure).
pub fn stats(steps: &[Step]) -> (Option<f64>, Option<f64>) {
    let mut v: Vec<f64> = steps.iter().filter_map(Step::ms).collect();
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let max = (v.len() == steps.len()).then(|| v[n - 1]);
    (Some(median), max)
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn round1(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |x| json!((x * 10.0).round() / 10.0))
}

fn cell(x: Option<f64>) -> String {
    x.map_or_else(|| "timeout".to_owned(), |x| format!("{x:.1}"))
}

impl Report {
    /// The figures, named as scripts read them.
    pub fn json(&self) -> [(&'static str, Value); 18] {
        let (c50, cmax) = stats(&self.carrier);
        let lost = self.carrier.iter().map(|s| s.lost).max();
        [
            ("carrier_failover_ms_p50", round1(c50)),
            ("carrier_failover_v6_ms_p50", round1(self.v6_p50())),
            ("carrier_failover_ms_max", round1(cmax)),
            ("lost_packets_max", json!(lost)),
            ("stall_failover_ms_p50", round1(stats(&self.stall).0)),
            ("stall_failover_ms_max", round1(stats(&self.stall).1)),
            (
                "blackhole_failover_ms_p50",
                round1(stats(&self.blackhole).0),
            ),
            ("failback_ms_p50", round1(stats(&self.carrier_back).0)),
            ("switches_during_flap", json!(self.flap.switches)),
            ("bearer_failover_ms_p50", round1(median(&self.bearer))),
            (
                "bearer_daemon",
                json!((!self.bearer_daemon.is_empty()).then_some(&self.bearer_daemon)),
            ),
            ("rss_kib", json!(self.rss_kib)),
            (
                "cpu_pct_idle",
                json!((self.cpu_pct_idle * 1000.0).round() / 1000.0),
            ),
            ("carrier_trials", json!(self.carrier.len())),
            ("blackhole_trials", json!(self.blackhole.len())),
            ("carrier_v6_trials", json!(self.carrier_v6.len())),
            ("idle_window_s", json!(self.idle.as_secs())),
            ("release_binary", json!(self.release)),
        ]
    }

    /// The IPv6 median; none when a trial timed out (a missing reply is no figure).
    fn v6_p50(&self) -> Option<f64> {
        let times: Option<Vec<f64>> = self.carrier_v6.iter().copied().collect();
        median(&times?)
    }

    /// One line of JSON with the keys in the order above.
    pub fn json_line(&self) -> String {
        let body: Vec<String> = self
            .json()
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    fn rows(out: &mut String, title: &str, steps: &[Step]) {
        let (p50, max) = stats(steps);
        let times: Vec<String> = steps.iter().map(|s| cell(s.ms())).collect();
        let lost: Vec<String> = steps.iter().map(|s| s.lost.to_string()).collect();
        let _ = writeln!(
            out,
            "{title:<44} p50 {:>8} ms  max {:>8} ms",
            cell(p50),
            cell(max)
        );
        let _ = writeln!(out, "    trials (ms): {}", times.join(" "));
        let _ = writeln!(out, "    echoes lost: {}", lost.join(" "));
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let kind = if self.release {
            "release"
        } else {
            "NOT a release build"
        };
        let _ = writeln!(out, "arcway failover bench: {} ({kind})", self.binary);
        let health = if self.health.is_empty() {
            "arcway's defaults (only probe targets set)"
        } else {
            self.health.as_str()
        };
        let _ = writeln!(out, "health settings: {health}");
        let _ = writeln!(
            out,
            "LAN host -> 100.127.100.127, one echo per ms; path of each reply stamped by the platform\n"
        );
        Self::rows(
            &mut out,
            "Wi-Fi carrier loss -> first reply via cellular",
            &self.carrier,
        );
        Self::rows(
            &mut out,
            "Wi-Fi carrier back -> first reply via Arc",
            &self.carrier_back,
        );
        Self::rows(
            &mut out,
            "Wi-Fi carrier loss while a tunnel restart waits on DNS -> first reply via cellular",
            &self.stall,
        );
        Self::rows(
            &mut out,
            "Wi-Fi blackhole -> first reply via cellular",
            &self.blackhole,
        );
        Self::rows(
            &mut out,
            "blackhole lifted -> first reply via Arc",
            &self.blackhole_back,
        );
        if !self.carrier_v6.is_empty() {
            let times: Vec<String> = self.carrier_v6.iter().map(|ms| cell(*ms)).collect();
            let _ = writeln!(
                out,
                "IPv6 (LAN host -> 2001:db8::100, dual-stack lab): Wi-Fi carrier loss -> first reply over cellular p50 {} ms\n    trials (ms): {}",
                cell(self.v6_p50()),
                times.join(" ")
            );
        }
        let f = &self.flap;
        let _ = writeln!(
            out,
            "carrier flapping 1 s down / 1 s up for {} s: platform switched {} times \
             (all classes {}, reply path changed {} times); via Arc again {} ms after the last up",
            f.seconds,
            f.switches,
            f.all_switches,
            f.reply_path_changes,
            cell(f.recovered_ms)
        );
        if !self.bearer.is_empty() {
            let times: Vec<String> = self.bearer.iter().map(|ms| format!("{ms:.1}")).collect();
            let _ = writeln!(
                out,
                "bearer drop (network side, {}) -> platform route switched p50 {} ms\n    trials (ms): {}",
                self.bearer_daemon,
                cell(median(&self.bearer)),
                times.join(" ")
            );
        }
        let _ = writeln!(
            out,
            "arcway idle: RSS {} KiB after settling ({} KiB at the end, peak {} KiB); CPU {:.3} % of a core over {} s",
            self.rss_kib,
            self.rss_end_kib,
            self.hwm_end_kib,
            self.cpu_pct_idle,
            self.idle.as_secs()
        );
        if let Some((rss, cpu)) = self.wg {
            let _ = writeln!(
                out,
                "wireguard-go (userspace backend, not arcway): RSS {rss} KiB; CPU {cpu:.3} % of a core"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::Injected;
    use crate::pathtag::Via;
    use std::time::Instant;

    fn step(ms: Option<u64>) -> Step {
        Step {
            injected: Injected {
                at: Instant::now(),
                took: Duration::ZERO,
            },
            expect: Via::Cellular,
            elapsed: ms.map(Duration::from_millis),
            lost: 3,
            sent: 10,
        }
    }

    #[test]
    fn median_of_even_count_and_max_is_none_after_a_timeout() {
        let steps = [step(Some(4)), step(Some(2)), step(Some(10)), step(Some(6))];
        assert_eq!(stats(&steps), (Some(5.0), Some(10.0)));
        let steps = [step(Some(4)), step(None), step(Some(6))];
        assert_eq!(stats(&steps), (Some(5.0), None));
        assert_eq!(stats(&[]), (None, None));
    }
}
