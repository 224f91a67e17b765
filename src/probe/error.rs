use std::io;
use std::time::Duration;

/// Why one probe failed. Rendered into [`super::TargetResult::error`] for the event log.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("failed to create the probe socket")]
    Socket(#[source] io::Error),
    #[error("failed to bind the probe socket to interface {interface}")]
    BindDevice {
        interface: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to set mark {mark:#x} on the probe socket")]
    Mark {
        mark: u32,
        #[source]
        source: io::Error,
    },
    #[error("failed to bind the probe socket to source address {addr}")]
    BindSource {
        addr: std::net::IpAddr,
        #[source]
        source: io::Error,
    },
    #[error("failed to connect to the target")]
    Connect(#[source] io::Error),
    #[error("failed to send the probe")]
    Send(#[source] io::Error),
    #[error("failed to receive the reply")]
    Receive(#[source] io::Error),
    #[error("failed to get a reply within {0:?}")]
    Timeout(Duration),
    #[error("failed to get an HTTP response: the connection closed before the status line")]
    HttpClosed,
    #[error("failed to parse the HTTP status line")]
    HttpMalformed,
    #[error("failed the HTTP check: status {0}")]
    HttpStatus(u16),
    #[error("failed to encode DNS name `{0}`")]
    DnsName(String),
    #[error("failed to parse the DNS response")]
    DnsMalformed,
    #[error("failed the DNS check: rcode {0}")]
    DnsRcode(u8),
}

impl ProbeError {
    /// The error and its causes on one line, as the event log and status output show them.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }
}
