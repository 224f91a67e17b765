//! arcway's nftables table (`table inet arcway`): class marks and source NAT.
//!
//! The table is rendered whole and replaced atomically with `nft -f -`. It changes only
//! with the configuration (classes, interfaces, the Arc address), never on a path switch:
//! switches happen in the class routing tables.

mod render;

#[cfg(test)]
mod tests;

use std::io;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tracing::info;

pub use render::{MarkClass, NatPath, NftInputs, render_replace, render_table};

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("failed to run nft")]
    Spawn(#[source] io::Error),
    #[error("failed to load table inet arcway: {stderr}")]
    Rejected { stderr: String },
}

/// Replaces `table inet arcway` with the rendering of `inputs` in one transaction.
pub async fn apply(inputs: &NftInputs) -> Result<(), NftError> {
    run_nft(&["-f", "-"], Some(render_replace(inputs))).await?;
    info!(
        classes = inputs.classes.len(),
        nat = inputs.nat.len(),
        "nftables table replaced"
    );
    Ok(())
}

/// Deletes `table inet arcway`; a table that is already gone is not an error.
pub async fn remove() -> Result<(), NftError> {
    // Declaring the table first makes the delete valid when it does not exist.
    let text = "table inet arcway {}\ndelete table inet arcway\n".to_string();
    run_nft(&["-f", "-"], Some(text)).await
}

async fn run_nft(args: &[&str], stdin: Option<String>) -> Result<(), NftError> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(NftError::Spawn)?;
    if let Some(text) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(NftError::Spawn)?;
    }
    let out = child.wait_with_output().await.map_err(NftError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NftError::Rejected {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
