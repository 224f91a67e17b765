//! Codec round trips and selection rules.

use std::net::IpAddr;

use proptest::prelude::*;

use super::wire::{self, DumpFilter, Flow};
use super::{ClassFlows, Eviction, dump_filter};
use crate::nfnetlink;

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

/// A CT_NEW message as the kernel sends it for a masqueraded LAN flow.
fn kernel_message() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0];
    p.extend(nla(0x8001, &tuple([198, 51, 100, 10], [203, 0, 113, 100])));
    p.extend(nla(0x8002, &tuple([203, 0, 113, 100], [192, 0, 2, 10])));
    p.extend(nla(8, &0x0011_0000u32.to_be_bytes()));
    p.extend(nla(12, &77u32.to_be_bytes()));
    p.extend(nla(18, &5u16.to_be_bytes()));
    let mut m = Vec::new();
    nfnetlink::nlmsg_header(&mut m, 1 << 8, 2, 1);
    m.extend(p);
    nfnetlink::finish(m)
}

fn parse(message: &[u8]) -> Flow {
    wire::parse_flow(message).unwrap().unwrap()
}

#[test]
fn parses_a_kernel_entry() {
    let flow = parse(&kernel_message());
    assert_eq!(flow.family, 2);
    assert_eq!(flow.orig_src, Some("198.51.100.10".parse().unwrap()));
    assert_eq!(flow.orig_dst, Some("203.0.113.100".parse().unwrap()));
    assert_eq!(flow.reply_dst, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(
        (flow.protocol, flow.mark, flow.id),
        (6, 0x0011_0000, Some(77))
    );
    assert!(flow.zone.is_some());
}

#[test]
fn delete_request_echoes_the_original_tuple_zone_and_id() {
    let original = kernel_message();
    let flow = parse(&original);
    let req = wire::delete_request(&flow, 9);
    let msgs = nfnetlink::messages(&req);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind, (1 << 8) | 2);
    assert_eq!(msgs[0].payload[0], 2, "family");
    let attrs: Vec<(u16, Vec<u8>)> = nfnetlink::attrs(&msgs[0].payload[4..])
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    let sent: Vec<(u16, Vec<u8>)> =
        nfnetlink::attrs(&nfnetlink::messages(&original)[0].payload[4..])
            .map(|(k, v)| (k, v.to_vec()))
            .collect();
    assert_eq!(attrs[0], sent[0], "the original tuple, byte for byte");
    assert_eq!(attrs[1], (18, 5u16.to_be_bytes().to_vec()), "zone");
    assert_eq!(attrs[2], (12, 77u32.to_be_bytes().to_vec()), "id");
    assert_eq!(attrs.len(), 3);
}

#[test]
fn other_messages_are_not_entries_and_broken_ones_are_errors() {
    let mut other = kernel_message();
    other[4] = 2; // CT_DELETE, not an entry
    assert!(wire::parse_flow(&other).is_none());
    let mut broken = kernel_message();
    // The first tuple's length now runs past the message.
    broken[20..22].copy_from_slice(&400u16.to_ne_bytes());
    assert!(matches!(wire::parse_flow(&broken), Some(Err(_))));
}

proptest! {
    /// Arbitrary bytes after a ctnetlink header, or anywhere, never panic the entry reader.
    #[test]
    fn arbitrary_entries_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..160),
        kind in prop_oneof![Just(1u16 << 8), Just(1 << 8 | 2), any::<u16>()],
    ) {
        let mut m = Vec::new();
        nfnetlink::nlmsg_header(&mut m, kind, 2, 1);
        m.extend_from_slice(&body);
        let _ = wire::parse_flow(&nfnetlink::finish(m));
        let _ = wire::parse_flow(&body);
    }
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

#[test]
fn dump_request_carries_the_filter() {
    let plain = wire::dump_request(1, DumpFilter::default());
    let msgs = nfnetlink::messages(&plain);
    assert_eq!(msgs[0].kind, 1 << 8 | 1);
    assert_eq!(msgs[0].payload, [0, 0, 0, 0], "all families, no attributes");
    assert_eq!(
        u16::from_ne_bytes([plain[6], plain[7]]),
        0x301,
        "request and dump"
    );

    let req = wire::dump_request(
        1,
        DumpFilter {
            family: libc::AF_INET as u8,
            mark: Some((0x0011_0000, 0x00ff_0000)),
        },
    );
    let msgs = nfnetlink::messages(&req);
    assert_eq!(msgs[0].payload[0], libc::AF_INET as u8);
    let attrs: Vec<(u16, Vec<u8>)> = nfnetlink::attrs(&msgs[0].payload[4..])
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    assert_eq!(
        attrs,
        [
            (8, 0x0011_0000u32.to_be_bytes().to_vec()),
            (21, 0x00ff_0000u32.to_be_bytes().to_vec())
        ]
    );
}

fn eviction(class: ClassFlows, old: &str) -> Eviction {
    Eviction {
        class,
        old_address: old.parse().unwrap(),
    }
}

#[test]
fn one_marked_class_is_filtered_by_mark_and_family() {
    let mark = ClassFlows::Mark {
        value: 0x0011_0000,
        mask: 0x00ff_0000,
    };
    let rest = ClassFlows::Rest {
        mask: 0x00ff_0000,
        exclude: vec![],
    };
    let dest = ClassFlows::Destinations(vec!["100.127.0.0/16".parse().unwrap()]);
    let v4 = libc::AF_INET as u8;
    let v6 = libc::AF_INET6 as u8;
    assert_eq!(
        dump_filter(&[eviction(mark.clone(), "192.0.2.10")]),
        DumpFilter {
            family: v4,
            mark: Some((0x0011_0000, 0x00ff_0000))
        }
    );
    assert_eq!(
        dump_filter(&[eviction(rest.clone(), "2001:db8::10")]),
        DumpFilter {
            family: v6,
            mark: Some((0, 0x00ff_0000))
        }
    );
    assert_eq!(
        dump_filter(&[eviction(dest.clone(), "192.0.2.10")]),
        DumpFilter {
            family: v4,
            mark: None
        }
    );
    assert_eq!(
        dump_filter(&[
            eviction(mark.clone(), "192.0.2.10"),
            eviction(rest.clone(), "192.0.2.10")
        ]),
        DumpFilter {
            family: v4,
            mark: None
        },
        "two classes share one dump"
    );
    assert_eq!(
        dump_filter(&[eviction(rest, "192.0.2.10"), eviction(mark, "2001:db8::10")]),
        DumpFilter::default()
    );
}

/// What the kernel does with a dump filter (net/netfilter/nf_conntrack_netlink.c).
fn kernel_passes(filter: DumpFilter, flow: &Flow) -> bool {
    (filter.family == 0 || filter.family == flow.family)
        && filter
            .mark
            .is_none_or(|(value, mask)| flow.mark & mask == value)
}

fn arb_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..4).prop_map(|i| IpAddr::from([192, 0, 2, 10 + i])),
        (0u8..4).prop_map(|i| IpAddr::from([100, 127, 0, 1 + i])),
        (0u16..3).prop_map(|i| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10 + i])),
    ]
}

fn arb_mark() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(0x0011_0000),
        Just(0x0012_0000),
        Just(0x0011_0001),
        any::<u32>()
    ]
}

fn arb_class() -> impl Strategy<Value = ClassFlows> {
    prop_oneof![
        arb_mark().prop_map(|value| ClassFlows::Mark {
            value: value & 0x00ff_0000,
            mask: 0x00ff_0000
        }),
        Just(ClassFlows::Rest {
            mask: 0x00ff_0000,
            exclude: vec!["100.127.0.0/16".parse().unwrap()]
        }),
        Just(ClassFlows::Destinations(vec![
            "100.127.0.0/16".parse().unwrap()
        ])),
    ]
}

/// Both tuples of an entry have the entry's family (the kernel's l3num).
fn arb_flow() -> impl Strategy<Value = Flow> {
    (arb_addr(), arb_addr(), arb_mark())
        .prop_filter("one family per entry", |(dst, reply_dst, _)| {
            dst.is_ipv4() == reply_dst.is_ipv4()
        })
        .prop_map(|(dst, reply_dst, mark)| Flow {
            family: if dst.is_ipv4() {
                libc::AF_INET as u8
            } else {
                libc::AF_INET6 as u8
            },
            orig_dst: Some(dst),
            reply_dst: Some(reply_dst),
            mark,
            ..Flow::default()
        })
}

proptest! {
    /// The kernel-side filter only ever saves work: every entry some eviction selects still
    /// reaches user space.
    #[test]
    fn the_dump_filter_never_hides_a_selected_entry(
        evictions in prop::collection::vec(
            (arb_class(), arb_addr()).prop_map(|(class, old_address)| Eviction { class, old_address }),
            1..4,
        ),
        flows in prop::collection::vec(arb_flow(), 0..40),
    ) {
        let filter = dump_filter(&evictions);
        for flow in &flows {
            if evictions.iter().any(|e| e.selects(flow)) {
                prop_assert!(kernel_passes(filter, flow), "{flow:?} hidden by {filter:?}");
            }
        }
    }
}
