//! The SORACOM AuthKey: from a file or the environment, never from the command line (where
//! `ps` would show it), and stored only when asked.
//!
//! File format: a JSON object `{"authKeyId": "keyId-...", "authKey": "secret-..."}`, or plain
//! `key: value` lines (`authKeyId: keyId-...`, `authKey: secret-...`, `#` comments, optional
//! quotes). Parse errors never quote the file, so a typo cannot leak the secret. An optional
//! `coverage` (`jp` or `global`) records which SORACOM coverage the key was used with.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Coverage, Error, Secret};

/// Where `--save-auth-key` keeps the AuthKey, and where the daemon looks for it.
pub const DEFAULT_AUTH_KEY_FILE: &str = "/var/lib/arcway/authkey.json";
pub const ENV_AUTH_KEY_ID: &str = "SORACOM_AUTH_KEY_ID";
pub const ENV_AUTH_KEY: &str = "SORACOM_AUTH_KEY";

/// An AuthKey. Both halves are secret: the id names the account's key and is not printed either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthKey {
    pub id: Secret,
    pub secret: Secret,
    /// The coverage stored with a saved AuthKey; `None` when the source names none.
    pub coverage: Option<Coverage>,
}

/// Where an AuthKey was found (for messages; holds no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKeyOrigin {
    File(PathBuf),
    Environment,
}

impl std::fmt::Display for AuthKeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthKeyOrigin::File(p) => write!(f, "file {}", p.display()),
            AuthKeyOrigin::Environment => write!(f, "{ENV_AUTH_KEY_ID}/{ENV_AUTH_KEY}"),
        }
    }
}

fn file_error(path: &Path, problem: &str) -> Error {
    Error::AuthKeyFile {
        path: path.into(),
        problem: problem.to_owned(),
    }
}

/// Parses the file text (JSON or `key: value` lines).
pub fn parse_auth_key(path: &Path, text: &str) -> Result<AuthKey, Error> {
    let (mut id, mut secret, mut coverage) = (None, None, None);
    let bad_coverage = || file_error(path, "coverage is neither jp nor global");
    if text.trim_start().starts_with('{') {
        // Into a Value first: typed deserialisation errors would quote the offending value.
        let value: Value = serde_json::from_str(text)
            .map_err(|e| file_error(path, &format!("not valid JSON (line {})", e.line())))?;
        let field = |name| match value.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(Secret::new(s.trim()))),
            Some(_) => Err(file_error(path, &format!("{name} is not a string"))),
        };
        id = field("authKeyId")?;
        secret = field("authKey")?;
        if let Some(c) = field("coverage")? {
            coverage = Some(Coverage::parse(c.expose()).ok_or_else(bad_coverage)?);
        }
    } else {
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(file_error(
                    path,
                    &format!("line {} is not `key: value`", n + 1),
                ));
            };
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            match key.trim() {
                "authKeyId" => id = Some(Secret::new(value)),
                "authKey" => secret = Some(Secret::new(value)),
                "coverage" => coverage = Some(Coverage::parse(value).ok_or_else(bad_coverage)?),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Ok(AuthKey {
            id,
            secret,
            coverage,
        }),
        _ => Err(file_error(path, "it needs both authKeyId and authKey")),
    }
}

/// Reads an AuthKey file, warning when others may read it.
pub fn read_auth_key_file(path: &Path) -> Result<AuthKey, Error> {
    let read = |source| Error::AuthKeyRead {
        path: path.into(),
        source,
    };
    let meta = fs::metadata(path).map_err(read)?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "AuthKey file is readable by others; chmod 600 it");
    }
    let text = fs::read_to_string(path).map_err(read)?;
    parse_auth_key(path, &text)
}

/// Both environment variables, or neither; one without the other is a mistake worth naming.
pub fn auth_key_from_env() -> Result<Option<AuthKey>, Error> {
    let get = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match (get(ENV_AUTH_KEY_ID), get(ENV_AUTH_KEY)) {
        (Some(id), Some(secret)) => Ok(Some(AuthKey {
            id: Secret::new(id.trim()),
            secret: Secret::new(secret.trim()),
            coverage: None,
        })),
        (None, None) => Ok(None),
        _ => Err(Error::AuthKeyMissing {
            hint: format!("set both {ENV_AUTH_KEY_ID} and {ENV_AUTH_KEY}"),
        }),
    }
}

/// The AuthKey from `file` if given, else the environment, else `saved` if it exists.
pub fn find_auth_key(file: Option<&Path>, saved: &Path) -> Result<(AuthKey, AuthKeyOrigin), Error> {
    if let Some(path) = file {
        return Ok((read_auth_key_file(path)?, AuthKeyOrigin::File(path.into())));
    }
    if let Some(key) = auth_key_from_env()? {
        return Ok((key, AuthKeyOrigin::Environment));
    }
    if saved.exists() {
        return Ok((
            read_auth_key_file(saved)?,
            AuthKeyOrigin::File(saved.into()),
        ));
    }
    Err(Error::AuthKeyMissing {
        hint: format!(
            "pass --auth-key-file FILE or set {ENV_AUTH_KEY_ID} and {ENV_AUTH_KEY} (no saved AuthKey at {})",
            saved.display()
        ),
    })
}

/// Stores the AuthKey and the coverage it is used with as JSON with mode 0600, atomically.
pub fn save_auth_key(path: &Path, key: &AuthKey, coverage: Coverage) -> Result<(), Error> {
    let write = |source| Error::AuthKeyWrite {
        path: path.into(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(write)?;
    }
    let text = Secret::new(
        serde_json::json!({
            "authKeyId": key.id.expose(),
            "authKey": key.secret.expose(),
            "coverage": coverage.as_str(),
        })
        .to_string()
            + "\n",
    );
    super::secret_file::write_0600(path, text.expose().as_bytes()).map_err(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_lines_parse() {
        let p = Path::new("k");
        let k = parse_auth_key(p, r#"{"authKeyId": "keyId-a", "authKey": "secret-b"}"#).unwrap();
        assert_eq!((k.id.expose(), k.secret.expose()), ("keyId-a", "secret-b"));
        let k = parse_auth_key(p, "# mine\nauthKeyId: keyId-a\nauthKey: \"secret-b\"\n").unwrap();
        assert_eq!((k.id.expose(), k.secret.expose()), ("keyId-a", "secret-b"));
        assert_eq!(k.coverage, None);
        let k = parse_auth_key(
            p,
            r#"{"authKeyId": "a", "authKey": "b", "coverage": "global"}"#,
        )
        .unwrap();
        assert_eq!(k.coverage, Some(Coverage::Global));
        let k = parse_auth_key(p, "authKeyId: a\nauthKey: b\ncoverage: jp\n").unwrap();
        assert_eq!(k.coverage, Some(Coverage::Jp));
        assert!(parse_auth_key(p, "authKeyId: a\nauthKey: b\ncoverage: mars\n").is_err());
    }

    #[test]
    fn errors_never_quote_the_file() {
        let p = Path::new("k");
        for text in [
            r#"{"authKeyId": "keyId-a", "authKey": "secret-b""#,
            r#"{"authKeyId": "keyId-a", "authKey": ["secret-b"]}"#,
            "authKeyId keyId-a\nauthKey: secret-b",
            "authKey: secret-b",
        ] {
            let e = parse_auth_key(p, text).unwrap_err().to_string();
            assert!(!e.contains("secret-b") && !e.contains("keyId-a"), "{e}");
        }
    }
}
