use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Errors of the HTTPS client. None of them carries a header value or a request body.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("failed to parse URL `{url}`: {problem}")]
    Url { url: String, problem: &'static str },
    #[error("failed to read CA file {path}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to use CA file {path}: {problem}")]
    CaInvalid { path: PathBuf, problem: String },
    #[error(
        "failed to find any trusted root certificate (install the CA bundle or pass --ca-file)"
    )]
    NoRoots,
    #[error("failed to set up TLS")]
    TlsSetup(#[source] rustls::Error),
    #[error("failed to resolve {host}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to resolve {host} to an address usable from the bound path")]
    NoAddress { host: String },
    #[error("failed to create a socket")]
    Socket(#[source] io::Error),
    #[error("failed to bind the socket to interface {interface}")]
    BindDevice {
        interface: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to set mark {mark:#x} on the socket")]
    Mark {
        mark: u32,
        #[source]
        source: io::Error,
    },
    #[error("failed to bind the socket to source address {addr}")]
    BindSource {
        addr: IpAddr,
        #[source]
        source: io::Error,
    },
    #[error("failed to connect to {addr}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("failed to connect to {addr} within {after:?}")]
    ConnectTimeout { addr: SocketAddr, after: Duration },
    #[error("failed to establish TLS with {host}")]
    Handshake {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to get a complete answer from {host} within {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("failed to exchange HTTP with {host}")]
    Http {
        host: String,
        #[source]
        source: hyper::Error,
    },
    #[error("failed to read the answer: the body ended after {got} bytes{}", expected_text(*.expected))]
    Truncated {
        got: usize,
        expected: Option<u64>,
        #[source]
        source: hyper::Error,
    },
    #[error("failed to read the answer: the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("failed to send header {name}: its value holds a line break or a control character")]
    Header { name: String },
    #[error("failed to read the resolvers from {path}")]
    ResolvConf {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "failed to find a DNS resolver to ask over {interface}: the resolv.conf files name only \
         local resolvers, or none of the path's address family"
    )]
    NoResolver { interface: String },
    #[error("failed to ask the DNS resolver {server}")]
    DnsExchange {
        server: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("failed to get an answer from the DNS resolver {server} within {after:?}")]
    DnsTimeout { server: SocketAddr, after: Duration },
    #[error("failed to resolve {host}: {problem}")]
    DnsAnswer { host: String, problem: String },
}

fn expected_text(expected: Option<u64>) -> String {
    expected.map_or_else(String::new, |n| format!(" of {n}"))
}

impl HttpsError {
    /// Whether another attempt may help: timeouts only (5xx answers are judged by status).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            HttpsError::ConnectTimeout { .. }
                | HttpsError::Timeout { .. }
                | HttpsError::DnsTimeout { .. }
        )
    }

    /// Whether the request certainly never reached the server and the failure may pass.
    pub fn before_send(&self) -> bool {
        matches!(
            self,
            HttpsError::ConnectTimeout { .. } | HttpsError::DnsTimeout { .. }
        )
    }
}
