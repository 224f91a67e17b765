//! The fakes' side of HTTP/1.1: reading one request, writing one answer (or a fault).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::routes::{Incoming, handle};
use super::server::lock;
use super::{FakeState, Fault, RequestLog};

/// Largest request the fakes read.
const MAX_REQUEST: usize = 64 * 1024;

pub(crate) async fn read_request<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut R,
    peer: SocketAddr,
) -> Option<Incoming> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 || buf.len() > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = reader.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Incoming {
        method,
        path,
        headers,
        body,
        peer,
        at: std::time::Instant::now(),
    })
}

fn log_entry(req: &Incoming, status: u16) -> RequestLog {
    RequestLog {
        method: req.method.clone(),
        path: req.path.clone(),
        peer: req.peer,
        status,
        body: String::from_utf8_lossy(&req.body).into_owned(),
        lang: req.headers.get("x-soracom-lang").cloned(),
        at: req.at,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

pub(crate) async fn respond<W: AsyncWrite + Unpin>(
    w: &mut W,
    req: Incoming,
    state: &Mutex<FakeState>,
    verbose: bool,
) {
    let fault = lock(state).take_fault(&req.method, &req.path);
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    if let Some(Fault::Hang) = &fault {
        // Logged with status 0: the request arrived and was never answered.
        lock(state).log.push(log_entry(&req, 0));
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let (status, body) = match &fault {
        Some(Fault::TooManyRequests { .. }) => (
            429,
            serde_json::json!({"code": "COM0009", "message": "Too Many Requests"}),
        ),
        Some(Fault::Status {
            status,
            code,
            message,
        }) => (
            *status,
            serde_json::json!({"code": code, "message": message}),
        ),
        _ => handle(&mut lock(state), &req),
    };
    let text = body.to_string().into_bytes();
    lock(state).log.push(log_entry(&req, status));
    if verbose {
        println!("{} {} from {} -> {status}", req.method, req.path, req.peer);
    }
    let head = |status: u16, extra: &str| {
        format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}\r\n",
            reason(status)
        )
    };
    let mut out = Vec::new();
    match fault {
        Some(Fault::MalformedJson) => {
            let bad = b"{\"apiKey\": tru, <html>";
            out.extend(head(200, &format!("Content-Length: {}\r\n", bad.len())).into_bytes());
            out.extend_from_slice(bad);
        }
        Some(Fault::TruncatedBody) => {
            out.extend(head(status, &format!("Content-Length: {}\r\n", text.len())).into_bytes());
            out.extend_from_slice(&text[..text.len() / 2]);
        }
        Some(Fault::HugeBody { bytes, chunked }) => {
            if chunked {
                out.extend(head(200, "Transfer-Encoding: chunked\r\n").into_bytes());
                let _ = w.write_all(&out).await;
                let block = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < bytes {
                    let n = block.len().min(bytes - sent);
                    let mut piece = format!("{n:x}\r\n").into_bytes();
                    piece.extend_from_slice(&block[..n]);
                    piece.extend_from_slice(b"\r\n");
                    if w.write_all(&piece).await.is_err() {
                        return;
                    }
                    sent += n;
                }
                let _ = w.write_all(b"0\r\n\r\n").await;
                return;
            }
            out.extend(head(200, &format!("Content-Length: {bytes}\r\n")).into_bytes());
            out.extend(std::iter::repeat_n(b' ', bytes));
        }
        Some(Fault::TooManyRequests { retry_after }) => {
            let mut extra = format!("Content-Length: {}\r\n", text.len());
            if let Some(after) = retry_after {
                extra.push_str(&format!("Retry-After: {after}\r\n"));
            }
            out.extend(head(status, &extra).into_bytes());
            out.extend_from_slice(&text);
        }
        _ => {
            out.extend(head(status, &format!("Content-Length: {}\r\n", text.len())).into_bytes());
            out.extend_from_slice(&text);
        }
    }
    let _ = w.write_all(&out).await;
    let _ = w.flush().await;
}
