//! Configuration errors. Every problem in the file's content is a [`Diagnostic`] naming the
//! file, line, column and key path; problems with the file itself are single errors.

use std::fmt;
use std::io;

use thiserror::Error;

/// A 1-based line and column (in characters) in the configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    /// The start of the file: where problems with no better place are reported.
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub(crate) fn of<T>(s: &serde_saphyr::Spanned<T>) -> Pos {
        Pos::from_location(s.referenced).unwrap_or(Pos::START)
    }

    pub(crate) fn from_location(l: serde_saphyr::Location) -> Option<Pos> {
        let line = u32::try_from(l.line()).ok().filter(|&n| n > 0)?;
        let column = u32::try_from(l.column()).ok().filter(|&n| n > 0)?;
        Some(Pos { line, column })
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem in the configuration, rendered as `FILE:LINE:COL: key.path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name (or origin name given to `parse_str`).
    pub origin: String,
    pub pos: Pos,
    /// Where in the document, e.g. `classes[1].paths[0].policy`; `(top level)` for the root.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // User text (keys, values) may hold control characters; keep each diagnostic one line.
        let path = one_line(&self.path);
        let message = one_line(&self.message);
        write!(
            f,
            "{}:{}: {}: {}",
            one_line(&self.origin),
            self.pos,
            path,
            message
        )
    }
}

fn one_line(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_owned()
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{origin}: failed to read the configuration file ({reason})")]
    Read {
        origin: String,
        reason: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{origin}: failed to read the configuration file: it is a directory")]
    Directory { origin: String },
    #[error("{origin}: failed to read the configuration file: it is not a regular file")]
    NotRegular { origin: String },
    #[error("{origin}: failed to read the configuration file: it is larger than {limit} bytes")]
    TooLarge { origin: String, limit: u64 },
    #[error("{origin}: failed to parse the configuration: the file is empty")]
    Empty { origin: String },
    #[error("{origin}:{pos}: failed to parse the configuration: {what}; the file is not YAML text")]
    Binary {
        origin: String,
        pos: Pos,
        what: &'static str,
    },
    /// The file was read and parsed, and one or more problems were found in it.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    /// The problems in the file's content (empty for errors about the file itself).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => d,
            _ => &[],
        }
    }

    pub(crate) fn read(origin: &str, source: io::Error) -> ConfigError {
        let reason = match source.kind() {
            io::ErrorKind::NotFound => "it does not exist",
            io::ErrorKind::PermissionDenied => "permission denied",
            io::ErrorKind::IsADirectory => {
                return ConfigError::Directory {
                    origin: origin.to_owned(),
                };
            }
            _ => "I/O error",
        };
        ConfigError::Read {
            origin: origin.to_owned(),
            reason,
            source,
        }
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(Diagnostic::to_string).collect();
    lines.join("\n")
}
