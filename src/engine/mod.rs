//! The pure decision core: events and `now` in, desired state and actions out.

pub mod settings;

pub use settings::{ClassPath, ClassSettings, PathSettings, Settings};
