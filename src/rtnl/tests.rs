//! Byte-level checks of what goes to the kernel and how its answers are read.

use std::io;
use std::net::IpAddr;

use super::msg::*;
use super::*;
use crate::nfnetlink::attr;

fn u16s(v: u16) -> [u8; 2] {
    v.to_ne_bytes()
}

fn u32s(v: u32) -> [u8; 4] {
    v.to_ne_bytes()
}

/// A whole netlink message as the kernel would send it.
fn nlmsg(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&u32s(16 + payload.len() as u32));
    m.extend_from_slice(&u16s(kind));
    m.extend_from_slice(&u16s(flags));
    m.extend_from_slice(&u32s(seq));
    m.extend_from_slice(&u32s(4242));
    m.extend_from_slice(payload);
    m.resize((m.len() + 3) & !3, 0);
    m
}

fn header(bytes: &[u8]) -> (u32, u16, u16) {
    (
        u32::from_ne_bytes(bytes[0..4].try_into().unwrap()),
        u16::from_ne_bytes(bytes[4..6].try_into().unwrap()),
        u16::from_ne_bytes(bytes[6..8].try_into().unwrap()),
    )
}

#[test]
fn route_replace_in_a_large_table() {
    let route = Route {
        header: RouteHeader {
            family: AF_INET,
            dst_len: 0,
            protocol: RTPROT_STATIC,
            scope: RT_SCOPE_UNIVERSE,
            kind: RTN_UNICAST,
            ..RouteHeader::default()
        },
        table: 1000,
        gateway: Some("192.0.2.1".parse().unwrap()),
        oif: Some(3),
        priority: Some(100),
        ..Route::default()
    };
    let bytes = route_request(&route, false);
    let mut want = Vec::new();
    want.extend_from_slice(&u32s(16 + 12 + 8 * 4));
    want.extend_from_slice(&u16s(RTM_NEWROUTE));
    want.extend_from_slice(&u16s(0x1 | 0x4 | 0x400 | 0x100));
    want.extend_from_slice(&[0; 8]);
    // rtmsg: the table does not fit the header byte, which stays RT_TABLE_UNSPEC.
    want.extend_from_slice(&[2, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0, 0]);
    want.extend_from_slice(&[8, 0, 15, 0]);
    want.extend_from_slice(&u32s(1000));
    want.extend_from_slice(&[8, 0, 6, 0]);
    want.extend_from_slice(&u32s(100));
    want.extend_from_slice(&[8, 0, 5, 0, 192, 0, 2, 1]);
    want.extend_from_slice(&[8, 0, 4, 0]);
    want.extend_from_slice(&u32s(3));
    if cfg!(target_endian = "little") {
        assert_eq!(bytes, want);
    }
    assert_eq!(header(&bytes), (bytes.len() as u32, RTM_NEWROUTE, 0x505));
    assert_eq!(parse_route(&bytes[16..]), Some(route.clone()));

    // Deleting asks for an ack only; a small table also goes into the header byte.
    let small = Route {
        table: 254,
        dst: Some("2001:db8::".parse().unwrap()),
        header: RouteHeader {
            family: AF_INET6,
            dst_len: 32,
            scope: RT_SCOPE_NOWHERE,
            ..RouteHeader::default()
        },
        ..Route::default()
    };
    let bytes = route_request(&small, true);
    assert_eq!(header(&bytes), (bytes.len() as u32, RTM_DELROUTE, 0x5));
    assert_eq!(bytes[16 + 4], 254);
    assert_eq!(parse_route(&bytes[16..]), Some(small));
}

#[test]
fn fwmark_rule() {
    let rule = RuleMsg {
        family: AF_INET,
        action: FR_ACT_TO_TBL,
        table: 7101,
        priority: Some(7100),
        fwmark: Some(0x10000),
        fwmask: Some(0xff0000),
        ..RuleMsg::default()
    };
    let bytes = rule_request(&rule, false);
    let mut want = Vec::new();
    want.extend_from_slice(&u32s(16 + 12 + 8 * 4));
    want.extend_from_slice(&u16s(RTM_NEWRULE));
    want.extend_from_slice(&u16s(0x1 | 0x4 | 0x400 | 0x200));
    want.extend_from_slice(&[0; 8]);
    want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    for (kind, value) in [(6u16, 7100u32), (15, 7101), (10, 0x10000), (16, 0xff0000)] {
        want.extend_from_slice(&[8, 0]);
        want.extend_from_slice(&u16s(kind));
        want.extend_from_slice(&u32s(value));
    }
    if cfg!(target_endian = "little") {
        assert_eq!(bytes, want);
    }
    assert_eq!(parse_rule(&bytes[16..]), Some(rule));
}

#[test]
fn dumped_rules_keep_what_arcway_does_not_model() {
    // `ip rule add priority 7103 iif lan0 lookup main suppress_prefixlength 0 proto static`
    let mut p = vec![AF_INET, 0, 0, 0, 254, 0, 0, FR_ACT_TO_TBL];
    p.extend_from_slice(&u32s(0));
    attr(&mut p, 6, &u32s(7103));
    attr(&mut p, 3, b"lan0\0"); // FRA_IIFNAME: 5 bytes, padded to 8
    attr(&mut p, 15, &u32s(254));
    attr(&mut p, 14, &u32s(0));
    attr(&mut p, 13, &u32s(u32::MAX));
    attr(&mut p, 21, &[4]);
    let rule = parse_rule(&p).unwrap();
    assert_eq!(rule.priority, Some(7103));
    assert_eq!(rule.table, 254);
    assert_eq!(rule.suppress_prefixlen, Some(0));
    assert_eq!(rule.others, vec!["iif lan0".to_string()]);
    // Deleting it sends the payload back unchanged.
    let del = delete_raw_rule(&p);
    assert_eq!(header(&del), (16 + p.len() as u32, RTM_DELRULE, 0x5));
    assert_eq!(&del[16..], &p[..]);
}

#[test]
fn link_requests() {
    let bytes = new_link("arc0", "wireguard");
    assert_eq!(header(&bytes), (bytes.len() as u32, RTM_NEWLINK, 0x605));
    let mut want = vec![0u8; 16];
    attr(&mut want, 3, b"arc0\0");
    // IFLA_LINKINFO, nested, holding IFLA_INFO_KIND "wireguard" (9 bytes, padded).
    want.extend_from_slice(&u16s(4 + 16));
    want.extend_from_slice(&u16s(18 | 0x8000));
    attr(&mut want, 1, b"wireguard");
    assert_eq!(&bytes[16..], &want[..]);

    let bytes = set_link_up(9, Some(1380));
    assert_eq!(header(&bytes).1, RTM_SETLINK);
    let link = parse_link(&bytes[16..]).unwrap();
    assert_eq!((link.index, link.flags), (9, IFF_UP));
    assert_eq!(&bytes[16 + 12..16 + 16], &u32s(IFF_UP)); // change mask
    assert_eq!(&bytes[32..36], &[8, 0, 4, 0][..]);
    assert_eq!(&bytes[36..], &u32s(1380)[..]);

    let bytes = get_link_by_name("wwan0");
    assert_eq!(header(&bytes), (16 + 16 + 12, RTM_GETLINK, 0x5));
    assert_eq!(
        parse_link(&bytes[16..]).unwrap().name.as_deref(),
        Some("wwan0")
    );
    assert_eq!(header(&del_link(9)).1, RTM_DELLINK);
}

#[test]
fn addresses() {
    let local: IpAddr = "192.0.2.10".parse().unwrap();
    let bytes = add_address(4, local, 24, None);
    assert_eq!(header(&bytes).2, 0x505);
    assert_eq!(&bytes[16..24], &[AF_INET, 24, 0, 0, 4, 0, 0, 0][..]);
    let a = parse_address(&bytes[16..]).unwrap();
    assert_eq!((a.local, a.address), (Some(local), Some(local)));
    // IFA_BROADCAST last: 192.0.2.255.
    assert_eq!(&bytes[bytes.len() - 8..], &[8, 0, 4, 0, 192, 0, 2, 255][..]);
    // A peer goes into IFA_ADDRESS; a /32 has no broadcast.
    let peer: IpAddr = "198.51.100.1".parse().unwrap();
    let bytes = add_address(4, local, 32, Some(peer));
    assert_eq!(bytes.len(), 16 + 8 + 8 + 8);
    let a = parse_address(&bytes[16..]).unwrap();
    assert_eq!((a.local, a.address), (Some(local), Some(peer)));
    let del = del_address(&a);
    assert_eq!(header(&del), (del.len() as u32, RTM_DELADDR, 0x5));
    assert_eq!(parse_address(&del[16..]), Some(a));
}

/// Runs `answer` over datagrams as `exchange` does and returns the messages handed out.
fn run(datagrams: &[Vec<u8>], seq: u32) -> (Option<io::Result<()>>, Vec<(u16, usize)>) {
    let mut seen = Vec::new();
    for d in datagrams {
        if let Some(result) = answer(d, seq, &mut |kind, payload: &[u8]| {
            seen.push((kind, payload.len()))
        }) {
            return (Some(result), seen);
        }
    }
    (None, seen)
}

#[test]
fn multi_part_dumps() {
    let link = |len| vec![0u8; len];
    let multi = 0x2;
    // Two datagrams of answers, then NLMSG_DONE; a left-over of sequence 6 is skipped.
    let mut first = nlmsg(RTM_NEWLINK, multi, 6, &link(20));
    first.extend(nlmsg(RTM_NEWLINK, multi, 7, &link(16)));
    first.extend(nlmsg(RTM_NEWLINK, multi, 7, &link(21)));
    let second = nlmsg(RTM_NEWLINK, multi, 7, &link(18));
    let mut done = nlmsg(3, multi, 7, &u32s(0));
    done.extend(nlmsg(RTM_NEWLINK, multi, 7, &link(99)));
    let (result, seen) = run(&[first.clone(), second.clone()], 7);
    assert!(result.is_none(), "not over before NLMSG_DONE");
    assert_eq!(
        seen,
        vec![(RTM_NEWLINK, 16), (RTM_NEWLINK, 21), (RTM_NEWLINK, 18)]
    );
    let (result, seen) = run(&[first, second, done], 7);
    assert!(result.unwrap().is_ok());
    assert_eq!(seen.len(), 3, "nothing after NLMSG_DONE");
    // A dump that fails reports the errno in NLMSG_DONE.
    let failed = nlmsg(3, multi, 7, &(-libc::ENOENT).to_ne_bytes());
    let err = run(&[failed], 7).0.unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn acks_and_errors() {
    // NLMSG_ERROR: errno, then the request's header.
    let request = get_link_by_name("w0");
    let error = |code: i32| {
        let mut p = code.to_ne_bytes().to_vec();
        p.extend_from_slice(&request[..16]);
        nlmsg(NLMSG_ERROR, 0x100, 3, &p)
    };
    assert!(run(&[error(0)], 3).0.unwrap().is_ok());
    let err = run(&[error(-libc::EEXIST)], 3).0.unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    // An answer before the ack is handed out; an error for another request is not ours.
    let mut d = error(-libc::ENODEV);
    d[8..12].copy_from_slice(&u32s(2));
    d.extend(nlmsg(RTM_NEWLINK, 0, 3, &[0; 16]));
    d.extend(error(0));
    let (result, seen) = run(&[d], 3);
    assert!(result.unwrap().is_ok());
    assert_eq!(seen, vec![(RTM_NEWLINK, 16)]);
}

#[test]
fn overruns_and_truncated_datagrams() {
    assert!(matches!(classify(nlmsg(4, 0, 0, &[])), Event::Overrun));
    assert!(matches!(
        classify(nlmsg(RTM_NEWLINK, 0, 0, &[0; 16])),
        Event::Messages(_)
    ));
    let mut d = nlmsg(RTM_NEWADDR, 0, 0, &[0; 9]);
    assert_eq!(d.len(), 16 + 12, "padded to four bytes");
    d.extend_from_slice(&nlmsg(RTM_NEWADDR, 0, 0, &[0; 8])[..20]);
    let m = messages(&d);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].payload.len(), 9);
}

#[tokio::test]
async fn sockets_open_and_dump_links() {
    // Every network namespace has a loopback link, so a dump is never empty.
    let handle = Handle::new().unwrap();
    let mut names = Vec::new();
    handle
        .exchange(dump_links(), |kind, payload| {
            if kind == RTM_NEWLINK {
                names.extend(parse_link(payload).and_then(|l| l.name));
            }
        })
        .await
        .unwrap();
    assert!(names.iter().any(|n| n == "lo"), "{names:?}");
    let err = handle
        .request(get_link_by_name("no-such-link0"))
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
    let strict = Handle::new_strict().unwrap();
    strict
        .exchange(dump_rules(AF_INET), |_, _| {})
        .await
        .unwrap();
    Monitor::new(&[RTNLGRP_LINK]).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]

    /// Whatever the kernel (or a corrupted buffer) hands over, reading it never panics.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        for m in messages(&data) {
            let _ = (parse_link(m.payload), parse_address(m.payload));
            let _ = (parse_route(m.payload), parse_rule(m.payload));
        }
        let _ = (parse_link(&data), parse_address(&data), parse_route(&data), parse_rule(&data));
    }
}
