//! The environment arcway's children (nft, wireguard-go) get: an allow-list, not arcway's
//! own. arcway's environment may hold the SORACOM AuthKey (`SORACOM_AUTH_KEY*`), the service
//! manager's sockets (`NOTIFY_SOCKET`, `WATCHDOG_*`) and whatever a unit file added; none of
//! it is a child's business.

use std::ffi::{OsStr, OsString};

/// Passed on as they are: the program search path, locale and time zone, temporary files.
const KEEP: [&str; 5] = ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR"];
/// Passed on by prefix: locale categories, and wireguard-go's own settings (`WG_*`,
/// `LOG_LEVEL`) that an operator may set for it on purpose.
const KEEP_PREFIXED: [&str; 3] = ["LC_", "WG_", "LOG_LEVEL"];

/// Whether a variable of arcway's goes on to its children.
pub fn is_kept(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    // Secrets never pass, whatever an allowed prefix would say.
    if name.starts_with("SORACOM_") {
        return false;
    }
    KEEP.contains(&name) || KEEP_PREFIXED.iter().any(|p| name.starts_with(p))
}

/// The kept part of `vars`.
pub fn scrub(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Vec<(OsString, OsString)> {
    vars.into_iter().filter(|(k, _)| is_kept(k)).collect()
}

/// Gives `cmd` the scrubbed copy of arcway's environment instead of all of it.
pub fn apply(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    cmd.env_clear().envs(scrub(std::env::vars_os()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_service_manager_sockets_are_dropped() {
        let vars = [
            ("PATH", "/usr/sbin:/usr/bin"),
            ("LANG", "C.UTF-8"),
            ("LC_TIME", "C"),
            ("WG_PROCESS_FOREGROUND", "1"),
            ("LOG_LEVEL", "debug"),
            ("SORACOM_AUTH_KEY", "secret-x"),
            ("SORACOM_AUTH_KEY_ID", "keyId-x"),
            ("NOTIFY_SOCKET", "/run/systemd/notify"),
            ("WATCHDOG_USEC", "20000000"),
            ("ARCWAY_LOG", "debug"),
            ("HOME", "/root"),
            ("CREDENTIALS_DIRECTORY", "/run/credentials/arcway.service"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let kept: Vec<String> = scrub(vars)
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        assert_eq!(
            kept,
            [
                "PATH",
                "LANG",
                "LC_TIME",
                "WG_PROCESS_FOREGROUND",
                "LOG_LEVEL"
            ]
        );
    }
}
