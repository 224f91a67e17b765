//! `arcway-lab fake-mm` as a process, driven over standard input the way the demo and the
//! daemon tests drive it, watched by arcway's modem watcher.

#[path = "modem_support.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use arcway::config::ModemSelector;
use arcway::modem::{self, Bus, ModemEvent, WatcherSettings};
use support::{is_bearer, wait_for};

/// The fake process; killed on drop if it has not exited.
struct FakeMm {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl FakeMm {
    fn start(args: &[&str]) -> FakeMm {
        let bin = arcway_lab::bin_path("arcway-lab").expect("arcway-lab is built");
        let mut child = Command::new(bin)
            .arg("fake-mm")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start arcway-lab fake-mm");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        FakeMm {
            child,
            stdin,
            stdout,
        }
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).expect("read fake-mm output");
        s.trim().to_owned()
    }

    fn say(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("write to fake-mm");
        self.stdin.flush().unwrap();
        self.line()
    }
}

impl Drop for FakeMm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn fake_mm_process_is_driven_over_stdin() {
    let mut fake = FakeMm::start(&["--interface", "wwan7", "--connected", "--mtu", "1430"]);
    let bus = fake.line();
    let address = bus.strip_prefix("bus ").expect("bus line").to_owned();
    let modem_line = fake.line();
    assert!(modem_line.starts_with("modem "), "{modem_line}");
    assert_eq!(fake.line(), "ready");

    let mut settings = WatcherSettings::new(Bus::Address(address), ModemSelector::First);
    settings.retry = Duration::from_millis(200);
    let (watcher, mut rx) = modem::spawn(settings);
    let (_, before) = wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    assert!(before.contains(&ModemEvent::Interface {
        name: "wwan7".into()
    }));

    assert_eq!(fake.say("drop"), "ok");
    wait_for(&mut rx, "bearer down", is_bearer(false)).await;
    assert_eq!(fake.say("signal 12"), "ok");
    wait_for(&mut rx, "signal", |e| {
        *e == ModemEvent::SignalQuality(Some(12))
    })
    .await;
    assert_eq!(fake.say("malformed state"), "ok");
    assert!(fake.say("bogus").starts_with("error"));

    let restarted = fake.say("restart");
    assert!(restarted.starts_with("ok modem "), "{restarted}");
    wait_for(&mut rx, "ServiceGone", |e| *e == ModemEvent::ServiceGone).await;
    wait_for(&mut rx, "ServiceBack", |e| *e == ModemEvent::ServiceBack).await;
    assert!(fake.say("connect").starts_with("ok bearer"));
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;

    assert_eq!(fake.say("quit"), "ok bye");
    let status = fake.child.wait().expect("fake-mm exits");
    assert!(status.success());
    // Its private bus went with it.
    wait_for(&mut rx, "ServiceGone", |e| *e == ModemEvent::ServiceGone).await;
    watcher.stop().await;
}
