//! sd_notify datagrams as a service manager would receive them (no root needed).

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use arcway::notify::{Notifier, NotifyError};

fn receive(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("a notification arrives");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn notifications_reach_a_path_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let manager = UnixDatagram::bind(&path).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let notifier = Notifier::new(Some(path.as_os_str())).unwrap();
    assert!(notifier.is_enabled());

    notifier.ready().unwrap();
    assert_eq!(receive(&manager), "READY=1");
    notifier.status("platform via arc\nbulk via wifi").unwrap();
    assert_eq!(receive(&manager), "STATUS=platform via arc bulk via wifi");
    notifier.watchdog().unwrap();
    assert_eq!(receive(&manager), "WATCHDOG=1");
    notifier.reloading().unwrap();
    let reloading = receive(&manager);
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .expect(&reloading);
    assert!(usec.parse::<u64>().unwrap() > 0, "{reloading}");
    notifier.clone().stopping().unwrap();
    assert_eq!(receive(&manager), "STOPPING=1");
}

#[test]
fn notifications_reach_an_abstract_socket() {
    let name = format!("arcway-test-{}-{:x}", std::process::id(), rand_suffix());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let manager = UnixDatagram::bind_addr(&addr).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let notifier = Notifier::new(Some(OsStr::new(&format!("@{name}")))).unwrap();
    notifier.ready().unwrap();
    assert_eq!(receive(&manager), "READY=1");
}

#[test]
fn missing_manager_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone");
    let notifier = Notifier::new(Some(path.as_os_str())).unwrap();
    let err = notifier.ready().unwrap_err();
    assert!(matches!(err, NotifyError::Send { .. }), "{err}");
    assert!(
        err.to_string().starts_with("failed to notify systemd"),
        "{err}"
    );
}

#[test]
fn disabled_notifier_is_silent() {
    let notifier = Notifier::new(None).unwrap();
    assert!(!notifier.is_enabled());
    notifier.ready().unwrap();
    notifier.reloading().unwrap();
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
