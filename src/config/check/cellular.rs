//! `uplinks.cellular`: the modem, its bearer and the APN.

use super::paths::check_absolute;
use super::{Check, key, pos_or};
use crate::config::error::Pos;
use crate::config::raw::{RawCellular, RawModem, S};
use crate::config::types::{CellularConfig, ModemSelector, Secret};

pub fn check(c: &mut Check, cell: S<RawCellular>) -> CellularConfig {
    let here = Pos::of(&cell);
    let r = cell.value;
    let p = |k| key("uplinks.cellular", k);
    check_absolute(c, &p("pin_file"), &r.pin_file);
    // ModemManager is the cellular path's source of truth only when asked for: a `modem`
    // selection, or arcway managing the bearer. Otherwise the interface alone is watched.
    let modemmanager = r.modem.is_some() || r.manage.unwrap_or(false);
    let modem = r.modem.map_or(ModemSelector::First, |m| check_modem(c, m));
    let apn = r
        .apn
        .as_ref()
        .map_or_else(|| "soracom.io".to_owned(), |a| a.value.clone());
    if apn.trim().is_empty() {
        c.err(p("apn"), pos_or(&r.apn, here), "apn must not be empty");
    }
    CellularConfig {
        interface: r.interface.map(|i| i.value),
        modem,
        modemmanager,
        manage: r.manage.unwrap_or(false),
        apn,
        user: Some(r.user.unwrap_or_else(|| "sora".to_owned())).filter(|u| !u.is_empty()),
        password: Some(r.password.unwrap_or_else(|| "sora".to_owned()))
            .filter(|p| !p.is_empty())
            .map(Secret),
        pin_file: r.pin_file.map(|f| f.value),
    }
}

fn check_modem(c: &mut Check, modem: S<RawModem>) -> ModemSelector {
    let m = modem.value;
    let given: Vec<(&str, S<String>)> = [
        ("equipment_id", m.equipment_id),
        ("iccid", m.iccid),
        ("imsi", m.imsi),
        ("device", m.device),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    for (k, v) in &given[given.len().min(1)..] {
        c.err(
            key("uplinks.cellular.modem", k),
            Pos::of(v),
            format!(
                "choose the modem by one key only (`{}` is already given)",
                given[0].0
            ),
        );
    }
    let Some((k, v)) = given.into_iter().next() else {
        return ModemSelector::First;
    };
    if v.value.trim().is_empty() {
        c.err(
            key("uplinks.cellular.modem", k),
            Pos::of(&v),
            format!("{k} must not be empty"),
        );
    }
    match k {
        "equipment_id" => ModemSelector::EquipmentId(v.value),
        "iccid" => ModemSelector::Iccid(v.value),
        "imsi" => ModemSelector::Imsi(v.value),
        _ => ModemSelector::Device(v.value),
    }
}
