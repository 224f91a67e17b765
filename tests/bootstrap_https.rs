//! The HTTPS client against a server that ends its answers in the ways real servers and
//! attackers do: a body delimited by the connection's end is accepted only when TLS closes
//! with close_notify, never when the TCP connection is simply cut.

#[path = "bootstrap_support.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use arcway::https::{Client, ClientOptions, Method, Request, Retry, Url};
use arcway_lab::soracom::TestCa;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const BODY: &str = r#"{"apiKey":"k","token":"t"}"#;

/// Serves one connection: reads the request head, sends `answer`, then closes with TLS
/// close_notify (`clean`) or by cutting the TCP connection.
async fn serve_once(listener: TcpListener, acceptor: TlsAcceptor, answer: Vec<u8>, clean: bool) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut tls = acceptor.accept(tcp).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tls.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let length = String::from_utf8_lossy(&head)
        .lines()
        .find_map(|l| l.strip_prefix("content-length: ").map(str::to_owned))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    tls.read_exact(&mut body).await.unwrap();
    tls.write_all(&answer).await.unwrap();
    tls.flush().await.unwrap();
    if clean {
        tls.shutdown().await.unwrap();
    } else {
        // The TCP connection ends without a TLS close_notify: what an attacker who cuts the
        // connection, or a truncating middlebox, produces.
        let (mut tcp, _) = tls.into_inner();
        tcp.shutdown().await.unwrap();
    }
}

fn exchange(answer: &[u8], clean: bool) -> Result<(u16, Vec<u8>), String> {
    let ca = TestCa::generate(&["127.0.0.1".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    ca.write_ca(&ca_file).unwrap();
    let acceptor = TlsAcceptor::from(Arc::clone(&ca.server));
    let answer = answer.to_vec();
    block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_once(listener, acceptor, answer, clean));
        let client = Client::new(ClientOptions {
            extra_ca: Some(ca_file),
            retries: 0,
            ..fast()
        })
        .unwrap();
        let request = Request {
            method: Method::Post,
            url: Url::parse(&format!("https://{addr}/v1/auth")).unwrap(),
            headers: vec![("Content-Type", "application/json")],
            body: b"{}".to_vec(),
            retry: Retry::Idempotent,
        };
        let result = client.send(&request).await;
        server.await.unwrap();
        result.map(|r| (r.status, r.body)).map_err(|e| chain(&e))
    })
}

#[test]
fn a_body_that_ends_with_the_connection_needs_close_notify() {
    let answer = format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{BODY}");
    let (status, body) = exchange(answer.as_bytes(), true).expect("clean close");
    assert_eq!((status, body.as_slice()), (200, BODY.as_bytes()));

    let cut = format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}",
        &BODY[..10]
    );
    let e = exchange(cut.as_bytes(), false).unwrap_err();
    assert!(e.contains("the body ended after"), "{e}");
    assert!(e.contains("close_notify"), "{e}");
}

#[test]
fn declared_lengths_and_chunks_are_checked_too() {
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
        BODY.len(),
        BODY
    );
    assert_eq!(
        exchange(answer.as_bytes(), false).unwrap().1,
        BODY.as_bytes()
    );
    let short = format!("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{BODY}");
    let e = exchange(short.as_bytes(), true).unwrap_err();
    assert!(
        e.contains(&format!("ended after {} bytes of 100", BODY.len())),
        "{e}"
    );
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    let e = exchange(chunked.as_bytes(), true).unwrap_err();
    assert!(e.contains("the body ended after"), "{e}");
}
