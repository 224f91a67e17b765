//! The monitor task: an nl80211 multicast socket on the `mlme` group for events, and a
//! request socket for the interface, station reads and the CQM threshold.

use std::time::Duration;

use futures_util::{StreamExt, TryStream, TryStreamExt};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use wl_nl80211::packet_core::NetlinkPayload;
use wl_nl80211::packet_generic::GenlMessage;
use wl_nl80211::{
    Nl80211Attr, Nl80211Cqm, Nl80211Error, Nl80211Handle, Nl80211Message, Nl80211MulticastGroup,
};

use super::{WifiEvent, WifiSettings, bss_ssid, decode, station_info};

/// How long to wait before opening the sockets again after a failure.
const RETRY: Duration = Duration::from_secs(5);

enum Command {
    Set(WifiSettings),
    Stop,
}

/// Controls the monitor task.
#[derive(Debug, Clone)]
pub struct WifiHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Set(s) => write!(f, "Set({s:?})"),
            Command::Stop => f.write_str("Stop"),
        }
    }
}

impl WifiHandle {
    /// New settings (another interface or threshold): applied on the next turn.
    pub fn set(&self, settings: WifiSettings) {
        let _ = self.commands.send(Command::Set(settings));
    }

    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    /// Whether the task is still running.
    pub fn is_alive(&self) -> bool {
        !self.commands.is_closed()
    }
}

/// Starts the monitor; events go to `events` until `stop` or the receiver is dropped.
pub fn spawn(settings: WifiSettings, events: mpsc::Sender<WifiEvent>) -> WifiHandle {
    let (commands, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(settings, events, rx));
    WifiHandle { commands }
}

async fn run(
    mut settings: WifiSettings,
    events: mpsc::Sender<WifiEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut warned = false;
    loop {
        match follow(&mut settings, &events, &mut commands).await {
            Ok(()) => return,
            // Without cfg80211 there is no nl80211 at all: the uplink is not a Wi-Fi
            // device, which carrier covers, so say it once.
            Err(err) if !warned => {
                warned = true;
                warn!(interface = %settings.interface, "wifi monitor: {err}; following carrier only, retrying");
            }
            Err(err) => debug!(interface = %settings.interface, "wifi monitor: {err}"),
        }
        let sleep = tokio::time::sleep(RETRY);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                cmd = commands.recv() => match cmd {
                    Some(Command::Set(s)) => settings = s,
                    Some(Command::Stop) | None => return,
                },
            }
        }
    }
}

/// What the task last told, so that it reports changes only.
#[derive(Default)]
struct Told {
    wireless: Option<bool>,
    associated: Option<bool>,
    cqm: Option<(u32, Option<(i32, u32)>)>,
    /// The SSID read from the scan results for this BSSID, when the interface gave none.
    bss_ssid: Option<(String, String)>,
}

/// Runs until stopped (`Ok`) or a socket fails (`Err`).
async fn follow(
    settings: &mut WifiSettings,
    events: &mpsc::Sender<WifiEvent>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Result<(), String> {
    let (conn, _, mut mcast) = wl_nl80211::new_multicast_connection(&[Nl80211MulticastGroup::Mlme])
        .map_err(|e| format!("failed to open the nl80211 event socket: {e}"))?;
    let events_task = tokio::spawn(conn);
    let (conn, handle, _) =
        wl_nl80211::new_connection().map_err(|e| format!("failed to open nl80211: {e}"))?;
    let requests_task = tokio::spawn(conn);
    let _guard = AbortOnDrop(vec![events_task, requests_task]);

    let mut told = Told::default();
    let mut ifindex = None;
    let mut poll = tokio::time::interval(settings.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::Set(s)) => {
                    let every = s.poll;
                    *settings = s;
                    poll = tokio::time::interval(every);
                    told.cqm = None;
                }
                Some(Command::Stop) | None => return Ok(()),
            },
            msg = mcast.next() => {
                let Some((msg, _)) = msg else {
                    return Err("the nl80211 event socket closed".into());
                };
                let NetlinkPayload::InnerMessage(raw) = msg.payload else {
                    continue;
                };
                let Some(index) = ifindex else { continue };
                let Ok(genl) = raw.parse_into_genlmsg::<Nl80211Message>() else {
                    debug!("unreadable nl80211 event");
                    continue;
                };
                for event in decode(&genl.payload, index) {
                    match &event {
                        WifiEvent::Lost(loss) => {
                            info!(interface = %settings.interface, reason = ?loss.reason,
                                locally_generated = loss.locally_generated, "wifi lost: {loss}");
                            told.associated = Some(false);
                        }
                        WifiEvent::Connected => {
                            info!(interface = %settings.interface, "wifi connected");
                            told.associated = Some(true);
                        }
                        _ => {}
                    }
                    if events.send(event).await.is_err() {
                        return Ok(());
                    }
                }
            },
            _ = poll.tick() => {
                ifindex = refresh(&handle, settings, events, &mut told).await;
            },
        }
    }
}

/// Finds the interface, programs the CQM threshold when needed, and reads the station.
/// Returns the interface index when it is an 802.11 device.
async fn refresh(
    handle: &Nl80211Handle,
    settings: &WifiSettings,
    events: &mpsc::Sender<WifiEvent>,
    told: &mut Told,
) -> Option<u32> {
    let h = handle.clone();
    let ifaces = payloads(h.interface().get(Vec::new()).execute().await, "interface")
        .await
        .unwrap_or_default();
    let iface = ifaces.into_iter().find(|m| {
        m.attributes
            .iter()
            .any(|a| matches!(a, Nl80211Attr::IfName(n) if *n == settings.interface))
    });
    let index = iface.as_ref().and_then(|m| {
        m.attributes.iter().find_map(|a| match a {
            Nl80211Attr::IfIndex(i) => Some(*i),
            _ => None,
        })
    });
    let wireless = index.is_some();
    if told.wireless != Some(wireless) {
        told.wireless = Some(wireless);
        if wireless {
            info!(interface = %settings.interface, "following the Wi-Fi uplink over nl80211");
        }
        let _ = events.send(WifiEvent::Watching { wireless }).await;
    }
    let (Some(iface), Some(index)) = (iface, index) else {
        told.cqm = None;
        return None;
    };
    if told.cqm != Some((index, settings.cqm)) {
        told.cqm = Some((index, settings.cqm));
        // Zero turns a threshold off; that is how a removed setting is undone.
        let (thold, hyst) = settings.cqm.unwrap_or((0, 0));
        let attrs = Nl80211Cqm::new(index)
            .rssi_thold(thold)
            .rssi_hyst(hyst)
            .build();
        let result: Result<Vec<_>, _> = h
            .connection()
            .set_cqm(attrs)
            .execute()
            .await
            .try_collect()
            .await;
        if let Err(e) = result
            && settings.cqm.is_some()
        {
            warn!(interface = %settings.interface, "failed to set the CQM RSSI threshold: {e}");
        }
    }
    let Some(stations) = payloads(h.station().dump(index).execute().await, "station").await else {
        return Some(index);
    };
    let mut info = station_info(&iface, &stations);
    if let Some(info) = info.as_mut().filter(|i| i.ssid.is_none()) {
        info.ssid = ssid_from_scan(&h, index, info.bssid.as_deref(), told).await;
    }
    let associated = info.is_some();
    if associated && told.associated != Some(true) {
        // A reassociation whose connect event was missed, or the first look.
        told.associated = Some(true);
        let _ = events.send(WifiEvent::Connected).await;
    }
    if let Some(info) = info {
        if let Some(dbm) = info.signal_dbm {
            let _ = events.send(WifiEvent::Signal { dbm }).await;
        }
        let _ = events.send(WifiEvent::Station(info)).await;
    } else {
        let _ = events.send(WifiEvent::Station(Default::default())).await;
    }
    Some(index)
}

/// The SSID of the access point `bssid` from the scan results, read once per BSSID.
async fn ssid_from_scan(
    handle: &Nl80211Handle,
    index: u32,
    bssid: Option<&str>,
    told: &mut Told,
) -> Option<String> {
    let bssid = bssid?;
    if let Some((b, ssid)) = &told.bss_ssid
        && b == bssid
    {
        return Some(ssid.clone());
    }
    let mac = parse_mac(bssid)?;
    let bsses = payloads(handle.scan().dump(index).execute().await, "scan").await?;
    let ssid = bss_ssid(&bsses, &mac)?;
    told.bss_ssid = Some((bssid.to_string(), ssid.clone()));
    Some(ssid)
}

/// `aa:bb:cc:dd:ee:ff` back to octets.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Aborts the socket tasks when the monitor stops or restarts.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// The messages of an nl80211 dump, or `None` when it failed (logged: the next poll tries
/// again).
async fn payloads(
    dump: impl TryStream<Ok = GenlMessage<Nl80211Message>, Error = Nl80211Error>,
    what: &str,
) -> Option<Vec<Nl80211Message>> {
    match dump.try_collect::<Vec<_>>().await {
        Ok(list) => Some(list.into_iter().map(|m| m.payload).collect()),
        Err(e) => {
            debug!("nl80211 {what} dump failed: {e}");
            None
        }
    }
}
