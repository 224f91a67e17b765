//! journald's native protocol: one datagram per event, with its priority and fields.
//!
//! Lines written to a journal stream all get the unit's default priority and become one entry
//! per line; a datagram to journald's socket carries `PRIORITY=` and any number of fields, and
//! a value may span lines. MESSAGE holds the same text the line output shows (message, then
//! `key=value` pairs), so `journalctl` reads like the log on a terminal, and every field is
//! also a journal field of its own (`journalctl PATH=wifi`).

use std::fmt::{self, Write as _};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

const SOCKET: &str = "/run/systemd/journal/socket";
/// journald is local and quick; a stalled one must not stall failover.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);
/// A message is cut here, which keeps every datagram far below the socket's limit.
const MAX_MESSAGE: usize = 48 * 1024;
/// Fields every entry carries; event fields of the same name get an `F_` prefix.
const RESERVED: [&str; 6] = [
    "MESSAGE",
    "PRIORITY",
    "SYSLOG_IDENTIFIER",
    "TARGET",
    "CODE_FILE",
    "CODE_LINE",
];

/// True when stderr is connected to the journal: `JOURNAL_STREAM` names stderr's device and
/// inode. A child whose stderr was redirected inherits the variable but not the stream.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = Path::new("/proc/self/fd/2").metadata() else {
        return false;
    };
    stream_matches(&stream.to_string_lossy(), meta.dev(), meta.ino())
}

/// `JOURNAL_STREAM` is `DEVICE:INODE`, both decimal.
pub(crate) fn stream_matches(value: &str, dev: u64, ino: u64) -> bool {
    value
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
        == Some((dev, ino))
}

/// syslog priority of a tracing level (TRACE shares `debug`, the lowest).
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Sends each event to journald.
pub struct JournalLayer {
    socket: UnixDatagram,
}

impl JournalLayer {
    pub fn connect() -> io::Result<JournalLayer> {
        JournalLayer::connect_to(Path::new(SOCKET))
    }

    /// To another socket than journald's (tests).
    pub fn connect_to(path: &Path) -> io::Result<JournalLayer> {
        let socket = UnixDatagram::unbound()?;
        socket.set_write_timeout(Some(SEND_TIMEOUT))?;
        socket.connect(path)?;
        Ok(JournalLayer { socket })
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for JournalLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let datagram = entry(event);
        // Nowhere to report a lost log entry but the log.
        let _ = self.socket.send(&datagram);
    }
}

/// The datagram for one event.
pub(crate) fn entry(event: &Event<'_>) -> Vec<u8> {
    let meta = event.metadata();
    let mut visitor = Fields::default();
    event.record(&mut visitor);
    let mut message = visitor.message;
    message.push_str(&visitor.pairs);
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str(" [truncated]");
    }
    let mut out = Vec::with_capacity(256 + message.len());
    put(
        &mut out,
        "PRIORITY",
        priority(meta.level()).to_string().as_bytes(),
    );
    put(&mut out, "SYSLOG_IDENTIFIER", b"arcway");
    put(&mut out, "MESSAGE", message.as_bytes());
    put(&mut out, "TARGET", meta.target().as_bytes());
    if let Some(file) = meta.file() {
        put(&mut out, "CODE_FILE", file.as_bytes());
    }
    if let Some(line) = meta.line() {
        put(&mut out, "CODE_LINE", line.to_string().as_bytes());
    }
    for (name, value) in &visitor.fields {
        put(&mut out, name, value.as_bytes());
    }
    out
}

/// One field: `NAME=value\n`, or, for a value with a newline, the name, a newline, the
/// value's length as 64-bit little endian, the value and a newline.
fn put(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    if value.contains(&b'\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// A tracing field name as a journal field name: upper case letters, digits and `_`, not
/// starting with `_` (trusted fields) or a digit, at most 64 bytes.
pub(crate) fn field_name(name: &str) -> String {
    let mut out: String = name
        .trim_start_matches("r#")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty()
        || out.starts_with(|c: char| c == '_' || c.is_ascii_digit())
        || RESERVED.contains(&out.as_str())
    {
        out.insert_str(0, "F_");
    }
    out.truncate(64);
    out
}

#[derive(Default)]
struct Fields {
    message: String,
    /// ` key=value` for each field, as the line output writes them.
    pairs: String,
    fields: Vec<(String, String)>,
}

impl Fields {
    fn add(&mut self, field: &Field, shown: fmt::Arguments<'_>, raw: String) {
        let _ = write!(self.pairs, " {}={}", field.name(), shown);
        self.fields.push((field_name(field.name()), raw));
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.add(field, format_args!("{value:?}"), value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let raw = format!("{value:?}");
            self.add(field, format_args!("{raw}"), raw.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_names_device_and_inode() {
        assert!(stream_matches("8:1234", 8, 1234));
        assert!(!stream_matches("8:1234", 8, 1235));
        assert!(!stream_matches("8", 8, 1234));
        assert!(!stream_matches("x:1234", 8, 1234));
    }

    #[test]
    fn field_names_follow_the_journal_rules() {
        assert_eq!(field_name("path"), "PATH");
        assert_eq!(field_name("elapsed_us"), "ELAPSED_US");
        assert_eq!(field_name("r#type"), "TYPE");
        assert_eq!(field_name("message"), "F_MESSAGE");
        assert_eq!(field_name("priority"), "F_PRIORITY");
        assert_eq!(field_name("_x"), "F__X");
        assert_eq!(field_name("9lives"), "F_9LIVES");
        assert_eq!(field_name("a.b"), "A_B");
        assert_eq!(field_name(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn multi_line_values_are_length_prefixed() {
        let mut out = Vec::new();
        put(&mut out, "MESSAGE", b"one\ntwo");
        put(&mut out, "PATH", b"wifi");
        let mut expected = b"MESSAGE\n".to_vec();
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(b"one\ntwo\nPATH=wifi\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
        assert_eq!(priority(&Level::TRACE), 7);
    }
}
