//! A tunnel restart that waits on a hanging DNS answer does not hold up failover (root): the
//! Arc endpoint's name stops resolving (queries dropped, 20 s resolver timeout), a reload
//! replaces the tunnel, and a Wi-Fi carrier loss in that window moves platform traffic to
//! cellular as fast as a plain carrier loss does.

mod failover_support;

use std::thread::sleep;
use std::time::{Duration, Instant};

use arcway_lab::Health;
use arcway_lab::bench::stall;
use arcway_lab::inject::LinkSwitch;
use arcway_lab::measure::{settle_on, step};
use arcway_lab::pathtag::{self, PLATFORM_V4, Via};
use arcway_lab::pingstream::PingStream as TaggedStream;
use failover_support::*;

const PACE: Duration = Duration::from_millis(1);
const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn carrier_loss_fails_over_in_milliseconds_while_a_tunnel_restart_waits_on_dns() {
    let lab = lab();
    pathtag::install(lab.prefix()).unwrap();
    stall::prepare(&lab).unwrap();
    let config = lab.arcway_config(&Health::FAST);
    let arcway = start_steady(&lab, &config);
    let stream = TaggedStream::start(&lab.ns(arcway_lab::Role::Lan), PLATFORM_V4, PACE).unwrap();
    assert!(settle_on(&stream, Via::Arc, Duration::from_secs(10)));
    let wifi = LinkSwitch::wifi(lab.prefix()).unwrap();

    // The reference: a plain carrier loss.
    let plain = step(&stream, Via::Cellular, TIMEOUT, || wifi.set(false)).unwrap();
    let plain_ms = plain.ms().expect("plain carrier loss fails over");
    sleep(Duration::from_secs(1));
    wifi.set(true).unwrap();
    wait_steady(&arcway, "after the plain carrier loss");
    assert!(settle_on(&stream, Via::Arc, Duration::from_secs(30)));

    // The name hangs; a reload that changes `arc` replaces the tunnel.
    stall::known(&lab, false).unwrap();
    let configured = |log: &str| log.matches("WireGuard device configured").count();
    let before = configured(&arcway.log());
    std::fs::write(arcway.config_path(), stall::restart_config(&config, 1)).unwrap();
    let hup = Instant::now();
    arcway.signal(libc::SIGHUP);
    sleep(Duration::from_millis(300));
    let stalled = step(&stream, Via::Cellular, TIMEOUT, || wifi.set(false)).unwrap();
    let stalled_ms = stalled
        .ms()
        .expect("carrier loss during the restart fails over");
    let window = hup.elapsed();
    print_events("during the tunnel restart", &events(&arcway));
    eprintln!(
        "carrier loss: plain {plain_ms:.1} ms, while the tunnel restart waits on DNS {stalled_ms:.1} ms \
         ({} of {} echoes lost), {} ms after SIGHUP",
        stalled.lost,
        stalled.sent,
        window.as_millis()
    );
    // Still inside the resolver's hang: the new tunnel has no endpoint yet.
    assert!(window < Duration::from_secs(10), "took {window:?}");
    // The new tunnel is still waiting for its endpoint's name: not configured yet.
    assert_eq!(
        configured(&arcway.log()),
        before,
        "the tunnel was restarted without waiting on the name"
    );
    assert!(
        stalled_ms <= (2.0 * plain_ms).max(plain_ms + 20.0),
        "failover during the tunnel restart took {stalled_ms:.1} ms, a plain one {plain_ms:.1} ms"
    );
    stall::known(&lab, true).unwrap();
    wifi.set(true).unwrap();
}
