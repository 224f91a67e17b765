//! DNS probes: one hand-built A query over UDP, answered with the same ID and NOERROR.

use socket2::{Protocol, Type};
use tokio::net::UdpSocket;

use super::{Binding, DnsTarget, ProbeCounters, ProbeError};

const HEADER_LEN: usize = 12;
const UDP_HEADER: usize = 8;
const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;

/// A recursive query for the A record of `name` (a trailing dot is accepted).
pub fn build_query(id: u16, name: &str) -> Result<Vec<u8>, ProbeError> {
    let bad = || ProbeError::DnsName(name.to_owned());
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.len() > 253 {
        return Err(bad());
    }
    let mut msg = Vec::with_capacity(HEADER_LEN + trimmed.len() + 6);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&[0x01, 0x00]); // RD
    msg.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QDCOUNT 1
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 || !label.is_ascii() {
                return Err(bad());
            }
            msg.push(label.len() as u8);
            msg.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
    }
    msg.push(0);
    msg.extend_from_slice(&TYPE_A.to_be_bytes());
    msg.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(msg)
}

/// Checks `response` against `query`: `Ok(false)` when it answers another query (a late
/// reply to an earlier ID), `Ok(true)` for a NOERROR answer to ours.
pub fn check_response(query: &[u8], response: &[u8]) -> Result<bool, ProbeError> {
    if response.len() < HEADER_LEN || query.len() < HEADER_LEN {
        return Err(ProbeError::DnsMalformed);
    }
    if response[..2] != query[..2] {
        return Ok(false);
    }
    let is_response = response[2] & 0x80 != 0;
    if !is_response {
        return Err(ProbeError::DnsMalformed);
    }
    // Resolvers may answer in mixed case (0x20 randomisation); compare the question
    // case-insensitively when it is echoed back.
    let question = &query[HEADER_LEN..];
    let qdcount = u16::from_be_bytes([response[4], response[5]]);
    if qdcount == 1 {
        let echoed = response
            .get(HEADER_LEN..HEADER_LEN + question.len())
            .ok_or(ProbeError::DnsMalformed)?;
        if !echoed.eq_ignore_ascii_case(question) {
            return Err(ProbeError::DnsMalformed);
        }
    }
    match response[3] & 0x0f {
        0 => Ok(true),
        rcode => Err(ProbeError::DnsRcode(rcode)),
    }
}

/// Asks the target's resolver; success is a NOERROR response to our ID.
pub(crate) async fn probe(
    binding: &Binding,
    target: &DnsTarget,
    counters: &ProbeCounters,
) -> Result<(), ProbeError> {
    let query = build_query(super::run::nonce() as u16, &target.name)?;
    let server = target.server_addr();
    let socket = binding.socket(server.ip(), Type::DGRAM, Protocol::UDP)?;
    let socket = UdpSocket::from_std(socket.into()).map_err(ProbeError::Socket)?;
    socket.connect(server).await.map_err(ProbeError::Connect)?;
    socket.send(&query).await.map_err(ProbeError::Send)?;
    counters.sent(UDP_HEADER + query.len());
    let mut buf = [0u8; 1500];
    loop {
        let n = socket.recv(&mut buf).await.map_err(ProbeError::Receive)?;
        counters.received(UDP_HEADER + n);
        if check_response(&query, &buf[..n])? {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(query: &[u8], rcode: u8) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2] |= 0x80;
        r[3] = 0x80 | rcode;
        r
    }

    #[test]
    fn query_encoding() {
        let q = build_query(0xabcd, "Example.COM.").unwrap();
        let expected = [
            0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
            3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
        ];
        assert_eq!(q, expected);
        assert_eq!(build_query(1, ".").unwrap().len(), HEADER_LEN + 5);
        assert!(build_query(1, "a..b").is_err());
        assert!(build_query(1, &"x".repeat(64)).is_err());
        assert!(build_query(1, &["abc"; 70].join(".")).is_err());
    }

    #[test]
    fn responses() {
        let q = build_query(7, "example.com").unwrap();
        assert!(check_response(&q, &answer(&q, 0)).unwrap());
        assert!(matches!(
            check_response(&q, &answer(&q, 2)),
            Err(ProbeError::DnsRcode(2))
        ));
        assert!(matches!(
            check_response(&q, &answer(&q, 3)),
            Err(ProbeError::DnsRcode(3))
        ));
        let other = build_query(8, "example.com").unwrap();
        assert!(!check_response(&q, &answer(&other, 0)).unwrap());
        // A query echoed back unanswered is not a response.
        assert!(check_response(&q, &q).is_err());
        assert!(check_response(&q, &q[..5]).is_err());
        // Mixed case is fine, another name is not.
        let mut mixed = answer(&q, 0);
        mixed[13] = b'E';
        assert!(check_response(&q, &mixed).unwrap());
        let wrong = answer(&build_query(7, "example.org").unwrap(), 0);
        assert!(check_response(&q, &wrong).is_err());
    }
}
