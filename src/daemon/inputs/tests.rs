use std::collections::BTreeMap;

use super::*;
use crate::config;
use crate::daemon::fixtures::link;
use crate::routing::{self, render_objects};

const LAB: &str = "version: 1
arc: {credentials: /var/lib/arcway/arc.json, interface: arc0}
uplinks:
  wifi: {interface: wlan0}
  cellular: {interface: wwan0}
classes:
  - name: platform
    match: {destinations: [100.127.0.0/16]}
    paths: [arc, cellular]
  - name: bulk
    match: {protocols: [tcp], ports: ['443']}
    paths: [wifi, {path: cellular, policy: hold}]
  - name: default
    paths: [wifi, cellular]
";

fn links() -> BTreeMap<String, LinkSnapshot> {
    [
        link("arc0", 9, &["100.127.201.2"], &[]),
        link("wlan0", 102, &["192.0.2.10"], &["192.0.2.1"]),
        link("wwan0", 104, &["198.51.100.130"], &["198.51.100.129"]),
    ]
    .into_iter()
    .map(|l| (l.name.clone(), l))
    .collect()
}

fn ifaces() -> BTreeMap<PathId, String> {
    BTreeMap::from([
        (PathId::Arc, "arc0".to_owned()),
        (PathId::Wifi, "wlan0".to_owned()),
        (PathId::Cellular, "wwan0".to_owned()),
    ])
}

fn routes(pairs: &[(&str, engine::ClassRoute)]) -> BTreeMap<String, engine::ClassRoutes> {
    pairs
        .iter()
        .map(|(n, r)| ((*n).to_owned(), engine::ClassRoutes::both(*r)))
        .collect()
}

fn arc() -> Option<(Ipv4Addr, Vec<IpNet>)> {
    Some((
        "100.127.201.2".parse().unwrap(),
        vec!["100.127.0.0/16".parse().unwrap()],
    ))
}

#[test]
fn destination_classes_use_rules_and_others_use_marks() {
    let cfg = config::parse_str(LAB, "t").unwrap();
    let links = links();
    let ifaces = ifaces();
    let world = World {
        cfg: &cfg,
        links: &links,
        arc: arc(),
        interfaces: &ifaces,
        cellular_route: None,
        arc_routable: true,
    };
    let inputs = world.routing(&routes(&[
        ("platform", engine::ClassRoute::Via(PathId::Arc)),
        ("bulk", engine::ClassRoute::Held(PathId::Cellular)),
        ("default", engine::ClassRoute::Via(PathId::Wifi)),
    ]));
    assert!(matches!(
        inputs.classes[0].selector,
        Selector::Destinations(_)
    ));
    assert_eq!(
        inputs.classes[1].selector,
        Selector::Mark(cfg.routing_layout().class_mark(1))
    );
    assert_eq!(inputs.classes[2].selector, Selector::Default);
    let desired = routing::desired(&inputs).unwrap();
    let text = render_objects(&desired.objects, &desired.links);
    assert!(text.contains("default dev arc0 table 7110"), "{text}");
    assert!(text.contains("prohibit default table 7111"), "{text}");
    assert!(
        text.contains("default via 192.0.2.1 dev wlan0 table 7112"),
        "{text}"
    );
    assert!(
        text.contains("100.127.0.0/16 dev arc0 table 7101"),
        "{text}"
    );
}

#[test]
fn a_path_whose_interface_is_gone_is_unreachable_for_its_classes() {
    let cfg = config::parse_str(LAB, "t").unwrap();
    let mut links = links();
    links.remove("arc0");
    let ifaces = ifaces();
    let world = World {
        cfg: &cfg,
        links: &links,
        arc: arc(),
        interfaces: &ifaces,
        cellular_route: None,
        arc_routable: true,
    };
    let inputs = world.routing(&routes(&[(
        "platform",
        engine::ClassRoute::Via(PathId::Arc),
    )]));
    assert!(!inputs.paths.contains_key(&PathId::Arc));
    let unreachable = PerFamily::both(routing::ClassRoute::Unreachable);
    assert_eq!(inputs.classes[0].route, unreachable);
    // Classes the engine has not decided yet are unreachable, not guessed.
    assert_eq!(inputs.classes[2].route, unreachable);
}

#[test]
fn nat_goes_to_the_arc_address_on_the_tunnel_and_masquerades_elsewhere() {
    let cfg = config::parse_str(LAB, "t").unwrap();
    let links = links();
    let ifaces = ifaces();
    let world = World {
        cfg: &cfg,
        links: &links,
        arc: arc(),
        interfaces: &ifaces,
        cellular_route: None,
        arc_routable: true,
    };
    let nft = world.nft();
    let arc = nft.nat.iter().find(|n| n.path == PathId::Arc).unwrap();
    assert_eq!(arc.snat_to, Some("100.127.201.2".parse().unwrap()));
    assert!(
        nft.nat
            .iter()
            .filter(|n| n.path != PathId::Arc)
            .all(|n| n.snat_to.is_none())
    );
}

#[test]
fn eviction_selects_the_class_and_the_old_paths_address() {
    let cfg = config::parse_str(LAB, "t").unwrap();
    let links = links();
    let ifaces = ifaces();
    let world = World {
        cfg: &cfg,
        links: &links,
        arc: arc(),
        interfaces: &ifaces,
        cellular_route: None,
        arc_routable: true,
    };
    let v4 = crate::model::Family::V4;
    let ip = |s: &str| vec![s.parse::<IpAddr>().unwrap()];
    assert_eq!(world.nat_addresses(PathId::Wifi, v4), ip("192.0.2.10"));
    assert_eq!(world.nat_addresses(PathId::Arc, v4), ip("100.127.201.2"));
    assert!(matches!(
        world.class_flows("platform"),
        Some(ClassFlows::Destinations(n)) if n == ["100.127.0.0/16".parse::<IpNet>().unwrap()]
    ));
    let layout = cfg.routing_layout();
    assert_eq!(
        world.class_flows("bulk"),
        Some(ClassFlows::Mark {
            value: layout.class_mark(1),
            mask: layout.fwmark_mask
        })
    );
    match world.class_flows("default") {
        Some(ClassFlows::Rest { exclude, .. }) => {
            assert_eq!(exclude, ["100.127.0.0/16".parse::<IpNet>().unwrap()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(world.class_flows("nope"), None);
}
