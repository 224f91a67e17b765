//! A name for the Arc endpoint whose DNS answer hangs on demand: the gateway's hosts file
//! knows the name until `known(false)`, and then its resolver asks a server whose queries
//! are dropped, with a 20 s timeout. A reload that restarts the tunnel while the name hangs
//! shows whether anything on arcway's failover path waits for the tunnel.
use std::path::PathBuf;

use anyhow::Context;

use crate::plan::ARC_ENDPOINT;
use crate::{Lab, Role};

pub const NAME: &str = "arc.stall.example";

fn etc_netns(lab: &Lab) -> PathBuf {
    PathBuf::from("/etc/netns").join(lab.ns(Role::Gw))
}

/// Sets up the name, the silent resolver and credentials that use the name. Call before arcway
/// starts (`ip netns exec` binds the files when it starts a program).
pub fn prepare(lab: &Lab) -> anyhow::Result<()> {
    let dir = etc_netns(lab);
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let resolv = dir.join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.53\noptions timeout:20 attempts:1\n",
    )
    .with_context(|| format!("failed to write {}", resolv.display()))?;
    // Dropped on the way in, so the sender sees neither an error (as a drop on output would
    // give it) nor a refusal: the resolver waits out its whole timeout.
    lab.nft(
        Role::Gw,
        "table inet stalldns {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    udp dport 53 drop\n  }\n}\n",
    )?;
    known(lab, true)?;
    let port = ARC_ENDPOINT.rsplit_once(':').map_or("11010", |(_, p)| p);
    lab.arc_credentials()
        .with_endpoint(&format!("{NAME}:{port}"))
        .write(&lab.credentials_path())?;
    Ok(())
}

/// Whether the hosts file answers for the name (else its lookup hangs). The file is rewritten
/// in place, so programs already running see the change.
pub fn known(lab: &Lab, on: bool) -> anyhow::Result<()> {
    let host = ARC_ENDPOINT
        .rsplit_once(':')
        .map_or(ARC_ENDPOINT, |(h, _)| h);
    let entries: &[(&str, &str)] = if on { &[(NAME, host)] } else { &[] };
    lab.write_hosts(Role::Gw, entries)?;
    Ok(())
}

/// `config` with another WireGuard keepalive: a reload of it restarts the tunnel.
pub fn restart_config(config: &str, trial: usize) -> String {
    config.replace(
        "  interface: arc0\n",
        &format!("  interface: arc0\n  keepalive: {}s\n", 20 + trial % 2),
    )
}
