//! Asking a running daemon over its status socket, and the `arcway status`/`events`/`reload`
//! commands.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::protocol::{CONNECTION_TIMEOUT, MAX_REPLY, RELOAD_TIMEOUT, ReloadedReply, Request};
use super::render::{render_events, render_status};
use super::{EventLog, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("arcway is not running (no socket at {})", .path.display())]
    NoSocket { path: PathBuf },
    #[error("arcway is not running (nothing listens on {})", .path.display())]
    NotListening { path: PathBuf },
    #[error("permission denied on {} (run as root or as a member of the socket's group)", .path.display())]
    PermissionDenied { path: PathBuf },
    #[error("arcway did not answer on {} within {}s", .path.display(), .after.as_secs())]
    Timeout { path: PathBuf, after: Duration },
    #[error("failed to talk to arcway on {}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("failed to read arcway's reply: longer than {MAX_REPLY} bytes")]
    TooLong,
    #[error("failed to read arcway's reply")]
    Decode(#[source] serde_json::Error),
    #[error("arcway refused the request: {0}")]
    Refused(String),
}

/// Sends `request` and returns the reply as JSON, or the daemon's refusal as an error.
pub async fn fetch(socket: &Path, request: Request) -> Result<serde_json::Value, ClientError> {
    let limit = match request {
        // The daemon answers once the reload is done; the server gives up before this.
        Request::Reload => RELOAD_TIMEOUT + CONNECTION_TIMEOUT,
        Request::Status | Request::Events => CONNECTION_TIMEOUT,
    };
    let exchange = exchange(socket, request);
    let raw = tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| ClientError::Timeout {
            path: socket.to_path_buf(),
            after: limit,
        })??;
    let value: serde_json::Value = serde_json::from_slice(&raw).map_err(ClientError::Decode)?;
    if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
        return Err(ClientError::Refused(error.to_owned()));
    }
    Ok(value)
}

/// The daemon's current snapshot.
pub async fn fetch_status(socket: &Path) -> Result<Snapshot, ClientError> {
    typed(fetch(socket, Request::Status).await?)
}

/// The daemon's event log.
pub async fn fetch_events(socket: &Path) -> Result<EventLog, ClientError> {
    typed(fetch(socket, Request::Events).await?)
}

/// `arcway status [--json]`: the text to print, ending with a newline.
pub async fn status_command(socket: &Path, json: bool) -> anyhow::Result<String> {
    let value = fetch(socket, Request::Status).await?;
    if json {
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    Ok(render_status(&typed(value)?))
}

/// `arcway events [--json]`: the text to print, ending with a newline.
pub async fn events_command(socket: &Path, json: bool) -> anyhow::Result<String> {
    let value = fetch(socket, Request::Events).await?;
    if json {
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    Ok(render_events(&typed(value)?))
}

/// `arcway reload`: asks the daemon to reload its configuration and waits until it has. The
/// text to print when the new configuration is in force; [`ClientError::Refused`] with the
/// reasons when the daemon kept the old one.
pub async fn reload_command(socket: &Path) -> Result<String, ClientError> {
    let reply: ReloadedReply = typed(fetch(socket, Request::Reload).await?)?;
    Ok(format!("reloaded {}\n", reply.reloaded))
}

fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(ClientError::Decode)
}

async fn exchange(socket: &Path, request: Request) -> Result<Vec<u8>, ClientError> {
    let io_error = |source: io::Error| ClientError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket)
        .await
        .map_err(|e| connect_error(socket, e))?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .await
        .map_err(io_error)?;
    let mut reply = Vec::new();
    let limit = u64::try_from(MAX_REPLY + 1).unwrap_or(u64::MAX);
    (&mut stream)
        .take(limit)
        .read_to_end(&mut reply)
        .await
        .map_err(io_error)?;
    if reply.len() > MAX_REPLY {
        return Err(ClientError::TooLong);
    }
    Ok(reply)
}

fn connect_error(socket: &Path, source: io::Error) -> ClientError {
    let path = socket.to_path_buf();
    match source.kind() {
        io::ErrorKind::NotFound => ClientError::NoSocket { path },
        io::ErrorKind::ConnectionRefused => ClientError::NotListening { path },
        io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { path },
        _ => ClientError::Io { path, source },
    }
}
