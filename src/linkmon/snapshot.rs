//! What the link monitor reports about one watched interface.

use std::collections::BTreeSet;
use std::net::IpAddr;

/// RFC 2863 operational state as the kernel reports it (IFLA_OPERSTATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    Other(u8),
}

/// Address scope: global addresses are usable as a path's source, link-local ones are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddrScope {
    Global,
    Site,
    Link,
    Host,
    Other(u8),
}

pub use crate::model::Family;

/// An address on the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub scope: AddrScope,
}

/// A default route through the interface in the main table (what DHCP, RA or the modem
/// manager installed): the uplink's gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DefaultRoute {
    pub family: Family,
    /// Metric (RTA_PRIORITY); 0 when the route has none.
    pub metric: u32,
    /// `None` for a device route (`default dev wwan0`, point-to-point bearers). May be of
    /// the other family: an IPv4 default via an IPv6 next hop (RTA_VIA).
    pub gateway: Option<IpAddr>,
}

/// The state of one watched interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSnapshot {
    pub name: String,
    pub index: u32,
    /// IFF_UP: administratively up.
    pub admin_up: bool,
    /// Carrier (IFLA_CARRIER, else IFF_LOWER_UP).
    pub carrier: bool,
    pub oper: OperState,
    pub addresses: BTreeSet<IfAddr>,
    pub default_routes: BTreeSet<DefaultRoute>,
}

impl LinkSnapshot {
    /// Whether packets can leave: up, with carrier, and not DORMANT (a Wi-Fi station that
    /// is associated but has not finished its WPA handshake). Other operstates are not
    /// looked at because many drivers report Unknown forever.
    pub fn is_up(&self) -> bool {
        self.admin_up && self.carrier && self.oper != OperState::Dormant
    }

    /// Global-scope addresses of one family.
    pub fn global(&self, family: Family) -> impl Iterator<Item = &IfAddr> + '_ {
        self.addresses
            .iter()
            .filter(move |a| a.scope == AddrScope::Global && family_of(a.addr) == family)
    }

    /// The preferred (lowest metric) default route of one family.
    pub fn default_route(&self, family: Family) -> Option<&DefaultRoute> {
        // BTreeSet order is (family, metric, gateway): the first match has the lowest metric.
        self.default_routes.iter().find(|r| r.family == family)
    }

    /// Fields whose change must be reported at once (carrier loss above all).
    pub(crate) fn same_link_state(&self, other: &LinkSnapshot) -> bool {
        (self.index, self.admin_up, self.carrier, self.oper)
            == (other.index, other.admin_up, other.carrier, other.oper)
    }
}

pub fn family_of(addr: IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// What the monitor emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The interface exists and its state differs from the last report (the first report of
    /// every present interface is a `Changed` too).
    Changed(LinkSnapshot),
    /// No interface of that name exists (deleted, renamed, or absent at start).
    Gone { name: String },
}

impl LinkEvent {
    pub fn name(&self) -> &str {
        match self {
            LinkEvent::Changed(s) => &s.name,
            LinkEvent::Gone { name } => name,
        }
    }
}
