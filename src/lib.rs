//! arcway: keeps a Linux gateway on the SORACOM platform over the cheapest working path.

pub mod engine;
pub mod linkmon;
pub mod model;
pub mod probe;
