//! Messages built with wl-nl80211's types, sent through the wire format and read back, as
//! the kernel's would be.

use wl_nl80211::packet_core::{DefaultNla, NetlinkMessage, NetlinkPayload};
use wl_nl80211::packet_generic::GenlMessage;
use wl_nl80211::{
    Ieee80211StatusCode, Nl80211Attr, Nl80211BssInfo, Nl80211Command, Nl80211CqmAttr,
    Nl80211CqmRssiThresholdEvent, Nl80211Message, Nl80211RateInfo, Nl80211StationInfo,
};

use super::{bss_ssid, decode, station_info};
use crate::wifi::{Loss, LossKind, StationInfo, WifiEvent};

const AP: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const ME: [u8; 6] = [0x02, 0, 0, 0, 1, 0x00];

/// Emits the message as the kernel would send it and parses it back.
fn wire(cmd: Nl80211Command, attributes: Vec<Nl80211Attr>) -> Nl80211Message {
    let mut msg = NetlinkMessage::from(GenlMessage::from_payload(Nl80211Message {
        cmd,
        attributes,
    }));
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    let parsed = NetlinkMessage::<GenlMessage<Nl80211Message>>::deserialize(&buf)
        .expect("the message parses back");
    match parsed.payload {
        NetlinkPayload::InnerMessage(genl) => genl.payload,
        other => panic!("not an nl80211 message: {other:?}"),
    }
}

/// A deauthentication frame from `from` within BSS `bssid`, with `reason`.
fn deauth_frame(from: [u8; 6], to: [u8; 6], bssid: [u8; 6], reason: u16) -> Vec<u8> {
    let mut f = vec![0xc0, 0, 0, 0];
    f.extend_from_slice(&to);
    f.extend_from_slice(&from);
    f.extend_from_slice(&bssid);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&reason.to_le_bytes());
    f
}

fn lost(kind: LossKind, reason: Option<u16>, locally_generated: bool) -> Vec<WifiEvent> {
    vec![WifiEvent::Lost(Loss {
        kind,
        reason,
        locally_generated,
    })]
}

#[test]
fn deauthentication_by_the_access_point() {
    let m = wire(
        Nl80211Command::Deauthenticate,
        vec![
            Nl80211Attr::Wiphy(0),
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::Frame(deauth_frame(AP, ME, AP, 3)),
        ],
    );
    let events = decode(&m, 5);
    assert_eq!(events, lost(LossKind::Deauthenticated, Some(3), false));
    let WifiEvent::Lost(loss) = &events[0] else {
        unreachable!()
    };
    assert_eq!(
        loss.to_string(),
        "deauthenticated by the access point (reason 3)"
    );
    // Another interface's event is not ours.
    assert!(decode(&m, 6).is_empty());
}

#[test]
fn deauthentication_and_disassociation_sent_by_the_station() {
    let m = wire(
        Nl80211Command::Deauthenticate,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::Frame(deauth_frame(ME, AP, AP, 3)),
        ],
    );
    assert_eq!(
        decode(&m, 5),
        lost(LossKind::Deauthenticated, Some(3), true)
    );
    let mut frame = deauth_frame(AP, ME, AP, 8);
    frame[0] = 0xa0;
    let m = wire(
        Nl80211Command::Disassociate,
        vec![Nl80211Attr::IfIndex(5), Nl80211Attr::Frame(frame)],
    );
    assert_eq!(decode(&m, 5), lost(LossKind::Disassociated, Some(8), false));
}

#[test]
fn disconnect_with_and_without_the_by_ap_flag() {
    let m = wire(
        Nl80211Command::Disconnect,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::ReasonCode(7),
            Nl80211Attr::Other(DefaultNla::new(71, Vec::new())),
        ],
    );
    let events = decode(&m, 5);
    assert_eq!(events, lost(LossKind::Disconnected, Some(7), false));
    let m = wire(
        Nl80211Command::Disconnect,
        vec![Nl80211Attr::IfIndex(5), Nl80211Attr::ReasonCode(3)],
    );
    let events = decode(&m, 5);
    assert_eq!(events, lost(LossKind::Disconnected, Some(3), true));
    let WifiEvent::Lost(loss) = &events[0] else {
        unreachable!()
    };
    assert_eq!(loss.to_string(), "disconnected locally (reason 3)");
}

#[test]
fn connect_results() {
    let ok = wire(
        Nl80211Command::Connect,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::Mac(AP),
            Nl80211Attr::StatusCode(Ieee80211StatusCode::Success),
        ],
    );
    assert_eq!(decode(&ok, 5), vec![WifiEvent::Connected]);
    let refused = wire(
        Nl80211Command::Connect,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::StatusCode(Ieee80211StatusCode::from(17u16)),
        ],
    );
    assert!(decode(&refused, 5).is_empty());
}

#[test]
fn cqm_rssi_crossings_beacon_and_packet_loss() {
    let low = wire(
        Nl80211Command::NotifyCqm,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::Cqm(vec![
                Nl80211CqmAttr::RssiThresholdEvent(Nl80211CqmRssiThresholdEvent::Low),
                Nl80211CqmAttr::RssiLevel(-81),
            ]),
        ],
    );
    assert_eq!(decode(&low, 5), vec![WifiEvent::Signal { dbm: -81 }]);
    let beacon = wire(
        Nl80211Command::NotifyCqm,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::Cqm(vec![Nl80211CqmAttr::Other(DefaultNla::new(8, Vec::new()))]),
        ],
    );
    let events = decode(&beacon, 5);
    assert_eq!(events, lost(LossKind::BeaconLoss, None, false));
    let WifiEvent::Lost(loss) = &events[0] else {
        unreachable!()
    };
    assert_eq!(loss.to_string(), "beacon loss");
    let packets = wire(
        Nl80211Command::NotifyCqm,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::Mac(AP),
            Nl80211Attr::Cqm(vec![Nl80211CqmAttr::Other(DefaultNla::new(
                4,
                50u32.to_ne_bytes().to_vec(),
            ))]),
        ],
    );
    assert_eq!(decode(&packets, 5), lost(LossKind::PacketLoss, None, false));
}

#[test]
fn other_commands_are_not_events() {
    let m = wire(
        Nl80211Command::NewScanResults,
        vec![Nl80211Attr::IfIndex(5)],
    );
    assert!(decode(&m, 5).is_empty());
}

#[test]
fn station_info_from_interface_and_station() {
    let iface = wire(
        Nl80211Command::NewInterface,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::IfName("wlan1".into()),
            Nl80211Attr::Ssid("arcway-lab".into()),
            Nl80211Attr::WiphyFreq(2412),
        ],
    );
    let station = wire(
        Nl80211Command::NewStation,
        vec![
            Nl80211Attr::IfIndex(5),
            Nl80211Attr::Mac(AP),
            Nl80211Attr::StationInfo(vec![
                Nl80211StationInfo::Signal(-31),
                Nl80211StationInfo::SignalAvg(-30),
                Nl80211StationInfo::TxBitrate(vec![
                    Nl80211RateInfo::Bitrate(540),
                    Nl80211RateInfo::Bitrate32(540),
                ]),
                Nl80211StationInfo::RxBitrate(vec![Nl80211RateInfo::Bitrate(10)]),
            ]),
        ],
    );
    assert_eq!(
        station_info(&iface, &[station]),
        Some(StationInfo {
            ssid: Some("arcway-lab".into()),
            bssid: Some("02:00:00:00:00:01".into()),
            freq_mhz: Some(2412),
            signal_dbm: Some(-30),
            tx_bitrate_kbps: Some(54_000),
            rx_bitrate_kbps: Some(1_000),
        })
    );
    assert_eq!(station_info(&iface, &[]), None);
}

#[test]
fn ssid_of_the_associated_bss_from_a_scan_dump() {
    // Supported rates first, then the SSID; the other BSS is someone else's network.
    let ies = |ssid: &[u8]| {
        let mut v = vec![1, 2, 0x82, 0x84, 0, ssid.len() as u8];
        v.extend_from_slice(ssid);
        v.extend_from_slice(&[3, 1, 1]);
        v
    };
    // One scan result of interface 5.
    let entry = |bss: Vec<Nl80211BssInfo>| {
        wire(
            Nl80211Command::NewScanResults,
            vec![Nl80211Attr::IfIndex(5), Nl80211Attr::Bss(bss)],
        )
    };
    let other = [0x02, 0, 0, 0, 0, 0x09];
    let dump = vec![
        entry(vec![
            Nl80211BssInfo::Bssid(other),
            Nl80211BssInfo::RawInformationElements(ies(b"elsewhere")),
        ]),
        entry(vec![
            Nl80211BssInfo::Bssid(AP),
            Nl80211BssInfo::Frequency(2412),
            Nl80211BssInfo::RawInformationElements(ies(b"arcway-lab")),
        ]),
    ];
    assert_eq!(bss_ssid(&dump, &AP).as_deref(), Some("arcway-lab"));
    assert_eq!(bss_ssid(&dump, &other).as_deref(), Some("elsewhere"));
    assert_eq!(bss_ssid(&dump, &ME), None);
    // A truncated element list yields nothing rather than garbage.
    let cut = vec![wire(
        Nl80211Command::NewScanResults,
        vec![Nl80211Attr::Bss(vec![
            Nl80211BssInfo::Bssid(AP),
            Nl80211BssInfo::RawInformationElements(vec![1, 2, 0x82, 0, 10, b'a']),
        ])],
    )];
    assert_eq!(bss_ssid(&cut, &AP), None);
}
