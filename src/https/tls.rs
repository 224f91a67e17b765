//! rustls client configuration: ring provider, system roots, an optional extra CA.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{ClientConfig, RootCertStore};

use super::HttpsError;

/// Trust anchors: the system's CA bundle (when present) plus the certificates in `extra`.
/// A missing or empty system bundle is only an error when no extra CA is given either.
pub(crate) fn client_config(extra: Option<&Path>) -> Result<Arc<ClientConfig>, HttpsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    if !native.errors.is_empty() {
        tracing::debug!(
            errors = native.errors.len(),
            "some system CA certificates failed to load"
        );
    }
    // Broken entries in the system bundle are skipped, as browsers and curl do.
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system CA certificates");
    if let Some(path) = extra {
        let text = std::fs::read(path).map_err(|source| HttpsError::CaFile {
            path: path.into(),
            source,
        })?;
        let invalid = |problem: String| HttpsError::CaInvalid {
            path: path.into(),
            problem,
        };
        let mut count = 0;
        for cert in CertificateDer::pem_slice_iter(&text) {
            let cert = cert.map_err(|e| invalid(e.to_string()))?;
            roots.add(cert).map_err(|e| invalid(e.to_string()))?;
            count += 1;
        }
        if count == 0 {
            return Err(invalid("no PEM certificate in it".into()));
        }
    }
    if roots.is_empty() {
        return Err(HttpsError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(HttpsError::TlsSetup)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
