//! Log output: structured `tracing` events to the journal when stderr is the journal, and
//! otherwise as lines on stderr, where logd (OpenWrt) or a terminal reads them.
//!
//! The level and the style can change while the daemon runs (a reload): the filter and the
//! output are each behind a `reload` layer of one global subscriber.

mod journal;

use std::sync::OnceLock;

use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

pub use journal::{JournalLayer, stderr_is_journal};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The journal's native protocol when stderr is the journal; otherwise lines with
    /// timestamps unless a service manager that adds its own is reading stderr.
    Auto,
    /// Never timestamps.
    Plain,
    /// Always timestamps.
    Timestamped,
    /// One JSON object per line, for log collectors.
    Json,
}

/// zbus logs every D-Bus message at debug level; it would drown ours.
const QUIET: &str = ",zbus=warn";

type Output = Box<dyn Layer<Registry> + Send + Sync>;
type WithOutput = Layered<reload::Layer<Output, Registry>, Registry>;

/// What a reload swaps.
struct Handles {
    filter: reload::Handle<Targets, WithOutput>,
    output: reload::Handle<Output, Registry>,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

/// The filter for a level from the configuration (`info`), or for `ARCWAY_LOG` when it is set:
/// comma-separated `level` and `target=level` directives such as
/// `debug,zbus=warn,arcway::probe=trace`. A target matches itself and every module
/// path below it. A directive that does not parse falls back to `info`.
pub fn filter(level: &str, env: Option<&str>) -> Targets {
    let directive = match env {
        Some(env) => env.to_owned(),
        None => format!("{level}{QUIET}"),
    };
    directive
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO))
}

/// Installs the global subscriber. `level` is a level such as `info`, or a list of
/// directives (see [`filter`]); `ARCWAY_LOG` in the environment overrides it.
pub fn init(level: &str, style: Style) {
    let (output, output_handle) = reload::Layer::new(output(style));
    let (filter, filter_handle) = reload::Layer::new(env_filter(level));
    let installed = tracing_subscriber::registry()
        .with(output)
        .with(filter)
        .try_init();
    // A second init (tests) keeps the first subscriber and its handles.
    if installed.is_ok() {
        let _ = HANDLES.set(Handles {
            filter: filter_handle,
            output: output_handle,
        });
    }
}

/// Changes the level and the style of the subscriber [`init`] installed (a reload).
pub fn reconfigure(level: &str, style: Style) -> Result<(), String> {
    let handles = HANDLES
        .get()
        .ok_or_else(|| "logging was not set up by this process".to_owned())?;
    handles
        .output
        .reload(output(style))
        .map_err(|e| format!("failed to change the log format: {e}"))?;
    handles
        .filter
        .reload(env_filter(level))
        .map_err(|e| format!("failed to change the log level: {e}"))
}

/// An error for stderr outside the subscriber (before it exists, or a command's own output).
/// When stderr is the journal, where each line would get the unit's default priority (info),
/// every line carries the sd-daemon prefix of priority 3.
pub fn report_error(text: &str) {
    if stderr_is_journal() {
        for line in text.lines() {
            eprintln!("<3>{line}");
        }
    } else {
        eprintln!("{text}");
    }
}

fn env_filter(level: &str) -> Targets {
    filter(level, std::env::var("ARCWAY_LOG").ok().as_deref())
}

fn output(style: Style) -> Output {
    let timestamps = match style {
        Style::Plain => false,
        Style::Timestamped | Style::Json => true,
        Style::Auto if stderr_is_journal() => match JournalLayer::connect() {
            Ok(journal) => return journal.boxed(),
            // No journald socket after all: plain lines on stderr still reach it.
            Err(_) => false,
        },
        // A manager announcing JOURNAL_STREAM stamps what it reads; logd and terminals do not.
        Style::Auto => std::env::var_os("JOURNAL_STREAM").is_none(),
    };
    // Not `fmt()`: its subscriber caps events at INFO below any filter.
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    if style == Style::Json {
        lines.json().boxed()
    } else if timestamps {
        lines.boxed()
    } else {
        lines.without_time().boxed()
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::filter;

    #[test]
    fn the_configured_level_applies_and_zbus_is_quieted() {
        let f = filter("debug", None);
        assert!(f.would_enable("arcway::daemon", &Level::DEBUG));
        assert!(!f.would_enable("arcway::daemon", &Level::TRACE));
        assert!(!f.would_enable("zbus::connection", &Level::DEBUG));
        assert!(f.would_enable("zbus::connection", &Level::WARN));
        assert!(!f.would_enable("zbus", &Level::INFO));
    }

    #[test]
    fn the_environment_overrides_with_per_target_levels() {
        let f = filter("info", Some("warn,arcway::probe=trace"));
        assert!(f.would_enable("arcway::probe::run", &Level::TRACE));
        assert!(!f.would_enable("arcway::daemon", &Level::INFO));
        assert!(f.would_enable("arcway::daemon", &Level::WARN));
    }

    #[test]
    fn a_directive_that_does_not_parse_means_info() {
        let f = filter("info", Some("arcway=loud"));
        assert!(f.would_enable("arcway", &Level::INFO));
        assert!(!f.would_enable("arcway", &Level::DEBUG));
    }
}
