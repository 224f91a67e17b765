//! The accounting task against real counters in the lab gateway (root): budgets spent by
//! traffic, the state surviving a restart, counter resets, a new period.

#[path = "classify_support.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arcway::accounting::{self, AccountingSettings, BudgetTransition, CounterReader, Date, Limits};
use arcway::config::Period;
use arcway::model::PathId;
use arcway::nft;
use arcway_lab::{Lab, Role};
use support::*;
use tokio::sync::mpsc;

const CLASS_LIMIT: u64 = 300_000;
const LINE_LIMIT: u64 = 800_000;

fn limits() -> Limits {
    Limits {
        period: Period::Monthly,
        reset_day: 1,
        lines: BTreeMap::from([(PathId::Cellular, LINE_LIMIT)]),
        classes: BTreeMap::from([(("bulk".to_owned(), PathId::Cellular), CLASS_LIMIT)]),
    }
}

fn settings(path: &std::path::Path) -> AccountingSettings {
    AccountingSettings {
        state_path: path.to_owned(),
        interval: Duration::from_millis(100),
        save_every: Duration::from_secs(60),
        ..AccountingSettings::new(limits())
    }
}

fn reader() -> CounterReader {
    Box::new(|| Box::pin(nft::read_counters()))
}

fn transition(class: Option<&str>, exhausted: bool) -> BudgetTransition {
    BudgetTransition {
        path: PathId::Cellular,
        class: class.map(str::to_owned),
        exhausted,
    }
}

/// Sends from the LAN host without blocking the gateway's runtime.
async fn send_async(lab: &Arc<Lab>, addr: std::net::SocketAddr, bytes: usize) {
    let lab = lab.clone();
    tokio::task::spawn_blocking(move || send(&lab, Role::Lan, None, addr, bytes).unwrap())
        .await
        .unwrap();
}

async fn next(rx: &mut mpsc::UnboundedReceiver<BudgetTransition>) -> BudgetTransition {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a budget transition within 5s")
        .expect("channel open")
}

#[test]
fn budgets_are_spent_by_traffic_survive_a_restart_and_renew_with_the_period() {
    let lab = Arc::new(lab());
    let sink = Sink::start(&lab, SINK_PORT);
    let addr = sink.addr;
    route_bulk(&lab, "default via 198.51.100.129 dev wwan0");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("accounting.json");
    let lab2 = lab.clone();
    run_in(&lab, Role::Gw, move || async move {
        let lab = lab2;
        nft::apply_with(&inputs(), &counted()).await.unwrap();
        let today = Arc::new(Mutex::new(Date::new(2025, 1, 30).unwrap()));
        let clock = {
            let today = today.clone();
            Box::new(move || *today.lock().unwrap())
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = accounting::spawn_with(settings(&state), tx, reader(), clock);
        let mut first = vec![next(&mut rx).await, next(&mut rx).await];
        first.sort();
        assert_eq!(
            first,
            vec![transition(None, false), transition(Some("bulk"), false)]
        );

        // Below the class budget: nothing happens.
        send_async(&lab, addr, 200_000).await;
        handle.read_now().await.unwrap();
        assert!(rx.try_recv().is_err());
        // The table is replaced (a class held or released): counters start again at zero,
        // the ledger does not.
        handle.read_now().await.unwrap();
        nft::apply_with(&inputs(), &counted()).await.unwrap();
        let used_before = handle.status.borrow().budgets[1].used;
        assert!(used_before >= 200_000, "{:?}", handle.status.borrow());
        send_async(&lab, addr, 150_000).await;
        assert_eq!(next(&mut rx).await, transition(Some("bulk"), true));
        let st = handle.status.borrow().clone();
        assert!(
            st.budgets[1].used >= 350_000 && st.budgets[1].remaining == 0,
            "{st:?}"
        );
        send_async(&lab, addr, 500_000).await;
        assert_eq!(next(&mut rx).await, transition(None, true));
        handle.stop().await.unwrap();

        // A restart reads the state file: both budgets are still spent.
        let clock = {
            let today = today.clone();
            Box::new(move || *today.lock().unwrap())
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = accounting::spawn_with(settings(&state), tx, reader(), clock);
        let mut again = vec![next(&mut rx).await, next(&mut rx).await];
        again.sort();
        assert_eq!(
            again,
            vec![transition(None, true), transition(Some("bulk"), true)]
        );
        let st = handle.status.borrow().clone();
        assert_eq!(st.period_start, "2025-01-01");
        assert!(
            st.lines
                .iter()
                .any(|l| l.path == "cellular" && l.tx >= 850_000),
            "{st:?}"
        );

        // February: both renewed, counting from zero, and saved at once.
        *today.lock().unwrap() = Date::new(2025, 2, 1).unwrap();
        let mut renewed = vec![next(&mut rx).await, next(&mut rx).await];
        renewed.sort();
        assert_eq!(
            renewed,
            vec![transition(None, false), transition(Some("bulk"), false)]
        );
        let saved = accounting::store::load(&state).unwrap().unwrap();
        assert_eq!(saved.period_start.to_string(), "2025-02-01");
        assert_eq!(saved.period_end.to_string(), "2025-03-01");
        handle.stop().await.unwrap();
    });
}
