//! What the tunnel owner does per event: commands, child events, the monitor tick, resolution
//! results, and teardown.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use super::OnStop;
use super::device;
use super::endpoint::preferred_family;
use super::error::Error;
use super::link;
use super::owner::{Owner, RESOLVE_TIMEOUT, STOP_GRACE, UNANSWERED_LIMIT};
use super::supervisor::ChildEvent;
use super::tunnel::{ActiveBackend, Command, TunnelStatus, WgSample};

impl Owner {
    pub(super) async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::PreferIpv6(prefer, reply) => {
                let family = preferred_family(prefer);
                if family != self.prefer {
                    tracing::info!(ifname = %self.settings.ifname, %family, "preferred endpoint family changed");
                    self.prefer = family;
                    self.want = family;
                    self.start_resolve();
                }
                let _ = reply.send(());
            }
            Command::Update(credentials, reply) => {
                let new_target = credentials.server_endpoint != self.credentials.server_endpoint;
                self.credentials = *credentials;
                let result = self.apply_full().await;
                if new_target && self.settings.endpoint.is_none() {
                    self.start_resolve();
                }
                let _ = reply.send(result);
            }
            Command::Repair(reply) => {
                let update =
                    device::repair_update(&self.credentials, &self.settings, self.endpoint);
                let _ = reply.send(self.apply_with(update).await);
            }
            // Handled by the loop, which ends after it.
            Command::Stop(..) => {}
        }
    }

    fn status(&self) -> TunnelStatus {
        TunnelStatus {
            ifname: self.settings.ifname.clone(),
            backend: self.backend,
            child_pid: self.sup.pid(),
            restarts: self.sup.restarts(),
            device_up: self.device_present(),
            endpoint: self.endpoint,
            family: self.want,
            last_handshake: self.last.and_then(|r| r.last_handshake),
            rx_bytes: self.last.map_or(0, |r| r.rx_bytes),
            tx_bytes: self.last.map_or(0, |r| r.tx_bytes),
        }
    }

    pub(super) async fn child_event(&mut self, event: ChildEvent) {
        match event {
            ChildEvent::Ready { pid } => {
                tracing::info!(ifname = %self.settings.ifname, pid, "userspace WireGuard is back; re-applying configuration");
                if let Err(e) = self.apply_full().await {
                    tracing::warn!(ifname = %self.settings.ifname, error = %e, "failed to re-apply WireGuard configuration; retrying");
                    self.needs_apply = true;
                }
            }
            // The device went with the process; samples stop until it is back.
            ChildEvent::Exited { .. } | ChildEvent::Lost => self.last = None,
        }
    }

    pub(super) async fn tick(&mut self) {
        if !self.device_present() {
            return;
        }
        if self.needs_apply
            && let Err(e) = self.apply_full().await
        {
            tracing::debug!(ifname = %self.settings.ifname, error = %e, "WireGuard re-apply still failing");
            return;
        }
        let server = self.credentials.server_public_key;
        let reading = match device::read_peer(self.backend, &self.settings.ifname, server).await {
            Ok(Some(reading)) => reading,
            Ok(None) => {
                // Someone removed our peer: put the configuration back.
                self.needs_apply = true;
                return;
            }
            Err(e) => {
                tracing::debug!(ifname = %self.settings.ifname, error = %e, "failed to read WireGuard peer");
                if e.is_no_answer() {
                    self.unanswered += 1;
                    if self.unanswered >= UNANSWERED_LIMIT {
                        self.kill_stuck(&e);
                    }
                }
                return;
            }
        };
        self.unanswered = 0;
        self.last = Some(reading);
        let now = Instant::now();
        let sample = WgSample {
            at: now,
            last_handshake: reading.last_handshake,
            rx_bytes: reading.rx_bytes,
            tx_bytes: reading.tx_bytes,
        };
        if self.samples.try_send(sample).is_err() {
            tracing::debug!(ifname = %self.settings.ifname, "WireGuard sample dropped (receiver busy or gone)");
        }
        if self
            .watch
            .observe(now, reading.last_handshake, SystemTime::now())
        {
            let next = self.want.other();
            tracing::warn!(ifname = %self.settings.ifname, timeout = ?self.settings.handshake_timeout, endpoint = %self.target(), from = %self.want, trying = %next, "no WireGuard handshake; re-resolving the endpoint");
            self.want = next;
            self.start_resolve();
        }
        if self.endpoint.is_none()
            && self.resolving.is_none()
            && self.next_resolve.is_some_and(|t| now >= t)
        {
            self.start_resolve();
        }
    }

    /// Resolution runs as its own task so a hanging resolver never stalls the owner.
    pub(super) fn start_resolve(&mut self) {
        if let Some(old) = self.resolving.take() {
            old.abort();
        }
        let resolver = self.resolver.clone();
        let target = self.target().clone();
        self.resolving = Some(tokio::spawn(async move {
            tokio::time::timeout(RESOLVE_TIMEOUT, resolver.resolve(&target))
                .await
                .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut)))
        }));
    }

    pub(super) async fn resolved(&mut self, result: std::io::Result<Vec<SocketAddr>>) {
        let addrs = match result {
            Ok(addrs) => addrs,
            Err(e) => return self.resolve_failed(&e.to_string()),
        };
        let Some(chosen) = self.pick(&addrs) else {
            return;
        };
        self.watch.restart(Instant::now());
        if self.endpoint == Some(chosen) {
            return;
        }
        tracing::info!(ifname = %self.settings.ifname, old = ?self.endpoint, new = %chosen, "switching WireGuard endpoint");
        self.endpoint = Some(chosen);
        if self.device_present() {
            let update = device::endpoint_update(&self.credentials, chosen);
            if let Err(e) = self.apply_device(update).await {
                tracing::warn!(ifname = %self.settings.ifname, error = %e, "failed to set the endpoint; re-applying later");
                self.needs_apply = true;
            }
        }
    }

    /// Keep: leave device and child as they are. Remove: delete the device (its routes go
    /// with it; the routing reconciler owns the table), end the child by PID. Every error is
    /// collected, none stops it.
    pub(crate) async fn teardown(&mut self, how: OnStop) -> Result<(), Error> {
        if let Some(task) = self.resolving.take() {
            task.abort();
        }
        if how == OnStop::Keep {
            tracing::info!(ifname = %self.settings.ifname, "leaving the WireGuard device in place (on_stop: keep)");
            self.sup.detach();
            return Ok(());
        }
        let ifname = self.settings.ifname.clone();
        let mut errors = Vec::new();
        if let Err(e) = self.sup.stop(STOP_GRACE).await {
            errors.push(e);
        }
        // wireguard-go removes its TUN as it exits; give it a moment before deleting directly
        // (a kernel device, or a TUN whose process is slow to let go).
        let mut present = link::index(&self.handle, &ifname).await;
        for _ in 0..20 {
            if self.backend == ActiveBackend::Kernel || !matches!(present, Ok(Some(_))) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            present = link::index(&self.handle, &ifname).await;
        }
        match present {
            Ok(Some(index)) => {
                if let Err(e) = link::delete(&self.handle, &ifname, index).await {
                    errors.push(e);
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        tracing::info!(%ifname, errors = errors.len(), "WireGuard device removed");
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Teardown(errors))
        }
    }
}
