//! `ModemStatus`: the modem part of `arcway status`.

use serde::{Deserialize, Serialize};

use super::model::{Model, View};

/// What the status snapshot shows about the modem. Plain strings and numbers, so that a
/// client of another release reads it; every field may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModemStatus {
    /// ModemManager is on the bus and answered.
    pub service: bool,
    /// `observe` or `manage`.
    pub mode: String,
    /// D-Bus object path of the watched modem, e.g. `/org/freedesktop/ModemManager1/Modem/3`.
    pub path: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub equipment_id: Option<String>,
    /// ModemManager's state word: `registered`, `connected`, `locked`...
    pub state: Option<String>,
    pub signal_percent: Option<u8>,
    /// e.g. `["lte"]`.
    pub access_technologies: Vec<String>,
    pub operator_code: Option<String>,
    pub operator_name: Option<String>,
    /// 3GPP registration: `home`, `roaming`, `searching`, `denied`...
    pub registration: Option<String>,
    pub bearer_connected: bool,
    pub bearer_interface: Option<String>,
    /// `static`, `dhcp` or `ppp`.
    pub ip_method: Option<String>,
    /// Address with prefix length, e.g. `198.51.100.130/26`.
    pub address: Option<String>,
    pub gateway: Option<String>,
    /// Bearer `Stats`, when the modem reports them.
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub connected_secs: Option<u64>,
    /// The latest failure of a manage-mode action (unlock, enable, connect, configure).
    pub last_error: Option<String>,
}

impl ModemStatus {
    pub(crate) fn of(
        model: &Model,
        view: &View,
        managed: bool,
        last_error: Option<String>,
    ) -> Self {
        let modem = view.modem.as_deref().and_then(|p| model.modem(p));
        let bearer = view.bearer.as_deref().and_then(|p| model.bearers.get(p));
        let ip4 = view.ip4.as_ref();
        ModemStatus {
            service: view.service,
            mode: if managed { "manage" } else { "observe" }.to_owned(),
            path: view.modem.clone(),
            manufacturer: modem.and_then(|m| m.manufacturer.clone()),
            model: modem.and_then(|m| m.model.clone()),
            equipment_id: view.equipment_id.clone(),
            state: view.state.map(|s| s.as_str().to_owned()),
            signal_percent: view.signal,
            access_technologies: view.access.map(|a| a.names()).unwrap_or_default(),
            operator_code: view.operator.as_ref().map(|o| o.code.clone()),
            operator_name: view.operator.as_ref().map(|o| o.name.clone()),
            registration: view.registration.map(|r| r.as_str().to_owned()),
            bearer_connected: view.connected,
            bearer_interface: view.interface.clone(),
            ip_method: ip4.map(|c| c.method.as_str().to_owned()),
            address: ip4.and_then(|c| {
                c.address
                    .map(|a| format!("{a}/{}", c.prefix.map_or(32, u32::from)))
            }),
            gateway: ip4.and_then(|c| c.gateway.map(|g| g.to_string())),
            rx_bytes: bearer.and_then(|b| b.rx_bytes),
            tx_bytes: bearer.and_then(|b| b.tx_bytes),
            connected_secs: bearer.and_then(|b| b.duration),
            last_error,
        }
    }
}
