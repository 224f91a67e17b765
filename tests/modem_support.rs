//! Shared pieces of the modem tests (included with `#[path]`; on its own this target holds no
//! tests): Debian's ModemManager on a private bus with emulated modems, event helpers,
//! throwaway namespaces.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use arcway::config::ModemSelector;
use arcway::modem::{Bus, ModemEvent, WatcherSettings};
use arcway_lab::mm::{ModemManager, ModemSpec, Options};
use arcway_lab::process::PidRecord;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// ModemManager probes a new modem for about three seconds (more on a loaded machine).
pub const WAIT: Duration = Duration::from_secs(30);

/// ModemManager with emulated modems on a private bus. Everything it started ends with the
/// value; `Drop` checks that nothing survives.
pub struct Harness {
    pub mm: Option<Arc<ModemManager>>,
}

impl Harness {
    pub fn new(modems: Vec<ModemSpec>) -> Harness {
        let mm = ModemManager::start(Options::default(), modems).expect("ModemManager starts");
        Harness {
            mm: Some(Arc::new(mm)),
        }
    }

    /// Runs a blocking call on ModemManager (mmcli, waits, restarts) off the test's runtime
    /// thread, so the watcher keeps reading meanwhile.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ModemManager) -> T + Send + 'static,
    ) -> T {
        let mm = self.mm.clone().expect("running");
        tokio::task::spawn_blocking(move || f(&mm))
            .await
            .expect("blocking call")
    }

    pub fn mm(&self) -> &ModemManager {
        self.mm.as_ref().expect("running")
    }

    pub fn settings(&self, selector: ModemSelector) -> WatcherSettings {
        let mut s = WatcherSettings::new(Bus::Address(self.mm().address().to_owned()), selector);
        s.retry = Duration::from_millis(200);
        s.call_timeout = Duration::from_secs(5);
        s
    }

    /// Stops everything and asserts that no process started for the test is left.
    pub fn close(&mut self) {
        if let Some(mm) = self.mm.take() {
            let pids: Vec<PidRecord> = mm.pids();
            drop(Arc::try_unwrap(mm).ok().expect("no call still running"));
            let alive: Vec<_> = pids.iter().filter(|p| p.is_alive()).collect();
            assert!(alive.is_empty(), "still running: {alive:?}");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mm) = &self.mm
            && std::thread::panicking()
        {
            eprintln!(
                "{}",
                mm.logs()
                    .lines()
                    .rev()
                    .take(80)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        if !std::thread::panicking() {
            self.close();
        }
    }
}

pub fn spec(id: u32, net: &str) -> ModemSpec {
    ModemSpec::new(id, net)
}

pub async fn next(rx: &mut mpsc::Receiver<ModemEvent>) -> ModemEvent {
    timeout(WAIT, rx.recv())
        .await
        .expect("no modem event in time")
        .expect("watcher ended")
}

/// Skips events until one matches; returns it and everything skipped before it.
pub async fn wait_for(
    rx: &mut mpsc::Receiver<ModemEvent>,
    what: &str,
    pred: impl Fn(&ModemEvent) -> bool,
) -> (ModemEvent, Vec<ModemEvent>) {
    let deadline = Instant::now() + WAIT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, rx.recv()).await {
            Ok(Some(e)) if pred(&e) => return (e, skipped),
            Ok(Some(e)) => skipped.push(e),
            Ok(None) => panic!("watcher ended while waiting for {what}; saw {skipped:?}"),
            Err(_) => panic!("no {what} in time; saw {skipped:?}"),
        }
    }
}

/// Events that arrive within `quiet`.
pub async fn drain(rx: &mut mpsc::Receiver<ModemEvent>, quiet: Duration) -> Vec<ModemEvent> {
    let mut out = Vec::new();
    while let Ok(Some(e)) = timeout(quiet, rx.recv()).await {
        out.push(e);
    }
    out
}

pub fn is_bearer(connected: bool) -> impl Fn(&ModemEvent) -> bool {
    move |e| *e == ModemEvent::Bearer { connected }
}

pub fn is_found(e: &ModemEvent) -> bool {
    matches!(e, ModemEvent::ModemFound { .. })
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `aw` + 5 random hex digits.
pub fn unique_prefix() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("aw{:05x}", h.finish() & 0xfffff)
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace holding a veth pair whose one end is named like a bearer interface.
/// Deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn with_veth(ifname: &str) -> Netns {
        let name = format!("{}-modem", unique_prefix());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ip(&[
            "-n", &ns.name, "link", "add", ifname, "type", "veth", "peer", "name", "cellpeer",
        ]);
        ip(&["-n", &ns.name, "link", "set", "cellpeer", "up"]);
        ns
    }

    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `f` on a thread inside the namespace, on its own multi-thread runtime.
    pub fn run<F, Fut>(&self, f: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let path = format!("/run/netns/{}", self.name);
        let thread = std::thread::spawn(move || {
            let file = File::open(&path).expect("open the namespace");
            // SAFETY: setns on this thread only; the file descriptor is valid while `file` lives.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            // One thread: the watcher's netlink sockets must be opened in this namespace.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(f());
        });
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
