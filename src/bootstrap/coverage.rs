//! Which SORACOM coverage a bootstrap talks to. Each coverage is its own API and a SIM of one
//! is unknown to the other, so the coverage a SIM was made in is stored with it and a request
//! for the other coverage stops before any call (a create under the wrong coverage would buy
//! a second SIM; a session call would answer 404).

use std::path::Path;

use super::flow::read_existing;
use super::{Coverage, Error, pending};

/// Endpoints per coverage (the API's, or Krypton's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub jp: String,
    pub global: String,
}

impl Endpoints {
    /// The SORACOM API: `https://api.soracom.io` and `https://g.api.soracom.io`.
    pub fn api() -> Endpoints {
        Endpoints {
            jp: super::api_endpoint(Coverage::Jp).to_owned(),
            global: super::api_endpoint(Coverage::Global).to_owned(),
        }
    }

    /// Krypton's Arc bootstrap. soratun and SORACOM's documentation name one host for it; the
    /// Air line that makes the request decides the coverage, so both entries are that host
    /// unless overridden.
    pub fn krypton() -> Endpoints {
        Endpoints {
            jp: super::DEFAULT_KRYPTON_ENDPOINT.to_owned(),
            global: super::DEFAULT_KRYPTON_ENDPOINT.to_owned(),
        }
    }

    pub fn get(&self, coverage: Coverage) -> &str {
        match coverage {
            Coverage::Jp => &self.jp,
            Coverage::Global => &self.global,
        }
    }
}

/// A coverage and what chose it (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageChoice {
    pub coverage: Coverage,
    pub source: String,
}

/// Picks the coverage: what the user asked for (`--coverage`, else `arc.coverage`), which
/// must agree with every SIM-bound record; else the SIM-bound records (which must agree with
/// each other); else the coverage saved with the AuthKey; else Japan. Pure.
pub fn choose_coverage(
    asked: Option<(Coverage, String)>,
    sim_records: &[(Option<Coverage>, String)],
    auth_key: Option<(Coverage, String)>,
) -> Result<CoverageChoice, Error> {
    let mut chosen = asked.map(|(coverage, source)| CoverageChoice { coverage, source });
    for (found, found_in) in sim_records {
        let Some(found) = *found else { continue };
        match &chosen {
            Some(c) if c.coverage != found => {
                return Err(Error::CoverageMismatch {
                    wanted: c.coverage,
                    wanted_from: c.source.clone(),
                    found,
                    found_in: found_in.clone(),
                });
            }
            Some(_) => {}
            None => {
                chosen = Some(CoverageChoice {
                    coverage: found,
                    source: found_in.clone(),
                })
            }
        }
    }
    Ok(chosen
        .or_else(|| auth_key.map(|(coverage, source)| CoverageChoice { coverage, source }))
        .unwrap_or(CoverageChoice {
            coverage: Coverage::Jp,
            source: "the default (jp)".to_owned(),
        }))
}

/// The coverage recorded for the SIM of `output`: its credentials file and its pending record.
pub(crate) fn sim_records(output: &Path) -> Result<Vec<(Option<Coverage>, String)>, Error> {
    let mut records = Vec::new();
    if let Some(existing) = read_existing(output)? {
        records.push((existing.coverage, format!("{}", output.display())));
    }
    if let Some(p) = pending::load(output)? {
        let path = pending::pending_path(output);
        records.push((p.coverage, format!("{}", path.display())));
    }
    Ok(records)
}

/// [`choose_coverage`] for the credentials file `output`.
pub fn coverage_for(
    output: &Path,
    asked: Option<(Coverage, String)>,
    auth_key: Option<(Coverage, String)>,
) -> Result<CoverageChoice, Error> {
    choose_coverage(asked, &sim_records(output)?, auth_key)
}

/// [`coverage_for`] for Krypton, which replaces a file it cannot read (the Air line gets
/// the same SIM back), so an unreadable file or record only means nothing is recorded.
pub fn krypton_coverage(
    output: &Path,
    asked: Option<(Coverage, String)>,
) -> Result<CoverageChoice, Error> {
    choose_coverage(asked, &sim_records(output).unwrap_or_default(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_owned()
    }

    #[test]
    fn asked_wins_but_must_match_the_sim() {
        let c = choose_coverage(Some((Coverage::Global, s("--coverage"))), &[], None).unwrap();
        assert_eq!(c.coverage, Coverage::Global);
        let records = [(Some(Coverage::Jp), s("arc.json"))];
        let e = choose_coverage(Some((Coverage::Global, s("arc.coverage"))), &records, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("arc.coverage asks for global") && e.contains("arc.json is for jp"),
            "{e}"
        );
        // Unknown records (older files) never block.
        let records = [(None, s("arc.json"))];
        assert!(choose_coverage(Some((Coverage::Global, s("x"))), &records, None).is_ok());
    }

    #[test]
    fn stored_coverage_then_auth_key_then_japan() {
        let records = [
            (None, s("arc.json")),
            (Some(Coverage::Global), s("pending")),
        ];
        let c = choose_coverage(None, &records, Some((Coverage::Jp, s("authkey.json")))).unwrap();
        assert_eq!(
            (c.coverage, c.source.as_str()),
            (Coverage::Global, "pending")
        );
        let c = choose_coverage(None, &[], Some((Coverage::Global, s("authkey.json")))).unwrap();
        assert_eq!(c.coverage, Coverage::Global);
        assert_eq!(
            choose_coverage(None, &[], None).unwrap().coverage,
            Coverage::Jp
        );
        let records = [
            (Some(Coverage::Jp), s("arc.json")),
            (Some(Coverage::Global), s("pending")),
        ];
        assert!(choose_coverage(None, &records, None).is_err());
    }

    #[test]
    fn krypton_ignores_an_unreadable_file_but_the_authkey_flow_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("arc.json");
        std::fs::write(&output, "{not json").unwrap();
        let asked = Some((Coverage::Global, s("arc.coverage")));
        assert_eq!(
            krypton_coverage(&output, asked.clone()).unwrap().coverage,
            Coverage::Global
        );
        assert!(coverage_for(&output, asked, None).is_err());
        std::fs::write(
            &output,
            r#"{"simId": "8942310022000000001", "coverage": "jp"}"#,
        )
        .unwrap();
        let e = coverage_for(&output, Some((Coverage::Global, s("--coverage"))), None);
        assert!(matches!(e, Err(Error::CoverageMismatch { .. })), "{e:?}");
    }
}
