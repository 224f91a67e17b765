//! The HTTPS client for the few JSON calls bootstrap makes (SORACOM API, Krypton): hyper's
//! HTTP/1.1 client over a connection made here.
//!
//! Every request may have to leave on one path: the socket is bound to a device, a source
//! address and a fwmark before it connects (see [`crate::probe::Binding`]), and so is the DNS
//! lookup of the server's name ([`resolve`]). TLS is rustls with the ring provider; the trust
//! anchors are the system's roots plus, for tests, one extra CA file. Every attempt has a
//! connect timeout and a total timeout; 5xx answers and timeouts are retried with exponential
//! backoff, 4xx never. Bodies are bounded, so a hostile or broken server cannot exhaust
//! memory, and a body cut short (TLS closed without close_notify included) is an error.
//!
//! Header values may hold secrets (API tokens): requests have no Debug, nothing here logs
//! headers or bodies, and a value with a line break or control character is refused.

mod client;
mod connect;
mod error;
pub mod resolve;
mod tls;
mod url;

pub use client::{Client, ClientOptions, Method, Request, Response, Retry};
pub use error::HttpsError;
pub use url::Url;
