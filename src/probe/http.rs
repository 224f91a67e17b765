//! A minimal HTTP/1.1 GET over the path-bound TCP socket: enough to see a status line.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Binding, HttpTarget, ProbeCounters, ProbeError, tcp};

/// The most of a response a probe reads: a status line and some headers, never a download.
const MAX_RESPONSE: usize = 16 * 1024;

/// The request bytes. `Connection: close` lets the server end the exchange so the probe does
/// not hold a connection (and a cellular radio) open.
pub fn build_request(target: &HttpTarget) -> Vec<u8> {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: arcway-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path, target.host
    )
    .into_bytes()
}

/// The status code from the start of a response, `None` until a full line has arrived,
/// `Err` when the line is not an HTTP/1.x status line.
pub fn parse_status_line(head: &[u8]) -> Result<Option<u16>, ProbeError> {
    let Some(end) = head.windows(2).position(|w| w == b"\r\n") else {
        return if head.len() >= 1024 {
            Err(ProbeError::HttpMalformed)
        } else {
            Ok(None)
        };
    };
    let line = std::str::from_utf8(&head[..end]).map_err(|_| ProbeError::HttpMalformed)?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(ProbeError::HttpMalformed);
    }
    code.parse()
        .map(Some)
        .map_err(|_| ProbeError::HttpMalformed)
}

/// GET the target; success is a 2xx status before `deadline`. Returns when the status line
/// arrived. The rest of the response is then drained until the server closes, the size cap
/// or the deadline, so its bytes are counted and the server closes first; a slow drain does
/// not turn a good status into a failure.
pub(crate) async fn probe(
    binding: &Binding,
    target: &HttpTarget,
    counters: &ProbeCounters,
    deadline: tokio::time::Instant,
) -> Result<Instant, ProbeError> {
    let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    match tokio::time::timeout_at(deadline, exchange(binding, target, counters, deadline)).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout(timeout)),
    }
}

async fn exchange(
    binding: &Binding,
    target: &HttpTarget,
    counters: &ProbeCounters,
    deadline: tokio::time::Instant,
) -> Result<Instant, ProbeError> {
    let mut stream = tcp::connect(binding, target.addr, counters).await?;
    let request = build_request(target);
    stream.write_all(&request).await.map_err(ProbeError::Send)?;
    counters.sent(tcp::data_cost(request.len()));
    let mut response = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let result = loop {
        let n = stream.read(&mut buf).await.map_err(ProbeError::Receive)?;
        if n == 0 {
            break Err(ProbeError::HttpClosed);
        }
        response.extend_from_slice(&buf[..n]);
        match parse_status_line(&response) {
            Ok(None) => continue,
            Ok(Some(code)) if (200..300).contains(&code) => break Ok(Instant::now()),
            Ok(Some(code)) => break Err(ProbeError::HttpStatus(code)),
            Err(e) => break Err(e),
        }
    };
    let mut total = response.len();
    let mut closed = false;
    while result.is_ok() && total < MAX_RESPONSE {
        // Shortly before the outer deadline, so the good status is still returned.
        let soon = deadline - std::time::Duration::from_millis(1);
        match tokio::time::timeout_at(soon, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => total += n,
            Err(_) => break,
        }
    }
    counters.received(tcp::data_cost(total));
    counters.sent(tcp::ack_cost(total));
    if closed || result.is_err() {
        tcp::count_close(counters);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_http11_get_with_host() {
        let t: HttpTarget = "http://[2001:db8::1]:8080/gen_204".parse().unwrap();
        let req = String::from_utf8(build_request(&t)).unwrap();
        assert!(req.starts_with("GET /gen_204 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n"));
        assert!(req.contains("Connection: close\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status_line(b"HTTP/1.1 200 OK\r\n").unwrap(),
            Some(200)
        );
        assert_eq!(
            parse_status_line(b"HTTP/1.0 204\r\nX: y").unwrap(),
            Some(204)
        );
        assert_eq!(
            parse_status_line(b"HTTP/1.1 302 Found\r\n").unwrap(),
            Some(302)
        );
        assert_eq!(parse_status_line(b"HTTP/1.1 200 O").unwrap(), None);
        assert!(parse_status_line(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_status_line(b"HTTP/1.1 2000 OK\r\n").is_err());
        assert!(parse_status_line(b"HTTP/1.1 abc OK\r\n").is_err());
        assert!(parse_status_line(&[b'x'; 2000]).is_err());
    }
}
