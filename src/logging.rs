//! Log output: structured `tracing` events to stderr, where journald or logd pick them up.

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Timestamps unless a service manager that adds its own is reading stderr.
    Auto,
    /// Never timestamps.
    Plain,
    /// Always timestamps.
    Timestamped,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. `level` is a filter directive such as `info` or
/// `arcway=debug`; `ARCWAY_LOG` in the environment overrides it.
pub fn init(level: &str, style: Style) {
    // The netlink crates log every message at debug level; they would drown ours.
    let quiet = ",netlink_proto=warn,netlink_sys=warn,rtnetlink=warn,zbus=warn";
    let directive = std::env::var("ARCWAY_LOG").unwrap_or_else(|_| format!("{level}{quiet}"));
    let filter = EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let timestamps = match style {
        Style::Plain => false,
        Style::Timestamped | Style::Json => true,
        // journald announces itself with JOURNAL_STREAM and stamps every line itself.
        Style::Auto => std::env::var_os("JOURNAL_STREAM").is_none(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let result = if style == Style::Json {
        builder.json().try_init()
    } else if timestamps {
        builder.try_init()
    } else {
        builder.without_time().try_init()
    };
    // A second init (tests, reload) keeps the first subscriber; that is fine.
    drop(result);
}
