//! ModemManager in a lab: it runs in the gateway's namespace (so the lab's cleanup finds it
//! even after a crash), and the emulated modem's network port is the gateway's `wwan0`,
//! the veth to the cellular core. Connecting the bearer hands out the lab's own cellular
//! address, 198.51.100.130/26 via 198.51.100.129.
use super::{ModemManager, ModemSpec, Options};
use crate::error::Result;
use crate::lab::Lab;
use crate::plan::{CELLULAR_GATEWAY, CELLULAR_IF, GW_CELLULAR_ADDR};
use crate::role::Role;

impl Lab {
    /// Starts ModemManager with one emulated modem on the gateway's `wwan0`.
    pub fn start_modem_manager(&self) -> Result<ModemManager> {
        let mut spec = ModemSpec::new(1, CELLULAR_IF);
        spec.ip4.address = GW_CELLULAR_ADDR.parse().expect("plan address");
        spec.ip4.gateway = CELLULAR_GATEWAY.parse().expect("plan address");
        let mm = ModemManager::start(
            Options {
                netns: Some(self.ns(Role::Gw)),
            },
            vec![spec],
        )?;
        for rec in mm.pids() {
            self.record(rec);
        }
        Ok(mm)
    }

    /// [`ModemManager::restart_bus`], recording the new processes for the lab's cleanup.
    pub fn restart_modem_bus(&self, mm: &mut ModemManager) -> Result<()> {
        mm.restart_bus()?;
        for rec in mm.pids() {
            self.record(rec);
        }
        Ok(())
    }

    /// Takes the address and the main-table route off `wwan0`, as on a gateway whose bearer
    /// interface has no configuration until the bearer connects (manage mode sets it).
    pub fn unconfigure_cellular(&self) -> Result<()> {
        self.ip(Role::Gw, &["route", "flush", "dev", CELLULAR_IF])?;
        self.ip(Role::Gw, &["addr", "flush", "dev", CELLULAR_IF])?;
        Ok(())
    }
}
