//! TCP connect probes and the segment-cost estimate shared with HTTP.

use std::net::SocketAddr;

use socket2::{Protocol, Type};
use tokio::net::{TcpSocket, TcpStream};

use super::{Binding, ProbeCounters, ProbeError};

/// A SYN or SYN-ACK as Linux sends them: 20 bytes of header, 20 of options
/// (MSS, SACK permitted, timestamps, window scale).
const SYN_LEN: usize = 40;
/// Any later segment: 20 bytes of header and the 12-byte timestamp option.
const SEG_LEN: usize = 32;
/// A reset carries no options.
const RST_LEN: usize = 20;
/// Typical MSS with timestamps on a 1500-byte link.
const MSS: usize = 1448;

/// Opens a connection bound to the path. Counts the handshake as it happens: the SYN when
/// sent, SYN-ACK and ACK on success, the RST of a refusal.
pub(crate) async fn connect(
    binding: &Binding,
    addr: SocketAddr,
    counters: &ProbeCounters,
) -> Result<TcpStream, ProbeError> {
    let socket = binding.socket(addr.ip(), Type::STREAM, Protocol::TCP)?;
    let socket = TcpSocket::from_std_stream(socket.into());
    counters.sent(SYN_LEN);
    match socket.connect(addr).await {
        Ok(stream) => {
            counters.received(SYN_LEN);
            counters.sent(SEG_LEN);
            Ok(stream)
        }
        Err(e) => {
            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                counters.received(RST_LEN);
            }
            Err(ProbeError::Connect(e))
        }
    }
}

/// Counts an orderly close: our FIN, the peer's ACK and FIN, our last ACK.
pub(crate) fn count_close(counters: &ProbeCounters) {
    counters.sent(2 * SEG_LEN);
    counters.received(2 * SEG_LEN);
}

/// IP payload of `data` bytes sent as full-size segments.
pub(crate) fn data_cost(data: usize) -> usize {
    data + data.div_ceil(MSS) * SEG_LEN
}

/// Pure acknowledgements for `data` bytes received: Linux delays ACKs, roughly one per two
/// segments.
pub(crate) fn ack_cost(data: usize) -> usize {
    data.div_ceil(MSS).div_ceil(2) * SEG_LEN
}

/// A connect probe: success is a completed handshake, aborted again at once. A reset is one
/// segment instead of the four of an orderly close, leaves no TIME_WAIT socket behind on
/// either end, and the peer has nothing to send us anyway (health checkers such as
/// HAProxy's close their connect checks the same way).
pub(crate) async fn probe(
    binding: &Binding,
    addr: SocketAddr,
    counters: &ProbeCounters,
) -> Result<(), ProbeError> {
    let stream = connect(binding, addr, counters).await?;
    // Without zero linger the close would be an orderly one; count what actually went out.
    // The reset of an established connection carries the timestamp option like any segment.
    match stream.set_zero_linger() {
        Ok(()) => counters.sent(SEG_LEN),
        Err(_) => count_close(counters),
    }
    drop(stream);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_costs() {
        assert_eq!(data_cost(0), 0);
        assert_eq!(data_cost(100), 132);
        assert_eq!(data_cost(MSS + 1), MSS + 1 + 64);
        assert_eq!(ack_cost(0), 0);
        assert_eq!(ack_cost(10), 32);
        assert_eq!(ack_cost(3 * MSS), 64);
    }
}
