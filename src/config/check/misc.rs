//! `budget:`, `status:`, `metrics:`, `logging:`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{Check, key};
use crate::config::error::Pos;
use crate::config::kinds::{LogFormat, LogLevel, Period};
use crate::config::raw::{RawBudget, RawLogging, RawMetrics, RawStatus, S};
use crate::config::types::{BudgetConfig, Budgets, LoggingConfig, MetricsConfig, StatusConfig};
use crate::model::PathId;

pub fn check_budget(
    c: &mut Check,
    raw: Option<S<RawBudget>>,
    configured: &BTreeSet<PathId>,
) -> Budgets {
    let Some(raw) = raw.map(|b| b.value) else {
        return Budgets::default();
    };
    let state_file = match raw.state_file {
        Some(f) if !f.value.is_absolute() => {
            c.err(
                key("budget", "state_file"),
                Pos::of(&f),
                format!("`{}` must be an absolute path", f.value.display()),
            );
            PathBuf::from(crate::config::types::DEFAULT_ACCOUNTING_STATE)
        }
        Some(f) => f.value,
        None => PathBuf::from(crate::config::types::DEFAULT_ACCOUNTING_STATE),
    };
    let Some(cell) = raw.cellular else {
        return Budgets {
            cellular: None,
            state_file,
        };
    };
    if !configured.contains(&PathId::Cellular) {
        c.err(
            "budget.cellular",
            Pos::of(&cell),
            "budget.cellular is given but uplinks.cellular is not configured",
        );
    }
    let b = cell.value;
    if b.bytes.value.0 == 0 {
        c.err(
            "budget.cellular.bytes",
            Pos::of(&b.bytes),
            "bytes must be more than zero",
        );
    }
    let period = b.period.unwrap_or(Period::Monthly);
    let reset_day = match &b.reset_day {
        Some(d) if period == Period::Daily => {
            c.err(
                "budget.cellular.reset_day",
                Pos::of(d),
                "reset_day only applies to period monthly",
            );
            1
        }
        Some(d) if !(1..=28).contains(&d.value) => {
            c.err(
                "budget.cellular.reset_day",
                Pos::of(d),
                format!(
                    "reset_day {} is out of range 1..=28 (every month has these days)",
                    d.value
                ),
            );
            1
        }
        Some(d) => u8::try_from(d.value).unwrap_or(1),
        None => 1,
    };
    Budgets {
        cellular: Some(BudgetConfig {
            bytes: b.bytes.value.0,
            period,
            reset_day,
        }),
        state_file,
    }
}

pub fn check_misc(
    c: &mut Check,
    status: Option<S<RawStatus>>,
    metrics: Option<S<RawMetrics>>,
    logging: Option<S<RawLogging>>,
) -> (StatusConfig, MetricsConfig, LoggingConfig) {
    let socket = status.and_then(|s| s.value.socket);
    if let Some(s) = socket.as_ref().filter(|s| !s.value.is_absolute()) {
        c.err(
            key("status", "socket"),
            Pos::of(s),
            format!("`{}` must be an absolute path", s.value.display()),
        );
    }
    let status = StatusConfig {
        socket: socket.map_or_else(|| PathBuf::from("/run/arcway/arcway.sock"), |s| s.value),
    };
    let listen = metrics.and_then(|m| m.value.listen);
    if let Some(l) = &listen
        && !l.value.ip().is_loopback()
    {
        c.warn(
            key("metrics", "listen"),
            Pos::of(l),
            format!(
                "{} is not a loopback address: metrics (paths, classes, addresses, byte counts) \
                 are served to every network that reaches it, cellular included",
                l.value
            ),
        );
    }
    let metrics = MetricsConfig {
        listen: listen.map(|l| l.value),
    };
    let logging = logging.map(|l| l.value);
    let logging = LoggingConfig {
        level: logging
            .as_ref()
            .and_then(|l| l.level)
            .unwrap_or(LogLevel::Info),
        format: logging
            .as_ref()
            .and_then(|l| l.format)
            .unwrap_or(LogFormat::Auto),
    };
    (status, metrics, logging)
}
