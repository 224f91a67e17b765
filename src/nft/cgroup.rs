//! cgroup v2 matchers name directories that may not exist yet.
//!
//! nftables resolves `socket cgroupv2 level N "path"` to the directory's inode when the
//! table is loaded and refuses the whole transaction if it is missing, so one service that
//! has not started would take every mark and NAT rule down with it. Such matchers are left
//! out instead (with a warning); re-applying the table once the cgroup exists brings them in.

use std::collections::BTreeSet;
use std::path::Path;

use super::NftInputs;

/// Where the cgroup v2 hierarchy is mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroups named by any class that do not exist under `root`.
pub fn missing_cgroups(inputs: &NftInputs, root: &Path) -> BTreeSet<String> {
    inputs
        .classes
        .iter()
        .flat_map(|c| c.cgroups.iter())
        .filter(|c| !root.join(c.trim_start_matches('/')).is_dir())
        .cloned()
        .collect()
}
