//! arcway's mirror of ModemManager's objects, the modem selection and the view derived
//! from them. Pure: the watcher feeds it D-Bus data and diffs the views it yields.

use std::collections::BTreeMap;

use crate::config::ModemSelector;

use super::event::ModemEvent;
use super::props::{BearerProps, GppProps, ModemProps, SimProps};
use super::types::{AccessTech, Ip4Config, ModemState, Operator, Registration};

/// One modem object: its Modem interface (absent until seen) and its 3GPP interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModemEntry {
    pub modem: Option<ModemProps>,
    pub gpp: GppProps,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    pub modems: BTreeMap<String, ModemEntry>,
    pub bearers: BTreeMap<String, BearerProps>,
    pub sims: BTreeMap<String, SimProps>,
}

/// Modem numbers grow (`Modem/9` before `Modem/10`): order by the number, then the path.
fn order_key(path: &str) -> (u64, &str) {
    let n = path
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    (n, path)
}

impl Model {
    pub fn clear(&mut self) {
        *self = Model::default();
    }

    /// Modems with a Modem interface, lowest number first.
    pub fn present(&self) -> Vec<(&str, &ModemProps)> {
        let mut v: Vec<_> = self
            .modems
            .iter()
            .filter_map(|(p, e)| e.modem.as_ref().map(|m| (p.as_str(), m)))
            .collect();
        v.sort_by_key(|(p, _)| order_key(p));
        v
    }

    pub fn modem(&self, path: &str) -> Option<&ModemProps> {
        self.modems.get(path).and_then(|e| e.modem.as_ref())
    }

    pub fn sim_of(&self, modem: &ModemProps) -> Option<&SimProps> {
        modem.sim.as_ref().and_then(|s| self.sims.get(s))
    }

    fn matches(&self, m: &ModemProps, selector: &ModemSelector) -> bool {
        let eq = |v: &Option<String>, want: &str| v.as_deref() == Some(want);
        match selector {
            ModemSelector::First => true,
            ModemSelector::EquipmentId(id) => eq(&m.equipment_id, id),
            ModemSelector::Iccid(id) => self.sim_of(m).is_some_and(|s| eq(&s.iccid, id)),
            ModemSelector::Imsi(id) => self.sim_of(m).is_some_and(|s| eq(&s.imsi, id)),
            ModemSelector::Device(d) => eq(&m.device, d) || eq(&m.physdev, d),
        }
    }

    /// The modem to watch: the current one while it is present and still matches (no
    /// flapping between two matching modems), else the lowest-numbered match.
    pub fn select(&self, selector: &ModemSelector, current: Option<&str>) -> Option<String> {
        if let Some(cur) = current
            && let Some(m) = self.modem(cur)
            && self.matches(m, selector)
        {
            return Some(cur.to_owned());
        }
        self.present()
            .into_iter()
            .find(|(_, m)| self.matches(m, selector))
            .map(|(p, _)| p.to_owned())
    }

    /// The bearer that stands for the modem's data connection: a connected one if any,
    /// else the first listed that arcway knows.
    pub fn bearer_of<'a>(&'a self, modem: &'a ModemProps) -> Option<(&'a str, &'a BearerProps)> {
        let known = || {
            modem
                .bearers
                .iter()
                .filter_map(|p| self.bearers.get(p).map(|b| (p.as_str(), b)))
        };
        known()
            .find(|(_, b)| b.connected)
            .or_else(|| known().next())
    }
}

/// Everything the daemon is told, as of now. Events are the differences between views.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    pub service: bool,
    pub modem: Option<String>,
    pub equipment_id: Option<String>,
    pub state: Option<ModemState>,
    pub signal: Option<u8>,
    pub access: Option<AccessTech>,
    pub registration: Option<Registration>,
    pub operator: Option<Operator>,
    pub bearer: Option<String>,
    pub connected: bool,
    /// Sticky: the last non-empty bearer interface seen.
    pub interface: Option<String>,
    pub ip4: Option<Ip4Config>,
}

impl View {
    pub fn of(model: &Model, service: bool, selected: Option<&str>, prev: &View) -> View {
        let mut v = View {
            service,
            interface: prev.interface.clone(),
            ..View::default()
        };
        let Some((path, m)) = selected.and_then(|p| model.modem(p).map(|m| (p, m))) else {
            return v;
        };
        let gpp = model.modems.get(path).map(|e| &e.gpp);
        v.modem = Some(path.to_owned());
        v.equipment_id = m.equipment_id.clone();
        v.state = m.state;
        v.signal = m.signal;
        v.access = m.access;
        v.registration = gpp.and_then(|g| g.registration);
        v.operator = gpp.and_then(|g| {
            (g.operator_code.is_some() || g.operator_name.is_some()).then(|| Operator {
                code: g.operator_code.clone().unwrap_or_default(),
                name: g.operator_name.clone().unwrap_or_default(),
            })
        });
        if let Some((bpath, b)) = model.bearer_of(m) {
            v.bearer = Some(bpath.to_owned());
            v.connected = b.connected;
            v.ip4 = b.ip4.clone();
            if b.interface.is_some() {
                v.interface = b.interface.clone();
            }
        }
        v
    }
}

/// The events that turn `old` into `new`; `None` means nothing was sent yet, so every
/// fact goes out once.
pub fn diff(old: Option<&View>, new: &View) -> Vec<ModemEvent> {
    let mut out = Vec::new();
    let first = old.is_none();
    let blank = View::default();
    let old = old.unwrap_or(&blank);
    let bearer_changed = first || old.connected != new.connected;
    // Loss first: the daemon fails over on this one. A gain goes last, once the interface
    // and its configuration are known.
    if bearer_changed && !new.connected {
        out.push(ModemEvent::Bearer { connected: false });
    }
    if old.modem != new.modem
        && let Some(path) = &old.modem
    {
        out.push(ModemEvent::ModemGone { path: path.clone() });
    }
    if first {
        if !new.service {
            out.push(ModemEvent::ServiceGone);
        }
    } else if old.service != new.service {
        out.push(if new.service {
            ModemEvent::ServiceBack
        } else {
            ModemEvent::ServiceGone
        });
    }
    if old.modem != new.modem
        && let Some(path) = &new.modem
    {
        out.push(ModemEvent::ModemFound {
            path: path.clone(),
            equipment_id: new.equipment_id.clone(),
        });
    }
    if new.interface.is_some() && old.interface != new.interface {
        out.push(ModemEvent::Interface {
            name: new.interface.clone().unwrap_or_default(),
        });
    }
    macro_rules! changed {
        ($field:ident, $event:ident) => {
            if first || old.$field != new.$field {
                out.push(ModemEvent::$event(new.$field.clone()));
            }
        };
    }
    changed!(state, State);
    changed!(signal, SignalQuality);
    changed!(access, AccessTechnologies);
    changed!(registration, Registration);
    changed!(operator, Operator);
    changed!(ip4, Ip4Config);
    if bearer_changed && new.connected {
        out.push(ModemEvent::Bearer { connected: true });
    }
    out
}
