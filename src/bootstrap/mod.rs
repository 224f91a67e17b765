//! Getting Arc credentials onto the device: `arcway bootstrap authkey` (SORACOM API with an
//! AuthKey), `arcway bootstrap krypton` (SORACOM Krypton, over the cellular path only),
//! `arcway bootstrap import` (soratun's file), key rotation with a key made on the device, and
//! the daemon's hook for a missing credentials file.
//!
//! Creating a virtual SIM costs money, so the authkey flow creates one only when neither the
//! credentials file nor a pending record (`<output>.new-sim`, written the moment a SIM or a
//! rotated key exists on the server but not yet in the credentials file) names one; every
//! other run reuses the simId. Whatever fails, the credentials file is either untouched or
//! replaced atomically. AuthKeys, API tokens and private keys never reach logs, errors or
//! Debug output ([`Secret`], [`crate::credentials::PrivateKey`]).

mod api;
mod args;
mod authkey;
mod cellular;
mod coverage;
mod flow;
mod hook;
mod json;
mod krypton;
mod pending;
mod ratelimit;
mod secret;
mod secret_file;

use std::path::PathBuf;
use std::time::Duration;

pub use api::{ApiToken, Coverage, NewSim, SoracomApi, api_endpoint};
pub use args::{
    AuthKeyArgs, BootstrapCommand, ExportArgs, ExportFormat, ImportArgs, KryptonArgs, Summary, run,
};
pub use authkey::{
    AuthKey, AuthKeyOrigin, DEFAULT_AUTH_KEY_FILE, ENV_AUTH_KEY, ENV_AUTH_KEY_ID,
    auth_key_from_env, find_auth_key, parse_auth_key, read_auth_key_file, save_auth_key,
};
pub use cellular::{CellularState, cellular_binding, cellular_state, wait_for_cellular};
pub use coverage::{CoverageChoice, Endpoints, choose_coverage, coverage_for};
pub use flow::{AuthKeyFlow, Outcome, run_authkey};
pub use hook::{HookOptions, RebootstrapPolicy, Rebootstrapper, bootstrap_if_missing, rebootstrap};
pub use krypton::{DEFAULT_KRYPTON_ENDPOINT, KRYPTON_PATH, run_krypton};
pub use pending::pending_path;
pub use ratelimit::{RateLimit, retry_after_wait};
pub use secret::Secret;

use crate::credentials;
use crate::https::HttpsError;

/// Errors of bootstrapping. None holds an AuthKey, a token or a private key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to find an AuthKey: {hint}")]
    AuthKeyMissing { hint: String },
    #[error("failed to read AuthKey file {path}: {problem}")]
    AuthKeyFile { path: PathBuf, problem: String },
    #[error("failed to read AuthKey file {path}")]
    AuthKeyRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to save the AuthKey to {path}")]
    AuthKeyWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to set up HTTPS")]
    Client(#[source] HttpsError),
    #[error("failed to {call}")]
    Request {
        call: String,
        #[source]
        source: HttpsError,
    },
    #[error("failed to {call}: {service} answered HTTP {status} {code}: {message}")]
    Api {
        call: String,
        service: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "failed to {call}: the AuthKey's user lacks the SAM permission {permission} \
         (SORACOM API answered HTTP 403 {code}: {message})"
    )]
    Forbidden {
        call: String,
        permission: &'static str,
        code: String,
        message: String,
    },
    #[error(
        "failed to bootstrap: {wanted_from} asks for {wanted} coverage but {found_in} is for \
         {found} coverage (a SIM of one coverage is unknown to the other; set arc.coverage or \
         --coverage to match, or move the file away)"
    )]
    CoverageMismatch {
        wanted: Coverage,
        wanted_from: String,
        found: Coverage,
        found_in: String,
    },
    #[error("failed to {call}: the answer is {problem}")]
    Answer { call: String, problem: String },
    #[error(
        "failed to read the existing credentials {path}; no SIM is created while its simId \
         might be lost (fix or move the file away)"
    )]
    ExistingUnreadable {
        path: PathBuf,
        #[source]
        source: credentials::Error,
    },
    #[error(
        "failed to use SIM {sim_id}: the server's key for it matches no private key on this \
         device (run again with --rotate)"
    )]
    KeyMismatch { sim_id: String },
    #[error("failed to generate a new Arc key")]
    KeyGeneration(#[source] std::io::Error),
    #[error("failed to bootstrap: no SIM exists yet and creating one is not allowed here")]
    WouldCreateSim,
    #[error("failed to accept the credentials from the answer")]
    Credentials(#[source] credentials::Error),
    #[error("failed to save the credentials")]
    Save(#[source] credentials::Error),
    #[error("failed to write {path}")]
    Pending {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to use the cellular path: interface {interface} {reason}")]
    CellularDown { interface: String, reason: String },
    #[error("failed to see the cellular path ({interface}) come up within {after:?}: {reason}")]
    CellularWait {
        interface: String,
        after: Duration,
        reason: String,
    },
    #[error("failed to bootstrap: arc is not configured")]
    NotConfigured,
    #[error(
        "failed to load the credentials {path} (arc.bootstrap is not set, so they are not fetched)"
    )]
    Load {
        path: PathBuf,
        #[source]
        source: credentials::Error,
    },
    #[error("failed to read the configuration {path}")]
    Config {
        path: PathBuf,
        #[source]
        source: crate::config::ConfigError,
    },
}
