//! Codec round trips and selection rules.

use std::net::IpAddr;

use super::wire::{self, Flow};
use super::{ClassFlows, Eviction};

fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

fn tuple(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let ip = [nla(1, &src), nla(2, &dst)].concat();
    let proto = [
        nla(1, &[6]),
        nla(2, &443u16.to_be_bytes()),
        nla(3, &40000u16.to_be_bytes()),
    ]
    .concat();
    [nla(0x8001, &ip), nla(0x8002, &proto)].concat()
}

/// A CT_NEW payload as the kernel sends it for a masqueraded LAN flow.
fn kernel_payload() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0];
    p.extend(nla(0x8001, &tuple([198, 51, 100, 10], [203, 0, 113, 100])));
    p.extend(nla(0x8002, &tuple([203, 0, 113, 100], [192, 0, 2, 10])));
    p.extend(nla(8, &0x0011_0000u32.to_be_bytes()));
    p.extend(nla(12, &77u32.to_be_bytes()));
    p
}

#[test]
fn parses_a_kernel_entry() {
    let flow = wire::parse_flow(&kernel_payload()).unwrap();
    assert_eq!(flow.family, 2);
    assert_eq!(flow.orig_src, Some("198.51.100.10".parse().unwrap()));
    assert_eq!(flow.orig_dst, Some("203.0.113.100".parse().unwrap()));
    assert_eq!(flow.reply_dst, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(
        (flow.protocol, flow.mark, flow.id),
        (6, 0x0011_0000, Some(77))
    );
}

#[test]
fn delete_request_echoes_the_original_tuple() {
    let flow = wire::parse_flow(&kernel_payload()).unwrap();
    let req = wire::delete_request(&flow, 9);
    let msgs = wire::messages(&req);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind, (1 << 8) | 2);
    assert_eq!(msgs[0].payload[0], 2, "family");
    let echoed =
        wire::parse_flow(&[&msgs[0].payload[..4], &msgs[0].payload[4..]].concat()).unwrap();
    assert_eq!(echoed.orig_dst, flow.orig_dst);
    assert_eq!(echoed.id, Some(77));
}

fn flow(dst: &str, reply_dst: &str, mark: u32) -> Flow {
    Flow {
        family: 2,
        orig_dst: Some(dst.parse().unwrap()),
        reply_dst: Some(reply_dst.parse().unwrap()),
        mark,
        ..Flow::default()
    }
}

#[test]
fn selects_only_the_class_on_the_old_path() {
    let wifi: IpAddr = "192.0.2.10".parse().unwrap();
    let bulk = Eviction {
        class: ClassFlows::Mark {
            value: 0x0011_0000,
            mask: 0x00ff_0000,
        },
        old_address: wifi,
    };
    assert!(bulk.selects(&flow("203.0.113.100", "192.0.2.10", 0x0011_0000)));
    assert!(
        !bulk.selects(&flow("203.0.113.100", "198.51.100.130", 0x0011_0000)),
        "other path"
    );
    assert!(
        !bulk.selects(&flow("203.0.113.100", "192.0.2.10", 0)),
        "other class"
    );

    let platform = Eviction {
        class: ClassFlows::Destinations(vec!["100.127.0.0/16".parse().unwrap()]),
        old_address: "100.127.201.2".parse().unwrap(),
    };
    assert!(platform.selects(&flow("100.127.100.127", "100.127.201.2", 0)));
    assert!(!platform.selects(&flow("203.0.113.100", "100.127.201.2", 0)));

    let rest = Eviction {
        class: ClassFlows::Rest {
            mask: 0x00ff_0000,
            exclude: vec!["100.127.0.0/16".parse().unwrap()],
        },
        old_address: wifi,
    };
    assert!(rest.selects(&flow("203.0.113.100", "192.0.2.10", 0x1)));
    assert!(!rest.selects(&flow("203.0.113.100", "192.0.2.10", 0x0011_0000)));
    assert!(!rest.selects(&flow("100.127.1.1", "192.0.2.10", 0)));
}
