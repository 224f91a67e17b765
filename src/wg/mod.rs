//! The Arc WireGuard device: created in the kernel when it can be, else as a supervised
//! userspace process; configured with the credentials; the endpoint re-resolved when
//! handshakes stop; a sample every second. The routes of its AllowedIPs are the routing
//! reconciler's (see `daemon::setup::arc_routes`).
//!
//! Use: build a [`TunnelSpec`], call [`Tunnel::start`] with a sample channel, and feed
//! [`Tunnel::set_prefer_ipv6`] from the Wi-Fi path's IPv6 state. [`Tunnel::stop`] at the end.

mod device;
mod endpoint;
mod error;
mod limits;
mod link;
mod owner;
mod owner_ops;
mod process;
mod settings;
mod supervisor;
mod tunnel;
mod userspace;

pub use device::allowed_ips;
pub use endpoint::Resolver;
pub use error::Error;
pub use settings::{Backend, OnStop, WgSettings};
pub use supervisor::socket_path;
pub use tunnel::{ActiveBackend, Tunnel, TunnelSpec, TunnelStatus, WgSample};
