//! One request with timeouts, bounded answers and retries with exponential backoff.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tokio::io::BufReader;

use super::{HttpsError, Url, connect, tls, wire};
use crate::probe::Binding;

/// How requests are made; the defaults suit the SORACOM API over a slow cellular line.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// TCP connect and TLS handshake, each.
    pub connect_timeout: Duration,
    /// One whole attempt: connect, send, read the answer.
    pub total_timeout: Duration,
    /// Further attempts after the first one (5xx and timeouts only).
    pub retries: u32,
    /// Wait before the first retry; doubles each time up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Largest accepted body.
    pub max_body: usize,
    /// Pin every connection to one path (device, mark, source address).
    pub binding: Option<Binding>,
    /// A PEM file with CA certificates trusted besides the system's (tests, private CAs).
    pub extra_ca: Option<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_body: 1024 * 1024,
            binding: None,
            extra_ca: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// Which failures may be retried. Requests with a cost (creating a paid SIM) must not be sent
/// twice: they are retried only when the first attempt certainly never reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// 5xx answers and timeouts.
    Idempotent,
    /// Only a connect timeout, when the request cannot have been sent.
    BeforeSendOnly,
}

/// One request. Deliberately without Debug: header values and bodies may hold secrets.
pub struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: Vec<u8>,
    pub retry: Retry,
}

/// A complete answer (any status; the caller decides what an error status means).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `Retry-After` header as sent (seconds or an HTTP date), if any.
    pub retry_after: Option<String>,
}

/// An HTTPS client with its TLS trust anchors loaded once.
#[derive(Clone)]
pub struct Client {
    tls: Arc<ClientConfig>,
    opts: ClientOptions,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("opts", &self.opts).finish()
    }
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, HttpsError> {
        let tls = tls::client_config(opts.extra_ca.as_deref())?;
        Ok(Client { tls, opts })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// Sends `req`, retrying as its [`Retry`] allows. A 5xx answer that survives every retry
    /// is returned as a response, so the caller can show the server's own error.
    pub async fn send(&self, req: &Request<'_>) -> Result<Response, HttpsError> {
        let mut attempt = 0;
        let mut wait = self.opts.backoff;
        loop {
            let result = self.attempt(req).await;
            let retryable = match (&result, req.retry) {
                (Ok(r), Retry::Idempotent) => r.status >= 500,
                (Err(e), Retry::Idempotent) => e.is_timeout(),
                (Ok(_), Retry::BeforeSendOnly) => false,
                (Err(e), Retry::BeforeSendOnly) => e.before_send(),
            };
            if !retryable || attempt >= self.opts.retries {
                return result;
            }
            attempt += 1;
            match &result {
                Ok(r) => {
                    tracing::warn!(url = %req.url, status = r.status, attempt, ?wait, "server error, retrying")
                }
                Err(e) => {
                    tracing::warn!(url = %req.url, error = %e, attempt, ?wait, "request failed, retrying")
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.opts.max_backoff);
        }
    }

    async fn attempt(&self, req: &Request<'_>) -> Result<Response, HttpsError> {
        let after = self.opts.total_timeout;
        match tokio::time::timeout(after, self.exchange(req)).await {
            Ok(result) => result,
            Err(_) => Err(HttpsError::Timeout {
                host: req.url.host.clone(),
                after,
            }),
        }
    }

    async fn exchange(&self, req: &Request<'_>) -> Result<Response, HttpsError> {
        let url = &req.url;
        let mut stream = connect::connect(
            self.tls.clone(),
            url,
            self.opts.binding.as_ref(),
            self.opts.connect_timeout,
        )
        .await?;
        wire::write_request(
            &mut stream,
            req.method.as_str(),
            &url.authority(),
            &url.path,
            &req.headers,
            &req.body,
        )
        .await?;
        let mut reader = BufReader::new(stream);
        let wire::Answer {
            status,
            retry_after,
            body,
        } = wire::read_answer(&mut reader, self.opts.max_body).await?;
        tracing::debug!(method = req.method.as_str(), %url, status, bytes = body.len(), "answer");
        Ok(Response {
            status,
            body,
            retry_after,
        })
    }
}
