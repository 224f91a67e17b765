//! The monitor task: owns the netlink sockets, the table and the tracker.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use rtnetlink::MulticastGroup;

use crate::liveness::{self, Heartbeat};
use crate::netlink::{Event, Handle, Monitor};

use super::dump::dump;
use super::parse::parse_notice;
use super::table::{LinkTable, Update};
use super::tracker::{Pending, Tracker};
use super::{LinkEvent, LinkMonError, LinkMonitorConfig, LinkSnapshot};

const GROUPS: [MulticastGroup; 5] = [
    MulticastGroup::Link,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv6Ifaddr,
    MulticastGroup::Ipv4Route,
    MulticastGroup::Ipv6Route,
];
/// Back-off before retrying a failed re-dump.
const RETRY: Duration = Duration::from_millis(100);

enum Command {
    Watch(BTreeSet<String>),
    Resync,
    Snapshot(String, oneshot::Sender<Option<LinkSnapshot>>),
}

#[derive(Debug, Default)]
struct Stats {
    messages: AtomicU64,
    overruns: AtomicU64,
    resyncs: AtomicU64,
}

/// Counters for status output and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkMonitorStats {
    pub messages: u64,
    /// Receive-buffer overruns (ENOBUFS) seen.
    pub overruns: u64,
    /// Full re-dumps after the initial one.
    pub resyncs: u64,
}

/// Talks to the monitor task; it stops when every handle and the event receiver are gone.
#[derive(Debug, Clone)]
pub struct LinkMonitorHandle {
    commands: mpsc::UnboundedSender<Command>,
    stats: Arc<Stats>,
    heartbeat: Heartbeat,
}

impl LinkMonitorHandle {
    /// Beats every turn of the monitor's loop.
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    /// Replaces the watched names; newly watched names are reported at once.
    pub fn watch(&self, names: BTreeSet<String>) {
        let _ = self.commands.send(Command::Watch(names));
    }

    /// Forces a full re-dump.
    pub fn resync(&self) {
        let _ = self.commands.send(Command::Resync);
    }

    /// The current state of any interface (watched or not); `None` if absent or stopped.
    pub async fn snapshot(&self, name: &str) -> Option<LinkSnapshot> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Snapshot(name.into(), tx))
            .ok()?;
        rx.await.ok().flatten()
    }

    pub fn stats(&self) -> LinkMonitorStats {
        LinkMonitorStats {
            messages: self.stats.messages.load(Ordering::Relaxed),
            overruns: self.stats.overruns.load(Ordering::Relaxed),
            resyncs: self.stats.resyncs.load(Ordering::Relaxed),
        }
    }
}

pub struct LinkMonitor {
    table: LinkTable,
    tracker: Tracker,
    dumper: Handle,
    messages: Monitor,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<LinkEvent>,
    stats: Arc<Stats>,
    heartbeat: Heartbeat,
    debounce: Duration,
    resync_now: bool,
    resync_due: bool,
    /// When debounced work (a soft flush, a hinted re-dump) is due.
    due: Option<Instant>,
}

impl LinkMonitor {
    /// Subscribes, dumps the current state and spawns the task on the current runtime. The
    /// first events (a `Changed` per present and a `Gone` per absent watched name) follow at once.
    pub async fn start(
        config: LinkMonitorConfig,
        events: mpsc::Sender<LinkEvent>,
    ) -> Result<LinkMonitorHandle, LinkMonError> {
        // Subscribe before dumping so nothing that happens during the dump is missed.
        let messages = Monitor::new(&GROUPS).map_err(LinkMonError::Socket)?;
        messages
            .set_recv_buffer(config.recv_buffer)
            .map_err(LinkMonError::RecvBuffer)?;
        // Dumps use their own socket so an overrun on the multicast one is never taken for
        // the end of a dump.
        let dumper = Handle::new().map_err(LinkMonError::Socket)?;
        let table = dump(&dumper).await.map_err(LinkMonError::Dump)?;
        let (tx, commands) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let heartbeat = Heartbeat::new();
        let monitor = LinkMonitor {
            table,
            tracker: Tracker::new(config.interfaces),
            dumper,
            messages,
            commands,
            events,
            stats: stats.clone(),
            heartbeat: heartbeat.clone(),
            debounce: config.debounce,
            resync_now: false,
            resync_due: false,
            due: None,
        };
        tokio::spawn(monitor.run());
        Ok(LinkMonitorHandle {
            commands: tx,
            stats,
            heartbeat,
        })
    }

    async fn run(mut self) {
        loop {
            self.heartbeat.beat();
            if self.resync_now {
                self.resync().await;
            }
            if !self.report().await {
                return;
            }
            let due = self.due;
            tokio::select! {
                biased;
                event = self.messages.next() => {
                    let event = match event {
                        Ok(event) => event,
                        Err(e) => {
                            tracing::error!(error = %e, "netlink multicast socket failed; link monitor stops");
                            return;
                        }
                    };
                    self.on_event(event, true);
                    // Take whatever else is queued so a burst becomes one report.
                    while let Some(event) = self.messages.try_next() {
                        self.on_event(event, true);
                    }
                }
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return,
                },
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    self.due = None;
                    if std::mem::take(&mut self.resync_due) {
                        self.resync_now = true;
                    } else if !self.flush().await {
                        return;
                    }
                }
                () = liveness::pause() => {}
            }
        }
    }

    fn on_event(&mut self, event: Event, hints: bool) {
        match event {
            Event::Overrun => {
                self.stats.messages.fetch_add(1, Ordering::Relaxed);
                self.stats.overruns.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("netlink events were lost (receive buffer overrun); re-reading");
                self.on_update(Update::Resync, hints);
            }
            Event::Notices(notices) => {
                for notice in notices {
                    self.stats.messages.fetch_add(1, Ordering::Relaxed);
                    for update in parse_notice(&notice) {
                        if update == Update::Resync {
                            tracing::debug!(?notice, "netlink message needs a re-read");
                        }
                        self.on_update(update, hints);
                    }
                }
            }
        }
    }

    fn on_update(&mut self, update: Update, hints: bool) {
        let applied = self.table.apply(update);
        self.resync_now |= applied.resync_now;
        if applied.resync_soon && hints {
            self.resync_due = true;
            self.due = Some(Instant::now() + self.debounce);
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Watch(names) => self.tracker.watch(names),
            Command::Resync => self.resync_now = true,
            Command::Snapshot(name, reply) => {
                let _ = reply.send(self.table.snapshot(&name));
            }
        }
    }

    async fn resync(&mut self) {
        self.resync_now = false;
        match dump(&self.dumper).await {
            Ok(table) => {
                self.table = table;
                self.stats.resyncs.fetch_add(1, Ordering::Relaxed);
                // Events queued during the dump are replayed in order; the newest wins.
                while let Some(event) = self.messages.try_next() {
                    self.on_event(event, false);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to re-read links; retrying");
                self.resync_due = true;
                self.due = Some(Instant::now() + RETRY);
            }
        }
    }

    /// Reports urgent differences now and schedules soft ones. False when nobody listens.
    async fn report(&mut self) -> bool {
        match self.tracker.pending(&self.table) {
            Pending::Urgent => self.flush().await,
            Pending::Soft => {
                self.due
                    .get_or_insert_with(|| Instant::now() + self.debounce);
                true
            }
            Pending::Nothing => true,
        }
    }

    async fn flush(&mut self) -> bool {
        for event in self.tracker.flush(&self.table) {
            tracing::debug!(name = event.name(), ?event, "link event");
            if self.events.send(event).await.is_err() {
                return false;
            }
        }
        true
    }
}
