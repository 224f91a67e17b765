//! The part of URLs this client needs: `https://host[:port][/path]`.

use std::fmt;

use super::HttpsError;

/// An `https` URL split into host, port and path (the path keeps its query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// A name or an address; IPv6 without brackets.
    pub host: String,
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, HttpsError> {
        let bad = |problem| HttpsError::Url {
            url: text.to_owned(),
            problem,
        };
        let rest = text
            .strip_prefix("https://")
            .ok_or_else(|| bad("only https:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("user information is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None => 443,
        };
        Ok(Url {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// The same server with another path (`path` starts with `/`).
    pub fn with_path(&self, path: &str) -> Url {
        let base = self.path.trim_end_matches('/');
        Url {
            host: self.host.clone(),
            port: self.port,
            path: format!("{base}{path}"),
        }
    }

    /// The Host header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}{}", self.authority(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_paths() {
        let u = Url::parse("https://api.soracom.io").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("api.soracom.io", 443, "/")
        );
        let u = Url::parse("https://[2001:db8::1]:8036/v1").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 8036));
        assert_eq!(u.with_path("/auth").path, "/v1/auth");
        assert_eq!(u.to_string(), "https://[2001:db8::1]:8036/v1");
        let u = Url::parse("https://127.0.0.1:9443/").unwrap();
        assert_eq!(u.with_path("/v1/sims").path, "/v1/sims");
        assert!(Url::parse("http://x").is_err());
        assert!(Url::parse("https://:80").is_err());
        assert!(Url::parse("https://h:port").is_err());
    }
}
