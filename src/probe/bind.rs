//! Sockets pinned to one path: device, mark and optionally a source address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::ProbeError;

/// Where a path's probes must leave. The device binding makes the kernel pick only routes
/// through `interface`; the mark selects the path's routing table through its fwmark rule, so
/// both the route lookup and the egress device belong to the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub interface: String,
    /// The path's fwmark; `None` leaves the socket unmarked.
    pub mark: Option<u32>,
    /// Source address for IPv4 probes; `None` lets the kernel choose from the route.
    pub source_v4: Option<Ipv4Addr>,
    /// Source address for IPv6 probes.
    pub source_v6: Option<Ipv6Addr>,
}

impl Binding {
    pub fn interface(interface: impl Into<String>) -> Self {
        Binding {
            interface: interface.into(),
            mark: None,
            source_v4: None,
            source_v6: None,
        }
    }

    pub fn with_mark(mut self, mark: u32) -> Self {
        self.mark = Some(mark);
        self
    }

    fn source_for(&self, peer: IpAddr) -> Option<IpAddr> {
        match peer {
            IpAddr::V4(_) => self.source_v4.map(IpAddr::V4),
            IpAddr::V6(_) => self.source_v6.map(IpAddr::V6),
        }
    }

    /// A non-blocking socket for talking to `peer`, bound to this path.
    pub(crate) fn socket(
        &self,
        peer: IpAddr,
        ty: Type,
        protocol: Protocol,
    ) -> Result<Socket, ProbeError> {
        let domain = match peer {
            IpAddr::V4(_) => Domain::IPV4,
            IpAddr::V6(_) => Domain::IPV6,
        };
        let socket = Socket::new(domain, ty, Some(protocol)).map_err(ProbeError::Socket)?;
        self.apply(&socket, peer)?;
        Ok(socket)
    }

    pub(crate) fn apply(&self, socket: &Socket, peer: IpAddr) -> Result<(), ProbeError> {
        socket.set_nonblocking(true).map_err(ProbeError::Socket)?;
        socket
            .bind_device(Some(self.interface.as_bytes()))
            .map_err(|source| ProbeError::BindDevice {
                interface: self.interface.clone(),
                source,
            })?;
        if let Some(mark) = self.mark {
            socket
                .set_mark(mark)
                .map_err(|source| ProbeError::Mark { mark, source })?;
        }
        if let Some(addr) = self.source_for(peer) {
            let local = SockAddr::from(SocketAddr::new(addr, 0));
            socket
                .bind(&local)
                .map_err(|source| ProbeError::BindSource { addr, source })?;
        }
        Ok(())
    }
}
