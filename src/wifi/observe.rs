//! Monitor events as engine events (pure), and what status shows about the station.

use crate::engine::Event;
use crate::model::PathId;
use crate::status::{WallTime, WifiDisconnect, WifiStatus};

use super::{Loss, StationInfo, WifiEvent};

/// What the monitor has said so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WifiObserved {
    /// The interface is an 802.11 station followed over nl80211.
    pub watching: bool,
    pub station: StationInfo,
    pub last_loss: Option<(Loss, WallTime)>,
}

impl WifiObserved {
    /// Records `event` (seen at `now`) and returns what the engine must hear of it.
    pub fn take(&mut self, event: WifiEvent, now: WallTime) -> Vec<Event> {
        let path = PathId::Wifi;
        match event {
            WifiEvent::Watching { wireless } => {
                self.watching = wireless;
                if wireless {
                    Vec::new()
                } else {
                    // Not (or no longer) an 802.11 device: carrier alone speaks for it.
                    self.station = StationInfo::default();
                    vec![Event::WifiConnected { path }]
                }
            }
            WifiEvent::Lost(loss) => {
                let event = loss.to_string();
                self.station = StationInfo::default();
                self.last_loss = Some((loss, now));
                vec![Event::WifiLost { path, event }]
            }
            WifiEvent::Connected => vec![Event::WifiConnected { path }],
            WifiEvent::Signal { dbm } => {
                self.station.signal_dbm = Some(dbm);
                vec![Event::WifiSignal { path, dbm }]
            }
            WifiEvent::Station(info) => {
                self.station = info;
                Vec::new()
            }
        }
    }

    /// The status object, while the uplink is followed over nl80211.
    pub fn status(&self, degraded: bool) -> Option<WifiStatus> {
        if !self.watching {
            return None;
        }
        let s = &self.station;
        Some(WifiStatus {
            ssid: s.ssid.clone(),
            bssid: s.bssid.clone(),
            freq_mhz: s.freq_mhz,
            signal_dbm: s.signal_dbm,
            tx_bitrate_kbps: s.tx_bitrate_kbps,
            rx_bitrate_kbps: s.rx_bitrate_kbps,
            last_disconnect: self.last_loss.as_ref().map(|(l, at)| WifiDisconnect {
                reason: l.to_string(),
                reason_code: l.reason,
                locally_generated: l.locally_generated,
                at: *at,
            }),
            degraded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wifi::LossKind;

    #[test]
    fn a_loss_is_an_engine_event_and_stays_in_status() {
        let mut o = WifiObserved::default();
        assert_eq!(
            o.take(WifiEvent::Watching { wireless: true }, WallTime::now()),
            vec![]
        );
        let info = StationInfo {
            ssid: Some("lab".into()),
            signal_dbm: Some(-40),
            ..StationInfo::default()
        };
        assert!(o.take(WifiEvent::Station(info), WallTime::now()).is_empty());
        let loss = Loss {
            kind: LossKind::Deauthenticated,
            reason: Some(3),
            locally_generated: false,
        };
        let events = o.take(WifiEvent::Lost(loss), WallTime::now());
        assert_eq!(
            events,
            vec![Event::WifiLost {
                path: PathId::Wifi,
                event: "deauthenticated by the access point (reason 3)".into()
            }]
        );
        let status = o.status(false).expect("watched");
        assert_eq!(status.ssid, None);
        let last = status.last_disconnect.expect("a loss");
        assert_eq!((last.reason_code, last.locally_generated), (Some(3), false));
        assert_eq!(
            o.take(WifiEvent::Signal { dbm: -70 }, WallTime::now()),
            vec![Event::WifiSignal {
                path: PathId::Wifi,
                dbm: -70
            }]
        );
        // No longer an 802.11 device: no status object, and the loss no longer holds.
        let events = o.take(WifiEvent::Watching { wireless: false }, WallTime::now());
        assert_eq!(events, vec![Event::WifiConnected { path: PathId::Wifi }]);
        assert_eq!(o.status(true), None);
    }
}
