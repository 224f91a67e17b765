//! Faults a test can make the fake services answer with.

use std::time::Duration;

/// One way to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An error status with SORACOM's JSON error body.
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// 429 Too Many Requests with this `Retry-After` header (None: no header).
    TooManyRequests { retry_after: Option<String> },
    /// Wait, then answer normally.
    Delay(Duration),
    /// Accept the request and never answer.
    Hang,
    /// 200 with a body that is not JSON.
    MalformedJson,
    /// A Content-Length larger than the bytes sent before the connection closes.
    TruncatedBody,
    /// A body of this many bytes; chunked, so the client must count, or with Content-Length.
    HugeBody { bytes: usize, chunked: bool },
}

impl Fault {
    pub fn status(status: u16, code: &str, message: &str) -> Fault {
        Fault::Status {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// A fault for requests matching a method and path prefix, `times` times (None: always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub method: Option<String>,
    pub path_prefix: String,
    pub fault: Fault,
    pub times: Option<u32>,
}

impl FaultRule {
    pub fn new(method: &str, path_prefix: &str, fault: Fault) -> FaultRule {
        FaultRule {
            method: Some(method.to_owned()),
            path_prefix: path_prefix.to_owned(),
            fault,
            times: None,
        }
    }

    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Some(n);
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && path.starts_with(&self.path_prefix)
            && self.times != Some(0)
    }
}
