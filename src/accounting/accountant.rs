//! The pure bookkeeping: counter readings and today's date in, budget transitions out.

use std::collections::{BTreeMap, BTreeSet};

use super::calendar::{Date, period_bounds};
use super::delta::CounterDeltas;
use super::ledger::Ledger;
use super::limits::Limits;
use crate::engine::Event;
use crate::model::PathId;
use crate::nft::CounterKey;

/// A budget became spent or was renewed. `class: None` is the line's budget.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BudgetTransition {
    pub path: PathId,
    pub class: Option<String>,
    pub exhausted: bool,
}

impl BudgetTransition {
    /// The engine's event for this transition.
    pub fn event(&self) -> Event {
        Event::BudgetExhausted {
            path: self.path,
            class: self.class.clone(),
            exhausted: self.exhausted,
        }
    }
}

type BudgetId = (PathId, Option<String>);

/// Counts bytes into the current period's ledger and watches the budgets.
#[derive(Debug, Clone)]
pub struct Accountant {
    limits: Limits,
    ledger: Ledger,
    deltas: CounterDeltas,
    spent: BTreeSet<BudgetId>,
}

impl Accountant {
    /// Starts from a saved ledger when it belongs to today's period (or a later one, when
    /// the clock went backwards: a wrong clock must not hand out a fresh budget), else from
    /// an empty one. Also returns the state of every budget, for the engine's first view.
    pub fn new(
        limits: Limits,
        saved: Option<Ledger>,
        today: Date,
    ) -> (Accountant, Vec<BudgetTransition>) {
        let (start, end) = period_bounds(limits.period, limits.reset_day, today);
        let ledger = match saved {
            // The period of today, or a later one: a clock set back must not renew budgets.
            Some(mut l) if l.period_end > today => {
                if l.period_start <= today {
                    // A changed period setting keeps what this period counted so far.
                    (l.period_start, l.period_end) = (start, end);
                }
                l
            }
            _ => Ledger::empty(start, end),
        };
        let mut deltas = CounterDeltas::default();
        deltas.seed(
            ledger
                .counters
                .iter()
                .filter_map(|(name, v)| Some((CounterKey::parse(name)?, *v)))
                .collect(),
        );
        let mut a = Accountant {
            limits,
            ledger,
            deltas,
            spent: BTreeSet::new(),
        };
        a.spent = a.compute_spent();
        let all = a
            .budget_ids()
            .into_iter()
            .map(|(path, class)| BudgetTransition {
                exhausted: a.spent.contains(&(path, class.clone())),
                path,
                class,
            })
            .collect();
        (a, all)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Adds what the counters counted since the last reading; starts a new period when
    /// `today` is past the current one. Returns the budgets whose state changed.
    pub fn observe(
        &mut self,
        reading: &BTreeMap<CounterKey, u64>,
        today: Date,
    ) -> Vec<BudgetTransition> {
        self.roll(today);
        for (key, n) in self.deltas.update(reading) {
            self.ledger.add(&key, n);
        }
        self.ledger.counters = reading.iter().map(|(k, v)| (k.name(), *v)).collect();
        self.transitions()
    }

    /// Starts a new period when `today` is past the current one (a clock going backwards
    /// keeps the current period). Returns whether it did.
    pub fn roll(&mut self, today: Date) -> bool {
        if today < self.ledger.period_end {
            return false;
        }
        let (start, end) = period_bounds(self.limits.period, self.limits.reset_day, today);
        let counters = std::mem::take(&mut self.ledger.counters);
        self.ledger = Ledger::empty(start, end);
        self.ledger.counters = counters;
        true
    }

    /// New budgets from a reload; the ledger stays unless the period's shape changed.
    pub fn set_limits(&mut self, limits: Limits, today: Date) -> Vec<BudgetTransition> {
        let reshaped =
            (limits.period, limits.reset_day) != (self.limits.period, self.limits.reset_day);
        self.limits = limits;
        if reshaped {
            let (start, end) = period_bounds(self.limits.period, self.limits.reset_day, today);
            if (start, end) != (self.ledger.period_start, self.ledger.period_end) {
                self.ledger.period_start = start;
                self.ledger.period_end = end;
            }
        }
        // Budgets no longer configured come out as renewed, so the engine releases them.
        self.transitions()
    }

    /// Used bytes of a budget: both directions of the line, or of the class on the path.
    pub fn used(&self, path: PathId, class: Option<&str>) -> u64 {
        match class {
            None => self.ledger.line(path).total(),
            Some(c) => self.ledger.class(c, path).total(),
        }
    }

    fn budget_ids(&self) -> Vec<BudgetId> {
        let lines = self.limits.lines.keys().map(|p| (*p, None));
        let classes = self
            .limits
            .classes
            .keys()
            .map(|(c, p)| (*p, Some(c.clone())));
        lines.chain(classes).collect()
    }

    fn limit(&self, id: &BudgetId) -> Option<u64> {
        match &id.1 {
            None => self.limits.lines.get(&id.0).copied(),
            Some(c) => self.limits.classes.get(&(c.clone(), id.0)).copied(),
        }
    }

    fn compute_spent(&self) -> BTreeSet<BudgetId> {
        self.budget_ids()
            .into_iter()
            .filter(|id| {
                self.limit(id)
                    .is_some_and(|limit| self.used(id.0, id.1.as_deref()) >= limit)
            })
            .collect()
    }

    fn transitions(&mut self) -> Vec<BudgetTransition> {
        let now = self.compute_spent();
        let mut out = Vec::new();
        for id in now.difference(&self.spent) {
            out.push(BudgetTransition {
                path: id.0,
                class: id.1.clone(),
                exhausted: true,
            });
        }
        for id in self.spent.difference(&now) {
            out.push(BudgetTransition {
                path: id.0,
                class: id.1.clone(),
                exhausted: false,
            });
        }
        self.spent = now;
        out.sort();
        out
    }

    /// Whether a budget is spent now.
    pub fn is_spent(&self, path: PathId, class: Option<&str>) -> bool {
        self.spent.contains(&(path, class.map(str::to_owned)))
    }

    /// The limit of a budget, if configured.
    pub fn limit_of(&self, path: PathId, class: Option<&str>) -> Option<u64> {
        self.limit(&(path, class.map(str::to_owned)))
    }
}
