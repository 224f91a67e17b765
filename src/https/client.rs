//! One request with timeouts, bounded answers and retries with exponential backoff.
//! HTTP/1.1 itself is hyper's, over a connection made here (so it can be pinned to a path).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;

use super::connect::{self, Lookup};
use super::{HttpsError, Url, tls};
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
    /// Pin every connection, and the DNS lookup before it, to one path (device, mark,
    /// source address).
    pub binding: Option<Binding>,
    /// Resolvers asked over the bound path; empty: the name servers of the `resolv_conf`
    /// files that exist. Unbound clients use the system's lookup.
    pub nameservers: Vec<IpAddr>,
    pub resolv_conf: Vec<PathBuf>,
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
            nameservers: Vec::new(),
            // OpenWrt's /etc/resolv.conf names only its local dnsmasq; netifd lists each
            // interface's upstream resolvers (the modem's among them) in the second file.
            resolv_conf: vec![
                PathBuf::from("/etc/resolv.conf"),
                PathBuf::from("/tmp/resolv.conf.d/resolv.conf.auto"),
            ],
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
        let request = build_request(req)?;
        let lookup = Lookup {
            binding: self.opts.binding.as_ref(),
            nameservers: &self.opts.nameservers,
            resolv_conf: &self.opts.resolv_conf,
        };
        let stream =
            connect::connect(self.tls.clone(), url, lookup, self.opts.connect_timeout).await?;
        let http = |source| HttpsError::Http {
            host: url.host.clone(),
            source,
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        // The connection is driven beside the request and ends with it (Connection: close).
        let driver = tokio::spawn(connection);
        let _stop = AbortOnDrop(driver.abort_handle());
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status().as_u16();
        let limit = self.opts.max_body;
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(HttpsError::TooLarge { limit });
        }
        // A body that ends early (before its length, its last chunk, or, for a body that
        // ends with the connection, before TLS close_notify) is an error, never a shorter
        // answer.
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|source| HttpsError::Truncated {
                got: body.len(),
                expected: declared,
                source,
            })?;
            if let Ok(data) = frame.into_data() {
                if body.len() + data.len() > limit {
                    return Err(HttpsError::TooLarge { limit });
                }
                body.extend_from_slice(&data);
            }
        }
        tracing::debug!(method = req.method.as_str(), %url, status, bytes = body.len(), "answer");
        Ok(Response {
            status,
            body,
            retry_after,
        })
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A header value, refused when it holds CR, LF or another control character: a value is
/// never allowed to end its header line and start another one. Neither the value nor the
/// header's content is ever part of the error.
fn header_value(name: &str, value: &str) -> Result<HeaderValue, HttpsError> {
    let refused = || HttpsError::Header {
        name: name.to_owned(),
    };
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(refused());
    }
    let mut value = HeaderValue::from_str(value).map_err(|_| refused())?;
    if name.eq_ignore_ascii_case("x-soracom-token")
        || name.eq_ignore_ascii_case("x-soracom-api-key")
    {
        value.set_sensitive(true);
    }
    Ok(value)
}

/// The HTTP request for `req`: origin-form target, Host, a fixed User-Agent and Accept,
/// `Connection: close` (one request per connection), and the caller's headers.
fn build_request(req: &Request<'_>) -> Result<hyper::Request<Full<Bytes>>, HttpsError> {
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(req.url.path.as_str());
    let headers = builder.headers_mut().ok_or(HttpsError::Url {
        url: req.url.to_string(),
        problem: "the path is not a valid request target",
    })?;
    headers.insert(header::HOST, header_value("Host", &req.url.authority())?);
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("arcway/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    for (name, value) in &req.headers {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| HttpsError::Header {
                name: (*name).to_owned(),
            })?;
        headers.append(header_name, header_value(name, value)?);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(&req.body)))
        .map_err(|_| HttpsError::Url {
            url: req.url.to_string(),
            problem: "the path is not a valid request target",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: Vec<(&'static str, &'static str)>) -> Request<'static> {
        Request {
            method: Method::Post,
            url: Url::parse("https://h:8036/v1/x?y=1").unwrap(),
            headers,
            body: b"{}".to_vec(),
            retry: Retry::Idempotent,
        }
    }

    #[test]
    fn requests_carry_host_close_and_the_callers_headers() {
        let r = build_request(&request(vec![("X-A", "b")])).unwrap();
        assert_eq!(r.uri(), "/v1/x?y=1");
        assert_eq!(r.headers()["host"], "h:8036");
        assert_eq!(r.headers()["connection"], "close");
        assert_eq!(r.headers()["x-a"], "b");
    }

    #[test]
    fn header_values_with_line_breaks_or_controls_are_refused_without_the_value() {
        for bad in [
            "tok\r\nX-Evil: 1",
            "tok\nen",
            "tok\ren",
            "a\u{0}b",
            "a\u{7f}b",
        ] {
            let e = build_request(&request(vec![("X-Soracom-Token", bad)])).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("X-Soracom-Token"), "{text}");
            assert!(!text.contains("tok") && !text.contains("Evil"), "{text}");
        }
        assert!(build_request(&request(vec![("Bad Name", "v")])).is_err());
        assert!(build_request(&request(vec![("X-A", "tab\tis fine")])).is_ok());
    }
}
