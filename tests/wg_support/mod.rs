//! Throwaway network namespaces for WireGuard tests: a server namespace running its own
//! wireguard-go, a client namespace where the code under test runs. Everything is removed on
//! drop, also when a test panics.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arcway::credentials::Credentials;
use arcway::credentials::PrivateKey;
use arcway::wg::WgSample;
use tokio::sync::mpsc;

pub const CLIENT_TUN: &str = "100.127.201.2";
pub const SERVER_TUN: &str = "100.127.201.1";
pub const SERVER_V4: &str = "192.0.2.1";
pub const SERVER_V6: &str = "2001:db8:9::1";

pub fn rand_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            ^ u128::from(std::process::id()),
    );
    format!("{:016x}", h.finish())[..n].to_string()
}

/// Runs a shell command, panicking with its output when it fails.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("failed to run sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a shell command, returning whether it succeeded (no panic).
pub fn sh_ok(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub struct Lab {
    pub client: String,
    pub server: String,
    pub client_if: String,
    pub server_if: String,
    pub client_key: PrivateKey,
    pub server_key: PrivateKey,
    server_wg: Option<Child>,
}

impl Lab {
    pub fn new() -> Lab {
        let id = rand_hex(5);
        let mut lab = Lab {
            client: format!("aw{id}-c"),
            server: format!("aw{id}-s"),
            client_if: format!("aw{id}c"),
            server_if: format!("aw{id}s"),
            client_key: PrivateKey::generate().unwrap(),
            server_key: PrivateKey::generate().unwrap(),
            server_wg: None,
        };
        let (c, s) = (lab.client.clone(), lab.server.clone());
        sh(&format!(
            "ip netns add {c} && ip netns add {s} && ip -n {c} link set lo up && ip -n {s} link set lo up"
        ));
        sh(&format!(
            "ip link add c0 netns {c} type veth peer name s0 netns {s}"
        ));
        sh(&format!(
            "ip -n {c} addr add 192.0.2.2/24 dev c0 && ip -n {c} addr add 2001:db8:9::2/64 dev c0 nodad && ip -n {c} link set c0 up"
        ));
        sh(&format!(
            "ip -n {s} addr add {SERVER_V4}/24 dev s0 && ip -n {s} addr add {SERVER_V6}/64 dev s0 nodad && ip -n {s} link set s0 up"
        ));
        lab.start_server();
        lab
    }

    fn start_server(&mut self) {
        let (s, sif) = (self.server.clone(), self.server_if.clone());
        let child = Command::new("ip")
            .args(["netns", "exec", &s, "wireguard-go", "-f", &sif])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("failed to start server wireguard-go");
        self.server_wg = Some(child);
        let sock = arcway::wg::socket_path(&sif);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "server wireguard-go did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let keyfile = tempfile::NamedTempFile::new().unwrap();
        writeln!(keyfile.as_file(), "{}", self.server_key.expose_base64()).unwrap();
        let client_pub = self.client_key.public_key().to_base64();
        sh(&format!(
            "wg set {sif} private-key {} listen-port 11010 peer {client_pub} allowed-ips {CLIENT_TUN}/32",
            keyfile.path().display()
        ));
        sh(&format!(
            "ip -n {s} addr add {SERVER_TUN}/32 dev {sif} && ip -n {s} link set {sif} up && ip -n {s} route add {CLIENT_TUN}/32 dev {sif}"
        ));
    }

    /// Credentials for the client; `server_key` overrides the server's public key.
    pub fn credentials(&self, endpoint: &str, server_pub: Option<String>) -> Credentials {
        let server_pub = server_pub.unwrap_or_else(|| self.server_key.public_key().to_base64());
        let json = serde_json::json!({
            "arcClientPeerPrivateKey": self.client_key.expose_base64(),
            "arcClientPeerIpAddress": CLIENT_TUN,
            "arcServerPeerPublicKey": server_pub,
            "arcServerEndpoint": endpoint,
            "arcAllowedIPs": ["100.127.0.0/16"],
        });
        Credentials::from_json_str(&json.to_string()).unwrap()
    }

    pub fn in_client(&self, cmd: &str) -> String {
        sh(&format!("ip netns exec {} {cmd}", self.client))
    }

    pub fn ping_ok(&self) -> bool {
        ping_ok(&self.client, &self.client_if)
    }

    /// Runs `f` on a thread inside the client namespace, on a current-thread runtime; children
    /// the code spawns inherit the namespace.
    pub fn run_in_client<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        run_in_ns(&self.client, f)
    }
}

/// One ping through the tunnel device. The tunnel installs no routes (arcway's routing
/// reconciler does), so the ping is bound to the device instead.
pub fn ping_ok(client_ns: &str, ifname: &str) -> bool {
    sh_ok(&format!(
        "ip netns exec {client_ns} ping -c1 -W1 -I {ifname} {SERVER_TUN}"
    ))
}

pub fn run_in_ns<F, Fut, T>(ns: &str, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    let thread = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("failed to open netns");
        // SAFETY: setns on a valid namespace fd; it affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns failed: {}", std::io::Error::last_os_error());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    });
    match thread.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.server_wg.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.client, &self.server] {
            // Anything still running inside (a kept or orphaned wireguard-go) goes first, or
            // deleting the namespace only unlinks its name.
            let pids = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for pid in pids
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        for ifname in [&self.client_if, &self.server_if] {
            let _ = std::fs::remove_file(arcway::wg::socket_path(ifname));
        }
    }
}

/// Waits for a sample matching `pred`, returning it and when it came.
pub async fn wait_sample(
    rx: &mut mpsc::Receiver<WgSample>,
    limit: Duration,
    pred: impl Fn(&WgSample) -> bool,
) -> Option<WgSample> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(s)) if pred(&s) => return Some(s),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

/// A log sink for tests that count lines.
#[derive(Clone, Default)]
pub struct LogBuf(pub Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}
