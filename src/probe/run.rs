//! Running one probe of any kind under a timeout.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use super::{
    Binding, IcmpSocketKind, ProbeCounters, ProbeError, Target, TargetResult, dns, http, icmp, tcp,
};

/// A fresh unpredictable value for IDs and nonces, from the standard library's per-instance
/// random hash keys (no extra dependency for 64 bits of randomness).
pub(crate) fn nonce() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// Probes `target` once over `binding`, giving up after `timeout`.
pub async fn probe_once(
    binding: &Binding,
    target: &Target,
    timeout: Duration,
    counters: &ProbeCounters,
) -> TargetResult {
    probe_once_with(binding, target, timeout, counters, IcmpSocketKind::Auto).await
}

/// [`probe_once`] with a choice of ICMP socket.
pub async fn probe_once_with(
    binding: &Binding,
    target: &Target,
    timeout: Duration,
    counters: &ProbeCounters,
    icmp_kind: IcmpSocketKind,
) -> TargetResult {
    counters.probe();
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let attempt = async {
        match target {
            Target::Icmp(ip) => icmp::echo(binding, *ip, icmp_kind, counters)
                .await
                .map(|()| Instant::now()),
            Target::Tcp(addr) => tcp::probe(binding, *addr, counters)
                .await
                .map(|()| Instant::now()),
            Target::Http(t) => http::probe(binding, t, counters, deadline).await,
            Target::Dns(t) => dns::probe(binding, t, counters)
                .await
                .map(|()| Instant::now()),
        }
    };
    // HTTP enforces the same deadline itself, a hair earlier, to keep a status seen in time.
    let outcome = match tokio::time::timeout_at(deadline, attempt).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Timeout(timeout)),
    };
    match outcome {
        Ok(done) => TargetResult {
            target: target.clone(),
            ok: true,
            latency: Some(done.saturating_duration_since(start)),
            error: None,
        },
        Err(e) => {
            tracing::debug!(target = %target, interface = %binding.interface, error = %e.chain(), "probe failed");
            TargetResult {
                target: target.clone(),
                ok: false,
                latency: None,
                error: Some(e.chain()),
            }
        }
    }
}
