//! The fake's state written as D-Bus values, and PropertiesChanged emission.
use std::collections::HashMap;

use zbus::names::BusName;
use zbus::{Connection, ObjectPath, OwnedObjectPath, Variant};

use super::world::{BearerData, Ip4Spec, ModemData, STATE_REGISTERED, bearer_path, sim_path};

pub const IFACE_MODEM: &str = "org.freedesktop.ModemManager1.Modem";
pub const IFACE_SIMPLE: &str = "org.freedesktop.ModemManager1.Modem.Simple";
pub const IFACE_3GPP: &str = "org.freedesktop.ModemManager1.Modem.Modem3gpp";
pub const IFACE_BEARER: &str = "org.freedesktop.ModemManager1.Bearer";
pub const IFACE_PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Paths the fake builds itself are valid by construction.
pub fn opath(path: String) -> OwnedObjectPath {
    ObjectPath::from_string_unchecked(path).into()
}

/// `Ip4Config` of a connected bearer (`None`: the empty map of a disconnected one).
pub fn ip4(spec: Option<&Ip4Spec>) -> HashMap<String, Variant<'static>> {
    let mut m = HashMap::new();
    let Some(s) = spec else {
        return m;
    };
    m.insert("method".to_owned(), Variant::from(s.method));
    if s.method == super::world::METHOD_STATIC {
        m.insert("address".to_owned(), Variant::from(s.address.to_string()));
        m.insert("prefix".to_owned(), Variant::from(s.prefix));
        if let Some(gw) = s.gateway {
            m.insert("gateway".to_owned(), Variant::from(gw.to_string()));
        }
        m.insert("dns1".to_owned(), Variant::from("203.0.113.53".to_owned()));
    }
    if let Some(mtu) = s.mtu {
        m.insert("mtu".to_owned(), Variant::from(mtu));
    }
    m
}

pub fn stats(b: &BearerData) -> HashMap<String, Variant<'static>> {
    HashMap::from([
        ("rx-bytes".to_owned(), Variant::from(b.rx_bytes)),
        ("tx-bytes".to_owned(), Variant::from(b.tx_bytes)),
    ])
}

/// Emits one PropertiesChanged with these values (in any types the caller likes).
pub async fn changed(
    conn: &Connection,
    path: &str,
    iface: &str,
    props: Vec<(&str, Variant<'_>)>,
) -> zbus::Result<()> {
    let map: HashMap<&str, Variant<'_>> = props.into_iter().collect();
    conn.emit_signal(
        None::<BusName<'_>>,
        path,
        IFACE_PROPERTIES,
        "PropertiesChanged",
        &(iface, map, Vec::<String>::new()),
    )
    .await
}

/// The Modem interface's properties, as GetManagedObjects and InterfacesAdded carry them.
pub fn modem_props(m: &ModemData) -> HashMap<String, Variant<'static>> {
    let bearers: Vec<OwnedObjectPath> = m.bearers.iter().map(|b| opath(bearer_path(*b))).collect();
    let access = if m.state >= STATE_REGISTERED {
        m.spec.access
    } else {
        0
    };
    HashMap::from([
        ("State".to_owned(), Variant::from(m.state)),
        ("SignalQuality".to_owned(), Variant::from((m.signal, true))),
        ("AccessTechnologies".to_owned(), Variant::from(access)),
        (
            "EquipmentIdentifier".to_owned(),
            Variant::from(m.spec.equipment_id.clone()),
        ),
        (
            "Manufacturer".to_owned(),
            Variant::from(m.spec.manufacturer.clone()),
        ),
        ("Model".to_owned(), Variant::from(m.spec.model.clone())),
        ("Device".to_owned(), Variant::from(m.spec.device.clone())),
        ("Physdev".to_owned(), Variant::from(m.spec.device.clone())),
        ("Sim".to_owned(), Variant::from(opath(sim_path(m.sim)))),
        ("Bearers".to_owned(), Variant::from(bearers)),
        (
            "UnlockRequired".to_owned(),
            Variant::from(if m.locked { 2u32 } else { 1u32 }),
        ),
    ])
}

/// The Modem3gpp interface's properties.
pub fn gpp_props(m: &ModemData) -> HashMap<String, Variant<'static>> {
    let reg: u32 = if m.state >= STATE_REGISTERED { 1 } else { 2 };
    HashMap::from([
        (
            "Imei".to_owned(),
            Variant::from(m.spec.equipment_id.clone()),
        ),
        ("RegistrationState".to_owned(), Variant::from(reg)),
        (
            "OperatorCode".to_owned(),
            Variant::from(m.spec.operator_code.clone()),
        ),
        (
            "OperatorName".to_owned(),
            Variant::from(m.spec.operator_name.clone()),
        ),
    ])
}
