//! The D-Bus objects the fake serves. Properties are read from the shared world; changes are
//! announced by `actions`, which also backs the control API.
use std::collections::HashMap;

use zbus::object_server::SignalEmitter;
use zbus::{
    Connection, ObjectPath, ObjectServer, OwnedObjectPath, OwnedVariant, Variant, fdo, interface,
};

use super::actions;
use super::values::{ip4, opath, stats};
use super::world::{STATE_REGISTERED, Shared, bearer_path, lock, sim_path};

fn failed(e: zbus::Error) -> fdo::Error {
    fdo::Error::Failed(e.to_string())
}

pub struct ModemObj {
    pub n: u32,
    pub w: Shared,
}

impl ModemObj {
    fn get<T: Default>(&self, f: impl FnOnce(&super::world::ModemData) -> T) -> T {
        lock(&self.w).modems.get(&self.n).map(f).unwrap_or_default()
    }
}

#[interface(name = "org.freedesktop.ModemManager1.Modem")]
impl ModemObj {
    async fn enable(&self, enable: bool, #[zbus(connection)] conn: &Connection) -> fdo::Result<()> {
        actions::enable(conn, &self.w, self.n, enable).await
    }

    async fn list_bearers(&self) -> Vec<OwnedObjectPath> {
        self.get(|m| m.bearers.iter().map(|b| opath(bearer_path(*b))).collect())
    }

    #[zbus(signal, name = "StateChanged")]
    async fn state_changed_signal(
        emitter: &SignalEmitter<'_>,
        old: i32,
        new: i32,
        reason: u32,
    ) -> zbus::Result<()>;

    #[zbus(property)]
    async fn state(&self) -> i32 {
        self.get(|m| m.state)
    }
    #[zbus(property)]
    async fn signal_quality(&self) -> (u32, bool) {
        self.get(|m| (m.signal, true))
    }
    #[zbus(property)]
    async fn access_technologies(&self) -> u32 {
        self.get(|m| {
            if m.state >= STATE_REGISTERED {
                m.spec.access
            } else {
                0
            }
        })
    }
    #[zbus(property)]
    async fn equipment_identifier(&self) -> String {
        self.get(|m| m.spec.equipment_id.clone())
    }
    #[zbus(property)]
    async fn manufacturer(&self) -> String {
        self.get(|m| m.spec.manufacturer.clone())
    }
    #[zbus(property)]
    async fn model(&self) -> String {
        self.get(|m| m.spec.model.clone())
    }
    #[zbus(property)]
    async fn device(&self) -> String {
        self.get(|m| m.spec.device.clone())
    }
    #[zbus(property)]
    async fn physdev(&self) -> String {
        self.get(|m| m.spec.device.clone())
    }
    #[zbus(property)]
    async fn sim(&self) -> OwnedObjectPath {
        opath(sim_path(self.get(|m| m.sim)))
    }
    #[zbus(property)]
    async fn bearers(&self) -> Vec<OwnedObjectPath> {
        self.get(|m| m.bearers.iter().map(|b| opath(bearer_path(*b))).collect())
    }
    #[zbus(property)]
    async fn unlock_required(&self) -> u32 {
        self.get(|m| if m.locked { 2 } else { 1 })
    }
}

pub struct SimpleObj {
    pub n: u32,
    pub w: Shared,
}

#[interface(name = "org.freedesktop.ModemManager1.Modem.Simple")]
impl SimpleObj {
    async fn connect(
        &self,
        properties: HashMap<String, OwnedVariant>,
        #[zbus(connection)] conn: &Connection,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> fdo::Result<OwnedObjectPath> {
        let apn = properties
            .get("apn")
            .and_then(|v| match &**v {
                Variant::Str(s) => Some(s.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let b = actions::connect(conn, server, &self.w, self.n, apn).await?;
        Ok(opath(bearer_path(b)))
    }

    async fn disconnect(
        &self,
        bearer: ObjectPath<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<()> {
        let bearers: Vec<u32> = lock(&self.w)
            .modems
            .get(&self.n)
            .map(|m| m.bearers.clone())
            .unwrap_or_default();
        for b in bearers {
            if bearer.as_str() == "/" || bearer.as_str() == bearer_path(b) {
                actions::set_connected(conn, &self.w, b, false)
                    .await
                    .map_err(failed)?;
            }
        }
        Ok(())
    }

    async fn get_status(&self) -> HashMap<String, Variant<'static>> {
        let state = lock(&self.w).modems.get(&self.n).map_or(0, |m| m.state);
        HashMap::from([("state".to_owned(), Variant::from(state.max(0) as u32))])
    }
}

pub struct GppObj {
    pub n: u32,
    pub w: Shared,
}

#[interface(name = "org.freedesktop.ModemManager1.Modem.Modem3gpp")]
impl GppObj {
    #[zbus(property)]
    async fn imei(&self) -> String {
        lock(&self.w)
            .modems
            .get(&self.n)
            .map(|m| m.spec.equipment_id.clone())
            .unwrap_or_default()
    }
    #[zbus(property)]
    async fn registration_state(&self) -> u32 {
        // home when registered, searching before
        lock(&self.w)
            .modems
            .get(&self.n)
            .map_or(4, |m| if m.state >= STATE_REGISTERED { 1 } else { 2 })
    }
    #[zbus(property)]
    async fn operator_code(&self) -> String {
        lock(&self.w)
            .modems
            .get(&self.n)
            .map(|m| m.spec.operator_code.clone())
            .unwrap_or_default()
    }
    #[zbus(property)]
    async fn operator_name(&self) -> String {
        lock(&self.w)
            .modems
            .get(&self.n)
            .map(|m| m.spec.operator_name.clone())
            .unwrap_or_default()
    }
}

pub struct BearerObj {
    pub n: u32,
    pub w: Shared,
}

#[interface(name = "org.freedesktop.ModemManager1.Bearer")]
impl BearerObj {
    async fn connect(&self, #[zbus(connection)] conn: &Connection) -> fdo::Result<()> {
        actions::set_connected(conn, &self.w, self.n, true)
            .await
            .map(|_| ())
            .map_err(failed)
    }
    async fn disconnect(&self, #[zbus(connection)] conn: &Connection) -> fdo::Result<()> {
        actions::set_connected(conn, &self.w, self.n, false)
            .await
            .map(|_| ())
            .map_err(failed)
    }
    #[zbus(property)]
    async fn interface(&self) -> String {
        lock(&self.w)
            .bearers
            .get(&self.n)
            .map(|b| b.interface.clone())
            .unwrap_or_default()
    }
    #[zbus(property)]
    async fn connected(&self) -> bool {
        lock(&self.w)
            .bearers
            .get(&self.n)
            .is_some_and(|b| b.connected)
    }
    #[zbus(property)]
    async fn ip4_config(&self) -> HashMap<String, Variant<'static>> {
        let w = lock(&self.w);
        ip4(w
            .bearers
            .get(&self.n)
            .filter(|b| b.connected)
            .map(|b| &b.ip4))
    }
    #[zbus(property)]
    async fn stats(&self) -> HashMap<String, Variant<'static>> {
        lock(&self.w)
            .bearers
            .get(&self.n)
            .map(stats)
            .unwrap_or_default()
    }
}

pub struct SimObj {
    /// The modem this SIM sits in.
    pub modem: u32,
    pub w: Shared,
}

#[interface(name = "org.freedesktop.ModemManager1.Sim")]
impl SimObj {
    async fn send_pin(
        &self,
        pin: String,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<()> {
        actions::send_pin(conn, &self.w, self.modem, &pin).await
    }
    #[zbus(property)]
    async fn sim_identifier(&self) -> String {
        lock(&self.w)
            .modems
            .get(&self.modem)
            .map(|m| m.spec.iccid.clone())
            .unwrap_or_default()
    }
    #[zbus(property)]
    async fn imsi(&self) -> String {
        lock(&self.w)
            .modems
            .get(&self.modem)
            .map(|m| m.spec.imsi.clone())
            .unwrap_or_default()
    }
}
