//! What the kernel should hold this turn, handed to the routing reconciler, conntrack and
//! the nftables owner.

use super::*;

impl Daemon {
    pub(super) fn world(&self) -> World<'_> {
        // Routes into the tunnel need its device up: while a new tunnel starts, the kernel
        // refuses them (ENETDOWN). A device left up by an earlier arcway is adopted at once.
        let arc_routable = self.tunnel == TunnelState::Running
            || self
                .interfaces
                .get(&PathId::Arc)
                .and_then(|name| self.observed.links.get(name))
                .is_some_and(|l| l.is_up());
        World {
            cfg: &self.cfg,
            links: &self.observed.links,
            arc: self
                .creds
                .as_ref()
                .map(|c| (c.ip_address, setup::arc_routes(&self.cfg, c))),
            arc_routable,
            interfaces: &self.interfaces,
            cellular_route: self.cellular_route,
        }
    }

    pub(super) async fn sync_routing(&mut self) {
        if !self.ctl.links_known() {
            return;
        }
        let desired = self.ctl.engine().desired();
        let routes = desired
            .classes
            .iter()
            .map(|c| (c.name.clone(), c.route))
            .collect();
        let inputs = self.world().routing(&routes);
        let mut desired = match routing::desired(&inputs) {
            Ok(d) => d,
            Err(err) => {
                let message = error_chain(&err);
                warn!(error = %message, "failed to compute the routing state");
                self.set_problem(ROUTING, Err(message));
                return;
            }
        };
        if self.ctl.adopting() {
            // Until every path has reported, class tables keep what the kernel has (a
            // restart adopts working routes); path tables and rules are set at once so the
            // tunnel and the probes can work.
            match self.reconciler.current().await {
                Ok(current) => keep_class_routes(&mut desired, &current, &inputs),
                Err(err) => {
                    warn!(error = %err, "failed to read arcway's routes");
                    return;
                }
            }
        }
        let links = desired.links.clone();
        match self.reconciler.set(desired).await {
            Ok(changes) => {
                if !changes.is_empty() {
                    debug!(changes = %routing::render_changes(&changes, &links), "routing updated");
                }
                self.set_problem(ROUTING, Ok(()));
            }
            Err(err) => {
                let message = error_chain(&err);
                warn!(error = %message, "failed to update routing");
                self.set_problem(ROUTING, Err(message));
            }
        }
    }

    /// Flows of a moved class that were NATed to the old path would keep that address on
    /// the new path and be dropped by the far end: delete them, and only them, per family
    /// that moved. Every class moved in one turn shares one conntrack dump.
    pub(super) fn evict(&self, moved: &[Moved]) {
        let (classes, evictions) = dual::evictions(&self.world(), moved);
        if evictions.is_empty() {
            return;
        }
        // Started here, not in the task: see conntrack::evict.
        let eviction = conntrack::evict(evictions);
        tokio::spawn(async move {
            let classes = classes.join(", ");
            match eviction.await {
                Ok(report) => debug!(
                    classes = %classes,
                    evicted = report.evicted,
                    examined = report.examined,
                    "conntrack entries of the moved classes removed"
                ),
                Err(err) => {
                    warn!(classes = %classes, error = %err, "failed to remove conntrack entries")
                }
            }
        });
    }

    pub(super) fn nft_wanted(&self) -> nft::owner::Wanted {
        let inputs = self.world().nft();
        let routes = self.ctl.engine().desired();
        let ifname = |p: PathId| self.interfaces.get(&p).cloned();
        let extras = nft::TableExtras {
            counted: self
                .interfaces
                .iter()
                .map(|(p, i)| nft::CountedPath {
                    path: *p,
                    ifname: i.clone(),
                })
                .collect(),
            default_class: self
                .cfg
                .classes
                .iter()
                .find(|c| c.matcher.is_none())
                .map(|c| c.name.clone()),
            held: nft::held_classes(
                &self.cfg,
                routes
                    .classes
                    .iter()
                    .map(|c| (c.name.as_str(), dual::held(c.route))),
                ifname,
            ),
            missing_cgroups: Default::default(),
        };
        (inputs, extras)
    }
}

/// While adopting, class tables keep what the kernel has; everything else is as desired.
fn keep_class_routes(
    desired: &mut routing::DesiredRouting,
    current: &routing::KernelRouting,
    inputs: &routing::RoutingInputs,
) {
    let class_tables: std::collections::BTreeSet<u32> =
        inputs.classes.iter().map(|c| c.table).collect();
    desired
        .objects
        .routes
        .retain(|key, _| !class_tables.contains(&key.table));
    for (key, kind) in &current.routes {
        if class_tables.contains(&key.table) {
            desired.objects.routes.insert(*key, kind.clone());
        }
    }
}
