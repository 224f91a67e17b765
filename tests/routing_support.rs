//! Throwaway network namespaces for the routing, nftables and conntrack tests (root).
//! Included by the other `routing_*` tests with `#[path]`; compiled alone it holds no tests.
#![allow(dead_code)]

use std::fs::File;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// A unique name prefix: `aw` + 5 hex characters.
pub fn prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let seed = nanos ^ (std::process::id() << 12) ^ rand_bits();
    format!("aw{:05x}", seed & 0xfffff)
}

fn rand_bits() -> u32 {
    let mut buf = [0u8; 4];
    if let Ok(mut f) = File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut buf);
    }
    u32::from_le_bytes(buf)
}

/// A network namespace deleted on drop (also when the test panics).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Netns {
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.sh("ip link set lo up");
        ns
    }

    /// Runs a shell command in the namespace; panics with its output when it fails.
    pub fn sh(&self, cmd: &str) -> String {
        run("ip", &["netns", "exec", &self.name, "sh", "-c", cmd])
    }

    /// Runs a shell command in the namespace and reports whether it succeeded.
    pub fn try_sh(&self, cmd: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", cmd])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    pub fn ifindex(&self, ifname: &str) -> u32 {
        self.sh(&format!("cat /sys/class/net/{ifname}/ifindex"))
            .trim()
            .parse()
            .expect("ifindex")
    }

    /// Runs `f` on a current-thread tokio runtime inside this namespace.
    pub fn run<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = File::open(&path).expect("open netns");
            // SAFETY: setns on a valid namespace fd only changes this thread's namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns failed: {}", std::io::Error::last_os_error());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(f())
        })
        .join()
        .expect("namespace thread panicked")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "`{cmd} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The gateway side of the lab: `gw` with wlan0, wwan0 and arc0 (a veth standing in for the
/// tunnel), their peers in `up`. Addresses and main-table defaults as DHCP would leave them.
pub struct Lab {
    pub gw: Netns,
    pub up: Netns,
}

impl Lab {
    pub fn new(v6: bool) -> Lab {
        let p = prefix();
        let gw = Netns::new(format!("{p}-gw"));
        let up = Netns::new(format!("{p}-up"));
        for (mine, theirs) in [("wlan0", "wifi0"), ("wwan0", "air0"), ("arc0", "arcp0")] {
            run(
                "ip",
                &[
                    "link", "add", mine, "netns", &gw.name, "type", "veth", "peer", "name", theirs,
                    "netns", &up.name,
                ],
            );
            gw.sh(&format!("ip link set {mine} up"));
            up.sh(&format!("ip link set {theirs} up"));
        }
        gw.sh("ip addr add 192.0.2.10/24 dev wlan0 && ip addr add 198.51.100.130/26 dev wwan0");
        gw.sh("ip addr add 100.127.201.2/32 dev arc0");
        up.sh("ip addr add 192.0.2.1/24 dev wifi0 && ip addr add 198.51.100.129/26 dev air0");
        gw.sh("ip route add default via 192.0.2.1 dev wlan0 && ip route add default via 198.51.100.129 dev wwan0 metric 700");
        if v6 {
            gw.sh("ip addr add 2001:db8:1::10/64 dev wlan0 nodad && ip -6 route add default via 2001:db8:1::1 dev wlan0");
        }
        Lab { gw, up }
    }
}
