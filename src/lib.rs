//! arcway: keeps a Linux gateway on the SORACOM platform over the cheapest working path.

pub mod config;
pub mod engine;
pub mod model;
