//! arcway: keeps a Linux gateway on the SORACOM platform over the cheapest working path.

pub mod accounting;
pub mod bootstrap;
pub mod child_env;
pub mod cli;
pub mod config;
pub mod conntrack;
pub mod credentials;
pub mod daemon;
pub mod engine;
pub mod https;
pub mod linkmon;
pub mod liveness;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod modem;
pub mod netlink;
pub mod nfnetlink;
pub mod nft;
pub mod notify;
pub mod probe;
pub mod routing;
pub mod status;
pub mod wg;
pub mod wifi;
