//! The lab's error type.
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while building, driving or removing a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("failed to start {command}")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to run {command} ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("failed to access {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to parse {what}")]
    Parse {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to see {what} in time")]
    Timeout { what: String },
    #[error("failed to find the {name} binary (looked in {searched})")]
    BinaryNotFound { name: String, searched: String },
    #[error("failed to use prefix {prefix}: {reason}")]
    Prefix { prefix: String, reason: String },
    #[error("failed to clean up: {}", .0.join("; "))]
    Cleanup(Vec<String>),
    #[error("failed to extend the lab to dual stack: {0}")]
    DualStack(String),
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

impl LabError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> LabError {
        let path = path.into();
        move |source| LabError::Io { path, source }
    }
}
