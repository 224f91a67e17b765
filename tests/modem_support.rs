//! Shared pieces of the modem tests (included with `#[path]`; on its own this target holds no
//! tests): a private bus with a fake ModemManager, event helpers, throwaway namespaces.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use arcway::config::ModemSelector;
use arcway::modem::{Bus, ModemEvent, WatcherSettings};
use arcway_lab::fakemm::{FakeModemManager, ModemSpec, PrivateBus};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

pub const WAIT: Duration = Duration::from_secs(5);

/// A private dbus-daemon with a fake ModemManager on it. The daemon dies with the value.
pub struct Harness {
    pub fake: FakeModemManager,
    pub bus: PrivateBus,
}

impl Harness {
    pub async fn new() -> Harness {
        let bus = PrivateBus::start().expect("private dbus-daemon");
        let fake = FakeModemManager::start(bus.address())
            .await
            .expect("fake ModemManager");
        Harness { fake, bus }
    }

    pub fn settings(&self, selector: ModemSelector) -> WatcherSettings {
        let mut s = WatcherSettings::new(Bus::Address(self.bus.address().to_owned()), selector);
        s.retry = Duration::from_millis(200);
        s.call_timeout = Duration::from_secs(2);
        s
    }
}

/// A modem whose identifiers all derive from `id` (a digit string).
pub fn spec(interface: &str, id: &str) -> ModemSpec {
    ModemSpec::new(interface, id)
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

    /// Runs `f` on a thread inside the namespace, on its own current-thread runtime.
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
