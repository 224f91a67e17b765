//! Results of probing and the quorum rule, kept free of I/O.

use std::time::{Duration, Instant};

use crate::model::{Family, PathId, PerFamily};

use super::Target;

/// How one target answered in one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetResult {
    pub target: Target,
    pub ok: bool,
    /// Time from the start of the probe to the answer (for HTTP: to the status line).
    pub latency: Option<Duration>,
    /// Why the probe failed, with its causes, for the event log.
    pub error: Option<String>,
}

/// One round on one path: the evidence the decision core consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRound {
    pub path: PathId,
    /// When the round's probes went out.
    pub started: Instant,
    /// When the round finished.
    pub at: Instant,
    /// At least `quorum` targets answered (or, when `passive`, traffic was seen).
    pub ok: bool,
    /// The round was skipped because real traffic on the path was reported within the last
    /// interval; `targets` is then empty and `ok` rests on that traffic.
    pub passive: bool,
    pub targets: Vec<TargetResult>,
    /// The quorum applied to each family's targets alone (`None`: the family had no
    /// target): IPv4 answers say nothing about the path's IPv6 and the reverse.
    pub families: PerFamily<Option<bool>>,
}

/// The quorum actually applied: at least one target, at most all of them, so a configured
/// quorum larger than the target list cannot make a path permanently down.
pub fn effective_quorum(quorum: usize, targets: usize) -> usize {
    quorum.clamp(1, targets.max(1))
}

/// Whether enough targets answered.
pub fn quorum_met(results: &[TargetResult], quorum: usize) -> bool {
    let answered = results.iter().filter(|r| r.ok).count();
    !results.is_empty() && answered >= effective_quorum(quorum, results.len())
}

/// The verdict of each family's targets, with the quorum clamped to that family's count.
pub fn family_verdicts(results: &[TargetResult], quorum: usize) -> PerFamily<Option<bool>> {
    PerFamily::both(()).map(|family, ()| {
        let mine: Vec<TargetResult> = results
            .iter()
            .filter(|r| Family::of(r.target.peer().ip()) == family)
            .cloned()
            .collect();
        (!mine.is_empty()).then(|| quorum_met(&mine, quorum))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(ok: bool) -> TargetResult {
        TargetResult {
            target: Target::Icmp("192.0.2.1".parse().unwrap()),
            ok,
            latency: ok.then(|| Duration::from_millis(3)),
            error: (!ok).then(|| "failed".into()),
        }
    }

    #[test]
    fn quorum_counts_answers() {
        let r = [result(true), result(false), result(true)];
        assert!(quorum_met(&r, 1));
        assert!(quorum_met(&r, 2));
        assert!(!quorum_met(&r, 3));
        assert!(!quorum_met(&[result(false)], 1));
        assert!(!quorum_met(&[], 1));
    }

    #[test]
    fn each_family_meets_the_quorum_on_its_own() {
        let v6 = |ok| TargetResult {
            target: Target::Icmp("2001:db8::1".parse().unwrap()),
            ..result(ok)
        };
        let r = [result(true), result(false), v6(false)];
        let f = family_verdicts(&r, 1);
        assert_eq!((f.v4, f.v6), (Some(true), Some(false)));
        // A quorum of 2 is clamped to the single IPv6 target.
        let f = family_verdicts(&[result(true), result(true), v6(true)], 2);
        assert_eq!((f.v4, f.v6), (Some(true), Some(true)));
        let f = family_verdicts(&[result(true)], 1);
        assert_eq!((f.v4, f.v6), (Some(true), None));
    }

    #[test]
    fn quorum_is_clamped() {
        assert_eq!(effective_quorum(0, 3), 1);
        assert_eq!(effective_quorum(5, 3), 3);
        assert_eq!(effective_quorum(2, 0), 1);
        assert!(quorum_met(&[result(true), result(true)], 9));
        assert!(quorum_met(&[result(true), result(false)], 0));
    }
}
