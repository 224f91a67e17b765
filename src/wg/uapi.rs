//! A userspace device through its UAPI socket (the text protocol of
//! https://www.wireguard.com/xplatform/): `set=1` configures, `get=1` reads the server peer.
//!
//! The handshake is read with `last_handshake_time_nsec`: known only to the second, a renewal
//! answered within the same second as an outage began looked older than the outage, and the
//! engine (which accepts a tunnel back only with a handshake newer than the outage) kept the
//! path down until WireGuard rekeyed two minutes later.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime};

use super::device::{DeviceUpdate, PeerReading};
use super::supervisor::socket_path;
use crate::credentials::wipe;

/// How long one `get` may take; a live wireguard-go answers in microseconds.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// `get=1` on the device's socket; the reading of the peer whose key is `server`, if present.
pub(crate) fn read_peer(ifname: &str, server: &[u8]) -> std::io::Result<Option<PeerReading>> {
    let text = exchange(ifname, &mut b"get=1\n\n".to_vec())?;
    parse(&text, &hex(server))
}

/// `set=1` with `update` on the device's socket. Only a socket that answers is used: nothing
/// here starts a userspace process (the supervisor owns that).
pub(crate) fn set_device(ifname: &str, update: &DeviceUpdate) -> std::io::Result<()> {
    let answer = exchange(ifname, &mut set_request(update))?;
    errno(&answer)
}

/// Sends `request` (then wipes it: a `set` carries the private key) and returns the answer
/// without its terminating empty line.
fn exchange(ifname: &str, request: &mut [u8]) -> std::io::Result<String> {
    let sent = UnixStream::connect(socket_path(ifname)).and_then(|mut sock| {
        sock.set_read_timeout(Some(IO_TIMEOUT))?;
        sock.set_write_timeout(Some(IO_TIMEOUT))?;
        sock.write_all(request)?;
        Ok(sock)
    });
    wipe(request);
    let mut text = String::new();
    // The answer ends with an empty line after `errno=N`; the socket stays open.
    for line in BufReader::new(sent?).lines() {
        let line = line?;
        if line.is_empty() {
            break;
        }
        text.push_str(&line);
        text.push('\n');
    }
    Ok(text)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `set=1` request for `update`. The buffer holds the private key, so it is sized up front
/// (a reallocation would leave a copy behind) and the key is written into it directly.
pub(crate) fn set_request(update: &DeviceUpdate) -> Vec<u8> {
    use std::io::Write as _;
    let peer = &update.peer;
    let mut out = Vec::with_capacity(512 + 64 * peer.allowed_ips.len());
    // Writing into a Vec cannot fail.
    let _ = (|| -> std::io::Result<()> {
        out.write_all(b"set=1\n")?;
        if let Some(key) = &update.private_key {
            out.write_all(b"private_key=")?;
            for b in key.expose_bytes() {
                write!(out, "{b:02x}")?;
            }
            out.write_all(b"\n")?;
        }
        if let Some(mark) = update.fwmark {
            writeln!(out, "fwmark={mark}")?;
        }
        if let Some(port) = update.listen_port {
            writeln!(out, "listen_port={port}")?;
        }
        if update.replace_peers {
            out.write_all(b"replace_peers=true\n")?;
        }
        writeln!(out, "public_key={}", hex(peer.public_key.as_bytes()))?;
        if peer.replace_allowed_ips {
            out.write_all(b"replace_allowed_ips=true\n")?;
        }
        if let Some(secs) = peer.keepalive {
            writeln!(out, "persistent_keepalive_interval={secs}")?;
        }
        for net in &peer.allowed_ips {
            writeln!(out, "allowed_ip={net}")?;
        }
        if let Some(endpoint) = peer.endpoint {
            writeln!(out, "endpoint={endpoint}")?;
        }
        // An empty line ends the operation.
        out.write_all(b"\n")
    })();
    out
}

/// The result of a `set`: its `errno=N` line.
fn errno(answer: &str) -> std::io::Result<()> {
    let value = answer.lines().find_map(|l| l.strip_prefix("errno="));
    match value.map(str::parse::<i32>) {
        Some(Ok(0)) => Ok(()),
        Some(Ok(code)) => Err(std::io::Error::from_raw_os_error(code)),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("UAPI set answered without errno: {answer:?}"),
        )),
    }
}

/// One peer section as it is read.
#[derive(Default)]
struct Section {
    sec: u64,
    nsec: u32,
    rx_bytes: u64,
    tx_bytes: u64,
    endpoint: Option<SocketAddr>,
}

impl Section {
    fn reading(&self) -> PeerReading {
        PeerReading {
            // 0 seconds means "never".
            last_handshake: (self.sec > 0).then(|| {
                SystemTime::UNIX_EPOCH + Duration::new(self.sec, self.nsec.min(999_999_999))
            }),
            rx_bytes: self.rx_bytes,
            tx_bytes: self.tx_bytes,
            endpoint: self.endpoint,
        }
    }
}

/// Parses a `get` answer (`key=value` lines, one `public_key=` per peer, `errno=` last).
pub(crate) fn parse(text: &str, server_hex: &str) -> std::io::Result<Option<PeerReading>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut found = None;
    let mut current: Option<(bool, Section)> = None;
    let mut errno = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad("UAPI line without '='"));
        };
        let num = |v: &str| v.parse::<u64>().map_err(|_| bad(key));
        match (key, current.as_mut()) {
            ("public_key", _) => {
                if let Some((true, s)) = current.take() {
                    found = Some(s.reading());
                }
                current = Some((value.eq_ignore_ascii_case(server_hex), Section::default()));
            }
            ("last_handshake_time_sec", Some((_, s))) => s.sec = num(value)?,
            ("last_handshake_time_nsec", Some((_, s))) => {
                s.nsec = u32::try_from(num(value)?).map_err(|_| bad(key))?;
            }
            ("rx_bytes", Some((_, s))) => s.rx_bytes = num(value)?,
            ("tx_bytes", Some((_, s))) => s.tx_bytes = num(value)?,
            ("endpoint", Some((_, s))) => s.endpoint = value.parse().ok(),
            ("errno", _) => errno = Some(num(value)?),
            // Device keys, allowed IPs, keepalive, and whatever later versions add.
            _ => {}
        }
    }
    match errno {
        Some(0) => {}
        Some(n) => {
            let code = i32::try_from(n).unwrap_or(libc::EIO);
            return Err(std::io::Error::from_raw_os_error(code));
        }
        None => return Err(bad("UAPI answer without errno")),
    }
    if let Some((true, s)) = current {
        found = Some(s.reading());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "private_key=aa\nlisten_port=38143\nfwmark=131072\n\
        public_key=0101\nendpoint=192.0.2.1:1\nlast_handshake_time_sec=7\nrx_bytes=1\n\
        public_key=ABCD\nprotocol_version=1\nendpoint=[2001:db8:3::10]:11010\n\
        last_handshake_time_sec=1795885689\nlast_handshake_time_nsec=565278315\n\
        tx_bytes=28468\nrx_bytes=28380\npersistent_keepalive_interval=25\n\
        allowed_ip=100.127.0.0/16\nerrno=0\n";

    #[test]
    fn finds_the_server_peer_with_nanoseconds() {
        let r = parse(ANSWER, "abcd").unwrap().unwrap();
        let t = r.last_handshake.unwrap();
        let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(since, Duration::new(1_795_885_689, 565_278_315));
        assert_eq!((r.rx_bytes, r.tx_bytes), (28380, 28468));
        assert_eq!(r.endpoint, Some("[2001:db8:3::10]:11010".parse().unwrap()));
    }

    fn update() -> DeviceUpdate {
        use crate::credentials::{PrivateKey, PublicKey};
        DeviceUpdate {
            private_key: Some(PrivateKey::from_bytes([0xa1; 32])),
            fwmark: Some(131072),
            listen_port: Some(51820),
            replace_peers: true,
            peer: super::super::device::PeerUpdate {
                public_key: PublicKey([0x0f; 32]),
                replace_allowed_ips: true,
                keepalive: Some(25),
                allowed_ips: vec![
                    "100.127.0.0/16".parse().unwrap(),
                    "2001:db8::/32".parse().unwrap(),
                ],
                endpoint: Some("[2001:db8:3::10]:11010".parse().unwrap()),
            },
        }
    }

    #[test]
    fn set_request_text() {
        let text = String::from_utf8(set_request(&update())).unwrap();
        let want = format!(
            "set=1\nprivate_key={}\nfwmark=131072\nlisten_port=51820\nreplace_peers=true\n\
             public_key={}\nreplace_allowed_ips=true\npersistent_keepalive_interval=25\n\
             allowed_ip=100.127.0.0/16\nallowed_ip=2001:db8::/32\n\
             endpoint=[2001:db8:3::10]:11010\n\n",
            "a1".repeat(32),
            "0f".repeat(32)
        );
        assert_eq!(text, want);
    }

    #[test]
    fn endpoint_only_set_request() {
        let ep = "192.0.2.1:11010".parse().unwrap();
        let only = DeviceUpdate::endpoint_only(crate::credentials::PublicKey([0x0f; 32]), ep);
        let text = String::from_utf8(set_request(&only)).unwrap();
        let want = format!(
            "set=1\npublic_key={}\nendpoint=192.0.2.1:11010\n\n",
            "0f".repeat(32)
        );
        assert_eq!(text, want);
    }

    #[test]
    fn set_answers() {
        assert!(errno("errno=0\n").is_ok());
        let e = errno("errno=22\n").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(22));
        assert_eq!(
            errno("").unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn update_debug_hides_the_private_key() {
        let text = format!("{:?}", update());
        assert!(!text.to_lowercase().contains(&"a1".repeat(4)));
        assert!(!text.contains("161, 161"));
        assert!(text.contains("redacted"));
    }

    #[test]
    fn never_and_missing_and_errors() {
        let fresh =
            "public_key=abcd\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\nerrno=0\n";
        assert_eq!(parse(fresh, "abcd").unwrap().unwrap().last_handshake, None);
        assert!(parse(ANSWER, "ffff").unwrap().is_none());
        assert_eq!(
            parse(ANSWER, "0101").unwrap().unwrap().endpoint,
            Some("192.0.2.1:1".parse().unwrap())
        );
        assert!(parse("errno=19\n", "abcd").is_err());
        assert!(parse("public_key=abcd\n", "abcd").is_err());
        assert!(parse("junk\nerrno=0\n", "abcd").is_err());
    }
}
