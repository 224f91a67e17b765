//! arcway's children get a scrubbed environment: an AuthKey in arcway's own environment
//! never reaches nft or wireguard-go (root, lab). Both are wrapped by scripts that record the
//! environment they were started with, then run the real program.

mod arc_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use arc_support::*;

const SECRET: &str = "secret-authkey-4d9f";
const SECRET_ID: &str = "keyId-4d9f";

fn env_of(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn nft_and_wireguard_go_never_see_the_authkey() {
    let lab = lab();
    let dir = lab.state_dir().join("envwrap");
    std::fs::create_dir_all(&dir).unwrap();
    let nft_env = dir.join("nft.env");
    let wg_env = dir.join("wg.env");
    let real_nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nft installed");
    let wrapper = dir.join("nft");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nenv >> {}\nexec {real_nft} \"$@\"\n",
            nft_env.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = config_with_arc(
        &lab,
        &format!(
            "  userspace_command:\n    - sh\n    - -c\n    - 'env > {} && exec wireguard-go -f \"$0\"'\n",
            wg_env.display()
        ),
    );
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        dir.display()
    );
    let arcway = lab
        .start_arcway_with(
            &config,
            &[
                ("PATH", &path),
                ("SORACOM_AUTH_KEY_ID", SECRET_ID),
                ("SORACOM_AUTH_KEY", SECRET),
                ("LC_TIME", "C"),
            ],
        )
        .expect("arcway starts");
    wait_arc_up(&arcway, Duration::from_secs(15));
    for (what, file) in [("nft", &nft_env), ("wireguard-go", &wg_env)] {
        let env = env_of(file);
        eprintln!("{what} environment:\n{env}");
        assert!(
            !env.contains(SECRET) && !env.contains(SECRET_ID),
            "{what}: {env}"
        );
        assert!(!env.contains("SORACOM_"), "{what}: {env}");
        assert!(!env.contains("ARCWAY_LOG"), "{what}: {env}");
        // The allow-list still passes what the child needs.
        assert!(env.contains(&format!("PATH={path}")), "{what}: {env}");
        assert!(env.contains("LC_TIME=C"), "{what}: {env}");
    }
}
