//! Unit tests of the configuration module.
