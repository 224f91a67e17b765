//! Calendar, deltas, budgets and the state file.

use std::collections::BTreeMap;

use super::*;
use crate::config::Period;
use crate::model::PathId;
use crate::nft::{CounterKey, Direction};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn monthly(day: u8, today: &str) -> (String, String) {
    let (a, b) = period_bounds(Period::Monthly, day, d(today));
    (a.to_string(), b.to_string())
}

#[test]
fn monthly_periods_across_month_and_year_ends() {
    let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(monthly(1, "2025-03-01"), p("2025-03-01", "2025-04-01"));
    assert_eq!(monthly(1, "2025-03-31"), p("2025-03-01", "2025-04-01"));
    assert_eq!(monthly(15, "2025-03-14"), p("2025-02-15", "2025-03-15"));
    assert_eq!(monthly(15, "2025-03-15"), p("2025-03-15", "2025-04-15"));
    assert_eq!(monthly(10, "2025-01-05"), p("2024-12-10", "2025-01-10"));
    assert_eq!(monthly(10, "2024-12-31"), p("2024-12-10", "2025-01-10"));
    // A reset day past a short month's end falls on its last day.
    assert_eq!(monthly(31, "2025-02-28"), p("2025-02-28", "2025-03-31"));
    assert_eq!(monthly(31, "2024-02-29"), p("2024-02-29", "2024-03-31"));
    assert_eq!(monthly(30, "2024-02-28"), p("2024-01-30", "2024-02-29"));
    assert_eq!(monthly(29, "2023-03-01"), p("2023-02-28", "2023-03-29"));
}

#[test]
fn daily_periods_and_leap_days() {
    let (a, b) = period_bounds(Period::Daily, 1, d("2024-02-28"));
    assert_eq!((a, b), (d("2024-02-28"), d("2024-02-29")));
    assert_eq!(d("2024-02-29").next_day(), d("2024-03-01"));
    assert_eq!(d("2023-02-28").next_day(), d("2023-03-01"));
    assert_eq!(d("2024-12-31").next_day(), d("2025-01-01"));
    assert!(calendar::is_leap(2000) && !calendar::is_leap(1900) && calendar::is_leap(2024));
    assert!("2023-02-29".parse::<Date>().is_err());
    assert!("2023-13-01".parse::<Date>().is_err());
    assert!("yesterday".parse::<Date>().is_err());
}

#[test]
fn every_day_of_four_years_lies_in_its_period() {
    let mut day = d("2023-01-01");
    while day < d("2027-01-01") {
        for reset in [1, 15, 28, 31] {
            let (start, end) = period_bounds(Period::Monthly, reset, day);
            assert!(
                start <= day && day < end,
                "{day} reset {reset}: {start}..{end}"
            );
            // The next period starts where this one ends.
            assert_eq!(period_bounds(Period::Monthly, reset, end).0, end);
        }
        day = day.next_day();
    }
}

fn line(dir: Direction) -> CounterKey {
    CounterKey::Line {
        path: PathId::Cellular,
        dir,
    }
}

fn class(name: &str, dir: Direction) -> CounterKey {
    CounterKey::Class {
        class: name.into(),
        path: PathId::Cellular,
        dir,
    }
}

fn reading(pairs: &[(CounterKey, u64)]) -> BTreeMap<CounterKey, u64> {
    pairs.iter().cloned().collect()
}

#[test]
fn deltas_survive_counter_resets() {
    let mut deltas = CounterDeltas::default();
    let k = line(Direction::Rx);
    assert_eq!(deltas.update(&reading(&[(k.clone(), 100)]))[&k], 100);
    assert_eq!(deltas.update(&reading(&[(k.clone(), 150)]))[&k], 50);
    assert!(deltas.update(&reading(&[(k.clone(), 150)])).is_empty());
    // The table was replaced: counting starts again at zero.
    assert_eq!(deltas.update(&reading(&[(k.clone(), 30)]))[&k], 30);
    // Gone, then back: counted in full.
    assert!(deltas.update(&BTreeMap::new()).is_empty());
    assert_eq!(deltas.update(&reading(&[(k.clone(), 40)]))[&k], 40);
}

fn limits() -> Limits {
    Limits {
        period: Period::Monthly,
        reset_day: 1,
        lines: BTreeMap::from([(PathId::Cellular, 1000)]),
        classes: BTreeMap::from([(("bulk".to_owned(), PathId::Cellular), 300)]),
    }
}

#[test]
fn budgets_fire_once_and_renew_with_the_period() {
    let (mut a, initial) = Accountant::new(limits(), None, d("2025-01-20"));
    assert_eq!(initial.len(), 2);
    assert!(initial.iter().all(|t| !t.exhausted));
    let t = a.observe(
        &reading(&[
            (class("bulk", Direction::Rx), 200),
            (line(Direction::Rx), 200),
        ]),
        d("2025-01-20"),
    );
    assert!(t.is_empty());
    let t = a.observe(
        &reading(&[
            (class("bulk", Direction::Rx), 200),
            (class("bulk", Direction::Tx), 100),
            (line(Direction::Rx), 300),
        ]),
        d("2025-01-20"),
    );
    assert_eq!(
        t,
        vec![BudgetTransition {
            path: PathId::Cellular,
            class: Some("bulk".into()),
            exhausted: true
        }]
    );
    assert_eq!(
        t[0].event(),
        crate::engine::Event::BudgetExhausted {
            path: PathId::Cellular,
            class: Some("bulk".into()),
            exhausted: true
        }
    );
    let t = a.observe(&reading(&[(line(Direction::Rx), 1000)]), d("2025-01-31"));
    assert_eq!(
        t,
        vec![BudgetTransition {
            path: PathId::Cellular,
            class: None,
            exhausted: true
        }]
    );
    assert!(
        a.observe(&reading(&[(line(Direction::Rx), 1100)]), d("2025-01-31"))
            .is_empty()
    );
    let st = a.status(&BTreeMap::new());
    assert_eq!(st.budgets[0].used, 1100);
    assert_eq!(st.budgets[0].remaining, 0);
    // A new month renews both.
    let t = a.observe(&reading(&[(line(Direction::Rx), 1100)]), d("2025-02-01"));
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|t| !t.exhausted));
    assert_eq!(a.ledger().period_start, d("2025-02-01"));
    assert_eq!(a.used(PathId::Cellular, None), 0);
}

#[test]
fn a_saved_ledger_continues_its_period_and_a_stale_one_is_dropped() {
    let (mut a, _) = Accountant::new(limits(), None, d("2025-01-20"));
    a.observe(&reading(&[(line(Direction::Tx), 1200)]), d("2025-01-20"));
    let saved = a.ledger().clone();
    let (b, initial) = Accountant::new(limits(), Some(saved.clone()), d("2025-01-25"));
    assert_eq!(b.used(PathId::Cellular, None), 1200);
    assert!(initial.contains(&BudgetTransition {
        path: PathId::Cellular,
        class: None,
        exhausted: true
    }));
    // A clock set back keeps the spent budget.
    let (c, _) = Accountant::new(limits(), Some(saved.clone()), d("2024-12-01"));
    assert_eq!(c.used(PathId::Cellular, None), 1200);
    let (e, initial) = Accountant::new(limits(), Some(saved), d("2025-02-02"));
    assert_eq!(e.used(PathId::Cellular, None), 0);
    assert!(initial.iter().all(|t| !t.exhausted));
}

#[test]
fn removed_budgets_are_released_on_reload() {
    let (mut a, _) = Accountant::new(limits(), None, d("2025-01-20"));
    a.observe(
        &reading(&[(class("bulk", Direction::Rx), 500)]),
        d("2025-01-20"),
    );
    let mut l = limits();
    l.classes.clear();
    let t = a.set_limits(l, d("2025-01-20"));
    assert_eq!(
        t,
        vec![BudgetTransition {
            path: PathId::Cellular,
            class: Some("bulk".into()),
            exhausted: false
        }]
    );
}

#[test]
fn state_file_round_trip_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/accounting.json");
    assert!(store::load(&path).unwrap().is_none());
    let (mut a, _) = Accountant::new(limits(), None, d("2025-01-20"));
    a.observe(
        &reading(&[(class("bulk", Direction::Rx), 7)]),
        d("2025-01-20"),
    );
    store::save(&path, a.ledger()).unwrap();
    store::save(&path, a.ledger()).unwrap();
    assert_eq!(store::load(&path).unwrap().as_ref(), Some(a.ledger()));
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("accounting.json")],
        "no temp file left"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"period_start\": \"2025-01-01\""), "{text}");
    std::fs::write(&path, "{").unwrap();
    assert!(matches!(
        store::load(&path),
        Err(AccountingError::Parse { .. })
    ));
}

#[test]
fn a_restart_counts_only_what_running_counters_gained() {
    let (mut a, _) = Accountant::new(limits(), None, d("2025-01-20"));
    a.observe(&reading(&[(line(Direction::Tx), 600)]), d("2025-01-20"));
    let saved = a.ledger().clone();
    // The table stayed while arcway restarted: 600 were counted already.
    let (mut b, _) = Accountant::new(limits(), Some(saved.clone()), d("2025-01-21"));
    b.observe(&reading(&[(line(Direction::Tx), 650)]), d("2025-01-21"));
    assert_eq!(b.used(PathId::Cellular, None), 650);
    // After a reboot the counters start again at zero.
    let (mut c, _) = Accountant::new(limits(), Some(saved), d("2025-01-21"));
    c.observe(&reading(&[(line(Direction::Tx), 50)]), d("2025-01-21"));
    assert_eq!(c.used(PathId::Cellular, None), 650);
    // A new period keeps the counters' baseline.
    c.observe(&reading(&[(line(Direction::Tx), 80)]), d("2025-02-01"));
    assert_eq!(c.used(PathId::Cellular, None), 30);
}
