//! ModemManager's D-Bus interfaces as zbus proxies, declared once. Each doc comment gives
//! the D-Bus signature (see the introspection files of ModemManager 1.x).
//!
//! The watcher does not use the proxies' property caches (each would subscribe on its own
//! and queue signals arcway already receives): proxies are built with
//! `CacheProperties::No` and used for method calls; properties arrive as raw maps through
//! GetManagedObjects, GetAll and PropertiesChanged, and are decoded defensively.

use std::collections::HashMap;

use zbus::{OwnedObjectPath, OwnedVariant, Variant};

/// The service name and the path of its ObjectManager.
pub const SERVICE: &str = "org.freedesktop.ModemManager1";
pub const ROOT_PATH: &str = "/org/freedesktop/ModemManager1";

/// `org.freedesktop.ModemManager1` at `/org/freedesktop/ModemManager1` (the ObjectManager
/// `org.freedesktop.DBus.ObjectManager` lives at the same path: `zbus::fdo::ObjectManagerProxy`).
#[zbus::proxy(
    interface = "org.freedesktop.ModemManager1",
    default_service = "org.freedesktop.ModemManager1",
    default_path = "/org/freedesktop/ModemManager1"
)]
pub trait ModemManager {
    /// `ScanDevices()`
    fn scan_devices(&self) -> zbus::Result<()>;
    /// `Version: s`
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
}

/// `org.freedesktop.ModemManager1.Modem` at `/org/freedesktop/ModemManager1/Modem/N`.
#[zbus::proxy(
    interface = "org.freedesktop.ModemManager1.Modem",
    default_service = "org.freedesktop.ModemManager1"
)]
pub trait Modem {
    /// `Enable(b enable)`
    fn enable(&self, enable: bool) -> zbus::Result<()>;
    /// `ListBearers() -> ao`
    fn list_bearers(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
    /// Signal `StateChanged(i old, i new, u reason)`: MMModemState values and
    /// MMModemStateChangeReason.
    #[zbus(signal, name = "StateChanged")]
    fn state_changed_signal(&self, old: i32, new: i32, reason: u32) -> zbus::Result<()>;
    /// `State: i` (MMModemState)
    #[zbus(property)]
    fn state(&self) -> zbus::Result<i32>;
    /// `SignalQuality: (ub)`: percent and whether the value is recent.
    #[zbus(property)]
    fn signal_quality(&self) -> zbus::Result<(u32, bool)>;
    /// `AccessTechnologies: u` (MMModemAccessTechnology bits)
    #[zbus(property)]
    fn access_technologies(&self) -> zbus::Result<u32>;
    /// `EquipmentIdentifier: s` (IMEI for 3GPP modems)
    #[zbus(property)]
    fn equipment_identifier(&self) -> zbus::Result<String>;
    /// `Manufacturer: s`
    #[zbus(property)]
    fn manufacturer(&self) -> zbus::Result<String>;
    /// `Model: s`
    #[zbus(property)]
    fn model(&self) -> zbus::Result<String>;
    /// `Device: s`: the sysfs path of the physical device.
    #[zbus(property)]
    fn device(&self) -> zbus::Result<String>;
    /// `Physdev: s` (older name of the sysfs path, still published by some versions)
    #[zbus(property)]
    fn physdev(&self) -> zbus::Result<String>;
    /// `Sim: o` (`/` when there is no SIM)
    #[zbus(property)]
    fn sim(&self) -> zbus::Result<OwnedObjectPath>;
    /// `Bearers: ao`
    #[zbus(property)]
    fn bearers(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
    /// `UnlockRequired: u` (MMModemLock)
    #[zbus(property)]
    fn unlock_required(&self) -> zbus::Result<u32>;
}

/// `org.freedesktop.ModemManager1.Modem.Simple` at the modem's path.
#[zbus::proxy(
    interface = "org.freedesktop.ModemManager1.Modem.Simple",
    default_service = "org.freedesktop.ModemManager1"
)]
pub trait Simple {
    /// `Connect(a{sv} properties) -> o bearer`: unlocks (`pin`), enables, registers,
    /// creates or reuses a bearer for `apn`/`user`/`password` and connects it.
    fn connect(&self, properties: HashMap<&str, Variant<'_>>) -> zbus::Result<OwnedObjectPath>;
    /// `Disconnect(o bearer)`: `/` disconnects every bearer.
    fn disconnect(&self, bearer: &zbus::ObjectPath<'_>) -> zbus::Result<()>;
    /// `GetStatus() -> a{sv}`
    fn get_status(&self) -> zbus::Result<HashMap<String, OwnedVariant>>;
}

/// `org.freedesktop.ModemManager1.Modem.Modem3gpp` at the modem's path.
#[zbus::proxy(
    interface = "org.freedesktop.ModemManager1.Modem.Modem3gpp",
    default_service = "org.freedesktop.ModemManager1"
)]
pub trait Modem3gpp {
    /// `Register(s operator_id)`: empty for automatic selection.
    fn register(&self, operator_id: &str) -> zbus::Result<()>;
    /// `Imei: s`
    #[zbus(property)]
    fn imei(&self) -> zbus::Result<String>;
    /// `RegistrationState: u` (MMModem3gppRegistrationState)
    #[zbus(property)]
    fn registration_state(&self) -> zbus::Result<u32>;
    /// `OperatorCode: s` (MCC-MNC)
    #[zbus(property)]
    fn operator_code(&self) -> zbus::Result<String>;
    /// `OperatorName: s`
    #[zbus(property)]
    fn operator_name(&self) -> zbus::Result<String>;
}

/// `org.freedesktop.ModemManager1.Bearer` at `/org/freedesktop/ModemManager1/Bearer/N`.
#[zbus::proxy(
    interface = "org.freedesktop.ModemManager1.Bearer",
    default_service = "org.freedesktop.ModemManager1"
)]
pub trait Bearer {
    /// `Connect()`
    fn connect(&self) -> zbus::Result<()>;
    /// `Disconnect()`
    fn disconnect(&self) -> zbus::Result<()>;
    /// `Interface: s`: the network interface carrying the data.
    #[zbus(property)]
    fn interface(&self) -> zbus::Result<String>;
    /// `Connected: b`
    #[zbus(property)]
    fn connected(&self) -> zbus::Result<bool>;
    /// `Ip4Config: a{sv}`: `method` (u, MMBearerIpMethod), with STATIC also `address` (s),
    /// `prefix` (u), `gateway` (s), `dns1..3` (s), `mtu` (u).
    #[zbus(property)]
    fn ip4_config(&self) -> zbus::Result<HashMap<String, OwnedVariant>>;
    /// `Stats: a{sv}`: `rx-bytes` (t), `tx-bytes` (t), `duration` (u), ...
    #[zbus(property)]
    fn stats(&self) -> zbus::Result<HashMap<String, OwnedVariant>>;
}

/// `org.freedesktop.ModemManager1.Sim` at `/org/freedesktop/ModemManager1/SIM/N`.
#[zbus::proxy(
    interface = "org.freedesktop.ModemManager1.Sim",
    default_service = "org.freedesktop.ModemManager1"
)]
pub trait Sim {
    /// `SendPin(s pin)`
    fn send_pin(&self, pin: &str) -> zbus::Result<()>;
    /// `SimIdentifier: s` (ICCID)
    #[zbus(property)]
    fn sim_identifier(&self) -> zbus::Result<String>;
    /// `Imsi: s`
    #[zbus(property)]
    fn imsi(&self) -> zbus::Result<String>;
}
