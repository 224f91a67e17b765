//! Name lookups for a client pinned to one path. getaddrinfo(3) cannot be bound to an
//! interface: its queries leave by the main table's default route (Wi-Fi, while Krypton must
//! only ever be asked over cellular). So a bound client asks the resolvers itself, from a
//! socket bound like its connections (device, source address, mark), with simple-dns's
//! message types; an unbound client keeps the system's lookup (hosts file, nsswitch).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, PacketFlag, QTYPE, Question, RCODE, TYPE};
use socket2::{Protocol, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::HttpsError;
use super::connect::bound_socket;
use crate::probe::Binding;

const DNS_PORT: u16 = 53;
/// Each resolver gets this long per question before the next one is asked.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// Rounds over the resolver list (UDP datagrams get lost on a weak cellular line).
const ROUNDS: usize = 2;
/// Largest answer read over TCP, after a truncated UDP answer.
const MAX_TCP_ANSWER: usize = 16 * 1024;

/// Name servers listed in a resolv.conf text, in order.
pub fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            // A scoped IPv6 address (fe80::1%eth0) names its own interface: not this path's.
            words.next()?.parse().ok()
        })
        .collect()
}

/// The resolvers a client bound to `binding` can ask: `configured`, or those of the
/// `resolv_conf` files that exist, in order. Loopback resolvers (a local dnsmasq or
/// systemd-resolved) forward over the default route, and cannot be reached from a socket
/// bound to another interface anyway.
pub fn resolvers(
    configured: &[IpAddr],
    resolv_conf: &[PathBuf],
    binding: &Binding,
) -> Result<Vec<IpAddr>, HttpsError> {
    let mut listed = configured.to_vec();
    if configured.is_empty() {
        let mut unread = None;
        let mut read_any = false;
        for path in resolv_conf {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    read_any = true;
                    for ip in nameservers(&text) {
                        if !listed.contains(&ip) {
                            listed.push(ip);
                        }
                    }
                }
                Err(source) => {
                    unread.get_or_insert(HttpsError::ResolvConf {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        if let (false, Some(e)) = (read_any, unread) {
            return Err(e);
        }
    }
    let usable: Vec<IpAddr> = listed
        .into_iter()
        .filter(|ip| binding.interface == "lo" || !ip.is_loopback())
        .filter(|ip| match ip {
            IpAddr::V4(_) => binding.source_v6.is_none() || binding.source_v4.is_some(),
            IpAddr::V6(_) => binding.source_v4.is_none() || binding.source_v6.is_some(),
        })
        .collect();
    if usable.is_empty() {
        return Err(HttpsError::NoResolver {
            interface: binding.interface.clone(),
        });
    }
    Ok(usable)
}

/// The question for `host`'s addresses of one family, recursion desired.
pub fn query(id: u16, host: &str, qtype: TYPE) -> Result<Vec<u8>, HttpsError> {
    let bad = || HttpsError::Url {
        url: host.to_owned(),
        problem: "the host is not a valid DNS name",
    };
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let valid = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(bad());
    }
    let name = Name::new(trimmed).map_err(|_| bad())?;
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    packet.questions.push(Question::new(
        name,
        QTYPE::TYPE(qtype),
        CLASS::IN.into(),
        false,
    ));
    packet.build_bytes_vec().map_err(|_| bad())
}

/// What an answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Not an answer to our question (another ID or name): keep waiting.
    Other,
    /// Truncated over UDP: ask again over TCP.
    Truncated,
    /// The addresses (possibly none: the name has no record of that family).
    Addresses(Vec<IpAddr>),
}

/// Reads an answer to the question `query` (as built by [`query`]).
pub fn answer(query: &[u8], response: &[u8], host: &str) -> Result<Answer, HttpsError> {
    let malformed = || HttpsError::DnsAnswer {
        host: host.to_owned(),
        problem: "it is not a well-formed DNS answer".into(),
    };
    let Ok(asked) = Packet::parse(query) else {
        return Err(malformed());
    };
    let Ok(packet) = Packet::parse(response) else {
        return Err(malformed());
    };
    if packet.id() != asked.id()
        || !packet.has_flags(PacketFlag::RESPONSE)
        || packet.questions.len() != 1
        || !packet.questions[0]
            .qname
            .to_string()
            .eq_ignore_ascii_case(&asked.questions[0].qname.to_string())
        || packet.questions[0].qtype != asked.questions[0].qtype
    {
        return Ok(Answer::Other);
    }
    if packet.has_flags(PacketFlag::TRUNCATION) {
        return Ok(Answer::Truncated);
    }
    match packet.rcode() {
        RCODE::NoError => {}
        // The name does not exist: no address of either family.
        RCODE::NameError => return Ok(Answer::Addresses(Vec::new())),
        rcode => {
            return Err(HttpsError::DnsAnswer {
                host: host.to_owned(),
                problem: format!("the resolver answered {rcode:?}"),
            });
        }
    }
    // CNAME records lead to the addresses, which recursive resolvers put in the same answer.
    let addresses = packet
        .answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::A(a) => Some(IpAddr::V4(Ipv4Addr::from(a.address))),
            RData::AAAA(a) => Some(IpAddr::V6(Ipv6Addr::from(a.address))),
            _ => None,
        })
        .collect();
    Ok(Answer::Addresses(addresses))
}

fn query_id() -> u16 {
    let mut id = [0u8; 2];
    // An unpredictable ID is what keeps an off-path answer out; the clock is a poor fallback.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        id = (nanos as u16).to_ne_bytes();
    }
    u16::from_ne_bytes(id)
}

async fn over_udp(
    binding: &Binding,
    server: SocketAddr,
    query: &[u8],
    host: &str,
) -> Result<Answer, HttpsError> {
    let socket = bound_socket(Some(binding), server.ip(), Type::DGRAM, Protocol::UDP)?;
    let socket = UdpSocket::from_std(socket.into()).map_err(HttpsError::Socket)?;
    let io = |source| HttpsError::DnsExchange { server, source };
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = [0u8; 1500];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        match answer(query, &buf[..n], host)? {
            Answer::Other => continue,
            found => return Ok(found),
        }
    }
}

async fn over_tcp(
    binding: &Binding,
    server: SocketAddr,
    query: &[u8],
    host: &str,
) -> Result<Answer, HttpsError> {
    let socket = bound_socket(Some(binding), server.ip(), Type::STREAM, Protocol::TCP)?;
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    let io = |source| HttpsError::DnsExchange { server, source };
    let mut stream: TcpStream = socket.connect(server).await.map_err(io)?;
    let len = u16::try_from(query.len()).map_err(|_| HttpsError::DnsAnswer {
        host: host.to_owned(),
        problem: "the question is too long".into(),
    })?;
    stream
        .write_all(&[&len.to_be_bytes(), query].concat())
        .await
        .map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(io)?;
    let len = usize::from(u16::from_be_bytes(len)).min(MAX_TCP_ANSWER);
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).await.map_err(io)?;
    match answer(query, &buf, host)? {
        Answer::Addresses(a) => Ok(Answer::Addresses(a)),
        _ => Err(HttpsError::DnsAnswer {
            host: host.to_owned(),
            problem: "the TCP answer does not answer the question".into(),
        }),
    }
}

/// One question to one resolver, over UDP and, when the answer does not fit, over TCP.
async fn ask(
    binding: &Binding,
    server: SocketAddr,
    host: &str,
    qtype: TYPE,
) -> Result<Vec<IpAddr>, HttpsError> {
    let query = query(query_id(), host, qtype)?;
    let exchange = async {
        match over_udp(binding, server, &query, host).await? {
            Answer::Truncated => over_tcp(binding, server, &query, host).await,
            found => Ok(found),
        }
    };
    match tokio::time::timeout(QUERY_TIMEOUT, exchange).await {
        Ok(Ok(Answer::Addresses(a))) => Ok(a),
        Ok(Ok(_)) => Ok(Vec::new()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(HttpsError::DnsTimeout {
            server,
            after: QUERY_TIMEOUT,
        }),
    }
}

/// `host`'s addresses of the families `binding` can use, asked of `resolvers` over the
/// bound path. The first resolver that answers decides; a name without addresses is
/// [`HttpsError::NoAddress`].
pub async fn lookup(
    host: &str,
    binding: &Binding,
    resolvers: &[IpAddr],
) -> Result<Vec<IpAddr>, HttpsError> {
    let mut types = Vec::new();
    if binding.source_v4.is_some() || binding.source_v6.is_none() {
        types.push(TYPE::A);
    }
    if binding.source_v6.is_some() || binding.source_v4.is_none() {
        types.push(TYPE::AAAA);
    }
    let mut last = None;
    for _ in 0..ROUNDS {
        for &resolver in resolvers {
            let server = SocketAddr::new(resolver, DNS_PORT);
            let mut found = Vec::new();
            let mut failed = None;
            for &qtype in &types {
                match ask(binding, server, host, qtype).await {
                    Ok(addrs) => found.extend(addrs),
                    Err(e) => failed = Some(e),
                }
            }
            match failed {
                // One family answered: use it, a missing AAAA must not hide a good A.
                Some(e) if found.is_empty() => last = Some(e),
                _ if found.is_empty() => {
                    return Err(HttpsError::NoAddress {
                        host: host.to_owned(),
                    });
                }
                _ => return Ok(found),
            }
        }
    }
    Err(last.unwrap_or_else(|| HttpsError::NoAddress {
        host: host.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_from_resolv_conf() {
        let text = "# generated\nsearch lan\nnameserver 192.0.2.53\nnameserver  2001:db8::53\n\
                    nameserver fe80::1%eth0\nnameserver 127.0.0.53\noptions edns0\n";
        let listed = nameservers(text);
        assert_eq!(
            listed,
            ["192.0.2.53", "2001:db8::53", "127.0.0.53"].map(|a| a.parse::<IpAddr>().unwrap())
        );
        let cellular = Binding {
            source_v4: Some("198.51.100.130".parse().unwrap()),
            ..Binding::interface("wwan0")
        };
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("resolv.conf");
        let auto = dir.path().join("resolv.conf.auto");
        let files = [conf.clone(), auto.clone()];
        std::fs::write(&conf, text).unwrap();
        assert_eq!(
            resolvers(&[], &files, &cellular).unwrap(),
            ["192.0.2.53".parse::<IpAddr>().unwrap()],
            "IPv4 only, no loopback resolver, a missing file is no error"
        );
        // OpenWrt: only the local dnsmasq here, the upstream resolvers in netifd's file.
        std::fs::write(&conf, "nameserver 127.0.0.1\n").unwrap();
        let e = resolvers(&[], &files, &cellular).unwrap_err().to_string();
        assert!(e.contains("wwan0"), "{e}");
        std::fs::write(
            &auto,
            "# Interface wan\nnameserver 192.168.1.1\n# Interface wwan\nnameserver 198.51.100.129\n",
        )
        .unwrap();
        assert_eq!(resolvers(&[], &files, &cellular).unwrap().len(), 2);
        let configured = ["198.51.100.129".parse().unwrap()];
        assert_eq!(
            resolvers(&configured, &files, &cellular).unwrap(),
            configured
        );
        let none = [dir.path().join("absent")];
        assert!(matches!(
            resolvers(&[], &none, &cellular),
            Err(HttpsError::ResolvConf { .. })
        ));
    }

    fn reply(query: &[u8], build: impl FnOnce(&mut Packet<'_>)) -> Vec<u8> {
        let asked = Packet::parse(query).unwrap();
        let mut p = Packet::new_reply(asked.id());
        p.questions = asked.questions.clone();
        build(&mut p);
        p.build_bytes_vec().unwrap()
    }

    #[test]
    fn answers_questions_and_impostors() {
        use simple_dns::ResourceRecord;
        use simple_dns::rdata::{A, CNAME};
        let q = query(7, "krypton.soracom.io", TYPE::A).unwrap();
        let name = Name::new_unchecked("krypton.soracom.io");
        let target = Name::new_unchecked("edge.soracom.io");
        let good = reply(&q, |p| {
            p.answers.push(ResourceRecord::new(
                name.clone(),
                CLASS::IN,
                60,
                RData::CNAME(CNAME(target.clone())),
            ));
            p.answers.push(ResourceRecord::new(
                target.clone(),
                CLASS::IN,
                60,
                RData::A(A {
                    address: u32::from(Ipv4Addr::new(203, 0, 113, 18)),
                }),
            ));
        });
        assert_eq!(
            answer(&q, &good, "krypton.soracom.io").unwrap(),
            Answer::Addresses(vec!["203.0.113.18".parse().unwrap()])
        );
        let other = query(8, "krypton.soracom.io", TYPE::A).unwrap();
        assert_eq!(
            answer(&other, &good, "krypton.soracom.io").unwrap(),
            Answer::Other,
            "another ID"
        );
        let nx = reply(&q, |p| *p.rcode_mut() = RCODE::NameError);
        assert_eq!(answer(&q, &nx, "x").unwrap(), Answer::Addresses(Vec::new()));
        let fail = reply(&q, |p| *p.rcode_mut() = RCODE::ServerFailure);
        assert!(answer(&q, &fail, "x").is_err());
        let cut = reply(&q, |p| p.set_flags(PacketFlag::TRUNCATION));
        assert_eq!(answer(&q, &cut, "x").unwrap(), Answer::Truncated);
        assert!(answer(&q, &good[..good.len() - 3], "x").is_err());
        assert!(
            answer(&q, &q, "x").unwrap() == Answer::Other,
            "our own question"
        );
        assert!(query(1, "bad name with spaces", TYPE::A).is_err());
    }

    proptest::proptest! {
        /// Whatever comes back from a resolver, reading it ends in a value or an error.
        #[test]
        fn arbitrary_answers_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            keep in 0usize..12,
        ) {
            let q = query(7, "krypton.soracom.io", TYPE::A).unwrap();
            let _ = answer(&q, &bytes, "x");
            // Our own header in front of arbitrary sections.
            let mixed = [&q[..keep.min(q.len())], &bytes].concat();
            let _ = answer(&q, &mixed, "x");
        }
    }
}
