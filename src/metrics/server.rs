//! A tiny HTTP/1.1 server for `GET /metrics`: one request per connection, then close.
//! Nothing else is served; a scrape never waits on the daemon (it reads watch channels).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::MetricsError;
use super::render::{MetricsInput, render};
use super::switches::SwitchCounter;
use crate::accounting::AccountingStatus;
use crate::status::Subscriber;

const MAX_REQUEST: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 16;
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the page is rendered from.
#[derive(Clone)]
struct Sources {
    snapshots: Subscriber,
    accounting: Option<watch::Receiver<AccountingStatus>>,
    switches: Arc<Mutex<SwitchCounter>>,
}

impl Sources {
    fn page(&self) -> String {
        let snapshot = self.snapshots.borrow().clone();
        let total = lock(&self.switches).observe(&snapshot);
        let accounting = self.accounting.as_ref().map(|a| a.borrow().clone());
        render(&MetricsInput {
            snapshot: &snapshot,
            accounting: accounting.as_ref(),
            switches_total: total,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds `listen` and serves until the handle is aborted. Switches are counted from every
/// snapshot published, scraped or not.
pub async fn spawn(
    listen: SocketAddr,
    snapshots: Subscriber,
    accounting: Option<watch::Receiver<AccountingStatus>>,
) -> Result<(SocketAddr, JoinHandle<()>), MetricsError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| MetricsError::Bind { listen, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { listen, source })?;
    info!(%local, "serving metrics");
    let sources = Sources {
        snapshots,
        accounting,
        switches: Arc::new(Mutex::new(SwitchCounter::default())),
    };
    Ok((local, tokio::spawn(serve(listener, sources))))
}

async fn serve(listener: TcpListener, sources: Sources) {
    let mut watcher = sources.snapshots.clone();
    let switches = sources.switches.clone();
    let _counting = tokio::spawn(async move {
        while watcher.changed().await.is_ok() {
            let snapshot = watcher.borrow_and_update().clone();
            lock(&switches).observe(&snapshot);
        }
    });
    let _stop_counting = AbortOnDrop(_counting);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                debug!(error = %e, "failed to accept a metrics connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue; // too many scrapers at once: drop the connection
        };
        let sources = sources.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &sources).await {
                debug!(%peer, error = %e, "metrics request failed");
            }
            drop(permit);
        });
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn answer(mut stream: TcpStream, sources: &Sources) -> io::Result<()> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let (status, body) = match parse_request_line(&head) {
        Some(("GET", "/metrics")) => ("200 OK", sources.page()),
        Some(("GET", _)) => ("404 Not Found", "not found; try /metrics\n".to_owned()),
        Some(_) => ("405 Method Not Allowed", "only GET\n".to_owned()),
        None => ("400 Bad Request", "bad request\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

async fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= MAX_REQUEST {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `(method, path)` of an HTTP/1.x request line; the query string is ignored.
pub fn parse_request_line(head: &str) -> Option<(&str, &str)> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    Some((method, path))
}
