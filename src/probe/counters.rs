//! Per-path probe cost, readable at any time without asking the prober task.
//!
//! Bytes are an estimate of IP payload (transport header + data, no IP header, no link layer):
//! ICMP counts the echo message, DNS counts the UDP header and message, TCP and HTTP count the
//! data plus an estimate of the segments a connect/close costs (see `tcp::overhead`). Add
//! 20 (IPv4) or 40 (IPv6) bytes per packet for what the radio actually carries.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct ProbeCounters {
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    probes: AtomicU64,
    rounds: AtomicU64,
    skipped_rounds: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeCountersSnapshot {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Probes started (one per target per round).
    pub probes: u64,
    /// Rounds that probed.
    pub rounds: u64,
    /// Rounds skipped because real traffic was seen within the last interval.
    pub skipped_rounds: u64,
}

impl ProbeCounters {
    pub(crate) fn sent(&self, bytes: usize) {
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn probe(&self) {
        self.probes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn round(&self) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn skipped(&self) {
        self.skipped_rounds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ProbeCountersSnapshot {
        ProbeCountersSnapshot {
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            probes: self.probes.load(Ordering::Relaxed),
            rounds: self.rounds.load(Ordering::Relaxed),
            skipped_rounds: self.skipped_rounds.load(Ordering::Relaxed),
        }
    }
}
