//! The emulated modem's serial port: a pseudo-terminal whose master end a thread serves with
//! [`super::at::answer`], and whose slave end ModemManager opens through a `/dev` link.
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::at::{self, Modem};

/// Opens a pty pair, the slave in raw mode; returns (master, slave, slave path).
fn open_pty() -> io::Result<(OwnedFd, OwnedFd, PathBuf)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors; name, termios and winsize may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: termios is plain data; tcgetattr fills it for a valid descriptor.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t);
        }
    }
    let mut buf = [0u8; 128];
    // SAFETY: the buffer is writable for its length.
    let rc = unsafe { libc::ttyname_r(slave.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let path = PathBuf::from(String::from_utf8_lossy(&buf[..end]).into_owned());
    Ok((master, slave, path))
}

/// A serial port served by a thread; dropping it stops the thread and closes the pty.
pub struct Port {
    pub slave_path: PathBuf,
    writer: Arc<Mutex<File>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _slave: OwnedFd,
}

impl Port {
    pub fn open(state: Arc<Mutex<Modem>>, log: &Path) -> io::Result<Port> {
        let (master, slave, slave_path) = open_pty()?;
        let reader = File::from(master);
        let writer = Arc::new(Mutex::new(reader.try_clone()?));
        let stop = Arc::new(AtomicBool::new(false));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let thread = {
            let (writer, stop) = (writer.clone(), stop.clone());
            std::thread::Builder::new()
                .name("modem-pty".into())
                .spawn(move || serve(reader, writer, state, stop, log))?
        };
        Ok(Port {
            slave_path,
            writer,
            stop,
            thread: Some(thread),
            _slave: slave,
        })
    }

    /// Sends unsolicited result codes, each framed as the modem does.
    pub fn urc(&self, lines: &[String]) {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for l in lines {
            let _ = w.write_all(format!("\r\n{l}\r\n").as_bytes());
        }
    }
}

fn serve(
    mut reader: File,
    writer: Arc<Mutex<File>>,
    state: Arc<Mutex<Modem>>,
    stop: Arc<AtomicBool>,
    mut log: File,
) {
    let mut line = Vec::new();
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n <= 0 || pfd.revents & libc::POLLIN == 0 {
            if pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            continue;
        }
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b != b'\r' && b != b'\n' {
                line.push(b);
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            let reply = {
                let mut m = state.lock().unwrap_or_else(|e| e.into_inner());
                at::answer(&mut m, &text)
            };
            let wire = reply.wire();
            let _ = writeln!(
                log,
                "> {text}\n< {}",
                wire.trim().replace("\r\n\r\n", " | ")
            );
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            let _ = w.write_all(wire.as_bytes());
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
