//! The Arc tunnel end to end in the lab, run by `arcway run` (root).

use std::time::Duration;

use arcway_lab::{Health, Lab, LabOptions, Role};

fn lab() -> Lab {
    Lab::build(LabOptions::default()).expect("lab builds")
}

#[test]
fn tunnel_comes_up_and_platform_traffic_from_gw_goes_through_it() {
    let lab = lab();
    let arcway = lab
        .start_arcway(&lab.arcway_config(&Health::FAST))
        .expect("arcway starts");
    let up = arcway.wait_until(Duration::from_secs(10), |a| {
        a.path_state("arc").as_deref() == Some("up")
            && a.class_route("platform").as_deref() == Some("via arc")
    });
    assert!(up.is_some(), "arc never came up:\n{}", arcway.log());
    let route = lab.route_get(Role::Gw, "100.127.100.127").unwrap();
    assert!(
        route.contains("dev arc0"),
        "platform not routed into the tunnel: {route}"
    );
    assert!(lab.ping(Role::Gw, "100.127.100.127", 3, Duration::from_secs(1)));
}
