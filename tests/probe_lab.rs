//! Throwaway network namespaces for the probe and link monitor tests (included by them with
//! `#[path]`; on its own this target holds no tests). Every namespace is deleted on drop, so
//! a failing or panicking test leaves nothing behind.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;

/// Namespaces named `aw<5 hex>-<role>`, deleted when the lab is dropped.
pub struct Lab {
    pub prefix: String,
    namespaces: Vec<String>,
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

impl Lab {
    pub fn new() -> Lab {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Lab {
            prefix: format!("aw{:05x}", h.finish() & 0xfffff),
            namespaces: Vec::new(),
        }
    }

    /// Creates `<prefix>-<role>` with loopback up and returns its name.
    pub fn ns(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        run("ip", &["netns", "add", &name]);
        self.namespaces.push(name.clone());
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        // No duplicate address detection: tentative link-local addresses delay the first
        // IPv6 exchanges by a second.
        run(
            "ip",
            &[
                "netns",
                "exec",
                &name,
                "sysctl",
                "-qw",
                "net.ipv6.conf.default.accept_dad=0",
            ],
        );
        name
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("failed to run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ip -n NS <words>`.
pub fn ip(ns: &str, words: &str) -> String {
    let mut args = vec!["-n", ns];
    args.extend(words.split_whitespace());
    run("ip", &args)
}

/// Loads an nft script inside a namespace.
pub fn nft(ns: &str, script: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to run nft");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (packets, bytes) of the first counter in `chain` of `table inet t`.
pub fn nft_counter(ns: &str, chain: &str) -> (u64, u64) {
    let out = run(
        "ip",
        &[
            "netns", "exec", ns, "nft", "list", "chain", "inet", "t", chain,
        ],
    );
    let words: Vec<&str> = out.split_whitespace().collect();
    let at = |key: &str| {
        let i = words.iter().position(|w| *w == key).expect("counter");
        words[i + 1].parse().unwrap()
    };
    (at("packets"), at("bytes"))
}

/// Runs `f` on a new thread inside namespace `ns`.
pub fn in_netns<F, T>(ns: &str, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).expect("failed to open the namespace");
        // SAFETY: plain syscall on a descriptor we own; only this thread changes namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns failed: {}", std::io::Error::last_os_error());
        f()
    })
}

/// Runs an async block to completion on a current-thread runtime inside `ns`.
pub fn block_in_netns<F, Fut, T>(ns: &str, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    in_netns(ns, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// A background async task inside a namespace, stopped and joined on drop.
pub struct Background {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts `setup` inside `ns` and waits until it returned (sockets bound); the future
    /// it returns then runs until the `Background` is dropped.
    pub fn start<S, Fut>(ns: &str, setup: S) -> Background
    where
        S: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = in_netns(ns, move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                // The closure runs here, so its sockets are bound before `ready`.
                let work = setup();
                let _ = ready_tx.send(());
                tokio::select! {
                    _ = work => {}
                    _ = stopped => {}
                }
            });
        });
        ready.recv().expect("background task failed to start");
        Background {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTP/TCP responder: reads a request head, writes `response`, closes. A plain TCP probe
/// connects and closes, which it tolerates.
pub fn http_server(ns: &str, addr: &str, response: &'static str) -> Background {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    Background::start(ns, move || {
        let listener = std::net::TcpListener::bind(addr).expect("bind responder");
        listener.set_nonblocking(true).unwrap();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                tokio::task::spawn_local(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = conn.write_all(response.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        }
    })
}

/// A DNS responder answering every query with `rcode` (no records).
pub fn dns_server(ns: &str, addr: &str, rcode: u8) -> Background {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    Background::start(ns, move || {
        let socket = std::net::UdpSocket::bind(addr).expect("bind responder");
        socket.set_nonblocking(true).unwrap();
        async move {
            let socket = tokio::net::UdpSocket::from_std(socket).unwrap();
            let mut buf = [0u8; 512];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                if n < 12 {
                    continue;
                }
                let mut reply = buf[..n].to_vec();
                reply[2] |= 0x80;
                reply[3] = 0x80 | rcode;
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    })
}

/// gw with two uplinks to peers `pa` (a0, 192.0.2.0/24, 2001:db8:a::/64) and `pb` (b0,
/// 198.51.100.0/24, 2001:db8:b::/64). Both peers own the target 203.0.113.100 and
/// 2001:db8:ff::100 on lo. Main-table defaults go via B; table 100 (fwmark 0x10000/0xff0000)
/// via A. Each peer counts IPv4 packets from gw to the target in `table inet t` chain `in`.
pub struct Uplinks {
    pub gw: String,
    pub pa: String,
    pub pb: String,
}

pub const MARK_A: u32 = 0x10000;

pub fn two_uplinks(lab: &mut Lab) -> Uplinks {
    let (gw, pa, pb) = (lab.ns("gw"), lab.ns("pa"), lab.ns("pb"));
    for (dev, peer, v4, v6) in [
        ("a0", &pa, "192.0.2", "2001:db8:a"),
        ("b0", &pb, "198.51.100", "2001:db8:b"),
    ] {
        run(
            "ip",
            &[
                "link", "add", dev, "netns", &gw, "type", "veth", "peer", "name", "p0", "netns",
                peer,
            ],
        );
        ip(&gw, &format!("addr add {v4}.10/24 dev {dev}"));
        ip(&gw, &format!("addr add {v6}::10/64 dev {dev} nodad"));
        ip(&gw, &format!("link set {dev} up"));
        ip(peer, &format!("addr add {v4}.1/24 dev p0"));
        ip(peer, &format!("addr add {v6}::1/64 dev p0 nodad"));
        ip(peer, "link set p0 up");
        ip(peer, "addr add 203.0.113.100/32 dev lo");
        ip(peer, "addr add 2001:db8:ff::100/128 dev lo");
        nft(
            peer,
            "table inet t {\n chain in {\n  type filter hook input priority 0; iifname \"p0\" ip daddr 203.0.113.100 counter\n }\n}\n",
        );
    }
    ip(&gw, "route add default via 198.51.100.1");
    ip(&gw, "-6 route add default via 2001:db8:b::1");
    ip(&gw, "route add default via 192.0.2.1 dev a0 table 100");
    ip(
        &gw,
        "-6 route add default via 2001:db8:a::1 dev a0 table 100",
    );
    ip(
        &gw,
        "rule add fwmark 0x10000/0xff0000 lookup 100 priority 100",
    );
    ip(
        &gw,
        "-6 rule add fwmark 0x10000/0xff0000 lookup 100 priority 100",
    );
    Uplinks { gw, pa, pb }
}

/// Makes a peer drop everything arriving from gw (after counting it).
pub fn drop_all(ns: &str) {
    nft(ns, "add rule inet t in iifname \"p0\" drop");
}
