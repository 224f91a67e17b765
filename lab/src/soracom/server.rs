//! The HTTPS server of the fakes: one thread with its own runtime, one task per connection,
//! one request per connection.

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use super::RequestLog;
use super::reply::{read_request, respond};
use super::{Counters, FakeCoverage, FakeError, FakeIdentity, FakeState, FaultRule, Sim, TestCa};

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

pub(crate) fn lock(state: &Mutex<FakeState>) -> MutexGuard<'_, FakeState> {
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
        FakeSoracom::start_with(addr, netns, ca, identity, FakeCoverage::Japan, verbose)
    }

    /// Japan and Global coverage of one account, each its own API on its own address (and
    /// its own SIMs), with one test CA whose certificate names both addresses.
    pub fn start_coverages(
        japan: SocketAddr,
        global: SocketAddr,
        identity: FakeIdentity,
    ) -> Result<(FakeSoracom, FakeSoracom), FakeError> {
        let names = [japan.ip().to_string(), global.ip().to_string()];
        let ca = TestCa::generate(&names)?;
        let jp = FakeSoracom::start_with(
            japan,
            None,
            ca.clone(),
            identity.clone(),
            FakeCoverage::Japan,
            false,
        )?;
        let g = FakeSoracom::start_with(global, None, ca, identity, FakeCoverage::Global, false)?;
        Ok((jp, g))
    }

    /// Like [`FakeSoracom::start`] with a given CA and coverage.
    pub fn start_with(
        addr: SocketAddr,
        netns: Option<&str>,
        ca: TestCa,
        identity: FakeIdentity,
        coverage: FakeCoverage,
        verbose: bool,
    ) -> Result<FakeSoracom, FakeError> {
        let state = Arc::new(Mutex::new(FakeState::new(identity, coverage)));
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

    pub fn coverage(&self) -> FakeCoverage {
        lock(&self.state).coverage
    }

    /// Every request so far, in order.
    pub fn log(&self) -> Vec<RequestLog> {
        lock(&self.state).log.clone()
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
