//! nl80211 messages to monitor events (pure), on wl-nl80211's types. Where the crate leaves
//! an attribute unmodelled (the disconnect's "by AP" flag, CQM beacon and packet loss) it is
//! read from the generic attribute the crate keeps.

use wl_nl80211::{
    Ieee80211StatusCode, Nl80211Attr, Nl80211BssInfo, Nl80211Command, Nl80211CqmAttr,
    Nl80211CqmRssiThresholdEvent, Nl80211Message, Nl80211RateInfo, Nl80211StationInfo,
};

use super::{Loss, LossKind, StationInfo, WifiEvent, mac_text};

/// NL80211_ATTR_DISCONNECTED_BY_AP (a flag).
const ATTR_DISCONNECTED_BY_AP: u16 = 71;
/// NL80211_ATTR_CQM_PKT_LOSS_EVENT (u32 packets).
const CQM_PKT_LOSS_EVENT: u16 = 4;
/// NL80211_ATTR_CQM_BEACON_LOSS_EVENT (a flag).
const CQM_BEACON_LOSS_EVENT: u16 = 8;

/// The events one multicast message carries for interface `ifindex`.
pub fn decode(msg: &Nl80211Message, ifindex: u32) -> Vec<WifiEvent> {
    let for_us = msg.attributes.iter().any(|a| match a {
        Nl80211Attr::IfIndex(i) => *i == ifindex,
        _ => false,
    });
    if !for_us {
        return Vec::new();
    }
    match msg.cmd {
        Nl80211Command::Deauthenticate | Nl80211Command::UnprotDeauthenticate => {
            frame_loss(msg, LossKind::Deauthenticated)
        }
        Nl80211Command::Disassociate | Nl80211Command::UnprotDisassociate => {
            frame_loss(msg, LossKind::Disassociated)
        }
        Nl80211Command::Disconnect => {
            let reason = msg.attributes.iter().find_map(|a| match a {
                Nl80211Attr::ReasonCode(r) => Some(*r),
                _ => None,
            });
            let by_ap = msg.attributes.iter().any(|a| match a {
                Nl80211Attr::Other(nla) => {
                    use wl_nl80211::packet_core::Nla;
                    nla.kind() == ATTR_DISCONNECTED_BY_AP
                }
                _ => false,
            });
            vec![WifiEvent::Lost(Loss {
                kind: LossKind::Disconnected,
                reason,
                locally_generated: !by_ap,
            })]
        }
        Nl80211Command::Connect => {
            let ok = msg.attributes.iter().all(|a| match a {
                Nl80211Attr::StatusCode(s) => *s == Ieee80211StatusCode::Success,
                _ => true,
            });
            if ok {
                vec![WifiEvent::Connected]
            } else {
                Vec::new()
            }
        }
        Nl80211Command::NotifyCqm => cqm(msg),
        _ => Vec::new(),
    }
}

/// A deauthentication or disassociation event: the reason code is in the management frame
/// the kernel passes along, and a frame whose source is not the BSSID was sent by us.
fn frame_loss(msg: &Nl80211Message, kind: LossKind) -> Vec<WifiEvent> {
    let frame = msg.attributes.iter().find_map(|a| match a {
        Nl80211Attr::Frame(f) => Some(f.as_slice()),
        _ => None,
    });
    // 24-byte header (addr2 = source at 10, addr3 = BSSID at 16), then the reason.
    let (reason, locally_generated) = match frame {
        Some(f) if f.len() >= 26 => (
            Some(u16::from_le_bytes([f[24], f[25]])),
            f[10..16] != f[16..22],
        ),
        _ => (None, false),
    };
    vec![WifiEvent::Lost(Loss {
        kind,
        reason,
        locally_generated,
    })]
}

fn cqm(msg: &Nl80211Message) -> Vec<WifiEvent> {
    use wl_nl80211::packet_core::Nla;
    let mut events = Vec::new();
    let mut level = None;
    let mut crossed = false;
    for a in &msg.attributes {
        let Nl80211Attr::Cqm(list) = a else {
            continue;
        };
        for c in list {
            match c {
                Nl80211CqmAttr::RssiLevel(dbm) => level = Some(*dbm),
                Nl80211CqmAttr::RssiThresholdEvent(
                    Nl80211CqmRssiThresholdEvent::Low | Nl80211CqmRssiThresholdEvent::High,
                ) => crossed = true,
                Nl80211CqmAttr::Other(nla) if nla.kind() == CQM_BEACON_LOSS_EVENT => {
                    events.push(WifiEvent::Lost(Loss {
                        kind: LossKind::BeaconLoss,
                        reason: None,
                        locally_generated: false,
                    }));
                }
                Nl80211CqmAttr::Other(nla) if nla.kind() == CQM_PKT_LOSS_EVENT => {
                    events.push(WifiEvent::Lost(Loss {
                        kind: LossKind::PacketLoss,
                        reason: None,
                        locally_generated: false,
                    }));
                }
                _ => {}
            }
        }
    }
    // Kernels before 4.15 send no level with a crossing; the next station read gives it.
    if let Some(dbm) = level.filter(|_| crossed) {
        events.push(WifiEvent::Signal { dbm });
    }
    events
}

/// Station info from a GET_INTERFACE reply (SSID, frequency) and a station dump (the access
/// point's entry: BSSID, signal, bitrates). `None` when the station is not associated.
pub fn station_info(iface: &Nl80211Message, stations: &[Nl80211Message]) -> Option<StationInfo> {
    let station = stations.first()?;
    let mut info = StationInfo::default();
    for a in &iface.attributes {
        match a {
            Nl80211Attr::Ssid(s) => info.ssid = Some(s.clone()),
            Nl80211Attr::WiphyFreq(f) => info.freq_mhz = Some(*f),
            _ => {}
        }
    }
    for a in &station.attributes {
        match a {
            Nl80211Attr::Mac(mac) => info.bssid = Some(mac_text(mac)),
            Nl80211Attr::StationInfo(list) => {
                for s in list {
                    match s {
                        // The average is steadier; the last frame's is the fallback.
                        Nl80211StationInfo::SignalAvg(d) => info.signal_dbm = Some(i32::from(*d)),
                        Nl80211StationInfo::Signal(d) => {
                            info.signal_dbm.get_or_insert(i32::from(*d));
                        }
                        Nl80211StationInfo::TxBitrate(r) => info.tx_bitrate_kbps = bitrate(r),
                        Nl80211StationInfo::RxBitrate(r) => info.rx_bitrate_kbps = bitrate(r),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(info)
}

/// The SSID of BSS `bssid` in a scan dump, from its information elements (element 0). Kernels
/// whose GET_INTERFACE carries no SSID for a station that associated through a supplicant's
/// own MLME (Linux 6.1 with mac80211) still keep the BSS it joined in the scan results.
pub fn bss_ssid(bsses: &[Nl80211Message], bssid: &[u8; 6]) -> Option<String> {
    bsses.iter().find_map(|m| {
        m.attributes.iter().find_map(|a| {
            let Nl80211Attr::Bss(info) = a else {
                return None;
            };
            let ours = info
                .iter()
                .any(|i| matches!(i, Nl80211BssInfo::Bssid(b) if b == bssid));
            if !ours {
                return None;
            }
            info.iter().find_map(|i| match i {
                Nl80211BssInfo::RawInformationElements(ies)
                | Nl80211BssInfo::RawBeaconInformationElements(ies)
                | Nl80211BssInfo::RawProbeResponseInformationElements(ies) => ssid_element(ies),
                _ => None,
            })
        })
    })
}

/// The SSID element in a run of information elements (id, length, body).
fn ssid_element(mut ies: &[u8]) -> Option<String> {
    while let [id, len, rest @ ..] = ies {
        let len = usize::from(*len);
        let body = rest.get(..len)?;
        if *id == 0 {
            // An SSID is any octets; what is not UTF-8 is shown with replacement characters.
            return Some(String::from_utf8_lossy(body).into_owned());
        }
        ies = &rest[len..];
    }
    None
}

/// NL80211_RATE_INFO_BITRATE32 (or the 16-bit one) counts 100 kbit/s.
fn bitrate(rates: &[Nl80211RateInfo]) -> Option<u32> {
    let mut rate = None;
    for r in rates {
        match r {
            Nl80211RateInfo::Bitrate32(v) => return Some(v.saturating_mul(100)),
            Nl80211RateInfo::Bitrate(v) => rate = Some(u32::from(*v) * 100),
            _ => {}
        }
    }
    rate
}

#[cfg(test)]
mod tests;
