//! The properties arcway reads from each ModemManager interface, updated key by key.
//! A key of the wrong type is logged and leaves the previous value in place.

use tracing::warn;
use zbus::Variant;

use super::decode::{
    DecodeError, PropMap, bool_of, i32_of, ip4_of, path_of, paths_of, signal_of, stats_of,
    string_of, u32_of,
};
use super::types::{AccessTech, Ip4Config, ModemState, Registration};

pub const IFACE_MODEM: &str = "org.freedesktop.ModemManager1.Modem";
pub const IFACE_3GPP: &str = "org.freedesktop.ModemManager1.Modem.Modem3gpp";
pub const IFACE_BEARER: &str = "org.freedesktop.ModemManager1.Bearer";
pub const IFACE_SIM: &str = "org.freedesktop.ModemManager1.Sim";

/// `org.freedesktop.ModemManager1.Modem`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModemProps {
    pub state: Option<ModemState>,
    pub signal: Option<u8>,
    pub access: Option<AccessTech>,
    pub equipment_id: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub device: Option<String>,
    pub physdev: Option<String>,
    pub sim: Option<String>,
    pub bearers: Vec<String>,
    pub unlock_required: Option<u32>,
}

/// `org.freedesktop.ModemManager1.Modem.Modem3gpp`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GppProps {
    pub registration: Option<Registration>,
    pub operator_code: Option<String>,
    pub operator_name: Option<String>,
}

/// `org.freedesktop.ModemManager1.Bearer`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BearerProps {
    pub connected: bool,
    pub interface: Option<String>,
    pub ip4: Option<Ip4Config>,
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub duration: Option<u64>,
}

/// `org.freedesktop.ModemManager1.Sim`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimProps {
    pub iccid: Option<String>,
    pub imsi: Option<String>,
}

/// Something that takes property updates by name.
pub trait Props {
    const IFACE: &'static str;
    /// Applies one key; unknown keys are fine (Ok), a known key of the wrong type is an error.
    fn set(&mut self, key: &str, value: &Variant<'_>) -> Result<(), DecodeError>;

    /// Applies a whole map, logging and skipping values that do not decode.
    fn update(&mut self, path: &str, map: &PropMap) {
        // Sorted so that logs are deterministic.
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for key in keys {
            if let Err(e) = self.set(key, &map[key]) {
                warn!(path, interface = Self::IFACE, property = %key, error = %e,
                    "ignoring a malformed ModemManager property");
            }
        }
    }
}

fn non_empty(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// The bearer's interface goes into routes, probes and the nftables table: it must be a name
/// the kernel accepts and nft reads literally, whatever ModemManager (or whoever owns its
/// bus name) sends.
fn ifname(name: String) -> Result<String, DecodeError> {
    crate::nft::check_ifname(&name)
        .map(|()| name)
        .map_err(|reason| DecodeError {
            expected: "an interface name",
            got: reason,
        })
}

impl Props for ModemProps {
    const IFACE: &'static str = IFACE_MODEM;
    fn set(&mut self, key: &str, v: &Variant<'_>) -> Result<(), DecodeError> {
        match key {
            "State" => self.state = Some(ModemState::from_raw(i32_of(v)?)),
            "SignalQuality" => self.signal = Some(signal_of(v)?.0.min(100) as u8),
            "AccessTechnologies" => self.access = Some(AccessTech(u32_of(v)?)),
            "EquipmentIdentifier" => self.equipment_id = non_empty(string_of(v)?),
            "Manufacturer" => self.manufacturer = non_empty(string_of(v)?),
            "Model" => self.model = non_empty(string_of(v)?),
            "Device" => self.device = non_empty(string_of(v)?),
            "Physdev" => self.physdev = non_empty(string_of(v)?),
            // "/" means no SIM.
            "Sim" => self.sim = Some(path_of(v)?).filter(|p| p != "/"),
            "Bearers" => self.bearers = paths_of(v)?,
            "UnlockRequired" => self.unlock_required = Some(u32_of(v)?),
            _ => {}
        }
        Ok(())
    }
}

impl Props for GppProps {
    const IFACE: &'static str = IFACE_3GPP;
    fn set(&mut self, key: &str, v: &Variant<'_>) -> Result<(), DecodeError> {
        match key {
            "RegistrationState" => self.registration = Some(Registration(u32_of(v)?)),
            "OperatorCode" => self.operator_code = non_empty(string_of(v)?),
            "OperatorName" => self.operator_name = non_empty(string_of(v)?),
            _ => {}
        }
        Ok(())
    }
}

impl Props for BearerProps {
    const IFACE: &'static str = IFACE_BEARER;
    fn set(&mut self, key: &str, v: &Variant<'_>) -> Result<(), DecodeError> {
        match key {
            "Connected" => self.connected = bool_of(v)?,
            "Interface" => self.interface = non_empty(string_of(v)?).map(ifname).transpose()?,
            "Ip4Config" => self.ip4 = ip4_of(v)?,
            "Stats" => {
                let s = stats_of(v)?;
                (self.rx_bytes, self.tx_bytes, self.duration) =
                    (s.rx_bytes, s.tx_bytes, s.duration);
            }
            _ => {}
        }
        Ok(())
    }
}

impl Props for SimProps {
    const IFACE: &'static str = IFACE_SIM;
    fn set(&mut self, key: &str, v: &Variant<'_>) -> Result<(), DecodeError> {
        match key {
            "SimIdentifier" => self.iccid = non_empty(string_of(v)?),
            "Imsi" => self.imsi = non_empty(string_of(v)?),
            _ => {}
        }
        Ok(())
    }
}
