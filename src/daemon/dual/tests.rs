use std::collections::BTreeMap;
use std::net::IpAddr;

use super::*;
use crate::config;
use crate::conntrack::ClassFlows;
use crate::daemon::fixtures::link;
use crate::linkmon::LinkSnapshot;
use crate::model::{PathId, PerFamily};

fn with_world<T>(links: &[LinkSnapshot], f: impl FnOnce(&World<'_>) -> T) -> T {
    let cfg = config::parse_str(config::tests::BASE, "t").unwrap();
    let links: BTreeMap<String, LinkSnapshot> =
        links.iter().map(|l| (l.name.clone(), l.clone())).collect();
    let ifaces = BTreeMap::from([
        (PathId::Wifi, "wlan0".to_owned()),
        (PathId::Cellular, "wwan0".to_owned()),
    ]);
    let world = World {
        cfg: &cfg,
        links: &links,
        arc: None,
        interfaces: &ifaces,
        cellular_route: None,
        arc_routable: true,
    };
    f(&world)
}

fn dual_uplinks() -> Vec<LinkSnapshot> {
    vec![
        link(
            "wlan0",
            2,
            &["192.0.2.10", "2001:db8:1::10", "2001:db8:1::11"],
            &["192.0.2.1", "2001:db8:1::1"],
        ),
        link("wwan0", 3, &["198.51.100.130"], &["198.51.100.129"]),
    ]
}

#[test]
fn default_routes_say_which_families_each_uplink_carries() {
    let events = with_world(&dual_uplinks(), default_route_events);
    assert_eq!(
        events,
        [
            Event::DefaultRoutes {
                path: PathId::Wifi,
                routes: PerFamily { v4: true, v6: true }
            },
            Event::DefaultRoutes {
                path: PathId::Cellular,
                routes: PerFamily {
                    v4: true,
                    v6: false
                }
            },
        ]
    );
}

#[test]
fn a_family_that_left_a_path_evicts_flows_natted_to_every_address_of_that_family() {
    let via = ClassRoute::Via;
    let moved = vec![Moved {
        class: "default".to_owned(),
        from: ClassRoutes::both(via(PathId::Wifi)),
        to: ClassRoutes {
            v4: via(PathId::Wifi),
            v6: via(PathId::Cellular),
        },
    }];
    let (what, out) = with_world(&dual_uplinks(), |w| evictions(w, &moved));
    assert_eq!(what, ["default IPv6 from wifi"]);
    let old: Vec<IpAddr> = out.iter().map(|e| e.old_address).collect();
    assert_eq!(
        old,
        [
            "2001:db8:1::10".parse::<IpAddr>().unwrap(),
            "2001:db8:1::11".parse().unwrap()
        ]
    );
    assert!(
        out.iter()
            .all(|e| matches!(e.class, ClassFlows::Rest { .. }))
    );
    // Both families leaving Wi-Fi evict both families' flows.
    let moved = vec![Moved {
        class: "default".to_owned(),
        from: ClassRoutes::both(via(PathId::Wifi)),
        to: ClassRoutes::both(via(PathId::Cellular)),
    }];
    let (what, out) = with_world(&dual_uplinks(), |w| evictions(w, &moved));
    assert_eq!(what, ["default IPv4 from wifi", "default IPv6 from wifi"]);
    assert_eq!(out.len(), 3);
}
