//! Snapshot tests of the rendered table.

use super::*;
use crate::model::PathId;

fn lab() -> NftInputs {
    NftInputs {
        fwmark_mask: 0x00ff_0000,
        nat: vec![
            NatPath {
                path: PathId::Arc,
                ifname: "arc0".into(),
                snat_to: Some("100.127.201.2".parse().unwrap()),
            },
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
            mark: 0x0011_0000,
            destinations: vec!["203.0.113.0/24".parse().unwrap()],
            protocols: vec!["tcp".into()],
            ports: vec!["443".into(), "8000-9000".into()],
            dscp: vec![8],
            sources: vec!["198.51.100.64/26".parse().unwrap()],
            interfaces: vec!["lan1".into()],
            fwmarks: vec![(0x1, 0xff)],
            ..MarkClass::default()
        }],
    }
}

#[test]
fn lab_table() {
    let expected = r#"table inet arcway {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		meta mark & 0x00ff0000 != 0 return
		ct mark & 0x00ff0000 == 0x00110000 meta mark set meta mark & 0xff00ffff | 0x00110000 return
		ip daddr { 203.0.113.0/24 } ip saddr { 198.51.100.64/26 } ip dscp { 8 } meta l4proto { tcp } th dport { 443, 8000-9000 } iifname { "lan1" } meta mark & 0xff == 0x1 meta mark set meta mark & 0xff00ffff | 0x00110000 ct mark set ct mark & 0xff00ffff | 0x00110000 return comment "bulk"
	}
	chain output {
		type route hook output priority mangle; policy accept;
		meta mark & 0x00ff0000 != 0 return
		ct mark & 0x00ff0000 == 0x00110000 meta mark set meta mark & 0xff00ffff | 0x00110000 return
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "arc0" fib saddr type != local meta nfproto ipv4 snat ip to 100.127.201.2 comment "arc"
		oifname "wlan0" fib saddr type != local masquerade comment "wifi"
		oifname "wwan0" fib saddr type != local masquerade comment "cellular"
	}
}
"#;
    assert_eq!(render_table(&lab()).unwrap(), expected);
}

#[test]
fn families_uids_and_marks_split_into_rules() {
    let class = MarkClass {
        name: "mixed".into(),
        mark: 0x0012_0000,
        destinations: vec![
            "203.0.113.0/24".parse().unwrap(),
            "2001:db8:5::/48".parse().unwrap(),
        ],
        uids: vec![1000],
        fwmarks: vec![(0x1, 0xff), (0x100, 0xf00)],
        ..MarkClass::default()
    };
    let inputs = NftInputs {
        fwmark_mask: 0x00ff_0000,
        nat: vec![],
        classes: vec![class],
    };
    let text = render_table(&inputs).unwrap();
    let rules: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("comment \"mixed\""))
        .collect();
    assert_eq!(rules.len(), 4, "{text}");
    assert!(rules.iter().all(|r| r.contains("meta skuid { 1000 }")));
    assert!(rules[0].starts_with("\t\tip daddr { 203.0.113.0/24 } meta skuid"));
    assert!(rules[2].starts_with("\t\tip6 daddr { 2001:db8:5::/48 } meta skuid"));
    let prerouting = text.split("chain output").next().unwrap();
    assert!(
        !prerouting.contains("mixed"),
        "uid classes only match local traffic"
    );
}

#[test]
fn dscp_without_addresses_matches_both_families() {
    let class = MarkClass {
        name: "voice".into(),
        mark: 0x0013_0000,
        dscp: vec![46],
        ..MarkClass::default()
    };
    let inputs = NftInputs {
        fwmark_mask: 0x00ff_0000,
        nat: vec![],
        classes: vec![class],
    };
    let text = render_table(&inputs).unwrap();
    assert!(
        text.contains("meta nfproto ipv4 ip dscp { 46 } meta mark set"),
        "{text}"
    );
    assert!(
        text.contains("meta nfproto ipv6 ip6 dscp { 46 } meta mark set"),
        "{text}"
    );
}

#[test]
fn replace_file_is_one_transaction() {
    let text = render_replace(&lab()).unwrap();
    assert!(
        text.starts_with("table inet arcway {}\ndelete table inet arcway\ntable inet arcway {\n")
    );
}
