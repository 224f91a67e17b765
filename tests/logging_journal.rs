//! The journal output: one datagram per event in journald's native protocol, with the priority
//! of its level, its fields, and multi-line values in one entry (no root needed).

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use arcway::logging::{self, JournalLayer};
use tracing_subscriber::layer::SubscriberExt;

/// Parses one native-protocol datagram into fields (the last value of a repeated name wins).
fn parse(mut data: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    while !data.is_empty() {
        let end = data.iter().position(|&b| b == b'\n').expect("a newline");
        let line = &data[..end];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            let name = String::from_utf8(line[..eq].to_vec()).unwrap();
            fields.insert(name, String::from_utf8(line[eq + 1..].to_vec()).unwrap());
            data = &data[end + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).unwrap();
            let rest = &data[end + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            let value = String::from_utf8(rest[8..8 + len].to_vec()).unwrap();
            assert_eq!(
                rest[8 + len],
                b'\n',
                "a newline ends the binary value of {name}"
            );
            fields.insert(name, value);
            data = &rest[8 + len + 1..];
        }
    }
    fields
}

fn receive(socket: &UnixDatagram) -> BTreeMap<String, String> {
    let mut buf = vec![0u8; 65536];
    let n = socket.recv(&mut buf).expect("an entry arrives");
    parse(&buf[..n])
}

#[test]
fn events_become_entries_with_priorities_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let journald = UnixDatagram::bind(&path).unwrap();
    journald
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(JournalLayer::connect_to(&path).unwrap())
        .with(logging::filter("debug", None));

    tracing::subscriber::with_default(subscriber, || {
        tracing::debug!(path = "wifi", "probe round");
        tracing::warn!(
            why = "drift",
            changes = %"rule add 7100\nroute replace default",
            "routing partly changed"
        );
        tracing::error!(error = %"config.yaml:3:1: unknown key", "reload refused");
        tracing::trace!("not at debug");
    });

    let debug = receive(&journald);
    assert_eq!(debug["PRIORITY"], "7");
    assert_eq!(debug["MESSAGE"], "probe round path=\"wifi\"");
    assert_eq!(debug["PATH"], "wifi");
    assert_eq!(debug["SYSLOG_IDENTIFIER"], "arcway");
    assert_eq!(debug["TARGET"], "logging_journal");
    assert!(debug.contains_key("CODE_LINE"), "{debug:?}");

    let warn = receive(&journald);
    assert_eq!(warn["PRIORITY"], "4");
    assert_eq!(
        warn["MESSAGE"],
        "routing partly changed why=\"drift\" changes=rule add 7100\nroute replace default"
    );
    assert_eq!(warn["CHANGES"], "rule add 7100\nroute replace default");

    let error = receive(&journald);
    assert_eq!(error["PRIORITY"], "3");
    assert_eq!(error["ERROR"], "config.yaml:3:1: unknown key");

    journald.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    assert!(journald.recv(&mut buf).is_err(), "trace is filtered out");
}
