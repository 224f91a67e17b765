//! The signal pump: one task that reads every signal arcway subscribed to, in bus order, and
//! forwards it decoded to the watcher over an unbounded channel.
//!
//! zbus stops reading the socket while any message queue is full; the watcher awaits method
//! replies, so it must never be the one draining the signal queue. The pump always reads.

use std::collections::HashMap;

use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};
use zbus::message::Type;
use zbus::proxy::CacheProperties;
use zbus::{Connection, MatchRule, Message, MessageStream, OwnedObjectPath};

use super::decode::PropMap;
use super::proxies::{ROOT_PATH, SERVICE};

/// A signal from (or about) ModemManager. `sender` is the unique bus name that sent it; the
/// watcher drops signals whose sender is not the current owner of the service name.
#[derive(Debug)]
pub enum Signal {
    /// NameOwnerChanged for the service: `None` when it left the bus.
    Owner(Option<String>),
    Added {
        sender: Option<String>,
        path: String,
        ifaces: Vec<(String, PropMap)>,
    },
    Removed {
        sender: Option<String>,
        path: String,
        ifaces: Vec<String>,
    },
    Changed {
        sender: Option<String>,
        path: String,
        iface: String,
        props: PropMap,
    },
    /// `Modem.StateChanged`: the new state (also published as a property change; either
    /// one arriving first is fine).
    State {
        sender: Option<String>,
        path: String,
        new: i32,
    },
}

fn rules() -> zbus::Result<Vec<MatchRule<'static>>> {
    let signal = || MatchRule::builder().msg_type(Type::Signal);
    Ok(vec![
        signal()
            .interface("org.freedesktop.DBus.Properties")
            .member("PropertiesChanged")
            .path_namespace(ROOT_PATH)
            .build()?,
        signal()
            .interface("org.freedesktop.DBus.ObjectManager")
            .path(ROOT_PATH)
            .build()?,
        signal()
            .interface("org.freedesktop.ModemManager1.Modem")
            .member("StateChanged")
            .path_namespace(ROOT_PATH)
            .build()?,
        signal()
            .sender("org.freedesktop.DBus")
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .arg(0, SERVICE)
            .build()?,
    ])
}

/// Subscribes and starts the pump. The receiver yields `None` once the bus connection is
/// gone.
pub async fn start(
    conn: &Connection,
) -> zbus::Result<(mpsc::UnboundedReceiver<Signal>, JoinHandle<()>)> {
    // The stream exists before the rules, so nothing sent in between is lost.
    let mut stream = MessageStream::from(conn);
    let dbus = zbus::fdo::DBusProxy::builder(conn)
        .cache_properties(CacheProperties::No)
        .build()
        .await?;
    for rule in rules()? {
        dbus.add_match_rule(rule).await?;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let msg = match item {
                Ok(msg) => msg,
                Err(e) => {
                    warn!(error = %e, "skipping an unreadable D-Bus message");
                    continue;
                }
            };
            if msg.message_type() != Type::Signal {
                continue;
            }
            if let Some(signal) = parse(&msg)
                && tx.send(signal).is_err()
            {
                return;
            }
        }
        debug!("D-Bus connection closed");
    });
    Ok((rx, task))
}

/// Decodes one signal; a body of the wrong shape is logged and dropped.
pub fn parse(msg: &Message) -> Option<Signal> {
    let hdr = msg.header();
    let iface = hdr.interface()?.as_str().to_owned();
    let member = hdr.member()?.as_str().to_owned();
    let path = hdr.path()?.as_str().to_owned();
    let sender = hdr.sender().map(|s| s.as_str().to_owned());
    let body = msg.body();
    let decoded = match (iface.as_str(), member.as_str()) {
        ("org.freedesktop.DBus", "NameOwnerChanged") => body
            .deserialize::<(String, String, String)>()
            .map(|(name, _, new)| {
                (name == SERVICE).then(|| Signal::Owner(Some(new).filter(|n| !n.is_empty())))
            }),
        ("org.freedesktop.DBus.Properties", "PropertiesChanged") => body
            .deserialize::<(String, PropMap, Vec<String>)>()
            .map(|(iface, props, _)| {
                Some(Signal::Changed {
                    sender,
                    path,
                    iface,
                    props,
                })
            }),
        ("org.freedesktop.DBus.ObjectManager", "InterfacesAdded") => body
            .deserialize::<(OwnedObjectPath, HashMap<String, PropMap>)>()
            .map(|(path, ifaces)| {
                let mut ifaces: Vec<_> = ifaces.into_iter().collect();
                ifaces.sort_by(|a, b| a.0.cmp(&b.0));
                Some(Signal::Added {
                    sender,
                    path: path.as_str().to_owned(),
                    ifaces,
                })
            }),
        ("org.freedesktop.DBus.ObjectManager", "InterfacesRemoved") => body
            .deserialize::<(OwnedObjectPath, Vec<String>)>()
            .map(|(path, ifaces)| {
                Some(Signal::Removed {
                    sender,
                    path: path.as_str().to_owned(),
                    ifaces,
                })
            }),
        ("org.freedesktop.ModemManager1.Modem", "StateChanged") => body
            .deserialize::<(i32, i32, u32)>()
            .map(|(_, new, _)| Some(Signal::State { sender, path, new })),
        _ => return None,
    };
    match decoded {
        Ok(signal) => signal,
        Err(e) => {
            warn!(%iface, %member, signature = %body.signature(), error = %e,
                "ignoring a malformed D-Bus signal");
            None
        }
    }
}
