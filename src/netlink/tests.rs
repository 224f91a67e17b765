use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use rtnetlink::MulticastGroup;

use super::*;

/// A message as the kernel sends it, serialized by netlink-packet-core.
fn bytes(payload: NetlinkPayload<RouteNetlinkMessage>) -> Vec<u8> {
    let mut message = NetlinkMessage::new(NetlinkHeader::default(), payload);
    message.finalize();
    let mut out = vec![0; message.buffer_len()];
    message.serialize(&mut out);
    out
}

fn new_link(index: u32, name: &str) -> Vec<u8> {
    let mut link = LinkMessage::default();
    link.header.index = index;
    link.attributes.push(LinkAttribute::IfName(name.into()));
    bytes(NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(
        link,
    )))
}

#[test]
fn a_datagram_of_several_messages() {
    let mut data = new_link(3, "wlan0");
    data.extend(new_link(4, "wwan0"));
    let Event::Notices(notices) = notices(&data) else {
        panic!("not an overrun")
    };
    let indexes: Vec<u32> = notices
        .iter()
        .map(|n| match n {
            Notice::Message(RouteNetlinkMessage::NewLink(l)) => l.header.index,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(indexes, [3, 4]);
}

#[test]
fn overruns_errors_and_unreadable_messages() {
    assert!(matches!(
        notices(&bytes(NetlinkPayload::Overrun(Vec::new()))),
        Event::Overrun
    ));
    // A message cut short, and one whose link header is too short to read.
    let mut data = new_link(3, "wlan0");
    data.truncate(data.len() - 4);
    assert!(matches!(&notices(&data), Event::Notices(n) if matches!(&n[..], [Notice::Lost(_)])));
    let mut short = new_link(3, "wlan0");
    short.truncate(16 + 8);
    short[..4].copy_from_slice(&24u32.to_ne_bytes());
    assert!(matches!(&notices(&short), Event::Notices(n) if matches!(&n[..], [Notice::Lost(_)])));
    assert!(matches!(&notices(&[]), Event::Notices(n) if n.is_empty()));
}

#[tokio::test]
async fn requests_dumps_and_monitors() {
    // Every network namespace has a loopback link, so a dump is never empty.
    let handle = Handle::new().unwrap();
    let links = handle
        .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
        .await
        .unwrap();
    assert!(!links.is_empty());
    assert_eq!(handle.link_index("lo").await.unwrap(), Some(1));
    assert_eq!(handle.link_index("no-such-link0").await.unwrap(), None);
    // Answers are matched to requests, so concurrent requests on one connection each get
    // their own.
    let (a, b) = tokio::join!(handle.link_index("lo"), handle.link_index("nope0"));
    assert_eq!((a.unwrap(), b.unwrap()), (Some(1), None));
    let strict = Handle::new_strict().unwrap();
    strict
        .dump(RouteNetlinkMessage::GetRule(Default::default()))
        .await
        .unwrap();
    Monitor::new(&[MulticastGroup::Link]).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]

    /// Whatever the kernel (or a corrupted buffer) hands over, reading it never panics.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = notices(&data);
    }

    /// Arbitrary payloads behind a valid header of every route netlink type arcway reads.
    #[test]
    fn arbitrary_payloads_never_panic(
        kind in proptest::prop_oneof![16u16..=22, 24u16..=26, 32u16..=34],
        payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
    ) {
        let mut data = Vec::with_capacity(16 + payload.len());
        data.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
        data.extend_from_slice(&kind.to_ne_bytes());
        data.extend_from_slice(&[0; 10]);
        data.extend_from_slice(&payload);
        let _ = notices(&data);
    }
}
