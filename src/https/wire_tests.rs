//! Tests of the HTTP/1.1 reader and writer.

use super::*;

async fn parse(raw: &[u8], limit: usize) -> Result<(u16, Vec<u8>), HttpsError> {
    let mut reader = tokio::io::BufReader::new(raw);
    read_response(&mut reader, limit).await
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn content_length_chunked_and_close() {
    run(async {
        let (s, b) = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 10)
            .await
            .unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"{}"[..]));
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
        let (s, b) = parse(raw, 10).await.unwrap();
        assert_eq!((s, b.as_slice()), (201, &b"abcde"[..]));
        let (s, b) = parse(b"HTTP/1.0 500 X\r\n\r\nboom", 10).await.unwrap();
        assert_eq!((s, b.as_slice()), (500, &b"boom"[..]));
    });
}

#[test]
fn truncation_size_and_garbage_are_errors() {
    run(async {
        let e = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\"", 100).await;
        assert!(
            matches!(
                e,
                Err(HttpsError::Truncated {
                    got: 0,
                    expected: Some(10)
                })
            ),
            "{e:?}"
        );
        let e = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", 100).await;
        assert!(
            matches!(e, Err(HttpsError::TooLarge { limit: 100 })),
            "{e:?}"
        );
        let e = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\nabc",
            1000,
        )
        .await;
        assert!(matches!(e, Err(HttpsError::Truncated { .. })), "{e:?}");
        let e = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n",
            100,
        )
        .await;
        assert!(matches!(e, Err(HttpsError::TooLarge { .. })), "{e:?}");
        let big = [b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'x'; 200]].concat();
        assert!(matches!(
            parse(&big, 100).await,
            Err(HttpsError::TooLarge { .. })
        ));
        assert!(matches!(
            parse(b"SSH-2.0-x\r\n\r\n", 100).await,
            Err(HttpsError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"", 100).await,
            Err(HttpsError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Le", 100).await,
            Err(HttpsError::Malformed(_))
        ));
    });
}

#[test]
fn request_has_length_host_and_close() {
    run(async {
        let mut out = Vec::new();
        write_request(&mut out, "POST", "h:8036", "/v1/x", &[("X-A", "b")], b"{}")
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("POST /v1/x HTTP/1.1\r\nHost: h:8036\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Length: 2\r\n") && text.contains("X-A: b\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
    });
}
