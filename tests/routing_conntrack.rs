//! nftables marking/NAT and selective conntrack eviction in throwaway namespaces (root).

#[path = "routing_support.rs"]
mod support;

use std::collections::BTreeMap;

use arcway::conntrack::{ClassFlows, Eviction, evict};
use arcway::model::{PathId, PerFamily};
use arcway::nft::{self, MarkClass, NatPath, NftInputs};
use arcway::routing::{
    ClassInput, ClassRoute, Layout, PathDefault, PathInput, Reconciler, RoutingInputs, Selector,
    desired,
};
use support::{Lab, Netns, run};

const BULK_MARK: u32 = 0x0011_0000;

fn routing(lab: &Lab) -> RoutingInputs {
    let layout = Layout::default();
    let path = |p: PathId, ifname: &str, gw: &str, addr: &str| PathInput {
        ifname: ifname.into(),
        ifindex: lab.gw.ifindex(ifname),
        default_v4: Some(PathDefault {
            gateway: Some(gw.parse().unwrap()),
        }),
        default_v6: None,
        addresses: vec![addr.parse().unwrap()],
        mark: layout.path_mark(p),
    };
    let paths = BTreeMap::from([
        (
            PathId::Wifi,
            path(PathId::Wifi, "wlan0", "192.0.2.1", "192.0.2.10"),
        ),
        (
            PathId::Cellular,
            path(
                PathId::Cellular,
                "wwan0",
                "198.51.100.129",
                "198.51.100.130",
            ),
        ),
    ]);
    let classes = vec![
        ClassInput {
            name: "bulk".into(),
            table: 7110,
            selector: Selector::Mark(BULK_MARK),
            route: PerFamily::both(ClassRoute::Via(PathId::Wifi)),
        },
        ClassInput {
            name: "default".into(),
            table: 7111,
            selector: Selector::Default,
            route: PerFamily::both(ClassRoute::Via(PathId::Cellular)),
        },
    ];
    RoutingInputs {
        layout,
        paths,
        arc_routes: vec![],
        classes,
    }
}

fn nft_inputs() -> NftInputs {
    NftInputs {
        fwmark_mask: 0x00ff_0000,
        nat: vec![
            NatPath {
                path: PathId::Wifi,
                ifname: "wlan0".into(),
                snat_to: None,
            },
            NatPath {
                path: PathId::Cellular,
                ifname: "wwan0".into(),
                snat_to: None,
            },
        ],
        classes: vec![MarkClass {
            name: "bulk".into(),
            mark: BULK_MARK,
            destinations: vec!["203.0.113.0/24".parse().unwrap()],
            protocols: vec!["udp".into()],
            ports: vec!["443".into()],
            ..MarkClass::default()
        }],
    }
}

fn conntrack(gw: &Netns) -> Vec<String> {
    gw.sh("conntrack -L 2>/dev/null")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn nft_marks_and_masquerades_and_eviction_is_selective() {
    let lab = Lab::new(false);
    let lan = Netns::new(format!("{}-lan", &lab.gw.name[..7]));
    run(
        "ip",
        &[
            "link",
            "add",
            "lan0",
            "netns",
            &lab.gw.name,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &lan.name,
        ],
    );
    lab.gw.sh("ip addr add 198.51.100.1/26 dev lan0 && ip link set lan0 up && sysctl -qw net.ipv4.ip_forward=1");
    lan.sh("ip addr add 198.51.100.10/26 dev eth0 && ip link set eth0 up && ip route add default via 198.51.100.1");
    lab.up.sh("ip addr add 203.0.113.100/32 dev lo");

    let d = desired(&routing(&lab)).unwrap();
    let listing = lab.gw.run(move || async move {
        Reconciler::spawn(d.layout.clone())
            .unwrap()
            .set(d)
            .await
            .unwrap();
        nft::apply(&nft_inputs()).await.unwrap();
        nft::apply(&nft_inputs()).await.unwrap();
        tokio::process::Command::new("nft")
            .args(["list", "table", "inet", "arcway"])
            .output()
            .await
            .unwrap()
    });
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert_eq!(listing.matches("chain prerouting").count(), 1, "{listing}");
    assert!(listing.contains("masquerade"), "{listing}");

    // Bulk (udp/443) leaves by wifi, everything else by cellular; both are masqueraded.
    lan.sh("ping -c1 -W1 203.0.113.100 >/dev/null");
    lan.sh("bash -c 'echo bulk > /dev/udp/203.0.113.100/443'");
    lan.sh("bash -c 'echo other > /dev/udp/203.0.113.100/53'");
    let before = conntrack(&lab.gw);
    let bulk: Vec<&String> = before.iter().filter(|l| l.contains("dport=443 ")).collect();
    assert_eq!(bulk.len(), 1, "{before:#?}");
    assert!(
        bulk[0].contains("dst=192.0.2.10") && bulk[0].contains("mark=1114112"),
        "{before:#?}"
    );
    let other = before
        .iter()
        .filter(|l| l.contains("dport=53 ") || l.starts_with("icmp"))
        .count();
    assert_eq!(other, 2, "{before:#?}");
    assert!(
        before
            .iter()
            .filter(|l| l.contains("dst=198.51.100.130"))
            .count()
            >= 2,
        "{before:#?}"
    );

    // Bulk moves off wifi: only its wifi-NATed entries go.
    let report = lab.gw.run(|| async {
        let wifi = "192.0.2.10".parse().unwrap();
        let nothing = evict(vec![Eviction {
            class: ClassFlows::Rest {
                mask: 0x00ff_0000,
                exclude: vec![],
            },
            old_address: wifi,
        }])
        .await
        .unwrap();
        assert_eq!(nothing.evicted, 0, "the default class has nothing on wifi");
        evict(vec![Eviction {
            class: ClassFlows::Mark {
                value: BULK_MARK,
                mask: 0x00ff_0000,
            },
            old_address: wifi,
        }])
        .await
        .unwrap()
    });
    assert_eq!(report.evicted, 1, "{report:?}");
    assert_eq!(
        report.examined, 1,
        "the kernel filtered the dump by the class mark: {report:?}"
    );
    let after = conntrack(&lab.gw);
    assert!(
        !after.iter().any(|l| l.contains("dport=443 ")),
        "{after:#?}"
    );
    assert_eq!(
        after
            .iter()
            .filter(|l| l.contains("dport=53 ") || l.starts_with("icmp"))
            .count(),
        2,
        "{after:#?}"
    );

    lab.gw.run(|| async {
        nft::remove().await.unwrap();
        nft::remove().await.unwrap()
    });
    assert!(!lab.gw.try_sh("nft list table inet arcway"));
}
