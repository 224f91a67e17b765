//! `FakeModemManager`: the service on a bus plus the control API tests drive it with.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use zbus::names::BusName;
use zbus::{Connection, Variant};

use super::actions;
use super::manager::Modems;
use super::values::{IFACE_BEARER, IFACE_MODEM, changed};
use super::world::{
    Counters, Ip4Spec, ModemSpec, ROOT, SERVICE, STATE_CONNECTED, STATE_REGISTERED, Shared, World,
    bearer_path, lock, modem_path,
};

/// Values ModemManager would never send, to check that clients survive them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Modem `State` as a string.
    StateNotInt,
    /// `SignalQuality` as a plain `u` instead of `(ub)`.
    SignalNotStruct,
    /// `Bearers` as strings instead of object paths.
    BearersNotPaths,
    /// Bearer `Connected` as a string.
    ConnectedNotBool,
    /// Bearer `Ip4Config` without the mandatory `method`.
    Ip4WithoutMethod,
    /// Bearer `Ip4Config` with an address that is not one and a string prefix.
    Ip4BadAddress,
    /// PropertiesChanged whose body is a lone integer.
    PropertiesBody,
    /// InterfacesAdded whose body is a string and an integer.
    InterfacesAddedBody,
}

impl Malformed {
    pub const ALL: [Malformed; 8] = [
        Malformed::StateNotInt,
        Malformed::SignalNotStruct,
        Malformed::BearersNotPaths,
        Malformed::ConnectedNotBool,
        Malformed::Ip4WithoutMethod,
        Malformed::Ip4BadAddress,
        Malformed::PropertiesBody,
        Malformed::InterfacesAddedBody,
    ];

    pub fn parse(name: &str) -> Option<Malformed> {
        let names = [
            "state",
            "signal",
            "bearers",
            "connected",
            "ip4-method",
            "ip4-address",
            "properties-body",
            "added-body",
        ];
        names
            .iter()
            .position(|n| *n == name)
            .map(|i| Malformed::ALL[i])
    }
}

fn gone() -> zbus::Error {
    zbus::Error::Failure("the fake ModemManager is stopped".to_owned())
}

/// A fake ModemManager owning `org.freedesktop.ModemManager1` on the bus at `address`.
/// Modems are "hardware": they survive `stop`/`start_again` and come back with new numbers.
pub struct FakeModemManager {
    address: String,
    world: Shared,
    conn: Option<Connection>,
    latest_emit: Arc<Mutex<Option<Instant>>>,
}

impl FakeModemManager {
    /// Connects, serves the ObjectManager and owns the name (no modems yet).
    pub async fn start(address: &str) -> zbus::Result<FakeModemManager> {
        let mut fake = FakeModemManager {
            address: address.to_owned(),
            world: Arc::new(Mutex::new(World::default())),
            conn: None,
            latest_emit: Arc::default(),
        };
        fake.conn = Some(fake.connect().await?);
        Ok(fake)
    }

    async fn connect(&self) -> zbus::Result<Connection> {
        zbus::connection::Builder::address(self.address.as_str())
            .serve_at(
                ROOT,
                Modems {
                    w: self.world.clone(),
                },
            )
            .name(SERVICE)
            .build()
            .await
    }

    fn conn(&self) -> zbus::Result<&Connection> {
        self.conn.as_ref().ok_or_else(gone)
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn is_running(&self) -> bool {
        self.conn.is_some()
    }

    /// Plugs in a modem; returns its number.
    pub async fn add_modem(&self, spec: ModemSpec) -> zbus::Result<u32> {
        let n = lock(&self.world).add(spec);
        if let Some(conn) = &self.conn {
            actions::register(conn, &self.world, n).await?;
        }
        Ok(n)
    }

    /// Unplugs modem `n`.
    pub async fn remove_modem(&self, n: u32) -> zbus::Result<()> {
        let conn = self.conn()?;
        actions::unregister(conn, &self.world, n).await?;
        let mut w = lock(&self.world);
        if let Some(m) = w.modems.remove(&n) {
            for b in m.bearers {
                w.bearers.remove(&b);
            }
        }
        Ok(())
    }

    /// Unplugs modem `n` and plugs the same hardware back in; returns the new number.
    pub async fn replug(&self, n: u32) -> zbus::Result<u32> {
        let spec = lock(&self.world)
            .modems
            .get(&n)
            .map(|m| m.spec.clone())
            .ok_or_else(|| zbus::Error::Failure(format!("no modem {n}")))?;
        self.remove_modem(n).await?;
        self.add_modem(spec).await
    }

    pub async fn set_state(&self, n: u32, state: i32) -> zbus::Result<()> {
        actions::set_state(self.conn()?, &self.world, n, state).await
    }

    pub async fn set_signal(&self, n: u32, percent: u32) -> zbus::Result<()> {
        actions::set_signal(self.conn()?, &self.world, n, percent).await
    }

    /// The modem's (first) bearer, if one was created.
    pub fn bearer_of(&self, n: u32) -> Option<u32> {
        lock(&self.world)
            .modems
            .get(&n)
            .and_then(|m| m.bearers.first().copied())
    }

    /// Creates and connects the modem's bearer as if a client had called Simple.Connect.
    pub async fn connect_bearer(&self, n: u32) -> zbus::Result<u32> {
        let conn = self.conn()?;
        actions::connect(
            conn,
            conn.object_server(),
            &self.world,
            n,
            "soracom.io".to_owned(),
        )
        .await
        .map_err(zbus::Error::from)
    }

    /// The network drops the modem's bearer. Returns the moment just before the
    /// `Connected = false` PropertiesChanged went out.
    pub async fn drop_bearer(&self, n: u32) -> zbus::Result<Instant> {
        let b = self
            .bearer_of(n)
            .ok_or_else(|| zbus::Error::Failure(format!("modem {n} has no bearer")))?;
        let at = actions::set_connected(self.conn()?, &self.world, b, false).await?;
        *self.latest_emit.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
        Ok(at)
    }

    /// The bearer comes back (network side), with the modem's Ip4 configuration.
    pub async fn restore_bearer(&self, n: u32) -> zbus::Result<Instant> {
        let b = self
            .bearer_of(n)
            .ok_or_else(|| zbus::Error::Failure(format!("modem {n} has no bearer")))?;
        actions::set_connected(self.conn()?, &self.world, b, true).await
    }

    /// The Ip4Config later connects of modem `n` hand out.
    pub fn set_ip4(&self, n: u32, ip4: Ip4Spec) {
        if let Some(m) = lock(&self.world).modems.get_mut(&n) {
            m.spec.ip4 = ip4;
        }
    }

    /// The next `k` Simple.Connect calls fail.
    pub fn fail_next_connects(&self, k: u32) {
        lock(&self.world).fail_connects = k;
    }

    pub fn counters(&self) -> Counters {
        lock(&self.world).counters
    }

    /// Modem numbers, lowest first.
    pub fn modems(&self) -> Vec<u32> {
        lock(&self.world).modems.keys().copied().collect()
    }

    pub fn state_of(&self, n: u32) -> Option<i32> {
        lock(&self.world).modems.get(&n).map(|m| m.state)
    }

    /// ModemManager exits: the name is released and the connection closed. Bearers are gone.
    pub async fn stop(&mut self) -> zbus::Result<()> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        conn.release_name(SERVICE).await?;
        conn.close().await?;
        let mut w = lock(&self.world);
        w.bearers.clear();
        for m in w.modems.values_mut() {
            m.bearers.clear();
            if m.state == STATE_CONNECTED {
                m.state = STATE_REGISTERED;
            }
        }
        Ok(())
    }

    /// ModemManager starts again: same hardware, new modem numbers. Returns them.
    pub async fn start_again(&mut self) -> zbus::Result<Vec<u32>> {
        if self.conn.is_some() {
            return Ok(self.modems());
        }
        let conn = self.connect().await?;
        let renumbered = {
            let mut w = lock(&self.world);
            let old = std::mem::take(&mut w.modems);
            let mut out = Vec::new();
            for (_, mut m) in old {
                let n = w.next_modem;
                w.next_modem += 1;
                m.sim = w.next_sim;
                w.next_sim += 1;
                w.modems.insert(n, m);
                out.push(n);
            }
            out
        };
        for n in &renumbered {
            actions::register(&conn, &self.world, *n).await?;
        }
        self.conn = Some(conn);
        Ok(renumbered)
    }

    pub async fn restart(&mut self) -> zbus::Result<Vec<u32>> {
        self.stop().await?;
        self.start_again().await
    }

    /// Sends one malformed value about modem `n` (or its bearer).
    pub async fn publish_malformed(&self, n: u32, kind: Malformed) -> zbus::Result<()> {
        let conn = self.conn()?;
        let modem = modem_path(n);
        let bearer = bearer_path(self.bearer_of(n).unwrap_or(u32::MAX));
        let dict = |entries: Vec<(&str, Variant<'static>)>| {
            let m: HashMap<String, Variant<'static>> = entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            Variant::from(m)
        };
        match kind {
            Malformed::StateNotInt => {
                changed(
                    conn,
                    &modem,
                    IFACE_MODEM,
                    vec![("State", Variant::from("eleven"))],
                )
                .await
            }
            Malformed::SignalNotStruct => {
                changed(
                    conn,
                    &modem,
                    IFACE_MODEM,
                    vec![("SignalQuality", Variant::from(55u32))],
                )
                .await
            }
            Malformed::BearersNotPaths => {
                let v = Variant::from(vec!["not-a-path".to_owned()]);
                changed(conn, &modem, IFACE_MODEM, vec![("Bearers", v)]).await
            }
            Malformed::ConnectedNotBool => {
                changed(
                    conn,
                    &bearer,
                    IFACE_BEARER,
                    vec![("Connected", Variant::from("no"))],
                )
                .await
            }
            Malformed::Ip4WithoutMethod => {
                let v = dict(vec![(
                    "address",
                    Variant::from("198.51.100.140".to_owned()),
                )]);
                changed(conn, &bearer, IFACE_BEARER, vec![("Ip4Config", v)]).await
            }
            Malformed::Ip4BadAddress => {
                let v = dict(vec![
                    ("method", Variant::from(2u32)),
                    ("address", Variant::from("198.51.100.999".to_owned())),
                    ("prefix", Variant::from("26".to_owned())),
                ]);
                changed(conn, &bearer, IFACE_BEARER, vec![("Ip4Config", v)]).await
            }
            Malformed::PropertiesBody => {
                conn.emit_signal(
                    None::<BusName<'_>>,
                    modem.as_str(),
                    "org.freedesktop.DBus.Properties",
                    "PropertiesChanged",
                    &(42u32,),
                )
                .await
            }
            Malformed::InterfacesAddedBody => {
                conn.emit_signal(
                    None::<BusName<'_>>,
                    ROOT,
                    "org.freedesktop.DBus.ObjectManager",
                    "InterfacesAdded",
                    &("not-a-path", 7u32),
                )
                .await
            }
        }
    }
}
