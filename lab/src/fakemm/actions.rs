//! What happens inside the fake when a client calls a method or a test flips something:
//! change the world, then announce it the way ModemManager does (PropertiesChanged, and
//! StateChanged for the modem state).
use std::time::Instant;

use zbus::names::BusName;
use zbus::{Connection, ObjectServer, Variant, fdo};

use super::manager;
use super::objects::{BearerObj, GppObj, ModemObj, SimObj, SimpleObj};
use super::values::{IFACE_3GPP, IFACE_BEARER, IFACE_MODEM, changed, ip4, opath};
use super::world::{
    BearerData, STATE_CONNECTED, STATE_DISABLED, STATE_ENABLING, STATE_REGISTERED, Shared,
    bearer_path, lock, modem_path, sim_path,
};

fn failed(e: zbus::Error) -> fdo::Error {
    fdo::Error::Failed(e.to_string())
}

/// Serves modem `n` (already in the world), then announces it with all its interfaces.
pub async fn register(conn: &Connection, w: &Shared, n: u32) -> zbus::Result<()> {
    let server = conn.object_server();
    let sim = lock(w).modems.get(&n).map(|m| m.sim).unwrap_or_default();
    let path = modem_path(n);
    server
        .at(
            sim_path(sim),
            SimObj {
                modem: n,
                w: w.clone(),
            },
        )
        .await?;
    server
        .at(path.as_str(), SimpleObj { n, w: w.clone() })
        .await?;
    server.at(path.as_str(), GppObj { n, w: w.clone() }).await?;
    server
        .at(path.as_str(), ModemObj { n, w: w.clone() })
        .await?;
    manager::announce(conn, w, n).await
}

/// Withdraws modem `n`, then stops serving it, its bearers and its SIM.
pub async fn unregister(conn: &Connection, w: &Shared, n: u32) -> zbus::Result<()> {
    manager::withdraw(conn, n).await?;
    let server = conn.object_server();
    let (sim, bearers) = lock(w)
        .modems
        .get(&n)
        .map(|m| (m.sim, m.bearers.clone()))
        .unwrap_or_default();
    let path = modem_path(n);
    server.remove::<ModemObj, _>(path.as_str()).await?;
    server.remove::<GppObj, _>(path.as_str()).await?;
    server.remove::<SimpleObj, _>(path.as_str()).await?;
    server.remove::<SimObj, _>(sim_path(sim)).await?;
    for b in bearers {
        server.remove::<BearerObj, _>(bearer_path(b)).await?;
    }
    Ok(())
}

pub async fn set_state(conn: &Connection, w: &Shared, n: u32, new: i32) -> zbus::Result<()> {
    let old = {
        let mut world = lock(w);
        let Some(m) = world.modems.get_mut(&n) else {
            return Ok(());
        };
        std::mem::replace(&mut m.state, new)
    };
    if old == new {
        return Ok(());
    }
    let path = modem_path(n);
    conn.emit_signal(
        None::<BusName<'_>>,
        path.as_str(),
        IFACE_MODEM,
        "StateChanged",
        &(old, new, 0u32),
    )
    .await?;
    changed(
        conn,
        &path,
        IFACE_MODEM,
        vec![("State", Variant::from(new))],
    )
    .await?;
    let registered = |s: i32| s >= STATE_REGISTERED;
    if registered(old) != registered(new) {
        let reg: u32 = if registered(new) { 1 } else { 2 };
        changed(
            conn,
            &path,
            IFACE_3GPP,
            vec![("RegistrationState", Variant::from(reg))],
        )
        .await?;
    }
    Ok(())
}

pub async fn set_signal(conn: &Connection, w: &Shared, n: u32, pct: u32) -> zbus::Result<()> {
    if let Some(m) = lock(w).modems.get_mut(&n) {
        m.signal = pct;
    }
    changed(
        conn,
        &modem_path(n),
        IFACE_MODEM,
        vec![("SignalQuality", Variant::from((pct, true)))],
    )
    .await
}

pub async fn enable(conn: &Connection, w: &Shared, n: u32, enable: bool) -> fdo::Result<()> {
    let (state, bearers) = {
        let mut world = lock(w);
        world.counters.enable_calls += 1;
        let m = world
            .modems
            .get(&n)
            .ok_or_else(|| fdo::Error::UnknownObject(modem_path(n)))?;
        if m.locked {
            return Err(fdo::Error::Failed("SIM PIN required".to_owned()));
        }
        (m.state, m.bearers.clone())
    };
    if enable && state == STATE_DISABLED {
        set_state(conn, w, n, STATE_ENABLING)
            .await
            .map_err(failed)?;
        set_state(conn, w, n, STATE_REGISTERED)
            .await
            .map_err(failed)?;
    } else if !enable && state > STATE_DISABLED {
        for b in bearers {
            set_connected(conn, w, b, false).await.map_err(failed)?;
        }
        set_state(conn, w, n, STATE_DISABLED)
            .await
            .map_err(failed)?;
    }
    Ok(())
}

pub async fn send_pin(conn: &Connection, w: &Shared, n: u32, pin: &str) -> fdo::Result<()> {
    {
        let mut world = lock(w);
        world.counters.pin_calls += 1;
        let m = world
            .modems
            .get_mut(&n)
            .ok_or_else(|| fdo::Error::UnknownObject(modem_path(n)))?;
        if m.spec.pin.as_deref() != Some(pin) {
            return Err(fdo::Error::AuthFailed("incorrect PIN".to_owned()));
        }
        m.locked = false;
    }
    let path = modem_path(n);
    changed(
        conn,
        &path,
        IFACE_MODEM,
        vec![("UnlockRequired", Variant::from(1u32))],
    )
    .await
    .map_err(failed)?;
    set_state(conn, w, n, STATE_DISABLED).await.map_err(failed)
}

/// `Simple.Connect`: enable if needed, create the modem's bearer once, connect it.
pub async fn connect(
    conn: &Connection,
    server: &ObjectServer,
    w: &Shared,
    n: u32,
    apn: String,
) -> fdo::Result<u32> {
    let state = {
        let mut world = lock(w);
        world.counters.connect_calls += 1;
        if world.fail_connects > 0 {
            world.fail_connects -= 1;
            return Err(fdo::Error::Failed("connection attempt rejected".to_owned()));
        }
        let m = world
            .modems
            .get(&n)
            .ok_or_else(|| fdo::Error::UnknownObject(modem_path(n)))?;
        if m.locked {
            return Err(fdo::Error::Failed("SIM PIN required".to_owned()));
        }
        m.state
    };
    if state == STATE_DISABLED {
        enable(conn, w, n, true).await?;
    }
    let (b, created) = {
        let mut world = lock(w);
        let existing = world
            .modems
            .get(&n)
            .and_then(|m| m.bearers.first().copied());
        match existing {
            Some(b) => (b, false),
            None => {
                let b = world.next_bearer;
                world.next_bearer += 1;
                world.bearers.insert(
                    b,
                    BearerData {
                        modem: n,
                        connected: false,
                        interface: String::new(),
                        ip4: Default::default(),
                        apn: apn.clone(),
                        rx_bytes: 0,
                        tx_bytes: 0,
                    },
                );
                if let Some(m) = world.modems.get_mut(&n) {
                    m.bearers.push(b);
                }
                (b, true)
            }
        }
    };
    if created {
        server
            .at(bearer_path(b), BearerObj { n: b, w: w.clone() })
            .await
            .map_err(failed)?;
        let paths: Vec<_> = vec![opath(bearer_path(b))];
        changed(
            conn,
            &modem_path(n),
            IFACE_MODEM,
            vec![("Bearers", Variant::from(paths))],
        )
        .await
        .map_err(failed)?;
    }
    if let Some(bearer) = lock(w).bearers.get_mut(&b) {
        bearer.apn = apn;
    }
    set_connected(conn, w, b, true).await.map_err(failed)?;
    Ok(b)
}

/// Connects or disconnects bearer `b` (a network-side drop when a test calls it). Returns
/// the moment just before the `Connected` change was sent.
pub async fn set_connected(
    conn: &Connection,
    w: &Shared,
    b: u32,
    connected: bool,
) -> zbus::Result<Instant> {
    let (modem, spec, iface) = {
        let mut world = lock(w);
        let Some(modem) = world.bearers.get(&b).map(|x| x.modem) else {
            return Ok(Instant::now());
        };
        let Some(m) = world.modems.get(&modem) else {
            return Ok(Instant::now());
        };
        let (spec, iface) = (m.spec.ip4.clone(), m.spec.interface.clone());
        if let Some(bearer) = world.bearers.get_mut(&b) {
            bearer.connected = connected;
            if connected {
                bearer.ip4 = spec.clone();
                bearer.interface = iface.clone();
                bearer.rx_bytes += 1000;
                bearer.tx_bytes += 500;
            }
        }
        (modem, spec, iface)
    };
    let path = bearer_path(b);
    let at = Instant::now();
    if connected {
        changed(
            conn,
            &path,
            IFACE_BEARER,
            vec![
                ("Interface", Variant::from(iface)),
                ("Ip4Config", Variant::from(ip4(Some(&spec)))),
                ("Connected", Variant::from(true)),
            ],
        )
        .await?;
        set_state(conn, w, modem, STATE_CONNECTED).await?;
    } else {
        changed(
            conn,
            &path,
            IFACE_BEARER,
            vec![("Connected", Variant::from(false))],
        )
        .await?;
        changed(
            conn,
            &path,
            IFACE_BEARER,
            vec![("Ip4Config", Variant::from(ip4(None)))],
        )
        .await?;
        let state = lock(w).modems.get(&modem).map(|m| m.state);
        if state == Some(STATE_CONNECTED) {
            set_state(conn, w, modem, STATE_REGISTERED).await?;
        }
    }
    Ok(at)
}
