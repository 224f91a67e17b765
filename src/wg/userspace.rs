//! Checks made on a userspace device's UAPI socket before wireguard-control is let at it.
//!
//! The crate's UAPI reader adds `last_handshake_time_sec` to the epoch unchecked and `expect`s
//! a numeric errno, so an answer with a handshake beyond i64 seconds or a garbled errno would
//! panic (and abort a release build). Each read is preceded by one `get=1` whose answer is
//! checked for exactly those values; nothing else is interpreted here.

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

/// `get=1` on the device's socket; an error if the answer holds a value the crate would
/// panic on. The answer carries the private key: it is read into one buffer allocated up
/// front (so no reallocation leaves a copy) and wiped.
pub(crate) fn check_answer(ifname: &str) -> io::Result<()> {
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

/// Every line of an answer.
pub(crate) fn check_text(text: &[u8]) -> io::Result<()> {
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .try_for_each(check_line)
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
        assert!(check_text(&buf[..len]).is_ok());
        let huge = b"public_key=ab\nlast_handshake_time_sec=18446744073709551615\nerrno=0\n\n";
        assert!(check_text(huge).is_err());
        assert!(read_answer(&mut &b"errno=0\n"[..], &mut buf).is_err());
        assert!(read_answer(&mut &text[..], &mut [0u8; 8]).is_err());
    }

    #[test]
    fn the_largest_accepted_handshake_fits_a_system_time() {
        let max = Duration::from_secs(i64::MAX as u64);
        assert!(std::time::SystemTime::UNIX_EPOCH.checked_add(max).is_some());
    }
}
