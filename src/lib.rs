//! arcway: keeps a Linux gateway on the SORACOM platform over the cheapest working path.

pub mod cli;
pub mod config;
pub mod conntrack;
pub mod credentials;
pub mod engine;
pub mod linkmon;
pub mod logging;
pub mod model;
pub mod modem;
pub mod nft;
pub mod notify;
pub mod probe;
pub mod routing;
pub mod status;
pub mod wg;
