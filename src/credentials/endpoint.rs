//! The Arc server endpoint, "host:port" with the port defaulting to 11010.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// Port of the Arc server when the endpoint text names none.
pub const DEFAULT_ARC_PORT: u16 = 11010;

/// A host name or address literal plus a UDP port. Names stay names: they are resolved when the
/// tunnel starts and again whenever handshakes stop, because the server name is dual-stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// Why an endpoint text was rejected; the text names the problem, never the whole input twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EndpointError(&'static str);

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EndpointError("empty, expected \"host:port\""));
        }
        // "[2001:db8::1]:11010" or "[2001:db8::1]"
        if let Some(rest) = text.strip_prefix('[') {
            let (addr, after) = rest
                .split_once(']')
                .ok_or(EndpointError("missing ']' after IPv6 address"))?;
            addr.parse::<Ipv6Addr>()
                .map_err(|_| EndpointError("not an IPv6 address inside [...]"))?;
            let port = match after {
                "" => DEFAULT_ARC_PORT,
                p => parse_port(p.strip_prefix(':').ok_or(EndpointError("junk after ']'"))?)?,
            };
            return Ok(Endpoint {
                host: addr.to_string(),
                port,
            });
        }
        // A bare IPv6 literal has several colons and no port.
        if text.matches(':').count() > 1 {
            text.parse::<Ipv6Addr>().map_err(|_| {
                EndpointError("IPv6 address with a port must be written \"[addr]:port\"")
            })?;
            return Ok(Endpoint {
                host: text.to_string(),
                port: DEFAULT_ARC_PORT,
            });
        }
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, parse_port(port)?),
            None => (text, DEFAULT_ARC_PORT),
        };
        if !valid_host(host) {
            return Err(EndpointError(
                "host is neither a DNS name nor an IP address",
            ));
        }
        Ok(Endpoint {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn parse_port(text: &str) -> Result<u16, EndpointError> {
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(EndpointError("port is not a number in 1-65535")),
        Ok(port) => Ok(port),
    }
}

fn valid_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(text: &str) -> Result<Endpoint, EndpointError> {
        text.parse()
    }

    #[test]
    fn accepts_the_usual_forms() {
        let e = ep("abc.arc.soracom.io:11010").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("abc.arc.soracom.io", 11010));
        assert_eq!(ep("abc.arc.soracom.io").unwrap().port, DEFAULT_ARC_PORT);
        assert_eq!(ep("203.0.113.10:51820").unwrap().port, 51820);
        assert_eq!(ep("[2001:db8::10]:1234").unwrap().host, "2001:db8::10");
        assert_eq!(ep("2001:db8::10").unwrap().port, DEFAULT_ARC_PORT);
        assert_eq!(
            ep("[2001:db8::10]:1234").unwrap().to_string(),
            "[2001:db8::10]:1234"
        );
    }

    #[test]
    fn rejects_broken_forms() {
        for bad in [
            "",
            "host:0",
            "host:70000",
            "host:x",
            "bad host:1",
            "[2001:db8::1",
            "a..b:1",
            ":11010",
        ] {
            assert!(ep(bad).is_err(), "{bad} accepted");
        }
    }
}
