//! A tiny HTTP server for the platform and internet hosts: every GET answers 200 with a body
//! naming the server. It runs as `arcway-lab http-serve` in a namespace, or as threads of the
//! test process whose sockets were opened inside the namespace.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::{LabError, Result};

/// The response to one request; HEAD gets the headers only.
pub fn response(request: &str, body: &str) -> String {
    let method = request.split_whitespace().next().unwrap_or("");
    let (status, body) = match method {
        "GET" | "HEAD" => ("200 OK", body),
        _ => ("405 Method Not Allowed", "method not allowed\n"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method == "HEAD" { head } else { head + body }
}

fn handle(mut stream: TcpStream, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let answer = response(&String::from_utf8_lossy(&request), body);
    let _ = stream.write_all(answer.as_bytes());
}

/// True when the listener has a connection waiting (waits at most 100 ms, so `stop` is seen).
fn readable(listener: &TcpListener) -> bool {
    let mut fd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut fd, 1, 100) > 0 }
}

/// Accepts until `stop` is set; each connection gets its own short-lived thread.
pub fn accept_loop(listener: TcpListener, body: Arc<str>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if !readable(&listener) {
            continue;
        }
        if let Ok((stream, _)) = listener.accept() {
            let body = body.clone();
            thread::spawn(move || handle(stream, &body));
        }
    }
}

pub fn bind(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>> {
    addrs
        .iter()
        .map(|a| {
            TcpListener::bind(a).map_err(|source| LabError::Io {
                path: format!("tcp://{a}").into(),
                source,
            })
        })
        .collect()
}

/// HTTP listeners running on threads of this process, inside a namespace's network stack.
#[derive(Debug)]
pub struct HttpThreads {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl HttpThreads {
    pub fn start(ns: &str, addrs: &[SocketAddr], body: &str) -> Result<HttpThreads> {
        let addrs = addrs.to_vec();
        let listeners = in_netns(ns, move || bind(&addrs))??;
        let stop = Arc::new(AtomicBool::new(false));
        let body: Arc<str> = body.into();
        let threads = listeners
            .into_iter()
            .map(|l| {
                let (body, stop) = (body.clone(), stop.clone());
                thread::spawn(move || accept_loop(l, body, stop))
            })
            .collect();
        Ok(HttpThreads { stop, threads })
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for HttpThreads {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `f` on a fresh thread that first joins the network namespace `ns`; sockets it opens
/// stay in that namespace for their whole life.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).map_err(LabError::io(&path))?;
    let handle = thread::spawn(move || {
        // SAFETY: setns on a valid namespace fd affects only this thread, which ends after `f`.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    });
    let joined = handle.join().map_err(|_| LabError::Io {
        path: path.clone().into(),
        source: std::io::Error::other("namespace thread panicked"),
    })?;
    joined.map_err(LabError::io(path))
}

#[cfg(test)]
mod tests {
    use super::response;

    #[test]
    fn get_gets_the_body_and_head_only_headers() {
        let get = response("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "plat\n");
        assert!(get.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(get.contains("Content-Length: 5\r\n"));
        assert!(get.ends_with("\r\n\r\nplat\n"));
        let head = response("HEAD / HTTP/1.1\r\n\r\n", "plat\n");
        assert!(head.ends_with("\r\n\r\n"));
        assert!(response("POST / HTTP/1.1\r\n\r\n", "plat\n").starts_with("HTTP/1.1 405"));
    }
}
