//! Endpoint resolution (A and AAAA, off the owner's loop), address-family choice, and the
//! "no handshake for too long" watch that triggers re-resolution on the other family.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use crate::credentials::Endpoint;
use crate::model::Family;

/// IPv6 when the Wi-Fi path has a global IPv6 default route, else IPv4.
pub fn preferred_family(wifi_has_ipv6: bool) -> Family {
    if wifi_has_ipv6 {
        Family::V6
    } else {
        Family::V4
    }
}

/// How names become addresses. `Static` is a hosts-file-like table, for namespaced tests and
/// for sites that pin the Arc server's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resolver {
    /// getaddrinfo on tokio's blocking pool (honours /etc/hosts, nsswitch, the system resolver).
    #[default]
    System,
    Static(BTreeMap<String, Vec<IpAddr>>),
}

impl Resolver {
    /// A `Static` table from hosts-file text ("address name [alias...]", `#` comments).
    pub fn from_hosts(text: &str) -> Resolver {
        let mut table: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        for line in text.lines() {
            let mut words = line
                .split('#')
                .next()
                .unwrap_or_default()
                .split_whitespace();
            let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for name in words {
                let addrs = table.entry(name.to_ascii_lowercase()).or_default();
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
        }
        Resolver::Static(table)
    }

    /// [`Resolver::from_hosts`] on a file (e.g. /etc/netns/NS/hosts in tests).
    pub fn from_hosts_file(path: impl AsRef<std::path::Path>) -> std::io::Result<Resolver> {
        Ok(Resolver::from_hosts(&std::fs::read_to_string(path)?))
    }

    pub async fn resolve(&self, endpoint: &Endpoint) -> std::io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = endpoint.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
        }
        let addrs: Vec<SocketAddr> = match self {
            Resolver::System => tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
                .await?
                .collect(),
            Resolver::Static(table) => table
                .get(&endpoint.host)
                .into_iter()
                .flatten()
                .map(|ip| SocketAddr::new(*ip, endpoint.port))
                .collect(),
        };
        if addrs.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "name has no addresses",
            ));
        }
        Ok(addrs)
    }
}

/// The first address of the wanted family, else the first address at all.
pub fn choose(addrs: &[SocketAddr], want: Family) -> Option<SocketAddr> {
    addrs
        .iter()
        .find(|a| Family::of(a.ip()) == want)
        .or_else(|| addrs.first())
        .copied()
}

/// WireGuard starts a new handshake when it sends on a session older than this (keepalives
/// count), so a working tunnel with keepalive never shows an older handshake for long.
const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);

/// Decides when handshakes have stopped: no handshake within `timeout` of the endpoint being
/// set, or a session that was due for a rekey `timeout` ago and still has none.
#[derive(Debug, Clone)]
pub struct HandshakeWatch {
    timeout: Duration,
    waiting_since: Instant,
}

impl HandshakeWatch {
    pub fn new(timeout: Duration, now: Instant) -> Self {
        HandshakeWatch {
            timeout,
            waiting_since: now,
        }
    }

    /// A new endpoint or a fresh device: give it a full `timeout`.
    pub fn restart(&mut self, now: Instant) {
        self.waiting_since = now;
    }

    /// Feeds one reading; true means "re-resolve and try the other family now".
    pub fn observe(
        &mut self,
        now: Instant,
        last_handshake: Option<SystemTime>,
        wall: SystemTime,
    ) -> bool {
        let fresh = last_handshake
            .and_then(|t| wall.duration_since(t).ok().or(Some(Duration::ZERO)))
            .is_some_and(|age| age < REKEY_AFTER_TIME + self.timeout);
        if fresh {
            self.waiting_since = now;
            return false;
        }
        if now.saturating_duration_since(self.waiting_since) >= self.timeout {
            self.waiting_since = now;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn choose_prefers_the_family_and_falls_back() {
        let both = [sa("192.0.2.1:11010"), sa("[2001:db8::1]:11010")];
        assert_eq!(choose(&both, Family::V6), Some(both[1]));
        assert_eq!(choose(&both, Family::V4), Some(both[0]));
        assert_eq!(choose(&both[..1], Family::V6), Some(both[0]));
        assert_eq!(choose(&[], Family::V6), None);
    }

    #[test]
    fn watch_fires_once_per_timeout_without_handshakes() {
        let t0 = Instant::now();
        let wall = SystemTime::now();
        let mut w = HandshakeWatch::new(Duration::from_secs(20), t0);
        let fired: Vec<u64> = (0..=60)
            .filter(|s| w.observe(t0 + Duration::from_secs(*s), None, wall))
            .collect();
        assert_eq!(fired, [20, 40, 60]);
    }

    #[test]
    fn watch_is_quiet_while_handshakes_are_fresh_and_fires_after_they_stop() {
        let t0 = Instant::now();
        let wall0 = SystemTime::now();
        let mut w = HandshakeWatch::new(Duration::from_secs(20), t0);
        for s in 0..139 {
            let at = Duration::from_secs(s);
            assert!(!w.observe(t0 + at, Some(wall0), wall0 + at), "fired at {s}");
        }
        let fired = (139..200u64).find(|s| {
            let at = Duration::from_secs(*s);
            w.observe(t0 + at, Some(wall0), wall0 + at)
        });
        assert_eq!(fired, Some(159));
    }

    #[test]
    fn hosts_text_parses() {
        let r = Resolver::from_hosts(
            "# c\n2001:db8::10 Arc.test alias\n192.0.2.1 arc.test\nbogus line\n",
        );
        let Resolver::Static(t) = r else { panic!() };
        assert_eq!(t["arc.test"].len(), 2);
        assert_eq!(t["alias"].len(), 1);
    }

    #[tokio::test]
    async fn static_resolver_and_literals() {
        let ep = |h: &str| Endpoint {
            host: h.into(),
            port: 11010,
        };
        let r = Resolver::Static(BTreeMap::from([(
            "arc.test".into(),
            vec!["2001:db8::10".parse().unwrap()],
        )]));
        assert_eq!(
            r.resolve(&ep("arc.test")).await.unwrap(),
            [sa("[2001:db8::10]:11010")]
        );
        assert!(r.resolve(&ep("other.test")).await.is_err());
        assert_eq!(
            r.resolve(&ep("192.0.2.1")).await.unwrap(),
            [sa("192.0.2.1:11010")]
        );
    }
}
