//! What `arcway status` and the metrics show about accounting: plain data, like the rest
//! of the status snapshot (strings for paths, every field defaulted), so clients of another
//! release still read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::accountant::Accountant;
use crate::model::PathId;
use crate::probe::ProbeCountersSnapshot;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountingStatus {
    /// First day of the current budget period (local date, `YYYY-MM-DD`).
    pub period_start: String,
    /// First day of the next period.
    pub period_end: String,
    /// Everything on each counted path's interface this period.
    pub lines: Vec<LineBytes>,
    /// Each class's bytes per path this period.
    pub classes: Vec<ClassBytes>,
    pub budgets: Vec<BudgetStatus>,
    /// Bytes the health probes sent and received per path since arcway started.
    pub probes: Vec<ProbeBytes>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LineBytes {
    pub path: String,
    pub rx: u64,
    pub tx: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassBytes {
    pub class: String,
    pub path: String,
    pub rx: u64,
    pub tx: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetStatus {
    pub path: String,
    /// None: the line's budget; Some: that class's own budget.
    pub class: Option<String>,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub exhausted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeBytes {
    pub path: String,
    pub sent: u64,
    pub received: u64,
}

impl Accountant {
    /// The status view of the ledger and budgets, with the probes' own byte counts.
    pub fn status(&self, probes: &BTreeMap<PathId, ProbeCountersSnapshot>) -> AccountingStatus {
        let ledger = self.ledger();
        let limits = self.limits();
        let budget = |path: PathId, class: Option<&str>, limit: u64| {
            let used = self.used(path, class);
            BudgetStatus {
                path: path.to_string(),
                class: class.map(str::to_owned),
                limit,
                used,
                remaining: limit.saturating_sub(used),
                exhausted: self.is_spent(path, class),
            }
        };
        let mut budgets: Vec<BudgetStatus> = limits
            .lines
            .iter()
            .map(|(p, l)| budget(*p, None, *l))
            .collect();
        budgets.extend(
            limits
                .classes
                .iter()
                .map(|((c, p), l)| budget(*p, Some(c), *l)),
        );
        AccountingStatus {
            period_start: ledger.period_start.to_string(),
            period_end: ledger.period_end.to_string(),
            lines: ledger
                .lines
                .iter()
                .map(|(p, b)| LineBytes {
                    path: p.to_string(),
                    rx: b.rx,
                    tx: b.tx,
                })
                .collect(),
            classes: ledger
                .classes
                .iter()
                .flat_map(|(c, paths)| {
                    paths.iter().map(move |(p, b)| ClassBytes {
                        class: c.clone(),
                        path: p.to_string(),
                        rx: b.rx,
                        tx: b.tx,
                    })
                })
                .collect(),
            budgets,
            probes: probes
                .iter()
                .map(|(p, s)| ProbeBytes {
                    path: p.to_string(),
                    sent: s.bytes_sent,
                    received: s.bytes_received,
                })
                .collect(),
        }
    }
}
