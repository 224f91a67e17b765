//! The one task that owns arcway's rules and routes.
//!
//! Every operation re-reads the kernel (a filtered dump of arcway's range and tables), plans
//! against it and applies the plan, so callers never reason about what is already there:
//! `set` twice is a no-op, a restart adopts matching state without touching it, and drift
//! is undone by `repair`.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::RoutingError;
use super::desired::DesiredRouting;
use super::kernel::{apply, dump};
use super::layout::Layout;
use super::model::{Change, KernelRouting};
use super::plan::plan;
use super::render::render_changes;
use crate::netlink::Handle;

type Reply<T> = oneshot::Sender<Result<T, RoutingError>>;

enum Command {
    Set(Box<DesiredRouting>, Reply<Vec<Change>>),
    Repair(Reply<Vec<Change>>),
    Teardown(Reply<Vec<Change>>),
    Current(Reply<KernelRouting>),
}

/// A handle to the reconciler task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Reconciler {
    tx: mpsc::Sender<Command>,
}

impl Reconciler {
    /// Opens a strict-check route netlink connection and starts the owner task on the current
    /// tokio runtime. `layout` says what arcway owns before the first `set` (for `repair`
    /// and `teardown` after a restart).
    pub fn spawn(layout: Layout) -> Result<Reconciler, RoutingError> {
        let handle = Handle::new_strict().map_err(RoutingError::Connect)?;
        let (tx, rx) = mpsc::channel(16);
        let owner = Owner {
            handle,
            layout,
            desired: None,
        };
        tokio::spawn(owner.run(rx));
        Ok(Reconciler { tx })
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, RoutingError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| RoutingError::Stopped)?;
        rx.await.map_err(|_| RoutingError::Stopped)?
    }

    /// Makes the kernel match `desired`; returns the changes made (empty when it already did).
    pub async fn set(&self, desired: DesiredRouting) -> Result<Vec<Change>, RoutingError> {
        self.call(|r| Command::Set(Box::new(desired), r)).await
    }

    /// Re-reads the kernel and restores the last desired state (no-op before the first `set`).
    pub async fn repair(&self) -> Result<Vec<Change>, RoutingError> {
        self.call(Command::Repair).await
    }

    /// Removes every rule in arcway's range and every route in arcway's tables, collecting
    /// all errors. `repair` does nothing afterwards until the next `set`.
    pub async fn teardown(&self) -> Result<Vec<Change>, RoutingError> {
        self.call(Command::Teardown).await
    }

    /// What the kernel holds of arcway's objects now.
    pub async fn current(&self) -> Result<KernelRouting, RoutingError> {
        self.call(Command::Current).await
    }
}

struct Owner {
    handle: Handle,
    layout: Layout,
    desired: Option<DesiredRouting>,
}

impl Owner {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Set(desired, reply) => {
                    let result = self.set(*desired).await;
                    let _ = reply.send(result);
                }
                Command::Repair(reply) => {
                    let result = match self.desired.clone() {
                        Some(desired) => self.reconcile(&desired, "repair").await,
                        None => Ok(Vec::new()),
                    };
                    let _ = reply.send(result);
                }
                Command::Teardown(reply) => {
                    let empty = DesiredRouting::empty(self.layout.clone());
                    let result = self.reconcile(&empty, "teardown").await;
                    self.desired = None;
                    let _ = reply.send(result);
                }
                Command::Current(reply) => {
                    let tables = self.tables();
                    let result = dump(&self.handle, &[&self.layout], &tables).await;
                    let _ = reply.send(result.map(|d| d.objects));
                }
            }
        }
        debug!("routing reconciler stopped");
    }

    fn tables(&self) -> BTreeSet<u32> {
        self.desired
            .as_ref()
            .map(|d| d.objects.tables())
            .unwrap_or_default()
    }

    async fn set(&mut self, desired: DesiredRouting) -> Result<Vec<Change>, RoutingError> {
        if desired.layout != self.layout {
            // Clean what the old layout owned in the same pass as writing the new one.
            let old = std::mem::replace(&mut self.layout, desired.layout.clone());
            let result = self.reconcile_with(&desired, Some(&old), "set").await;
            self.desired = Some(desired);
            return result;
        }
        let result = self.reconcile(&desired, "set").await;
        self.desired = Some(desired);
        result
    }

    async fn reconcile(
        &mut self,
        desired: &DesiredRouting,
        why: &str,
    ) -> Result<Vec<Change>, RoutingError> {
        self.reconcile_with(desired, None, why).await
    }

    async fn reconcile_with(
        &mut self,
        desired: &DesiredRouting,
        old: Option<&Layout>,
        why: &str,
    ) -> Result<Vec<Change>, RoutingError> {
        let started = Instant::now();
        let mut layouts = vec![&desired.layout];
        layouts.extend(old);
        let mut tables = self.tables();
        tables.extend(desired.objects.tables());
        let current = dump(&self.handle, &layouts, &tables).await?;
        let changes = plan(&current.objects, desired);
        if changes.is_empty() {
            debug!(
                why,
                elapsed_us = started.elapsed().as_micros() as u64,
                "routing already matches"
            );
            return Ok(changes);
        }
        let text = render_changes(&changes, &desired.links);
        let result = apply(&self.handle, changes, &current, &desired.links).await;
        let elapsed_us = started.elapsed().as_micros() as u64;
        match &result {
            Ok(applied) => {
                info!(why, count = applied.len(), elapsed_us, changes = %text.trim_end(), "routing changed")
            }
            Err(e) => {
                warn!(why, elapsed_us, error = %e, changes = %text.trim_end(), "routing partly changed")
            }
        }
        result
    }
}
