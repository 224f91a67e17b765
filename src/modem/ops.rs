//! Manage mode's calls on ModemManager, each run in its own task by the watcher.

use std::collections::HashMap;
use std::error::Error as _;

use zbus::proxy::CacheProperties;
use zbus::{Connection, Variant};

use super::ModemError;
use super::manage::Action;
use super::proxies::{ModemProxy, SimProxy, SimpleProxy};
use super::settings::ManageSettings;

/// The error and its causes on one line, for logs and the status.
pub fn chain(e: &ModemError) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

fn call(method: &'static str, path: &str) -> impl FnOnce(zbus::Error) -> ModemError {
    let path = path.to_owned();
    move |source| ModemError::Call {
        method,
        path,
        source,
    }
}

/// Runs one action; `Connect` yields the bearer's path.
pub async fn run(
    conn: &Connection,
    action: &Action,
    s: &ManageSettings,
) -> Result<Option<String>, ModemError> {
    match action {
        Action::Unlock { sim } => {
            let file = s.pin_file.clone().unwrap_or_default();
            let pin = tokio::fs::read_to_string(&file)
                .await
                .map_err(|source| ModemError::PinFile { path: file, source })?;
            let proxy = SimProxy::builder(conn)
                .path(sim.as_str())
                .cache_properties(CacheProperties::No)
                .build()
                .await
                .map_err(call("SendPin", sim))?;
            proxy
                .send_pin(pin.trim())
                .await
                .map_err(call("SendPin", sim))?;
            Ok(None)
        }
        Action::Enable { modem } => {
            let proxy = ModemProxy::builder(conn)
                .path(modem.as_str())
                .cache_properties(CacheProperties::No)
                .build()
                .await
                .map_err(call("Enable", modem))?;
            proxy.enable(true).await.map_err(call("Enable", modem))?;
            Ok(None)
        }
        Action::Connect { modem } => {
            let proxy = SimpleProxy::builder(conn)
                .path(modem.as_str())
                .cache_properties(CacheProperties::No)
                .build()
                .await
                .map_err(call("Simple.Connect", modem))?;
            let mut props: HashMap<&str, Variant<'_>> = HashMap::new();
            props.insert("apn", Variant::from(s.apn.as_str()));
            if let Some(user) = &s.user {
                props.insert("user", Variant::from(user.as_str()));
            }
            if let Some(password) = &s.password {
                props.insert("password", Variant::from(password.0.as_str()));
            }
            let bearer = proxy
                .connect(props)
                .await
                .map_err(call("Simple.Connect", modem))?;
            Ok(Some(bearer.as_str().to_owned()))
        }
    }
}
