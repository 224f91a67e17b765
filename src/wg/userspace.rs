//! Checks made on a userspace device's UAPI socket before wireguard-control is let at it.
//!
//! The crate's UAPI reader adds `last_handshake_time_sec` to the epoch unchecked and `expect`s
//! a numeric errno, so an answer with a handshake beyond i64 seconds or a garbled errno would
//! panic (and abort a release build). Each read is preceded by one `get=1` whose answer is
//! checked for exactly those values. The same answer gives the peers' handshake times to the
//! nanosecond, which the crate's reader cuts to whole seconds (it skips
//! `last_handshake_time_nsec`); nothing else is interpreted here.

use std::io::{self, Read, Write as _};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::supervisor::socket_path;
use crate::credentials::wipe;

/// How long one exchange may take; a live wireguard-go answers in microseconds.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether something answers on the device's socket (a stale file does not).
pub(crate) fn connectable(ifname: &str) -> io::Result<()> {
    UnixStream::connect(socket_path(ifname)).map(drop)
}

/// Each peer's latest handshake as time since the epoch, by public key (peers without one are
/// left out).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Handshakes(Vec<([u8; 32], Duration)>);

impl Handshakes {
    pub fn of(&self, key: &[u8; 32]) -> Option<Duration> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, t)| *t)
    }
}

/// `get=1` on the device's socket: the peers' handshake times, or an error if the answer holds
/// a value the crate would panic on. The answer carries the private key: it is read into one
/// buffer allocated up front (so no reallocation leaves a copy) and wiped.
pub(crate) fn check_answer(ifname: &str) -> io::Result<Handshakes> {
    let mut sock = UnixStream::connect(socket_path(ifname))?;
    sock.set_read_timeout(Some(IO_TIMEOUT))?;
    sock.set_write_timeout(Some(IO_TIMEOUT))?;
    sock.write_all(b"get=1\n\n")?;
    let mut buf = vec![0u8; MAX_ANSWER];
    let result = read_answer(&mut sock, &mut buf).and_then(|len| check_text(&buf[..len]));
    wipe(&mut buf);
    result
}

/// Far more than one device with one peer and a few allowed IPs takes.
const MAX_ANSWER: usize = 64 * 1024;

/// Reads up to the empty line that ends an answer; its length.
fn read_answer(sock: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    loop {
        if buf[..len] == *b"\n" || buf[..len].ends_with(b"\n\n") {
            return Ok(len);
        }
        let Some(free) = buf.get_mut(len..).filter(|f| !f.is_empty()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "UAPI answer too long",
            ));
        };
        match sock.read(free)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => len += n,
        }
    }
}

/// Every line of an answer, and the handshakes in it.
pub(crate) fn check_text(text: &[u8]) -> io::Result<Handshakes> {
    // The peer being read: its key, and its handshake's seconds and nanoseconds so far.
    let mut peer: Option<([u8; 32], u64, u32)> = None;
    let mut found = Handshakes::default();
    let mut close = |peer: Option<([u8; 32], u64, u32)>| {
        if let Some((key, secs, nanos)) = peer.filter(|p| p.1 > 0) {
            found.0.push((key, Duration::new(secs, nanos)));
        }
    };
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        check_line(line)?;
        if let Some(hex) = line.strip_prefix(b"public_key=") {
            close(peer.take());
            peer = key_of_hex(hex).map(|k| (k, 0, 0));
        } else if let Some(p) = peer.as_mut() {
            // Both values were checked above; an out-of-range nanosecond count (which the
            // crate ignores) leaves the handshake at its whole second.
            let number = |v: &[u8]| std::str::from_utf8(v).ok()?.parse::<u64>().ok();
            if let Some(v) = line.strip_prefix(b"last_handshake_time_sec=") {
                p.1 = number(v).unwrap_or(0);
            } else if let Some(v) = line.strip_prefix(b"last_handshake_time_nsec=") {
                p.2 = number(v)
                    .filter(|n| *n < 1_000_000_000)
                    .map_or(0, |n| n as u32);
            }
        }
    }
    close(peer);
    Ok(found)
}

/// A key as the UAPI writes it: 64 hex digits.
fn key_of_hex(hex: &[u8]) -> Option<[u8; 32]> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut key = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(key)
}

/// One `key=value` line.
fn check_line(line: &[u8]) -> io::Result<()> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("UAPI {what}"));
    let Some(eq) = line.iter().position(|b| *b == b'=') else {
        return Err(bad("line without '='"));
    };
    let (key, value) = (&line[..eq], &line[eq + 1..]);
    let value = std::str::from_utf8(value).map_err(|_| bad("value that is not text"))?;
    match key {
        // Seconds since the epoch: SystemTime holds at most i64 of them.
        b"last_handshake_time_sec" => {
            value
                .parse::<i64>()
                .ok()
                .filter(|s| *s >= 0)
                .ok_or_else(|| bad("handshake time out of range"))?;
        }
        b"errno" => {
            value
                .parse::<i32>()
                .map_err(|_| bad("errno that is not a number"))?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_crate_would_panic_on_are_refused() {
        assert!(check_line(b"last_handshake_time_sec=1795885689").is_ok());
        assert!(check_line(b"last_handshake_time_sec=0").is_ok());
        assert!(check_line(b"last_handshake_time_sec=9223372036854775807").is_ok());
        assert!(check_line(b"last_handshake_time_sec=9223372036854775808").is_err());
        assert!(check_line(b"last_handshake_time_sec=18446744073709551615").is_err());
        assert!(check_line(b"last_handshake_time_sec=99999999999999999999999").is_err());
        assert!(check_line(b"errno=0").is_ok());
        assert!(check_line(b"errno=19").is_ok());
        assert!(check_line(b"errno=x").is_err());
        assert!(check_line(b"errno=99999999999").is_err());
        assert!(check_line(b"junk").is_err());
        assert!(check_line(b"protocol_version=1").is_ok());
    }

    #[test]
    fn answers_are_read_to_their_empty_line() {
        let text = b"private_key=aa\npublic_key=ab\nlast_handshake_time_sec=7\nerrno=0\n\n";
        let mut buf = [0u8; 256];
        let len = read_answer(&mut &text[..], &mut buf).unwrap();
        assert_eq!(&buf[..len], text);
        assert_eq!(check_text(&buf[..len]).unwrap(), Handshakes::default());
        let huge = b"public_key=ab\nlast_handshake_time_sec=18446744073709551615\nerrno=0\n\n";
        assert!(check_text(huge).is_err());
        assert!(read_answer(&mut &b"errno=0\n"[..], &mut buf).is_err());
        assert!(read_answer(&mut &text[..], &mut [0u8; 8]).is_err());
    }

    #[test]
    fn handshakes_keep_their_nanoseconds_per_peer() {
        let (a, b, c) = ("0f".repeat(32), "A1".repeat(32), "22".repeat(32));
        let text = format!(
            "private_key={c}\nlisten_port=51820\n\
             public_key={a}\nlast_handshake_time_sec=1795885689\nlast_handshake_time_nsec=250000000\n\
             public_key={b}\nlast_handshake_time_sec=7\nlast_handshake_time_nsec=1000000000\n\
             public_key={c}\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\nerrno=0\n"
        );
        let found = check_text(text.as_bytes()).unwrap();
        assert_eq!(
            found.of(&[0x0f; 32]),
            Some(Duration::new(1_795_885_689, 250_000_000))
        );
        // Nanoseconds out of range: the whole second; never a handshake: none.
        assert_eq!(found.of(&[0xa1; 32]), Some(Duration::from_secs(7)));
        assert_eq!(found.of(&[0x22; 32]), None);
        assert_eq!(key_of_hex(b"0f"), None);
        assert_eq!(key_of_hex("zz".repeat(32).as_bytes()), None);
    }

    #[test]
    fn the_largest_accepted_handshake_fits_a_system_time() {
        let max = Duration::from_secs(i64::MAX as u64);
        assert!(std::time::SystemTime::UNIX_EPOCH.checked_add(max).is_some());
    }
}
