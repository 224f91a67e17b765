//! Checks of names and addresses written as plain strings.

use crate::config::types::Endpoint;

/// As the kernel checks it (1..=15 bytes, not `.` or `..`, no `/`, `:` or whitespace),
/// and nothing nftables would parse: the same check guards every name the table gets.
pub fn interface_name(name: &str) -> Result<(), String> {
    crate::nft::check_ifname(name)
}

/// A cgroup v2 path that goes into the nftables table literally.
pub fn cgroup_path(path: &str) -> Result<(), String> {
    crate::nft::check_cgroup(path)
}

/// Class names appear in status output, metrics labels and nftables set names: keep them
/// to 1..=32 of `a-z 0-9 _ -`, starting with a letter.
pub fn class_name(name: &str) -> Result<(), String> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if name.is_empty() || name.len() > 32 || !starts_with_letter || !name.chars().all(valid_char) {
        return Err(format!(
            "invalid class name `{name}` (1 to 32 of a-z, 0-9, `_`, `-`, starting with a letter)"
        ));
    }
    Ok(())
}

/// A DNS name: 1..=253 bytes, labels of 1..=63 of letters, digits, `-`, `_`.
pub fn dns_name(name: &str) -> Result<(), String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if trimmed.is_empty() || trimmed.len() > 253 || !trimmed.split('.').all(label_ok) {
        return Err(format!("invalid DNS name `{name}`"));
    }
    Ok(())
}

/// `host:port`, `[v6]:port`; the host is a DNS name or an IP address.
pub fn endpoint(s: &str) -> Result<Endpoint, String> {
    let bad = || {
        format!(
            "invalid endpoint `{s}` (expected host:port, e.g. arc.example.com:11010 or [2001:db8::1]:11010)"
        )
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
        host.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        (host, port)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        if host.contains(':') {
            return Err(format!(
                "invalid endpoint `{s}` (write IPv6 addresses in brackets: [addr]:port)"
            ));
        }
        if host.parse::<std::net::Ipv4Addr>().is_err() {
            dns_name(host).map_err(|_| bad())?;
        }
        (host, port)
    };
    let port: u16 = port.parse().ok().filter(|&p| p != 0).ok_or_else(bad)?;
    Ok(Endpoint {
        host: host.to_owned(),
        port,
    })
}

/// Only plain `http://` URLs with a host: the prober has no TLS, on purpose (binary size).
pub fn http_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("unsupported probe URL `{url}` (only http:// URLs are supported)")
    })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.chars().any(char::is_whitespace) {
        return Err(format!("invalid probe URL `{url}` (no host)"));
    }
    // The prober takes what it can bind to a path: a literal address, since the system
    // resolver would not ask over the probed path.
    url.parse::<crate::probe::HttpTarget>()
        .map(|_| ())
        .map_err(|e| format!("invalid probe URL `{url}`: {e}"))
}
