//! Process mechanics for the userspace child: its output as rate-limited log lines, and ending
//! it by PID.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::Child;

use super::limits::{LineLimiter, Verdict};

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
                tracing::info!(target: "arcway::wg::userspace", %ifname, pid, stream, "{}", line.trim_end());
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
