//! The status socket end to end over a socket in a temporary directory (no root needed).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arcway::status::{
    self, ClientError, Event, PathStatus, Publisher, Request, Route, Server, ServerError, Snapshot,
    WallTime,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    path: PathBuf,
    publisher: Publisher,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(path: &Path) -> Running {
        let (publisher, subscriber) = status::channel(sample(1));
        let server = Server::bind(path, subscriber).await.expect("bind");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Running {
            path: path.to_path_buf(),
            publisher,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        self.stop.take().map(|s| s.send(()));
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("server stops")
            .expect("server task");
    }
}

fn sample(generation: u64) -> Snapshot {
    Snapshot {
        pid: Some(4242),
        taken_at: WallTime::from_unix_ms(1_700_000_000_000 + generation as i64),
        paths: vec![PathStatus {
            name: "wifi".into(),
            interface: Some("wlan0".into()),
            state: "up".into(),
            carrier: Some(true),
            addresses: vec!["192.0.2.10/24".into()],
            rx_bytes: Some(generation),
            ..PathStatus::default()
        }],
        classes: vec![status::ClassStatus {
            name: "default".into(),
            route: Route::Via("wifi".into()),
            route_ipv6: None,
            since: None,
        }],
        events: vec![Event {
            at: WallTime::from_unix_ms(1_699_999_990_000),
            subject: "path wifi".into(),
            from: "recovering".into(),
            to: "up".into(),
            evidence: vec!["5/5 probes answered for 5s".into()],
        }],
        ..Snapshot::default()
    }
}

/// Sends raw bytes and returns the whole reply.
async fn raw(path: &Path, request: &[u8]) -> String {
    let mut stream = UnixStream::connect(path).await.expect("connect");
    // The server may answer and close before reading everything; that is fine here.
    let _ = stream.write_all(request).await;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.expect("read reply");
    reply
}

#[tokio::test]
async fn roundtrip_status_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(&dir.path().join("run/arcway.sock")).await;

    let snapshot = status::fetch_status(&server.path).await.expect("status");
    assert_eq!(snapshot, sample(1));
    server.publisher.send(Arc::new(sample(2))).unwrap();
    let snapshot = status::fetch_status(&server.path).await.expect("status");
    assert_eq!(snapshot.paths[0].rx_bytes, Some(2));

    let log = status::fetch_events(&server.path).await.expect("events");
    assert_eq!(log.events, sample(2).events);

    let json = status::status_command(&server.path, true).await.unwrap();
    let parsed: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, sample(2));
    let human = status::status_command(&server.path, false).await.unwrap();
    assert!(
        human.contains("wifi") && human.contains("via wifi"),
        "{human}"
    );
    let events = status::events_command(&server.path, false).await.unwrap();
    assert!(events.contains("5/5 probes answered for 5s"), "{events}");
    let events_json = status::events_command(&server.path, true).await.unwrap();
    assert!(events_json.contains("\"recovering\""), "{events_json}");

    server.stop().await;
}

#[tokio::test]
async fn socket_mode_directory_and_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let path = run.join("arcway.sock");
    let server = Running::start(&path).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&path), 0o660);
    assert_eq!(mode(&run), 0o755);
    server.stop().await;
    assert!(!path.exists(), "socket removed on shutdown");
}

#[tokio::test]
async fn stale_socket_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arcway.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let err = status::fetch(&path, Request::Status).await.unwrap_err();
    assert!(matches!(err, ClientError::NotListening { .. }), "{err}");
    assert!(
        err.to_string().starts_with("arcway is not running"),
        "{err}"
    );

    let server = Running::start(&path).await;
    assert_eq!(status::fetch_status(&path).await.unwrap(), sample(1));
    server.stop().await;
}

#[tokio::test]
async fn live_socket_is_not_stolen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arcway.sock");
    let server = Running::start(&path).await;

    let (_publisher, subscriber) = status::channel(Snapshot::default());
    let err = Server::bind(&path, subscriber)
        .await
        .err()
        .expect("second bind refused");
    assert!(matches!(err, ServerError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains("another arcway is listening"),
        "{err}"
    );
    // The first server still answers.
    assert_eq!(status::fetch_status(&path).await.unwrap(), sample(1));
    server.stop().await;
}

#[tokio::test]
async fn other_files_are_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arcway.sock");
    std::fs::write(&path, "precious").unwrap();
    let (_publisher, subscriber) = status::channel(Snapshot::default());
    let err = Server::bind(&path, subscriber)
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, ServerError::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

#[tokio::test]
async fn bad_requests_do_not_hurt_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(&dir.path().join("arcway.sock")).await;

    let long = raw(&server.path, &vec![b'a'; 64 * 1024]).await;
    assert!(
        long.contains("\"error\"") && long.contains("longer than"),
        "{long}"
    );
    let binary = raw(&server.path, b"\xff\xfe\x00garbage\n").await;
    assert!(binary.contains("not UTF-8"), "{binary}");
    let unknown = raw(&server.path, b"shutdown now\n").await;
    assert!(unknown.contains("unknown request `shutdown`"), "{unknown}");
    // A client that hangs up at once.
    drop(UnixStream::connect(&server.path).await.unwrap());
    // `status json` without a newline but with a half-close is still answered.
    let mut stream = UnixStream::connect(&server.path).await.unwrap();
    stream.write_all(b"status json").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert_eq!(serde_json::from_str::<Snapshot>(&reply).unwrap(), sample(1));

    let refused = status::status_command(&server.path, false).await;
    assert!(refused.is_ok(), "server still serves: {refused:?}");
    server.stop().await;
}

#[tokio::test]
async fn silent_client_is_dropped_after_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(&dir.path().join("arcway.sock")).await;
    let mut idle = UnixStream::connect(&server.path).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(8), idle.read_to_end(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "server closes an idle connection: {closed:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn concurrent_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(&dir.path().join("arcway.sock")).await;
    let path = server.path.clone();
    let clients = (0..24).map(|i| {
        let path = path.clone();
        tokio::spawn(async move {
            if i % 2 == 0 {
                status::fetch_status(&path).await.map(|s| s.pid)
            } else {
                status::fetch_events(&path)
                    .await
                    .map(|l| Some(l.events.len() as u32))
            }
        })
    });
    for (i, result) in futures_util::future::join_all(clients)
        .await
        .into_iter()
        .enumerate()
    {
        let value = result.unwrap().expect("reply");
        assert_eq!(value, if i % 2 == 0 { Some(4242) } else { Some(1) });
    }
    server.stop().await;
}

#[tokio::test]
async fn missing_socket_says_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing.sock");
    let err = status::status_command(&path, false).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("arcway is not running (no socket at {})", path.display())
    );
}

#[tokio::test]
async fn unresponsive_daemon_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stuck.sock");
    // Bound and listening, but never accepting: the connection sits in the backlog.
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let err = status::fetch(&path, Request::Status).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("did not answer"), "{err}");
}

#[tokio::test]
async fn reload_waits_for_the_daemons_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arcway.sock");
    let (_publisher, subscriber) = status::channel(sample(1));
    let (reloads, mut asked) = tokio::sync::mpsc::channel(1);
    let server = Server::bind(&path, subscriber)
        .await
        .unwrap()
        .accept_reloads(reloads);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    // The "daemon": takes a while, accepts the first reload and refuses the second.
    let daemon = tokio::spawn(async move {
        let mut answers = vec![
            Ok("/etc/arcway/arcway.yaml".to_owned()),
            Err("/etc/arcway/arcway.yaml:3:1: bogus: unknown key".to_owned()),
        ]
        .into_iter();
        while let Some(answer) = asked.recv().await {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = answer.send(answers.next().unwrap());
        }
    });

    let started = std::time::Instant::now();
    let text = status::reload_command(&path).await.unwrap();
    assert_eq!(text, "reloaded /etc/arcway/arcway.yaml\n");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered before the daemon"
    );
    let err = status::reload_command(&path).await.unwrap_err();
    match err {
        ClientError::Refused(reasons) => assert!(reasons.contains("unknown key"), "{reasons}"),
        other => panic!("expected a refusal, got {other}"),
    }

    let _ = stop.send(());
    task.await.unwrap();
    daemon.abort();
}

#[tokio::test]
async fn reload_is_refused_by_a_server_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(&dir.path().join("arcway.sock")).await;
    let err = status::reload_command(&server.path).await.unwrap_err();
    assert!(matches!(err, ClientError::Refused(_)), "{err}");
    server.stop().await;
}
