//! The fake's hardware and ModemManager state, shared by the D-Bus objects and the control API.
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};

pub const SERVICE: &str = "org.freedesktop.ModemManager1";
pub const ROOT: &str = "/org/freedesktop/ModemManager1";

pub const STATE_LOCKED: i32 = 2;
pub const STATE_DISABLED: i32 = 3;
pub const STATE_ENABLING: i32 = 5;
pub const STATE_REGISTERED: i32 = 8;
pub const STATE_CONNECTED: i32 = 11;
/// MMModemAccessTechnology LTE.
pub const TECH_LTE: u32 = 1 << 14;
pub const METHOD_STATIC: u32 = 2;
pub const METHOD_DHCP: u32 = 3;

pub fn modem_path(n: u32) -> String {
    format!("{ROOT}/Modem/{n}")
}
pub fn bearer_path(n: u32) -> String {
    format!("{ROOT}/Bearer/{n}")
}
pub fn sim_path(n: u32) -> String {
    format!("{ROOT}/SIM/{n}")
}

/// What `Simple.Connect` hands out in `Ip4Config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip4Spec {
    pub method: u32,
    pub address: Ipv4Addr,
    pub prefix: u32,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: Option<u32>,
}

impl Default for Ip4Spec {
    fn default() -> Self {
        Ip4Spec {
            method: METHOD_STATIC,
            address: Ipv4Addr::new(198, 51, 100, 130),
            prefix: 26,
            gateway: Some(Ipv4Addr::new(198, 51, 100, 129)),
            mtu: Some(1500),
        }
    }
}

/// One modem as plugged in: identity, SIM, and the interface its bearers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemSpec {
    pub equipment_id: String,
    pub manufacturer: String,
    pub model: String,
    /// sysfs device path (`Device`, also published as `Physdev`).
    pub device: String,
    pub iccid: String,
    pub imsi: String,
    pub interface: String,
    pub operator_code: String,
    pub operator_name: String,
    pub signal: u32,
    pub access: u32,
    /// The state the modem shows when it appears (MMModemState).
    pub state: i32,
    /// A SIM PIN: the modem appears locked until it is sent.
    pub pin: Option<String>,
    pub ip4: Ip4Spec,
}

impl ModemSpec {
    pub fn new(interface: &str, equipment_id: &str) -> ModemSpec {
        ModemSpec {
            equipment_id: equipment_id.to_owned(),
            manufacturer: "Lab".to_owned(),
            model: "LTE-1".to_owned(),
            device: format!("/sys/devices/lab/{equipment_id}"),
            iccid: format!("8981{equipment_id}"),
            imsi: format!("44010{equipment_id}"),
            interface: interface.to_owned(),
            operator_code: "44010".to_owned(),
            operator_name: "SORACOM".to_owned(),
            signal: 70,
            access: TECH_LTE,
            state: STATE_REGISTERED,
            pin: None,
            ip4: Ip4Spec::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModemData {
    pub spec: ModemSpec,
    pub state: i32,
    pub signal: u32,
    pub locked: bool,
    pub sim: u32,
    pub bearers: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct BearerData {
    pub modem: u32,
    pub connected: bool,
    pub interface: String,
    pub ip4: Ip4Spec,
    pub apn: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// How often the fake was asked to do things, for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub connect_calls: u32,
    pub enable_calls: u32,
    pub pin_calls: u32,
}

#[derive(Debug, Default)]
pub struct World {
    pub modems: BTreeMap<u32, ModemData>,
    pub bearers: BTreeMap<u32, BearerData>,
    pub next_modem: u32,
    pub next_bearer: u32,
    pub next_sim: u32,
    /// Connects to fail before one succeeds.
    pub fail_connects: u32,
    pub counters: Counters,
}

pub type Shared = Arc<Mutex<World>>;

/// The lock, even if a panicking test thread poisoned it.
pub fn lock(w: &Shared) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    pub fn add(&mut self, spec: ModemSpec) -> u32 {
        let n = self.next_modem;
        self.next_modem += 1;
        let sim = self.next_sim;
        self.next_sim += 1;
        let locked = spec.pin.is_some();
        self.modems.insert(
            n,
            ModemData {
                state: if locked { STATE_LOCKED } else { spec.state },
                signal: spec.signal,
                locked,
                sim,
                bearers: Vec::new(),
                spec,
            },
        );
        n
    }
}
