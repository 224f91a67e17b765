//! The line protocol on the status socket.
//!
//! The client writes one line (`status`, `events`, optionally followed by `json`, or `reload`)
//! and the server answers with one JSON document and closes. Replies are always JSON; rendering
//! for people happens in the client, so the daemon does no formatting work. A refused request
//! is answered with `{"error": "..."}`. `reload` is answered once the daemon has reloaded its
//! configuration: `{"reloaded": "<config path>"}`, or `{"error": "..."}` with the reasons the
//! new configuration was refused.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest request line the server reads; anything longer is refused.
pub const MAX_REQUEST: usize = 256;
/// Time a connection may take, from accept to the last byte written.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest reply a client accepts.
pub const MAX_REPLY: usize = 16 << 20;
/// How long a reload may take, from the request to the answer (a changed Arc section
/// restarts the tunnel). The unit's reload timeout (TimeoutStartSec=, 90 s) is longer.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// What a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Status,
    Events,
    /// Reload the configuration file and answer with the outcome.
    Reload,
}

impl Request {
    /// Parses one request line (without its newline). `json` after the verb is accepted and
    /// changes nothing, since every reply is JSON.
    pub fn parse(line: &str) -> Result<Request, String> {
        let mut words = line.split_ascii_whitespace();
        let request = match words.next() {
            Some("status") => Request::Status,
            Some("events") => Request::Events,
            Some("reload") => Request::Reload,
            Some(other) => return Err(format!("unknown request `{}`", printable(other))),
            None => return Err("empty request".to_owned()),
        };
        match words.next() {
            None => {}
            Some("json") if request != Request::Reload => {}
            Some(other) => return Err(format!("unknown option `{}`", printable(other))),
        }
        if words.next().is_some() {
            return Err("too many words in request".to_owned());
        }
        Ok(request)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Events => "events",
            Request::Reload => "reload",
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reply to a refused request. Clients tell it apart by its top-level `error` key, so
/// snapshots must never grow a field of that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
}

/// The answer to a reload that took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadedReply {
    /// The configuration file now in force.
    pub reloaded: String,
}

/// Keeps echoed garbage short and free of control characters.
fn printable(s: &str) -> String {
    s.chars()
        .take(32)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests() {
        assert_eq!(Request::parse("status"), Ok(Request::Status));
        assert_eq!(Request::parse(" events  json "), Ok(Request::Events));
        assert_eq!(Request::parse("status json"), Ok(Request::Status));
        assert!(Request::parse("").is_err());
        assert!(Request::parse("status yaml").is_err());
        assert!(Request::parse("status json json").is_err());
        assert_eq!(Request::parse("reload"), Ok(Request::Reload));
        assert!(Request::parse("reload json").is_err());
        assert_eq!(
            Request::parse("st\u{1b}tus"),
            Err("unknown request `st?tus`".to_owned())
        );
    }
}
