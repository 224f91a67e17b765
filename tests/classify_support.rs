//! Shared by the `classify_*` and `accounting_*` tests (included with `#[path]`): the lab
//! with arcway's table in its gateway, a byte sink on the internet host, TCP clients on the
//! LAN host and on the gateway (optionally as another uid).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arcway::model::PathId;
use arcway::nft::{CountedPath, MarkClass, NatPath, NftInputs, TableExtras};
use arcway_lab::http::in_netns;
use arcway_lab::{Lab, LabOptions, Role};

pub const MASK: u32 = 0x00ff_0000;
pub const BULK_MARK: u32 = 0x0010_0000;
pub const OWNER_MARK: u32 = 0x0011_0000;
pub const SINK_PORT: u16 = 8443;
pub const OWNER_PORT: u16 = 7000;
pub const NOBODY: u32 = 65534;

pub fn lab() -> Lab {
    Lab::build(LabOptions::default()).expect("lab")
}

/// bulk: TCP to the internet host on 8000-9000 (LAN and local alike); owner: the uid
/// `nobody` to port 7000 (local only).
pub fn inputs() -> NftInputs {
    NftInputs {
        fwmark_mask: MASK,
        nat: vec![
            NatPath {
                path: PathId::Wifi,
                ifname: "wlan0".into(),
                snat_to: None,
            },
            NatPath {
                path: PathId::Cellular,
                ifname: "wwan0".into(),
                snat_to: None,
            },
        ],
        classes: vec![
            MarkClass {
                name: "bulk".into(),
                mark: BULK_MARK,
                destinations: vec!["203.0.113.0/24".parse().unwrap()],
                protocols: vec!["tcp".into()],
                ports: vec!["443".into(), "8000-9000".into()],
                ..MarkClass::default()
            },
            MarkClass {
                name: "owner".into(),
                mark: OWNER_MARK,
                uids: vec![NOBODY],
                ports: vec![OWNER_PORT.to_string()],
                ..MarkClass::default()
            },
        ],
    }
}

pub fn counted() -> TableExtras {
    TableExtras {
        counted: vec![
            CountedPath {
                path: PathId::Wifi,
                ifname: "wlan0".into(),
            },
            CountedPath {
                path: PathId::Cellular,
                ifname: "wwan0".into(),
            },
        ],
        default_class: Some("default".into()),
        ..TableExtras::default()
    }
}

/// Runs `f` on a current-thread runtime inside `role`'s namespace.
pub fn run_in<F, Fut, T>(lab: &Lab, role: Role, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    in_netns(&lab.ns(role), move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
    .expect("namespace thread")
}

/// Routes the bulk class's mark over a path (or refuses it with `prohibit`), as the class
/// tables would.
pub fn route_bulk(lab: &Lab, how: &str) {
    // As arcway's layout does: connected routes (the LAN) win over class tables.
    lab.ip(
        Role::Gw,
        &[
            "rule",
            "add",
            "lookup",
            "main",
            "suppress_prefixlength",
            "0",
            "priority",
            "7103",
        ],
    )
    .ok();
    lab.ip(
        Role::Gw,
        &[
            "rule",
            "add",
            "fwmark",
            &format!("{BULK_MARK:#x}/{MASK:#x}"),
            "lookup",
            "7110",
            "priority",
            "7105",
        ],
    )
    .ok();
    lab.ip(Role::Gw, &["route", "flush", "table", "7110"]).ok();
    let route: Vec<&str> = how.split(' ').collect();
    let mut args = vec!["route", "replace"];
    args.extend(route);
    args.extend(["table", "7110"]);
    lab.ip(Role::Gw, &args).expect("class route");
}

/// A TCP sink on the internet host: counts what it receives, closes when the peer does.
pub struct Sink {
    pub received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    pub addr: SocketAddr,
}

impl Sink {
    pub fn start(lab: &Lab, port: u16) -> Sink {
        let addr: SocketAddr = format!("203.0.113.100:{port}").parse().unwrap();
        let listener = in_netns(&lab.ns(Role::Inet), move || TcpListener::bind(addr))
            .unwrap()
            .expect("bind sink");
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let r = r.clone();
                        std::thread::spawn(move || {
                            conn.set_nonblocking(false).ok();
                            let mut buf = [0u8; 65536];
                            while let Ok(n) = conn.read(&mut buf) {
                                if n == 0 {
                                    break;
                                }
                                r.fetch_add(n as u64, Ordering::Relaxed);
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Sink {
            received,
            stop,
            addr,
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Connects from `role` (as `uid` when given) and sends `bytes`, then waits for the close.
pub fn send(
    lab: &Lab,
    role: Role,
    uid: Option<u32>,
    addr: SocketAddr,
    bytes: usize,
) -> io::Result<()> {
    in_netns(&lab.ns(role), move || {
        if let Some(uid) = uid {
            // Only this thread changes identity (the raw syscall, not glibc's process-wide one).
            let rc = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) };
            assert_eq!(rc, 0, "setresuid: {}", io::Error::last_os_error());
        }
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let chunk = vec![0x5au8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n])?;
            left -= n;
        }
        s.shutdown(std::net::Shutdown::Write)?;
        let mut rest = Vec::new();
        s.read_to_end(&mut rest)?;
        Ok(())
    })
    .expect("namespace thread")
}

/// How a connection attempt ended and how long it took.
pub fn connect(lab: &Lab, role: Role, addr: SocketAddr) -> (io::Result<()>, Duration) {
    in_netns(&lab.ns(role), move || {
        let start = Instant::now();
        let r = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map(|_| ());
        (r, start.elapsed())
    })
    .expect("namespace thread")
}

/// Waits until the sink has `n` bytes.
pub fn wait_received(sink: &Sink, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.received.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "sink got {} of {n}",
            sink.received.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn counters(lab: &Lab) -> BTreeMap<String, u64> {
    run_in(lab, Role::Gw, || async {
        arcway::nft::read_counters()
            .await
            .expect("read counters")
            .into_iter()
            .map(|(k, v)| (k.name(), v))
            .collect()
    })
}
