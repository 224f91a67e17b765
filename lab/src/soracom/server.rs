//! The HTTPS server of the fakes: one thread with its own runtime, one task per connection,
//! one request per connection.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use super::routes::{Incoming, handle};
use super::{Counters, FakeError, FakeIdentity, FakeState, Fault, FaultRule, Sim, TestCa};

/// Largest request the fakes read.
const MAX_REQUEST: usize = 64 * 1024;

/// A running fake; dropping it stops the server.
pub struct FakeSoracom {
    addr: SocketAddr,
    ca: TestCa,
    state: Arc<Mutex<FakeState>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeSoracom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSoracom")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<FakeState>) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeSoracom {
    /// Listens on `addr` (port 0: any) inside network namespace `netns` (None: this one), with
    /// a certificate for `names` signed by a fresh test CA. `verbose` logs each request to stdout.
    pub fn start(
        addr: SocketAddr,
        netns: Option<&str>,
        names: &[String],
        identity: FakeIdentity,
        verbose: bool,
    ) -> Result<FakeSoracom, FakeError> {
        let ca = TestCa::generate(names)?;
        let state = Arc::new(Mutex::new(FakeState::new(identity)));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let (acceptor, shared, ns) = (
            TlsAcceptor::from(ca.server.clone()),
            state.clone(),
            netns.map(str::to_owned),
        );
        let thread = std::thread::Builder::new()
            .name("fake-soracom".into())
            .spawn(move || {
                let setup =
                    || -> Result<(tokio::runtime::Runtime, std::net::TcpListener), FakeError> {
                        if let Some(ns) = &ns {
                            enter_netns(ns)?;
                        }
                        let listen = |source| FakeError::Listen { addr, source };
                        let listener = std::net::TcpListener::bind(addr).map_err(listen)?;
                        listener.set_nonblocking(true).map_err(listen)?;
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .map_err(FakeError::Thread)?;
                        Ok((rt, listener))
                    };
                let (rt, listener) = match setup() {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(
                    listener
                        .local_addr()
                        .map_err(|source| FakeError::Listen { addr, source }),
                );
                rt.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = serve(listener, acceptor, shared, verbose) => {}
                        _ = stopped => {}
                    }
                });
                rt.shutdown_background();
            })
            .map_err(FakeError::Thread)?;
        let addr = ready_rx
            .recv()
            .map_err(|_| FakeError::Thread(std::io::ErrorKind::BrokenPipe.into()))??;
        Ok(FakeSoracom {
            addr,
            ca,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ADDR` (IPv6 in brackets).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    pub fn counters(&self) -> Counters {
        lock(&self.state).counters.clone()
    }

    pub fn inject(&self, rule: FaultRule) {
        lock(&self.state).faults.push(rule);
    }

    pub fn clear_faults(&self) {
        lock(&self.state).faults.clear();
    }

    /// Registers an existing SIM (as if created by an earlier run).
    pub fn add_sim(&self, sim_id: &str, public_key: &str) {
        lock(&self.state).sims.insert(
            sim_id.to_owned(),
            Sim {
                sim_id: sim_id.to_owned(),
                public_key: Some(public_key.to_owned()),
            },
        );
    }

    pub fn sim(&self, sim_id: &str) -> Option<Sim> {
        lock(&self.state).sims.get(sim_id).cloned()
    }

    pub fn with_state<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut lock(&self.state))
    }
}

impl Drop for FakeSoracom {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn enter_netns(ns: &str) -> Result<(), FakeError> {
    let err = |source| FakeError::Netns {
        ns: ns.to_owned(),
        source,
    };
    let file = File::open(format!("/run/netns/{ns}")).map_err(err)?;
    // SAFETY: setns on a descriptor we own; it changes only this thread's namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(())
}

async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<FakeState>>,
    verbose: bool,
) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let (acceptor, state) = (acceptor.clone(), state.clone());
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
            if let Ok(Ok(mut tls)) = handshake.await
                && let Some(req) = read_request(&mut tls, peer).await
            {
                respond(&mut tls, req, &state, verbose).await;
                let _ = tls.shutdown().await;
            }
        });
    }
}

async fn read_request<R: tokio::io::AsyncRead + Unpin>(
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
    })
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

async fn respond<W: AsyncWrite + Unpin>(
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
        lock(state).log.push(super::RequestLog {
            method: req.method.clone(),
            path: req.path.clone(),
            peer: req.peer,
            status: 0,
            body: String::from_utf8_lossy(&req.body).into_owned(),
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let (status, body) = match &fault {
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
    lock(state).log.push(super::RequestLog {
        method: req.method.clone(),
        path: req.path.clone(),
        peer: req.peer,
        status,
        body: String::from_utf8_lossy(&req.body).into_owned(),
    });
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
        _ => {
            out.extend(head(status, &format!("Content-Length: {}\r\n", text.len())).into_bytes());
            out.extend_from_slice(&text);
        }
    }
    let _ = w.write_all(&out).await;
    let _ = w.flush().await;
}
