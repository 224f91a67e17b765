//! Wall times: RFC 3339 text both ways, and monotonic instants expressed in wall time.

use std::time::{Duration, Instant};

use arcway::status::{Clock, WallTime};
use proptest::prelude::*;

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const MIN_MS: i64 = -62_167_219_200_000;
const MAX_MS: i64 = 253_402_300_799_999;

proptest! {
    #[test]
    fn rfc3339_roundtrip(ms in MIN_MS..=MAX_MS) {
        let t = WallTime::from_unix_ms(ms);
        let text = t.rfc3339();
        prop_assert_eq!(text.len(), 24);
        prop_assert_eq!(WallTime::parse_rfc3339(&text), Some(t));
        let json = serde_json::to_string(&t).unwrap();
        prop_assert_eq!(serde_json::from_str::<WallTime>(&json).unwrap(), t);
    }

    #[test]
    fn ordering_matches_text(a in MIN_MS..=MAX_MS, b in MIN_MS..=MAX_MS) {
        let (ta, tb) = (WallTime::from_unix_ms(a), WallTime::from_unix_ms(b));
        prop_assert_eq!(ta.cmp(&tb), ta.rfc3339().cmp(&tb.rfc3339()));
    }

    #[test]
    fn garbage_never_panics(s in ".{0,40}") {
        let _ = WallTime::parse_rfc3339(&s);
    }
}

#[test]
fn rejects_bad_json_times() {
    assert!(serde_json::from_str::<WallTime>("\"yesterday\"").is_err());
    assert!(serde_json::from_str::<WallTime>("12").is_err());
}

#[test]
fn formats_known_instants() {
    assert_eq!(
        WallTime::from_unix_ms(0).rfc3339(),
        "1970-01-01T00:00:00.000Z"
    );
    let t = WallTime::from_unix_ms(1_709_251_199_123); // the day before a leap day's end
    assert_eq!(t.rfc3339(), "2024-02-29T23:59:59.123Z");
    assert_eq!(t.human(), "2024-02-29 23:59:59Z");
    assert_eq!(
        WallTime::from_unix_ms(-1).rfc3339(),
        "1969-12-31T23:59:59.999Z"
    );
}

#[test]
fn parses_offsets_and_fractions() {
    let t = WallTime::parse_rfc3339("2024-02-29T23:59:59.123Z").unwrap();
    assert_eq!(t.unix_ms(), 1_709_251_199_123);
    let same = WallTime::parse_rfc3339("2024-03-01T08:59:59.123456+09:00").unwrap();
    assert_eq!(same, t);
    assert_eq!(
        WallTime::parse_rfc3339("2024-02-29 23:59:59Z")
            .unwrap()
            .unix_ms()
            % 1000,
        0
    );
    for bad in [
        "",
        "2024-02-29",
        "2024-13-01T00:00:00Z",
        "2024-02-29T23:59:59",
        "2024-02-29T23:59:59.Z",
    ] {
        assert_eq!(WallTime::parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn clock_maps_instants_to_wall_time() {
    let mono = Instant::now();
    let clock = Clock::at(
        WallTime::from_unix_ms(10_000),
        mono + Duration::from_secs(3),
    );
    assert_eq!(clock.wall(mono).unix_ms(), 7_000);
    let since = clock.since(mono);
    assert_eq!((since.at.unix_ms(), since.for_ms), (7_000, 3_000));
    // An instant after the readings is "now", not the future.
    assert_eq!(clock.wall(mono + Duration::from_secs(5)).unix_ms(), 10_000);
}
