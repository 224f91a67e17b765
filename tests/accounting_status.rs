//! The accounting part of the status snapshot: rendering and compatibility.

use arcway::accounting::{AccountingStatus, BudgetStatus, ClassBytes, LineBytes};
use arcway::status::{Snapshot, render_status};

#[test]
fn status_shows_period_budgets_and_bytes() {
    let s = Snapshot {
        accounting: Some(AccountingStatus {
            period_start: "2025-01-01".into(),
            period_end: "2025-02-01".into(),
            lines: vec![LineBytes {
                path: "cellular".into(),
                rx: 3 << 20,
                tx: 1 << 20,
            }],
            classes: vec![ClassBytes {
                class: "bulk".into(),
                path: "cellular".into(),
                rx: 2 << 20,
                tx: 512,
            }],
            budgets: vec![BudgetStatus {
                path: "cellular".into(),
                class: Some("bulk".into()),
                limit: 2 << 20,
                used: (2 << 20) + 512,
                remaining: 0,
                exhausted: true,
            }],
            probes: vec![],
        }),
        ..Snapshot::default()
    };
    let text = render_status(&s);
    assert!(
        text.contains("accounting period 2025-01-01 to 2025-02-01\n"),
        "{text}"
    );
    let budget = text
        .lines()
        .find(|l| l.starts_with("cellular bulk"))
        .expect(&text);
    assert!(
        budget.contains("SPENT") && budget.contains("2.0MiB"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("(line)") && l.contains("3.0MiB")),
        "{text}"
    );
    // Without accounting nothing is shown, and older snapshots without the field still parse.
    assert!(!render_status(&Snapshot::default()).contains("accounting"));
    let old: Snapshot = serde_json::from_str(r#"{"version":1,"paths":[]}"#).unwrap();
    assert_eq!(old.accounting, None);
    let back: Snapshot = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back.accounting, s.accounting);
}
