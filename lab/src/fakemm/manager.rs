//! The fake's ObjectManager. Like ModemManager's, it lists and announces modems only: SIMs
//! and bearers live under the same path but clients must read them with GetAll.
use std::collections::HashMap;

use zbus::object_server::SignalEmitter;
use zbus::{Connection, ObjectPath, OwnedObjectPath, Variant, interface};

use super::values::{IFACE_3GPP, IFACE_MODEM, IFACE_SIMPLE, gpp_props, modem_props, opath};
use super::world::{ROOT, Shared, lock, modem_path};

type Interfaces = HashMap<String, HashMap<String, Variant<'static>>>;

pub struct Modems {
    pub w: Shared,
}

fn interfaces(w: &Shared, n: u32) -> Option<Interfaces> {
    let world = lock(w);
    let m = world.modems.get(&n)?;
    Some(HashMap::from([
        (IFACE_MODEM.to_owned(), modem_props(m)),
        (IFACE_SIMPLE.to_owned(), HashMap::new()),
        (IFACE_3GPP.to_owned(), gpp_props(m)),
    ]))
}

#[interface(name = "org.freedesktop.DBus.ObjectManager")]
impl Modems {
    async fn get_managed_objects(&self) -> HashMap<OwnedObjectPath, Interfaces> {
        let numbers: Vec<u32> = lock(&self.w).modems.keys().copied().collect();
        numbers
            .into_iter()
            .filter_map(|n| interfaces(&self.w, n).map(|i| (opath(modem_path(n)), i)))
            .collect()
    }

    #[zbus(signal)]
    async fn interfaces_added(
        emitter: &SignalEmitter<'_>,
        object_path: ObjectPath<'_>,
        interfaces_and_properties: Interfaces,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn interfaces_removed(
        emitter: &SignalEmitter<'_>,
        object_path: ObjectPath<'_>,
        interfaces: Vec<String>,
    ) -> zbus::Result<()>;
}

/// Announces modem `n` with all its interfaces in one signal, as ModemManager does.
pub async fn announce(conn: &Connection, w: &Shared, n: u32) -> zbus::Result<()> {
    let Some(ifaces) = interfaces(w, n) else {
        return Ok(());
    };
    let emitter = SignalEmitter::new(conn, ROOT)?;
    Modems::interfaces_added(&emitter, opath(modem_path(n)).into(), ifaces).await
}

pub async fn withdraw(conn: &Connection, n: u32) -> zbus::Result<()> {
    let emitter = SignalEmitter::new(conn, ROOT)?;
    let ifaces = [IFACE_MODEM, IFACE_SIMPLE, IFACE_3GPP]
        .map(str::to_owned)
        .to_vec();
    Modems::interfaces_removed(&emitter, opath(modem_path(n)).into(), ifaces).await
}
