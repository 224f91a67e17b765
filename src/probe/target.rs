//! What a probe aims at, in the shape the configuration writes it:
//! `{icmp: 203.0.113.100}`, `{tcp: "203.0.113.100:443"}`, `{http: "http://203.0.113.100/"}`,
//! `{dns: {server: 203.0.113.53, name: example.com}}`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One probe target. Addresses are literal on purpose: resolving a name would itself need a
/// working path, and the system resolver is not bound to the path being probed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Icmp(IpAddr),
    Tcp(SocketAddr),
    Http(HttpTarget),
    Dns(DnsTarget),
}

impl Target {
    /// The address the probe's packets go to.
    pub fn peer(&self) -> SocketAddr {
        match self {
            Target::Icmp(ip) => SocketAddr::new(*ip, 0),
            Target::Tcp(addr) => *addr,
            Target::Http(http) => http.addr,
            Target::Dns(dns) => dns.server_addr(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Icmp(ip) => write!(f, "icmp {ip}"),
            Target::Tcp(addr) => write!(f, "tcp {addr}"),
            Target::Http(http) => write!(f, "http {http}"),
            Target::Dns(dns) => write!(f, "dns {} @{}", dns.name, dns.server_addr()),
        }
    }
}

/// `http://ADDR[:PORT][/PATH]` with a literal address (IPv6 in brackets). Only plain HTTP: the
/// probe checks that the path carries a request and a status line, not a certificate chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpTarget {
    pub addr: SocketAddr,
    /// The authority as written in the URL, sent as the Host header.
    pub host: String,
    /// Path and query, always starting with `/`.
    pub path: String,
}

/// Why an HTTP probe URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("failed to parse probe URL `{0}`: only http:// is supported")]
    Scheme(String),
    #[error("failed to parse probe URL `{0}`: the host must be a literal IPv4 or [IPv6] address")]
    Host(String),
    #[error("failed to parse probe URL `{0}`: bad port")]
    Port(String),
}

impl FromStr for HttpTarget {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| UrlError::Scheme(url.to_owned()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (ip, after) = v6
                .split_once(']')
                .ok_or_else(|| UrlError::Host(url.to_owned()))?;
            (ip, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let ip: IpAddr = host.parse().map_err(|_| UrlError::Host(url.to_owned()))?;
        let port = match port {
            Some(p) => p.parse().map_err(|_| UrlError::Port(url.to_owned()))?,
            None => 80,
        };
        Ok(HttpTarget {
            addr: SocketAddr::new(ip, port),
            host: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}

impl TryFrom<String> for HttpTarget {
    type Error = UrlError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HttpTarget> for String {
    fn from(t: HttpTarget) -> String {
        t.to_string()
    }
}

impl fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host, self.path)
    }
}

/// A resolver to ask for the A record of `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsTarget {
    pub server: IpAddr,
    #[serde(default = "default_dns_port")]
    pub port: u16,
    pub name: String,
}

fn default_dns_port() -> u16 {
    53
}

impl DnsTarget {
    pub fn server_addr(&self) -> SocketAddr {
        SocketAddr::new(self.server, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_parse() {
        let t: HttpTarget = "http://203.0.113.100/".parse().unwrap();
        assert_eq!(t.addr, "203.0.113.100:80".parse().unwrap());
        assert_eq!((t.host.as_str(), t.path.as_str()), ("203.0.113.100", "/"));
        let t: HttpTarget = "http://[2001:db8::1]:8080/gen_204?x=1".parse().unwrap();
        assert_eq!(t.addr, "[2001:db8::1]:8080".parse().unwrap());
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("[2001:db8::1]:8080", "/gen_204?x=1")
        );
        let t: HttpTarget = "http://192.0.2.1:81".parse().unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (81, "/"));
        assert_eq!(t.to_string(), "http://192.0.2.1:81/");
    }

    #[test]
    fn http_urls_refused() {
        assert!(matches!(
            "https://192.0.2.1/".parse::<HttpTarget>(),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            "http://example.com/".parse::<HttpTarget>(),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            "http://192.0.2.1:x/".parse::<HttpTarget>(),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            "http://[2001:db8::1/".parse::<HttpTarget>(),
            Err(UrlError::Host(_))
        ));
    }

    #[test]
    fn targets_deserialize_from_config_shapes() {
        let json = r#"[{"icmp":"100.127.100.127"},{"tcp":"203.0.113.100:443"},
            {"http":"http://203.0.113.100/"},{"dns":{"server":"203.0.113.53","name":"example.com"}}]"#;
        let targets: Vec<Target> = serde_json::from_str(json).unwrap();
        assert_eq!(targets[0], Target::Icmp("100.127.100.127".parse().unwrap()));
        assert_eq!(targets[1].peer(), "203.0.113.100:443".parse().unwrap());
        assert_eq!(targets[2].peer(), "203.0.113.100:80".parse().unwrap());
        assert_eq!(targets[3].peer(), "203.0.113.53:53".parse().unwrap());
        assert_eq!(targets[3].to_string(), "dns example.com @203.0.113.53:53");
        let back = serde_json::to_string(&targets[2]).unwrap();
        assert_eq!(back, r#"{"http":"http://203.0.113.100/"}"#);
        assert!(serde_json::from_str::<Target>(r#"{"http":"ftp://x/"}"#).is_err());
    }
}
