//! The status socket: one task owns it and answers each connection with the latest snapshot.
//!
//! The daemon publishes snapshots through a `watch` channel and never waits for the server:
//! a request only clones the `Arc` of the latest value. Each connection gets its own task with
//! deadlines and a bounded request size, and the number of open connections is capped, so a
//! stuck or hostile client cannot pile up memory or file descriptors. A reload request is
//! handed to the daemon, and the connection waits for its answer.

use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::protocol::{
    CONNECTION_TIMEOUT, ErrorReply, MAX_REQUEST, RELOAD_TIMEOUT, ReloadedReply, Request,
};
use super::{EventLog, Snapshot, Subscriber};

/// Connections served at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 32;
/// Socket permissions: root and the socket's group may ask.
const SOCKET_MODE: u32 = 0o660;
/// Input read and discarded after the reply, and how long to wait for the client to hang up.
const DRAIN_LIMIT: u64 = 1 << 20;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("failed to create the status socket directory {}", .path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("failed to take the status socket {}: another arcway is listening on it", .path.display())]
    InUse { path: PathBuf },
    #[error("failed to take the status socket {}: the path exists and is not a socket", .path.display())]
    NotASocket { path: PathBuf },
    #[error("failed to check the existing status socket {}", .path.display())]
    Probe { path: PathBuf, source: io::Error },
    #[error("failed to remove the stale status socket {}", .path.display())]
    RemoveStale { path: PathBuf, source: io::Error },
    #[error("failed to bind the status socket {}", .path.display())]
    Bind { path: PathBuf, source: io::Error },
    #[error("failed to set the mode of the status socket {}", .path.display())]
    Chmod { path: PathBuf, source: io::Error },
}

/// How the daemon answers a reload request: the configuration file now in force, or why the
/// new one was refused (the old one keeps running).
pub type ReloadAnswer = oneshot::Sender<Result<String, String>>;

/// The bound status socket; dropping it removes the socket file if it is still ours.
pub struct Server {
    listener: UnixListener,
    file: SocketFile,
    snapshots: Subscriber,
    reloads: Option<mpsc::Sender<ReloadAnswer>>,
}

impl Server {
    /// Takes the socket at `path`: creates its directory (0755), replaces a stale socket that
    /// nobody listens on, refuses a live one, binds and sets mode 0660.
    pub async fn bind(path: &Path, snapshots: Subscriber) -> Result<Server, ServerError> {
        let owned = || path.to_path_buf();
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            let err = |source| ServerError::CreateDir {
                path: dir.to_path_buf(),
                source,
            };
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(err)?;
            // The umask may have narrowed the mode; clients of any group must reach the socket.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
        }
        remove_if_stale(path).await?;
        let listener = UnixListener::bind(path).map_err(|source| ServerError::Bind {
            path: owned(),
            source,
        })?;
        // Own the file before anything else can fail, so an error below still cleans it up.
        let meta = std::fs::symlink_metadata(path).map_err(|source| ServerError::Bind {
            path: owned(),
            source,
        })?;
        let file = SocketFile {
            path: owned(),
            id: (meta.dev(), meta.ino()),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE)).map_err(
            |source| ServerError::Chmod {
                path: owned(),
                source,
            },
        )?;
        tracing::info!(socket = %path.display(), "status socket listening");
        Ok(Server {
            listener,
            file,
            snapshots,
            reloads: None,
        })
    }

    /// Passes `reload` requests to `reloads`; without it they are refused.
    pub fn accept_reloads(mut self, reloads: mpsc::Sender<ReloadAnswer>) -> Server {
        self.reloads = Some(reloads);
        self
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Serves until `shutdown` completes, then closes open connections and removes the socket.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) if connections.len() >= MAX_CONNECTIONS => {
                        tracing::warn!(limit = MAX_CONNECTIONS, "status socket busy, closing a connection");
                        drop(stream);
                    }
                    Ok((stream, _)) => {
                        let snapshot = Arc::clone(&self.snapshots.borrow());
                        connections.spawn(serve_logged(stream, snapshot, self.reloads.clone()));
                    }
                    Err(error) => {
                        // Usually EMFILE: back off instead of spinning on the same error.
                        tracing::warn!(%error, "failed to accept a status connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        connections.abort_all();
        tracing::info!(socket = %self.file.path.display(), "status socket closed");
    }
}

/// Removes `path` if it is a socket nobody accepts on; refuses a live socket or another file.
async fn remove_if_stale(path: &Path) -> Result<(), ServerError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServerError::Probe {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    let connect = tokio::time::timeout(Duration::from_secs(1), UnixStream::connect(path)).await;
    match connect {
        // Only a refused connection proves the socket is dead; anything else may be a live,
        // busy daemon, and taking its socket would make it unreachable.
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %path.display(), "removing stale status socket");
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ServerError::RemoveStale {
                    path: path.to_path_buf(),
                    source: e,
                }),
                _ => Ok(()),
            }
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(Err(source)) => Err(ServerError::Probe {
            path: path.to_path_buf(),
            source,
        }),
        Ok(Ok(_)) | Err(_) => Err(ServerError::InUse {
            path: path.to_path_buf(),
        }),
    }
}

async fn serve_logged(
    stream: UnixStream,
    snapshot: Arc<Snapshot>,
    reloads: Option<mpsc::Sender<ReloadAnswer>>,
) {
    match serve(stream, snapshot, reloads).await {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::TimedOut => {
            tracing::debug!("status connection timed out");
        }
        Err(error) => tracing::debug!(%error, "status connection failed"),
    }
}

/// Reading the request and writing the reply each have [`CONNECTION_TIMEOUT`]; a reload
/// waits up to [`RELOAD_TIMEOUT`] in between.
async fn serve(
    mut stream: UnixStream,
    snapshot: Arc<Snapshot>,
    reloads: Option<mpsc::Sender<ReloadAnswer>>,
) -> io::Result<()> {
    let (read, mut write) = stream.split();
    let mut read = BufReader::new(read);
    let mut line = Vec::with_capacity(64);
    // One byte more than allowed tells an oversized request from one that just fits.
    let limit = u64::try_from(MAX_REQUEST + 1).unwrap_or(u64::MAX);
    let mut request = (&mut read).take(limit);
    deadline(CONNECTION_TIMEOUT, request.read_until(b'\n', &mut line)).await??;
    let reply = match parse(&line) {
        Ok(Request::Status) => serde_json::to_vec(&*snapshot),
        Ok(Request::Events) => serde_json::to_vec(&EventLog::from(&*snapshot)),
        Ok(Request::Reload) => match reload(reloads).await {
            Ok(path) => serde_json::to_vec(&ReloadedReply { reloaded: path }),
            Err(error) => serde_json::to_vec(&ErrorReply { error }),
        },
        Err(error) => {
            tracing::debug!(%error, "refused status request");
            serde_json::to_vec(&ErrorReply { error })
        }
    };
    let mut reply = reply.map_err(io::Error::other)?;
    reply.push(b'\n');
    deadline(CONNECTION_TIMEOUT, async {
        write.write_all(&reply).await?;
        write.shutdown().await
    })
    .await??;
    // Closing a unix socket with unread input resets the peer, which would lose the reply
    // (say, the refusal of an oversized request): read what is left, within bounds.
    let (mut rest, mut sink) = (read.take(DRAIN_LIMIT), tokio::io::sink());
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, tokio::io::copy(&mut rest, &mut sink)).await;
    Ok(())
}

async fn deadline<T>(limit: Duration, work: impl Future<Output = T>) -> io::Result<T> {
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))
}

/// Hands a reload to the daemon and waits for its answer.
async fn reload(reloads: Option<mpsc::Sender<ReloadAnswer>>) -> Result<String, String> {
    let reloads = reloads.ok_or_else(|| "this server does not reload".to_owned())?;
    let asked = async {
        let (answer, outcome) = oneshot::channel();
        reloads
            .send(answer)
            .await
            .map_err(|_| "arcway is stopping".to_owned())?;
        outcome
            .await
            .map_err(|_| "arcway stopped before it answered".to_owned())?
    };
    tokio::time::timeout(RELOAD_TIMEOUT, asked)
        .await
        .map_err(|_| format!("no answer within {} s", RELOAD_TIMEOUT.as_secs()))?
}

fn parse(line: &[u8]) -> Result<Request, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let text = std::str::from_utf8(line).map_err(|_| "request is not UTF-8".to_owned())?;
    Request::parse(text.trim_end_matches('\r'))
}

/// The socket file this server created, identified by inode so a successor's file is left alone.
struct SocketFile {
    path: PathBuf,
    id: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.id
            && let Err(error) = std::fs::remove_file(&self.path)
        {
            tracing::warn!(%error, socket = %self.path.display(), "failed to remove the status socket");
        }
    }
}
