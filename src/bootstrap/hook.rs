//! The daemon's side: load the credentials, bootstrap them when missing (`arc.bootstrap`),
//! and re-bootstrap with backoff when the Arc server stops accepting the key
//! (`arc.rebootstrap_on_auth_failure`). Neither path ever creates a second SIM: at start a
//! SIM is created only when no credentials file and no pending record exist, and
//! re-bootstrapping never creates one.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::args::{cellular_interface, cellular_mark};
use super::coverage::{Endpoints, coverage_for, krypton_coverage};
use super::flow::{AuthKeyFlow, run_authkey};
use super::{AuthKeyOrigin, DEFAULT_AUTH_KEY_FILE, Error, SoracomApi};
use super::{find_auth_key, run_krypton, wait_for_cellular};
use crate::config::{BootstrapMethod, Config};
use crate::credentials::{self, Credentials};
use crate::https::{Client, ClientOptions};

/// Settings of the daemon's bootstrap that the configuration file does not carry.
#[derive(Debug, Clone)]
pub struct HookOptions {
    /// The SORACOM API of each coverage; `arc.coverage` (or the stored one) picks.
    pub api: Endpoints,
    /// Krypton of each coverage.
    pub krypton: Endpoints,
    /// Saved AuthKey, used when the environment has none.
    pub auth_key_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    /// The bearer interface ModemManager named; else `uplinks.cellular.interface`, else wwan0.
    pub cellular_interface: Option<String>,
    /// How long to wait for the cellular path before Krypton; `None`: for ever.
    pub cellular_wait: Option<Duration>,
    pub cellular_poll: Duration,
    pub client: ClientOptions,
}

impl Default for HookOptions {
    fn default() -> Self {
        HookOptions {
            api: Endpoints::api(),
            krypton: Endpoints::krypton(),
            auth_key_file: PathBuf::from(DEFAULT_AUTH_KEY_FILE),
            ca_file: None,
            cellular_interface: None,
            cellular_wait: None,
            cellular_poll: Duration::from_secs(1),
            client: ClientOptions::default(),
        }
    }
}

impl HookOptions {
    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            extra_ca: self
                .ca_file
                .clone()
                .or_else(|| self.client.extra_ca.clone()),
            ..self.client.clone()
        }
    }
}

/// The credentials for the Arc path: loaded from `arc.credentials`, or fetched by
/// `arc.bootstrap` when that file does not exist. Any other load error is returned as is: a
/// broken file is not silently replaced.
pub async fn bootstrap_if_missing(cfg: &Config, opts: &HookOptions) -> Result<Credentials, Error> {
    let arc = cfg.arc.as_ref().ok_or(Error::NotConfigured)?;
    let path = &arc.credentials;
    let err = match credentials::load(path) {
        Ok(c) => {
            if let (Some(wanted), Some(found)) = (arc.coverage, c.coverage)
                && wanted != found
            {
                // The tunnel works whatever the coverage; only a later bootstrap would fail.
                tracing::warn!(path = %path.display(), %wanted, %found, "arc.coverage differs from the credentials' coverage; bootstrapping again will refuse until they match");
            }
            return Ok(c);
        }
        Err(e) => e,
    };
    let missing = matches!(&err, credentials::Error::Read { source, .. }
        if source.kind() == std::io::ErrorKind::NotFound);
    let Some(method) = arc.bootstrap.filter(|_| missing) else {
        return Err(Error::Load {
            path: path.clone(),
            source: err,
        });
    };
    tracing::info!(path = %path.display(), %method, "credentials missing; bootstrapping");
    fetch(cfg, opts, method, true).await
}

async fn fetch(
    cfg: &Config,
    opts: &HookOptions,
    method: BootstrapMethod,
    allow_create: bool,
) -> Result<Credentials, Error> {
    let arc = cfg.arc.as_ref().ok_or(Error::NotConfigured)?;
    let asked = arc
        .coverage
        .map(|c| (c, "arc.coverage of the configuration".to_owned()));
    match method {
        BootstrapMethod::Krypton => {
            let coverage = krypton_coverage(&arc.credentials, asked)?;
            let interface = opts
                .cellular_interface
                .clone()
                .unwrap_or_else(|| cellular_interface(Some(cfg)));
            let mark = Some(cellular_mark(Some(cfg)));
            wait_for_cellular(&interface, mark, opts.cellular_wait, opts.cellular_poll).await?;
            let outcome = run_krypton(
                opts.client_options(),
                opts.krypton.get(coverage.coverage),
                &interface,
                mark,
                &arc.credentials,
                arc.coverage,
            )
            .await?;
            Ok(outcome.credentials)
        }
        BootstrapMethod::AuthKey => {
            let (key, origin) = find_auth_key(None, &opts.auth_key_file)?;
            tracing::info!(%origin, "using the AuthKey");
            let saved = match (&origin, key.coverage) {
                (AuthKeyOrigin::File(path), Some(c)) => Some((c, path.display().to_string())),
                _ => None,
            };
            // Decided before any call: a wrong coverage would buy a SIM there.
            let coverage = coverage_for(&arc.credentials, asked, saved)?;
            tracing::info!(coverage = %coverage.coverage, from = %coverage.source, "SORACOM coverage");
            let client = Client::new(opts.client_options()).map_err(Error::Client)?;
            let api = SoracomApi::new(client, opts.api.get(coverage.coverage))?;
            let mut flow = AuthKeyFlow {
                output: arc.credentials.clone(),
                rotate: false,
                allow_create,
                coverage: coverage.coverage,
            };
            match run_authkey(&api, &key, &flow).await {
                // The server's key is none of ours: make a new one here and register it.
                Err(Error::KeyMismatch { .. }) if !allow_create => {
                    flow.rotate = true;
                    Ok(run_authkey(&api, &key, &flow).await?.credentials)
                }
                other => Ok(other?.credentials),
            }
        }
    }
}

/// Bootstraps again after the Arc server stopped accepting the key. Never creates a SIM.
pub async fn rebootstrap(cfg: &Config, opts: &HookOptions) -> Result<Credentials, Error> {
    let arc = cfg.arc.as_ref().ok_or(Error::NotConfigured)?;
    let method = arc.bootstrap.ok_or(Error::NotConfigured)?;
    fetch(cfg, opts, method, false).await
}

/// Backoff between re-bootstrap attempts: `initial`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebootstrapPolicy {
    pub enabled: bool,
    pub initial: Duration,
    pub max: Duration,
}

impl RebootstrapPolicy {
    pub fn from_config(cfg: &Config) -> RebootstrapPolicy {
        let enabled = cfg
            .arc
            .as_ref()
            .is_some_and(|a| a.rebootstrap_on_auth_failure && a.bootstrap.is_some());
        RebootstrapPolicy {
            enabled,
            initial: Duration::from_secs(60),
            max: Duration::from_secs(3600),
        }
    }
}

/// When the daemon may re-bootstrap; time is passed in, so the schedule is testable.
#[derive(Debug, Clone)]
pub struct Rebootstrapper {
    policy: RebootstrapPolicy,
    failures: u32,
    not_before: Option<Instant>,
}

impl Rebootstrapper {
    pub fn new(policy: RebootstrapPolicy) -> Rebootstrapper {
        Rebootstrapper {
            policy,
            failures: 0,
            not_before: None,
        }
    }

    /// Whether an attempt may start at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.policy.enabled && self.not_before.is_none_or(|t| now >= t)
    }

    /// Records an attempt's result: success resets the backoff, failure doubles it. Every
    /// attempt also waits at least `initial` before the next, so a key that keeps failing
    /// after a successful re-bootstrap cannot cause a loop of requests.
    pub fn record(&mut self, now: Instant, ok: bool) {
        self.failures = if ok {
            0
        } else {
            self.failures.saturating_add(1)
        };
        let factor = 1u32 << self.failures.min(16);
        let wait = self
            .policy
            .initial
            .saturating_mul(factor)
            .min(self.policy.max);
        self.not_before = Some(now + wait);
    }

    /// When the next attempt may start (None: now, or never when disabled).
    pub fn next_at(&self) -> Option<Instant> {
        self.not_before
    }

    /// Runs [`rebootstrap`] if the policy allows it at `now`; `None` when it does not.
    pub async fn on_auth_failure(
        &mut self,
        cfg: &Config,
        opts: &HookOptions,
        now: Instant,
    ) -> Option<Result<Credentials, Error>> {
        if !self.due(now) {
            return None;
        }
        let result = rebootstrap(cfg, opts).await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, "re-bootstrap failed");
        }
        self.record(now, result.is_ok());
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let policy = RebootstrapPolicy {
            enabled: true,
            initial: Duration::from_secs(60),
            max: Duration::from_secs(600),
        };
        let mut r = Rebootstrapper::new(policy);
        let t0 = Instant::now();
        assert!(r.due(t0));
        r.record(t0, false);
        assert!(!r.due(t0 + Duration::from_secs(119)));
        assert!(r.due(t0 + Duration::from_secs(120)));
        for _ in 0..10 {
            r.record(t0, false);
        }
        assert_eq!(r.next_at(), Some(t0 + Duration::from_secs(600)));
        r.record(t0, true);
        assert_eq!(r.next_at(), Some(t0 + Duration::from_secs(60)));
        let off = Rebootstrapper::new(RebootstrapPolicy {
            enabled: false,
            ..policy
        });
        assert!(!off.due(t0));
    }
}
