//! HTTP/1.1 on the wire: one request out, one response in (Content-Length, chunked, or up to
//! the close), every part bounded.

use std::io::ErrorKind;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

use super::HttpsError;

/// Longest status, header or chunk-size line accepted.
const MAX_LINE: u64 = 8 * 1024;
/// Most header lines accepted in one response.
const MAX_HEADERS: usize = 100;

/// Writes a request with `Connection: close` (one request per connection keeps the reader
/// simple and nothing here needs keep-alive). Header values are written, never logged.
pub async fn write_request<W: AsyncWrite + Unpin>(
    writer: &mut W,
    method: &str,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), HttpsError> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: arcway/{}\r\n\
         Accept: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    writer.write_all(&bytes).await.map_err(HttpsError::Send)?;
    writer.flush().await.map_err(HttpsError::Send)
}

/// A line without its CRLF; `None` at a clean end of stream before any byte.
async fn line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Option<String>, HttpsError> {
    let mut buf = Vec::new();
    let n = reader
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(receive)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if n as u64 == MAX_LINE {
            HttpsError::Malformed("a header line is too long")
        } else {
            HttpsError::Malformed("the connection closed inside the header")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| HttpsError::Malformed("a header line is not UTF-8"))
}

fn receive(e: std::io::Error) -> HttpsError {
    HttpsError::Receive(e)
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    retry_after: Option<String>,
}

async fn head<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Head, HttpsError> {
    loop {
        let status_line = line(reader).await?.ok_or(HttpsError::Malformed(
            "the connection closed before the status line",
        ))?;
        let mut words = status_line.split_whitespace();
        let version = words.next().unwrap_or("");
        let status = words
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|s| (100..600).contains(s) && version.starts_with("HTTP/1."))
            .ok_or(HttpsError::Malformed("the status line is not HTTP/1.x"))?;
        let mut head = Head {
            status,
            content_length: None,
            chunked: false,
            retry_after: None,
        };
        let mut count = 0;
        loop {
            let text = line(reader).await?.ok_or(HttpsError::Malformed(
                "the connection closed inside the header",
            ))?;
            if text.is_empty() {
                break;
            }
            count += 1;
            if count > MAX_HEADERS {
                return Err(HttpsError::Malformed("too many header lines"));
            }
            let (name, value) = text
                .split_once(':')
                .ok_or(HttpsError::Malformed("a header line has no colon"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let n = value
                    .parse()
                    .map_err(|_| HttpsError::Malformed("Content-Length is not a number"))?;
                head.content_length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("retry-after") {
                head.retry_after = Some(value.to_owned());
            }
        }
        // Interim answers (100 Continue) precede the real one.
        if !(100..200).contains(&status) {
            return Ok(head);
        }
    }
}

/// Reads exactly `n` bytes into `out`, naming a short read a truncation.
async fn exact<R: AsyncRead + Unpin>(
    reader: &mut R,
    out: &mut Vec<u8>,
    n: usize,
    expected: Option<usize>,
) -> Result<(), HttpsError> {
    let start = out.len();
    out.resize(start + n, 0);
    match reader.read_exact(&mut out[start..]).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
            out.truncate(start);
            Err(HttpsError::Truncated {
                got: start,
                expected,
            })
        }
        Err(e) => Err(receive(e)),
    }
}

async fn chunked<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Vec<u8>, HttpsError> {
    let mut body = Vec::new();
    loop {
        let size_line = line(reader).await?.ok_or(HttpsError::Truncated {
            got: body.len(),
            expected: None,
        })?;
        let hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| HttpsError::Malformed("a chunk size is not hexadecimal"))?;
        if size == 0 {
            // Trailers, then the blank line; a missing end after the last chunk is tolerated.
            while let Some(t) = line(reader).await? {
                if t.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        if body.len().saturating_add(size) > limit {
            return Err(HttpsError::TooLarge { limit });
        }
        exact(reader, &mut body, size, None).await?;
        match line(reader).await? {
            Some(t) if t.is_empty() => {}
            Some(_) => return Err(HttpsError::Malformed("a chunk is longer than its size")),
            None => {
                return Err(HttpsError::Truncated {
                    got: body.len(),
                    expected: None,
                });
            }
        }
    }
}

async fn to_end<R: AsyncRead + Unpin>(reader: &mut R, limit: usize) -> Result<Vec<u8>, HttpsError> {
    let mut body = Vec::new();
    let read = reader.take(limit as u64 + 1).read_to_end(&mut body).await;
    match read {
        Ok(_) => {}
        // A close without TLS close_notify: many servers do it; a cut JSON body is still
        // caught when it is parsed.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(receive(e)),
    }
    if body.len() > limit {
        return Err(HttpsError::TooLarge { limit });
    }
    Ok(body)
}

/// Reads one response: status and body, the body at most `limit` bytes.
pub async fn read_response<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<(u16, Vec<u8>), HttpsError> {
    read_answer(reader, limit).await.map(|a| (a.status, a.body))
}

/// One response with the headers callers act on.
pub(crate) struct Answer {
    pub status: u16,
    /// The raw `Retry-After` value (seconds or an HTTP date), for 429 and 503 answers.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

pub(crate) async fn read_answer<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Answer, HttpsError> {
    let head = head(reader).await?;
    let body = if head.status == 204 || head.status == 304 {
        Vec::new()
    } else if head.chunked {
        chunked(reader, limit).await?
    } else if let Some(n) = head.content_length {
        if n > limit {
            return Err(HttpsError::TooLarge { limit });
        }
        let mut body = Vec::with_capacity(n);
        exact(reader, &mut body, n, Some(n)).await?;
        body
    } else {
        to_end(reader, limit).await?
    };
    Ok(Answer {
        status: head.status,
        retry_after: head.retry_after,
        body,
    })
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
