//! Building a lab and tearing it down.
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cleanup::remove_lab;
use crate::cmd::{in_net, ip_batch, netns_exec, netns_list, nft, run};
use crate::error::{LabError, Result};
use crate::http::HttpThreads;
use crate::plan;
use crate::process::{ChildGuard, PidRecord, stop_all};
use crate::role::Role;
use crate::state::LabState;
use crate::wg::{ArcCredentials, KeyPair};

#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    /// Namespace prefix; a fresh `Lab::unique_prefix()` when absent.
    pub prefix: Option<String>,
    /// IPv6 on the Wi-Fi side (gw, ap, inet, arcsrv); disabled everywhere when false.
    pub ipv6: bool,
    /// Leave everything running when the `Lab` is dropped (`arcway-lab up`).
    pub detached: bool,
    /// Serve HTTP from threads of this process even when the arcway-lab binary is available.
    pub http_in_process: bool,
    /// Start `iperf3 -s` on the internet host 203.0.113.100.
    pub iperf3: bool,
}

/// A running lab. Dropping it ends every process it started and deletes its namespaces.
#[derive(Debug)]
pub struct Lab {
    pub(crate) prefix: String,
    pub(crate) opts: LabOptions,
    pub(crate) state: Mutex<LabState>,
    pub(crate) children: Mutex<Vec<ChildGuard>>,
    pub(crate) http: Mutex<Vec<HttpThreads>>,
    pub(crate) arc_server_pid: Mutex<i32>,
    server_keys: KeyPair,
    client_keys: KeyPair,
    pub(crate) seq: std::sync::atomic::AtomicU32,
    pub(crate) built_in: Mutex<Duration>,
}

impl Lab {
    /// "aw" and five random hex digits.
    pub fn unique_prefix() -> String {
        let mut bytes = [0u8; 3];
        // SAFETY: getrandom writes at most bytes.len() bytes into the buffer.
        let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
        if n != bytes.len() as isize {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            bytes = (nanos ^ std::process::id()).to_le_bytes()[..3]
                .try_into()
                .unwrap_or([0; 3]);
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("aw{}", &hex[..5])
    }

    pub fn build(opts: LabOptions) -> Result<Lab> {
        let started = Instant::now();
        let prefix = opts.prefix.clone().unwrap_or_else(Lab::unique_prefix);
        check_prefix(&prefix)?;
        let server_keys = KeyPair::generate()?;
        let client_keys = KeyPair::generate()?;
        let owner = (!opts.detached).then(|| PidRecord::of(std::process::id() as i32, "owner"));
        let state = LabState {
            prefix: prefix.clone(),
            ipv6: opts.ipv6,
            owner,
            pids: Vec::new(),
        };
        // The state exists before any namespace, so `cleanup` can always find what follows.
        state.save()?;
        let lab = Lab {
            prefix,
            opts,
            state: Mutex::new(state),
            children: Mutex::new(Vec::new()),
            http: Mutex::new(Vec::new()),
            arc_server_pid: Mutex::new(0),
            server_keys,
            client_keys,
            seq: Default::default(),
            built_in: Mutex::new(Duration::ZERO),
        };
        // From here on a failure drops `lab`, which removes whatever was created.
        lab.setup()?;
        *lock(&lab.built_in) = started.elapsed();
        tracing::debug!(prefix = %lab.prefix, elapsed = ?started.elapsed(), "lab built");
        Ok(lab)
    }

    fn setup(&self) -> Result<()> {
        let ipv6 = self.opts.ipv6;
        let names: Vec<String> = Role::ALL
            .iter()
            .map(|r| format!("netns add {}", self.ns(*r)))
            .collect();
        ip_batch(None, &names)?;
        for role in Role::ALL {
            let mut cmd = in_net(&self.ns(role), "sysctl");
            cmd.args(["-q", "-w"]);
            cmd.args(
                plan::sysctls(role, ipv6)
                    .iter()
                    .map(|(k, v)| format!("{k}={v}")),
            );
            run(&mut cmd)?;
        }
        // wireguard-go starts while the links are made.
        let mut server = self.start_wireguard_go(Role::ArcSrv, plan::ARC_SERVER_IF)?;
        ip_batch(None, &plan::link_batch(&self.prefix))?;
        for role in Role::ALL {
            ip_batch(Some(&self.ns(role)), &plan::ns_batch(role, ipv6))?;
            if let Some(script) = plan::nat_script(role) {
                nft(&self.ns(role), script)?;
            }
        }
        let ready = server.wait_ready(Duration::from_secs(5));
        *lock(&self.arc_server_pid) = server.pid();
        let (guard, control) = server.into_parts();
        lock(&self.children).push(guard);
        ready?;
        control.set_private_key(&self.server_keys.private)?;
        let port = plan::ARC_PORT.to_string();
        let peer = &self.client_keys.public;
        let allowed = format!("{}/32", plan::ARC_CLIENT_IP);
        control.wg(&[
            "set",
            plan::ARC_SERVER_IF,
            "listen-port",
            &port,
            "peer",
            peer,
            "allowed-ips",
            &allowed,
        ])?;
        ip_batch(
            Some(&self.ns(Role::ArcSrv)),
            &[
                format!(
                    "addr add {}/32 dev {}",
                    plan::ARC_SERVER_IP,
                    plan::ARC_SERVER_IF
                ),
                format!("link set {} up", plan::ARC_SERVER_IF),
                format!("route add 100.127.201.0/24 dev {}", plan::ARC_SERVER_IF),
            ],
        )?;
        self.start_http(Role::Plat, &[plan::PLATFORM], &[80])?;
        self.start_http(Role::Inet, &[plan::INTERNET_HOST], &[80, 443])?;
        if self.opts.iperf3 {
            let cmd = netns_exec(
                &self.ns(Role::Inet),
                &["iperf3", "-s", "-B", plan::INTERNET_HOST],
            );
            let guard = self.start_owned(cmd, "iperf3")?;
            lock(&self.children).push(guard);
        }
        self.arc_credentials().write(&self.credentials_path())
    }

    pub fn arc_credentials(&self) -> ArcCredentials {
        ArcCredentials {
            sim_id: None,
            arc_client_peer_private_key: self.client_keys.private.clone(),
            arc_client_peer_public_key: self.client_keys.public.clone(),
            arc_client_peer_ip_address: plan::ARC_CLIENT_IP.to_owned(),
            arc_server_peer_public_key: self.server_keys.public.clone(),
            arc_server_endpoint: plan::ARC_ENDPOINT.to_owned(),
            arc_allowed_ips: vec![plan::ARC_ALLOWED_IPS.to_owned()],
        }
    }

    /// Ends everything now and reports what could not be removed (Drop does the same silently).
    pub fn close(mut self) -> Result<()> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<()> {
        for mut threads in lock(&self.http).drain(..) {
            threads.stop();
        }
        stop_all(&mut lock(&self.children));
        lock(&self.children).clear();
        self.opts.detached = true; // nothing left for Drop
        remove_lab(&self.prefix)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.opts.detached {
            for child in lock(&self.children).iter_mut() {
                child.disarm();
            }
            return;
        }
        if let Err(e) = self.teardown() {
            tracing::warn!(prefix = %self.prefix, error = %e, "failed to remove the lab completely");
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the data is still what cleanup needs.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn check_prefix(prefix: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(LabError::Prefix {
            prefix: prefix.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if prefix.is_empty() || prefix.len() > 8 {
        return bad("it must have 1 to 8 characters");
    }
    if !prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return bad("it may hold only a-z and 0-9");
    }
    let taken = netns_list()?;
    if Role::ALL.iter().any(|r| taken.contains(&r.ns(prefix))) || LabState::dir(prefix).exists() {
        return bad("a lab with this prefix exists");
    }
    Ok(())
}
