//! The least a daemon with arcway's duties links: each crate arcway stands on, called once
//! for each kind of thing arcway asks of it. There is no configuration model, no decision
//! logic, no command line and no status output here; what this binary weighs is the floor
//! under any package built on these crates. It is measured, never run for its effect.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_netfilter::conntrack::ConntrackMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};
use netlink_packet_route::RouteNetlinkMessage;
use wireguard_control as wgc;

/// A configuration file of one section: the YAML deserializer with a kept position.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: serde_saphyr::Spanned<String>,
    interval: Option<u32>,
    paths: Vec<String>,
}

/// An API answer: JSON both ways.
#[derive(serde::Deserialize, serde::Serialize, Debug)]
struct Answer {
    key: String,
    ttl: u64,
}

/// One ModemManager interface: a method, a property, proxies built without a cache.
#[zbus::proxy(
    interface = "org.freedesktop.ModemManager1.Modem",
    default_service = "org.freedesktop.ModemManager1"
)]
trait Modem {
    fn enable(&self, enable: bool) -> zbus::Result<()>;
    #[zbus(property)]
    fn state(&self) -> zbus::Result<i32>;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt().json().init();
    let arg = std::env::args().nth(1).unwrap_or_default();
    yaml_and_json(&arg);
    route_netlink().await;
    conntrack();
    wireguard();
    nl80211().await;
    modem_manager().await;
    https(&arg).await;
    let _hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    let _ = tokio::process::Command::new("nft")
        .arg("-f")
        .arg("-")
        .status()
        .await;
}

fn yaml_and_json(text: &str) {
    match serde_saphyr::from_str::<Config>(text) {
        Ok(c) => println!(
            "{} at {}: {:?} {}",
            c.name.value,
            c.name.referenced.line(),
            c.interval,
            c.paths.len()
        ),
        Err(error) => tracing::error!(%error, "configuration"),
    }
    let answer: Result<Answer, _> = serde_json::from_str(text);
    println!(
        "{}",
        serde_json::to_string(&answer.ok()).unwrap_or_default()
    );
}

/// Links, addresses, routes and rules: dumps, changes and a multicast monitor.
async fn route_netlink() {
    let Ok((connection, handle, _)) = rtnetlink::new_connection() else {
        return;
    };
    tokio::spawn(connection);
    let mut links = handle.link().get().execute();
    while let Ok(Some(link)) = links.try_next().await {
        println!("{}", link.header.index);
    }
    let mut addresses = handle.address().get().execute();
    while let Ok(Some(address)) = addresses.try_next().await {
        println!("{}", address.header.index);
    }
    let route = rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new()
        .table_id(100)
        .build();
    println!("{}", handle.route().add(route).execute().await.is_ok());
    let rule = handle
        .rule()
        .add()
        .v4()
        .table_id(100)
        .priority(10)
        .execute()
        .await;
    println!("{}", rule.is_ok());
    let mut dump = NetlinkMessage::from(RouteNetlinkMessage::GetRoute(Default::default()));
    dump.header.flags = NLM_F_DUMP | NLM_F_REQUEST;
    if let Ok(mut answers) = handle.clone().request(dump) {
        while let Some(message) = answers.next().await {
            if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) = message.payload
            {
                println!("{}", r.header.table);
            }
        }
    }
    let Ok(mut socket) = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE) else {
        return;
    };
    let _ = socket.bind(&netlink_sys::SocketAddr::new(0, 1));
    let mut buf = vec![0u8; 65536];
    if let Ok(n) = socket.recv(&mut &mut buf[..], 0)
        && let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[..n])
    {
        println!("{}", m.header.length);
    }
}

/// A conntrack dump request, written and read back.
fn conntrack() {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_DUMP | NLM_F_REQUEST;
    let inner = NetfilterMessage::new(
        NetfilterHeader::new(NetfilterProtoFamily::from(2u8), 0, 0),
        ConntrackMessage::Get(vec![]),
    );
    let mut message = NetlinkMessage::new(header, NetlinkPayload::from(inner));
    message.finalize();
    let mut out = vec![0; message.buffer_len()];
    message.serialize(&mut out);
    println!(
        "{}",
        NetlinkMessage::<NetfilterMessage>::deserialize(&out).is_ok()
    );
}

/// One peer set and one read, on each backend.
fn wireguard() {
    let Ok(name) = "wg0".parse::<wgc::InterfaceName>() else {
        return;
    };
    for backend in [wgc::Backend::Kernel, wgc::Backend::Userspace] {
        let peer = wgc::PeerConfigBuilder::new(&wgc::Key([1; 32]))
            .add_allowed_ip(Ipv4Addr::UNSPECIFIED.into(), 0);
        let update = wgc::DeviceUpdate::new().set_listen_port(1).add_peer(peer);
        println!("{}", update.apply(&name, backend).is_ok());
        if let Ok(device) = wgc::Device::get(&name, backend) {
            println!("{}", device.peers.len());
        }
    }
}

/// MLME events, the interface and its station.
async fn nl80211() {
    let groups = [wl_nl80211::Nl80211MulticastGroup::Mlme];
    let Ok((connection, _, mut events)) = wl_nl80211::new_multicast_connection(&groups) else {
        return;
    };
    tokio::spawn(connection);
    let Ok((connection, handle, _)) = wl_nl80211::new_connection() else {
        return;
    };
    tokio::spawn(connection);
    let mut interfaces = handle.interface().get(vec![]).execute().await;
    while let Ok(Some(i)) = interfaces.try_next().await {
        println!("{}", i.payload.attributes.len());
    }
    let mut stations = handle.station().dump(1).execute().await;
    while let Ok(Some(s)) = stations.try_next().await {
        println!("{}", s.payload.attributes.len());
    }
    if let Some((event, _)) = events.next().await {
        println!("{}", event.header.length);
    }
}

/// The object manager's objects and signals, one proxy's property and method.
async fn modem_manager() {
    let Ok(bus) = zbus::Connection::system().await else {
        return;
    };
    let Ok(manager) = zbus::fdo::ObjectManagerProxy::builder(&bus)
        .destination("org.freedesktop.ModemManager1")
        .path("/org/freedesktop/ModemManager1")
        .build()
        .await
    else {
        return;
    };
    let objects: Result<HashMap<_, _>, _> = manager.get_managed_objects().await;
    println!("{}", objects.map(|o| o.len()).unwrap_or(0));
    if let Ok(modem) = ModemProxy::builder(&bus)
        .path("/org/freedesktop/ModemManager1/Modem/0")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
    {
        println!("{:?}", modem.state().await.ok());
        let _ = modem.enable(true).await;
    }
    if let Ok(mut added) = manager.receive_interfaces_added().await
        && let Some(signal) = added.next().await
    {
        println!(
            "{:?}",
            signal.args().map(|a| a.object_path.to_string()).ok()
        );
    }
}

/// One POST over TLS with the system's roots.
async fn https(body: &str) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(config) =
        rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
    else {
        return;
    };
    let config = config.with_root_certificates(roots).with_no_client_auth();
    let Ok(tcp) = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, 443)).await else {
        return;
    };
    let Ok(name) = "api.example".try_into() else {
        return;
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let Ok(tls) = connector.connect(name, tcp).await else {
        return;
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await
    else {
        return;
    };
    tokio::spawn(connection);
    let Ok(request) = hyper::Request::builder()
        .method("POST")
        .uri("/v1/auth")
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_owned())))
    else {
        return;
    };
    if let Ok(response) = sender.send_request(request).await
        && let Ok(body) = response.into_body().collect().await
    {
        println!("{}", body.to_bytes().len());
    }
}
