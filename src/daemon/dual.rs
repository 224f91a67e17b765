//! Dual stack glue (pure): which families each path can carry, and which conntrack entries
//! a class leaves behind when one of its families moves.

use crate::conntrack::Eviction;
use crate::engine::{ClassRoute, ClassRoutes, Event};
use crate::model::Family;

use super::controller::Moved;
use super::inputs::World;

/// The engine's view of the families each path has a default route in.
pub fn default_route_events(world: &World<'_>) -> Vec<Event> {
    world
        .default_routes()
        .into_iter()
        .map(|(path, routes)| Event::DefaultRoutes { path, routes })
        .collect()
}

/// For every family of a moved class that left a path: the class's flows NATed to that
/// path's addresses of the family. Returns a description per eviction for the log too.
pub fn evictions(world: &World<'_>, moved: &[Moved]) -> (Vec<String>, Vec<Eviction>) {
    let mut what = Vec::new();
    let mut out = Vec::new();
    for Moved { class, from, to } in moved {
        for family in Family::ALL {
            let ClassRoute::Via(old) = *from.get(family) else {
                continue;
            };
            if to.get(family) == from.get(family) {
                continue;
            }
            let Some(flows) = world.class_flows(class) else {
                continue;
            };
            let addresses = world.nat_addresses(old, family);
            if addresses.is_empty() {
                continue;
            }
            what.push(format!("{class} {family} from {old}"));
            out.extend(addresses.into_iter().map(|old_address| Eviction {
                class: flows.clone(),
                old_address,
            }));
        }
    }
    (what, out)
}

/// The route nftables refuses a class on: held in either family means its traffic to the
/// held path is refused (the other family's traffic does not leave by that path).
pub fn held(routes: ClassRoutes) -> ClassRoute {
    match (routes.v4, routes.v6) {
        (held @ ClassRoute::Held(_), _) | (_, held @ ClassRoute::Held(_)) => held,
        (v4, _) => v4,
    }
}

#[cfg(test)]
mod tests;
