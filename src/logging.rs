//! Log output: structured `tracing` events to stderr, where journald or logd pick them up.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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

/// zbus logs every D-Bus message at debug level; it would drown ours.
const QUIET: &str = ",zbus=warn";

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
    let env = std::env::var("ARCWAY_LOG").ok();
    let filter = filter(level, env.as_deref());
    let timestamps = match style {
        Style::Plain => false,
        Style::Timestamped | Style::Json => true,
        // journald announces itself with JOURNAL_STREAM and stamps every line itself.
        Style::Auto => std::env::var_os("JOURNAL_STREAM").is_none(),
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let result = if style == Style::Json {
        builder.json().finish().with(filter).try_init()
    } else if timestamps {
        builder.finish().with(filter).try_init()
    } else {
        builder.without_time().finish().with(filter).try_init()
    };
    // A second init (tests, reload) keeps the first subscriber; that is fine.
    drop(result);
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
