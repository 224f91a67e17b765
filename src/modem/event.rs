//! What the modem watcher tells the daemon.

use crate::routing::PathDefault;

use super::types::{AccessTech, Ip4Config, ModemState, Operator, Registration};

/// One change seen on ModemManager, in the order it happened. A batch caused by one D-Bus
/// message always puts `Bearer { connected: false }` first, so that failover never waits
/// for the rest.
#[derive(Debug, Clone, PartialEq)]
pub enum ModemEvent {
    /// The data bearer is connected or not. Sent once at start (false until a connected
    /// bearer is seen), on every change, and as `false` whenever the modem or ModemManager
    /// goes away. Map it to `engine::Event::Bearer { path: PathId::Cellular, connected }`.
    Bearer {
        connected: bool,
    },
    /// The bearer's data interface (`Bearer.Interface`). Only sent for a non-empty name that
    /// differs from the last one sent; a disconnect does not clear it. Until the first one,
    /// the configured `uplinks.cellular.interface` is the path's interface.
    Interface {
        name: String,
    },
    /// `Bearer.Ip4Config` changed (`None`: no bearer or no IPv4 configuration).
    Ip4Config(Option<Ip4Config>),
    /// Manage mode only: arcway configured a STATIC bearer on `interface` (`Some`) or removed
    /// that configuration (`None`). Put it into the cellular path's `PathInput.default_v4`.
    /// With a DHCP bearer this never comes: the DHCP client's main-table default is mirrored
    /// like any other uplink's.
    DefaultRoute {
        interface: String,
        route: Option<PathDefault>,
    },
    /// A modem matching the selection is now the one watched.
    ModemFound {
        path: String,
        equipment_id: Option<String>,
    },
    /// The watched modem disappeared (unplugged, reset, ModemManager lost it). Another
    /// matching modem, or this one back under a new number, comes as `ModemFound`.
    ModemGone {
        path: String,
    },
    /// ModemManager left the bus (or the bus connection was lost). Until `ServiceBack`,
    /// the cellular state is unknown and the bearer is reported down.
    ServiceGone,
    /// ModemManager answers again.
    ServiceBack,
    /// `Modem.State`; `None` when no modem is watched.
    State(Option<ModemState>),
    /// `Modem.SignalQuality` in percent.
    SignalQuality(Option<u8>),
    AccessTechnologies(Option<AccessTech>),
    /// `Modem3gpp.RegistrationState`.
    Registration(Option<Registration>),
    Operator(Option<Operator>),
}
