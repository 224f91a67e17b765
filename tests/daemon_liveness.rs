//! Which owners are overdue, and when dead ones are started again, with a simulated clock.

use std::time::Duration;

use arcway::daemon::liveness::{
    ARC_OWNER, Beat, LINK_MONITOR, NFT_OWNER, Restarts, STABLE_AFTER, overdue,
};
use arcway::engine::Time;

fn t(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn beat(owner: &'static str, last_ms: u64, deadline_s: u64) -> Beat {
    Beat {
        owner,
        last: t(last_ms),
        deadline: Duration::from_secs(deadline_s),
    }
}

#[test]
fn an_owner_is_overdue_only_past_its_own_deadline() {
    let beats = [
        beat(LINK_MONITOR, 0, 10),
        beat(ARC_OWNER, 0, 60),
        beat(NFT_OWNER, 25_000, 30),
    ];
    assert!(
        overdue(&beats, t(10_000)).is_empty(),
        "at the deadline is on time"
    );
    let late = overdue(&beats, t(10_001));
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].owner, LINK_MONITOR);
    assert_eq!(late[0].silent, Duration::from_millis(10_001));
    assert!(late[0].message().contains("10s"), "{}", late[0].message());
    let names: Vec<_> = overdue(&beats, t(55_000)).iter().map(|o| o.owner).collect();
    assert_eq!(names, [LINK_MONITOR], "the nft owner beat at 25 s");
    let names: Vec<_> = overdue(&beats, t(60_001)).iter().map(|o| o.owner).collect();
    assert_eq!(names, [LINK_MONITOR, ARC_OWNER, NFT_OWNER]);
}

#[test]
fn a_beat_newer_than_now_is_on_time() {
    // The heartbeat is read after `now` was taken: it may be a little ahead.
    assert!(overdue(&[beat(NFT_OWNER, 5_000, 1)], t(4_000)).is_empty());
}

#[test]
fn answering_again_ends_the_overdue() {
    let mut beats = [beat(LINK_MONITOR, 0, 10)];
    assert_eq!(overdue(&beats, t(20_000)).len(), 1);
    beats[0].last = t(20_500);
    assert!(overdue(&beats, t(21_000)).is_empty());
}

#[test]
fn the_first_death_restarts_at_once_and_repeated_ones_back_off() {
    let mut r = Restarts::default();
    assert!(!r.any_waiting());
    assert_eq!(r.died(NFT_OWNER, t(1_000)), t(1_000));
    assert!(r.waiting(NFT_OWNER) && r.any_waiting());
    // Found dead again before the restart: the same restart time.
    assert_eq!(r.died(NFT_OWNER, t(1_000)), t(1_000));
    assert!(r.take_due(NFT_OWNER, t(1_000)));
    assert!(!r.waiting(NFT_OWNER));
    assert!(!r.take_due(NFT_OWNER, t(2_000)), "restarted once");
    // It keeps dying: 1 s, 2 s, 4 s ... up to 60 s.
    let mut now = 2_000;
    let mut waits = Vec::new();
    for _ in 0..8 {
        let due = r.died(NFT_OWNER, t(now));
        assert!(!r.take_due(NFT_OWNER, t(now)) || due == t(now));
        waits.push(due.since(t(now)).as_secs());
        assert!(r.take_due(NFT_OWNER, due));
        now = due.as_duration().as_millis() as u64 + 100;
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    // Up for longer than STABLE_AFTER: the next death restarts at once again.
    let later = t(now) + STABLE_AFTER;
    assert_eq!(r.died(NFT_OWNER, later), later);
}

#[test]
fn owners_back_off_independently() {
    let mut r = Restarts::default();
    r.died(LINK_MONITOR, t(0));
    assert!(r.take_due(LINK_MONITOR, t(0)));
    assert_eq!(r.died(LINK_MONITOR, t(500)), t(1_500));
    assert_eq!(r.died(ARC_OWNER, t(500)), t(500));
    assert!(!r.take_due(LINK_MONITOR, t(1_000)));
    assert!(r.take_due(ARC_OWNER, t(1_000)));
    assert!(r.waiting(LINK_MONITOR) && !r.waiting(ARC_OWNER));
    assert!(r.take_due(LINK_MONITOR, t(1_500)));
    assert!(!r.any_waiting());
}
