//! `arcway-lab modem` as a process, driven over standard input the way the demo drives it,
//! watched by arcway's modem watcher (root: ModemManager runs in its own mount namespace).
//! Everything it started ends with it, also on SIGTERM.

#[path = "modem_support.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use arcway::config::ModemSelector;
use arcway::modem::{self, Bus, ModemEvent, WatcherSettings};
use support::{is_bearer, wait_for};

/// The process; killed on drop if it has not exited.
struct LabModem {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl LabModem {
    fn start(args: &[&str]) -> LabModem {
        let bin = arcway_lab::bin_path("arcway-lab").expect("arcway-lab is built");
        let mut child = Command::new(bin)
            .arg("modem")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start arcway-lab modem");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        LabModem {
            child,
            stdin,
            stdout,
        }
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).expect("read the output");
        s.trim().to_owned()
    }

    fn say(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("write a command");
        self.stdin.flush().unwrap();
        self.line()
    }
}

impl Drop for LabModem {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
            }
        }
    }
    out
}

#[tokio::test]
async fn lab_modem_process_is_driven_over_stdin_and_leaves_nothing_behind() {
    let mut lm = LabModem::start(&["--net", "wwan7", "--id", "77"]);
    let bus = lm.line();
    let address = bus.strip_prefix("bus ").expect("bus line").to_owned();
    let dir = address
        .strip_prefix("unix:path=")
        .and_then(|p| p.rsplit_once('/'))
        .map(|(d, _)| d.to_owned())
        .expect("socket path");
    let modem_line = lm.line();
    assert!(modem_line.starts_with("modem 0 35"), "{modem_line}");
    assert_eq!(lm.line(), "ready");
    assert!(!processes_with(&dir).is_empty());

    let mut settings = WatcherSettings::new(Bus::Address(address), ModemSelector::First);
    settings.retry = Duration::from_millis(200);
    let (watcher, mut rx) = modem::spawn(settings);
    wait_for(&mut rx, "ModemFound", support::is_found).await;

    let answer = tokio::task::spawn_blocking(move || {
        let a = lm.say("connect");
        (lm, a)
    })
    .await
    .unwrap();
    let (mut lm, connected) = answer;
    assert_eq!(connected, "ok");
    wait_for(&mut rx, "interface", |e| {
        *e == ModemEvent::Interface {
            name: "wwan7".into(),
        }
    })
    .await;
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    assert_eq!(lm.say("signal 31"), "ok");
    wait_for(&mut rx, "signal", |e| {
        *e == ModemEvent::SignalQuality(Some(100))
    })
    .await;
    assert_eq!(lm.say("drop"), "ok");
    wait_for(&mut rx, "bearer down", is_bearer(false)).await;
    assert!(lm.say("drop").starts_with("error"), "nothing left to drop");
    assert!(lm.say("bogus").starts_with("error"));

    // SIGTERM ends the process and everything it started; arcway sees the service go.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(lm.child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || lm.child.wait().expect("exits"))
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    wait_for(&mut rx, "ServiceGone", |e| *e == ModemEvent::ServiceGone).await;
    let left = processes_with(&dir);
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
    watcher.stop().await;
}
