//! A small HTTPS/1.1 client for the few JSON calls bootstrap makes (SORACOM API, Krypton).
//!
//! It exists instead of a general HTTP crate because every request may have to leave on one
//! path: the socket can be bound to a device, a source address and a fwmark before it
//! connects (see [`crate::probe::Binding`]). TLS is rustls with the ring provider; the trust
//! anchors are the system's roots plus, for tests, one extra CA file. Every attempt has a
//! connect timeout and a total timeout; 5xx answers and timeouts are retried with exponential
//! backoff, 4xx never. Bodies are bounded, so a hostile or broken server cannot exhaust memory.
//!
//! Header values may hold secrets (API tokens): requests have no Debug and nothing here logs
//! headers or bodies.

mod client;
mod connect;
mod error;
mod tls;
mod url;
mod wire;

pub use client::{Client, ClientOptions, Method, Request, Response, Retry};
pub use error::HttpsError;
pub use url::Url;
pub use wire::{read_response, write_request};
