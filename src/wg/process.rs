//! Process mechanics for the userspace child: its output as rate-limited log lines, and ending
//! it by PID.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::Child;

use tracing::Level;

use super::limits::{LineLimiter, Verdict};

/// The level of one line of wireguard-go's log and its text without the level, interface and
/// date prefixes (`ERROR: (arc0) 2026/01/02 03:04:05 message`). Lines without a level prefix
/// (Go's own messages) are INFO.
pub(crate) fn userspace_line(line: &str) -> (Level, &str) {
    let line = line.trim_end();
    let (level, rest) = if let Some(rest) = line.strip_prefix("ERROR: ") {
        (Level::ERROR, rest)
    } else if let Some(rest) = line.strip_prefix("DEBUG: ") {
        (Level::DEBUG, rest)
    } else if let Some(rest) = line.strip_prefix("INFO: ") {
        (Level::INFO, rest)
    } else {
        return (Level::INFO, line);
    };
    let rest = match rest.strip_prefix('(').and_then(|r| r.split_once(") ")) {
        Some((_, after)) => after,
        None => rest,
    };
    (level, strip_date(rest))
}

/// Drops Go's `log` timestamp (`2006/01/02 15:04:05 `); the log adds its own.
fn strip_date(text: &str) -> &str {
    let b = text.as_bytes();
    let shape = b"dddd/dd/dd dd:dd:dd ";
    let dated = b.len() >= shape.len()
        && shape.iter().zip(b).all(|(s, c)| match s {
            b'd' => c.is_ascii_digit(),
            _ => s == c,
        });
    if dated { &text[shape.len()..] } else { text }
}

/// Turns each line the child writes into a log line, through a limiter shared by all of the
/// child's incarnations so a crash loop cannot flood the log.
pub(crate) fn pump(
    reader: impl AsyncRead + Unpin + Send + 'static,
    ifname: &str,
    pid: u32,
    stream: &'static str,
    limiter: &Arc<Mutex<LineLimiter>>,
) {
    let limiter = Arc::clone(limiter);
    let ifname = ifname.to_string();
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let verdict = limiter
                .lock()
                .map(|mut l| l.check(Instant::now()))
                .unwrap_or(Verdict::Drop);
            if let Verdict::Log { suppressed } = verdict {
                if suppressed > 0 {
                    tracing::warn!(%ifname, suppressed, "dropped userspace WireGuard output lines (rate limit)");
                }
                let (level, text) = userspace_line(&line);
                match level {
                    Level::ERROR => {
                        tracing::error!(target: "arcway::wg::userspace", %ifname, pid, stream, "{text}");
                    }
                    Level::DEBUG => {
                        tracing::debug!(target: "arcway::wg::userspace", %ifname, pid, stream, "{text}");
                    }
                    _ => {
                        tracing::info!(target: "arcway::wg::userspace", %ifname, pid, stream, "{text}")
                    }
                }
            }
        }
    });
}

/// Ends the child: SIGTERM, then SIGKILL after `grace`.
pub(crate) async fn terminate(mut child: Child, pid: u32, grace: Duration) -> std::io::Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    // The Child is not reaped yet, so the PID still names our process.
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status.map(|_| ()),
        Err(_) => {
            tracing::warn!(
                pid,
                ?grace,
                "userspace WireGuard ignored SIGTERM; sending SIGKILL"
            );
            child.kill().await
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::userspace_line;

    #[test]
    fn wireguard_go_levels_become_log_levels() {
        assert_eq!(
            userspace_line(
                "ERROR: (arc0) 2026/01/02 03:04:05 Failed to send handshake initiation: network is unreachable\n"
            ),
            (
                Level::ERROR,
                "Failed to send handshake initiation: network is unreachable"
            )
        );
        assert_eq!(
            userspace_line(
                "DEBUG: (arc0) 2026/01/02 03:04:05 Interface state was Down, requested Up, now Up"
            ),
            (
                Level::DEBUG,
                "Interface state was Down, requested Up, now Up"
            )
        );
        assert_eq!(
            userspace_line(
                "INFO: (arc0) 2026/01/02 03:04:05 Starting wireguard-go version 0.0.20220316"
            ),
            (Level::INFO, "Starting wireguard-go version 0.0.20220316")
        );
        assert_eq!(
            userspace_line("ERROR: no interface prefix"),
            (Level::ERROR, "no interface prefix")
        );
        assert_eq!(
            userspace_line("panic: runtime error"),
            (Level::INFO, "panic: runtime error")
        );
    }
}
