//! Looking at the lab from tests: ping, HTTP, link counters and carrier.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::cmd::{in_net, run_text};
use crate::error::{LabError, Result};
use crate::http::in_netns;
use crate::lab::Lab;
use crate::role::Role;

/// Byte and packet counters of one interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

impl Lab {
    /// Sends `count` echo requests (0.1 s apart, each waiting up to `timeout`) from `role` to
    /// the numeric address `dst`; returns how many replies came back.
    pub fn ping_replies(
        &self,
        role: Role,
        dev: Option<&str>,
        dst: &str,
        count: u32,
        timeout: Duration,
    ) -> u32 {
        let mut cmd = in_net(&self.ns(role), "ping");
        cmd.args(["-n", "-q", "-c", &count.to_string(), "-i", "0.1"]);
        cmd.args(["-W", &format!("{:.3}", timeout.as_secs_f64())]);
        if let Some(dev) = dev {
            cmd.args(["-I", dev]);
        }
        cmd.arg(dst);
        // ping exits 1 when replies are missing: read the summary instead of the status.
        let Ok(out) = cmd.output() else { return 0 };
        let text = String::from_utf8_lossy(&out.stdout);
        text.split(',')
            .find_map(|part| part.trim().strip_suffix(" received"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// True when at least one of `count` echo requests is answered.
    pub fn ping(&self, role: Role, dst: &str, count: u32, timeout: Duration) -> bool {
        self.ping_replies(role, None, dst, count, timeout) > 0
    }

    /// `ping` bound to an interface (`ping -I dev`).
    pub fn ping_dev(
        &self,
        role: Role,
        dev: &str,
        dst: &str,
        count: u32,
        timeout: Duration,
    ) -> bool {
        self.ping_replies(role, Some(dev), dst, count, timeout) > 0
    }

    /// A GET from inside `role`'s network stack; returns the whole response (head and body).
    pub fn http_get(&self, role: Role, addr: SocketAddr, timeout: Duration) -> Result<String> {
        let io = move |source| LabError::Io {
            path: format!("http://{addr}/").into(),
            source,
        };
        let stream = in_netns(&self.ns(role), move || {
            TcpStream::connect_timeout(&addr, timeout)
        })?;
        let mut stream = stream.map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(io)?;
        Ok(answer)
    }

    fn link_json(&self, role: Role, ifname: &str, stats: bool) -> Result<Value> {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.ns(role), "-j"]);
        if stats {
            cmd.arg("-s");
        }
        let text = run_text(cmd.args(["link", "show", "dev", ifname]))?;
        let parsed: Value = serde_json::from_str(&text).map_err(|source| LabError::Parse {
            what: format!("ip link output for {ifname}"),
            source,
        })?;
        Ok(parsed.get(0).cloned().unwrap_or(Value::Null))
    }

    /// Counters of an interface (`ip -s link`), e.g. the ap's wifi0 to see traffic over Wi-Fi.
    pub fn link_tx_rx(&self, role: Role, ifname: &str) -> Result<LinkCounters> {
        let link = self.link_json(role, ifname, true)?;
        let n = |dir: &str, key: &str| link["stats64"][dir][key].as_u64().unwrap_or(0);
        Ok(LinkCounters {
            rx_bytes: n("rx", "bytes"),
            rx_packets: n("rx", "packets"),
            tx_bytes: n("tx", "bytes"),
            tx_packets: n("tx", "packets"),
        })
    }

    /// True when the interface has carrier (LOWER_UP).
    pub fn has_carrier(&self, role: Role, ifname: &str) -> Result<bool> {
        let link = self.link_json(role, ifname, false)?;
        let flags = link["flags"].as_array().cloned().unwrap_or_default();
        Ok(flags.iter().any(|f| f == "LOWER_UP"))
    }
}
