//! TCP connections pinned to one path (device, mark, source address), then TLS.
//! A DNS lookup for a pinned connection is pinned the same way (see [`super::resolve`]).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{HttpsError, Url, resolve};
use crate::probe::Binding;

/// Where names are looked up: the system's resolver for an unbound client, the path's own
/// queries for a bound one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookup<'a> {
    pub binding: Option<&'a Binding>,
    /// Resolvers to ask over the bound path; empty: those of the `resolv_conf` files.
    pub nameservers: &'a [IpAddr],
    pub resolv_conf: &'a [PathBuf],
}

/// The server's addresses, keeping only the family the binding has a source address for.
async fn resolve(url: &Url, lookup: Lookup<'_>) -> Result<Vec<SocketAddr>, HttpsError> {
    let binding = lookup.binding;
    let addrs: Vec<SocketAddr> = match (url.host.parse::<IpAddr>(), binding) {
        (Ok(ip), _) => vec![SocketAddr::new(ip, url.port)],
        (Err(_), Some(b)) => {
            let servers = resolve::resolvers(lookup.nameservers, lookup.resolv_conf, b)?;
            resolve::lookup(&url.host, b, &servers)
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, url.port))
                .collect()
        }
        (Err(_), None) => tokio::net::lookup_host((url.host.as_str(), url.port))
            .await
            .map_err(|source| HttpsError::Resolve {
                host: url.host.clone(),
                source,
            })?
            .collect(),
    };
    let usable: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match binding {
            Some(b) if b.source_v4.is_some() || b.source_v6.is_some() => match a.ip() {
                IpAddr::V4(_) => b.source_v4.is_some(),
                IpAddr::V6(_) => b.source_v6.is_some(),
            },
            _ => true,
        })
        .collect();
    if usable.is_empty() {
        return Err(HttpsError::NoAddress {
            host: url.host.clone(),
        });
    }
    Ok(usable)
}

/// A non-blocking socket for talking to `peer`, pinned to the binding's path.
pub(super) fn bound_socket(
    binding: Option<&Binding>,
    peer: IpAddr,
    ty: Type,
    protocol: Protocol,
) -> Result<Socket, HttpsError> {
    let domain = match peer {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    };
    let socket = Socket::new(domain, ty, Some(protocol)).map_err(HttpsError::Socket)?;
    socket.set_nonblocking(true).map_err(HttpsError::Socket)?;
    socket.set_cloexec(true).map_err(HttpsError::Socket)?;
    let Some(b) = binding else {
        return Ok(socket);
    };
    socket
        .bind_device(Some(b.interface.as_bytes()))
        .map_err(|source| HttpsError::BindDevice {
            interface: b.interface.clone(),
            source,
        })?;
    if let Some(mark) = b.mark {
        socket
            .set_mark(mark)
            .map_err(|source| HttpsError::Mark { mark, source })?;
    }
    let source = match peer {
        IpAddr::V4(_) => b.source_v4.map(IpAddr::V4),
        IpAddr::V6(_) => b.source_v6.map(IpAddr::V6),
    };
    if let Some(addr) = source {
        socket
            .bind(&SockAddr::from(SocketAddr::new(addr, 0)))
            .map_err(|source| HttpsError::BindSource { addr, source })?;
    }
    Ok(socket)
}

/// Connects to the first of the server's addresses that answers, each within `timeout`.
async fn tcp(url: &Url, lookup: Lookup<'_>, timeout: Duration) -> Result<TcpStream, HttpsError> {
    let mut last = None;
    for addr in resolve(url, lookup).await? {
        let socket = bound_socket(lookup.binding, addr.ip(), Type::STREAM, Protocol::TCP)?;
        let socket = TcpSocket::from_std_stream(socket.into());
        match tokio::time::timeout(timeout, socket.connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(source)) => last = Some(HttpsError::Connect { addr, source }),
            Err(_) => {
                last = Some(HttpsError::ConnectTimeout {
                    addr,
                    after: timeout,
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| HttpsError::NoAddress {
        host: url.host.clone(),
    }))
}

/// A TLS connection to `url`'s server, verified against `config`'s roots and the URL's host.
pub(crate) async fn connect(
    config: Arc<ClientConfig>,
    url: &Url,
    lookup: Lookup<'_>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, HttpsError> {
    let name = match url.host.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(url.host.clone()).map_err(|_| HttpsError::Url {
            url: url.to_string(),
            problem: "the host is not a valid DNS name",
        })?,
    };
    let stream = tcp(url, lookup, timeout).await?;
    let handshake = TlsConnector::from(config).connect(name, stream);
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(source)) => Err(HttpsError::Handshake {
            host: url.host.clone(),
            source,
        }),
        Err(_) => Err(HttpsError::Timeout {
            host: url.host.clone(),
            after: timeout,
        }),
    }
}
