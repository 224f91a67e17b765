//! Reading the server peer of a userspace device straight from its UAPI socket.
//!
//! wireguard-control drops `last_handshake_time_nsec`, so through it a userspace handshake is
//! only known to the second. The engine accepts a tunnel back only with a handshake newer than
//! the outage, and a renewal answered within the same second as the outage began was then seen
//! as older than the outage: the path stayed down until WireGuard rekeyed two minutes later.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime};

use super::device::PeerReading;
use super::supervisor::socket_path;

/// How long one `get` may take; a live wireguard-go answers in microseconds.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// `get=1` on the device's socket; the reading of the peer whose key is `server`, if present.
pub(crate) fn read_peer(ifname: &str, server: &[u8]) -> std::io::Result<Option<PeerReading>> {
    let mut sock = UnixStream::connect(socket_path(ifname))?;
    sock.set_read_timeout(Some(IO_TIMEOUT))?;
    sock.set_write_timeout(Some(IO_TIMEOUT))?;
    sock.write_all(b"get=1\n\n")?;
    let mut text = String::new();
    // The answer ends with an empty line after `errno=N`; the socket stays open.
    for line in BufReader::new(sock).lines() {
        let line = line?;
        if line.is_empty() {
            break;
        }
        text.push_str(&line);
        text.push('\n');
    }
    parse(&text, &hex(server))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
