//! Backend selection and failed starts leave nothing behind (root, throwaway namespaces).

mod wg_support;

use std::time::Duration;

use arcway::wg::{Backend, Error, Tunnel, TunnelSpec, WgSettings};
use tokio::sync::mpsc;
use wg_support::{Lab, sh, sh_ok};

fn start(lab: &Lab, settings: WgSettings) -> Result<(), Error> {
    let spec = TunnelSpec::new(settings, lab.credentials("192.0.2.1:11010", None));
    lab.run_in_client(move || async move {
        let (tx, _rx) = mpsc::channel(8);
        let tunnel = Tunnel::start(spec, tx).await?;
        tunnel.stop().await
    })
}

fn nothing_left(lab: &Lab) {
    let c = &lab.client;
    assert!(
        !sh_ok(&format!("ip -n {c} link show {}", lab.client_if)),
        "device left behind"
    );
    // A table that never held a route does not exist at all, which is also empty.
    assert_eq!(
        sh(&format!(
            "ip -n {c} route show table 7101 2>/dev/null || true"
        ))
        .trim(),
        ""
    );
    assert_eq!(
        sh(&format!("ip netns pids {c}")).trim(),
        "",
        "process left behind"
    );
}

#[test]
fn kernel_backend_matches_what_the_kernel_can_do() {
    let lab = Lab::new();
    let probe = format!("{}p", lab.client_if);
    let kernel_has_wg = sh_ok(&format!(
        "ip -n {} link add {probe} type wireguard",
        lab.client
    ));
    let _ = sh_ok(&format!("ip -n {} link del {probe}", lab.client));
    let settings = WgSettings {
        ifname: lab.client_if.clone(),
        backend: Backend::Kernel,
        ..WgSettings::default()
    };
    let result = start(&lab, settings);
    if kernel_has_wg {
        result.expect("kernel backend on a kernel with WireGuard");
    } else {
        assert!(
            matches!(result, Err(Error::KernelUnsupported { .. })),
            "{result:?}"
        );
    }
    nothing_left(&lab);
}

#[test]
fn missing_userspace_command_fails_start_cleanly() {
    let lab = Lab::new();
    let settings = WgSettings {
        ifname: lab.client_if.clone(),
        backend: Backend::Userspace,
        userspace_command: vec!["/nonexistent/wireguard-go".into(), "-f".into()],
        ..WgSettings::default()
    };
    let err = start(&lab, settings).unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
    nothing_left(&lab);
}

#[test]
fn userspace_command_that_exits_fails_start_with_its_status() {
    let lab = Lab::new();
    let settings = WgSettings {
        ifname: lab.client_if.clone(),
        backend: Backend::Userspace,
        userspace_command: vec![
            "sh".into(),
            "-c".into(),
            "echo broken >&2; exit 3".into(),
            "sh".into(),
        ],
        handshake_timeout: Duration::from_secs(1),
        ..WgSettings::default()
    };
    let err = start(&lab, settings).unwrap_err();
    assert!(err.to_string().contains("exit status: 3"), "{err}");
    nothing_left(&lab);
}
