//! Slow, silent and many clients over raw TCP sockets, and shutdowns with
//! slow clients attached (issue 12): the header, body and idle timeouts and
//! the connection limit of `agora_axum::serve`, and the shutdown deadline of
//! both adapters. The connection layer does not touch the database, so these
//! run on SQLite.
//!
//! Rocket 0.5 applies none of the header/body/idle timeouts nor a connection
//! limit (see `agora_rocket::server_config`); only its shutdown is tested.

use agora_contract::harness as common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use agora_core::Config;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An axum server from `agora_axum::serve`, with a shutdown trigger.
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    _db: TestDatabase,
}

async fn start(tune: impl FnOnce(&mut Config)) -> Running {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let mut config = common::config_for(&db);
    tune(&mut config);
    let agora = agora_sqlx::open(&config).await.expect("database opens");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let signal = async {
            let _ = stopped.await;
        };
        agora_axum::serve(listener, agora, &config, signal).await
    });
    Running {
        addr,
        stop: Some(stop),
        server,
        _db: db,
    }
}

/// Reads and discards until the server closes the connection; how long that
/// took, or `None` if it was still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.ok().map(|()| started.elapsed())
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body): its status
/// and body, or `None` if the connection closed first or `limit` passed.
async fn response_within(stream: &mut TcpStream, limit: Duration) -> Option<(u16, String)> {
    tokio::time::timeout(limit, async {
        let mut data = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1)?.parse().ok()?;
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                    return Some((status, body.to_string()));
                }
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => data.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .ok()
    .flatten()
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: agora\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_cuts_slow_and_silent_clients_after_the_header_timeout() {
    let server = start(|c| {
        c.server.header_timeout = Duration::from_secs(1);
        c.server.idle_timeout = Duration::from_secs(30);
    })
    .await;
    // Half a request line and one header, then nothing.
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: ag")
        .await
        .expect("write");
    // Connects and never sends a byte.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let (slow_closed, silent_closed) = tokio::join!(
        closed_within(&mut slow, Duration::from_secs(5)),
        closed_within(&mut silent, Duration::from_secs(5)),
    );
    println!("slow headers closed after {slow_closed:?}, silent after {silent_closed:?}");
    let slow_closed = slow_closed.expect("slow headers are cut within 5 s");
    let silent_closed = silent_closed.expect("a silent connection is cut within 5 s");
    for closed in [slow_closed, silent_closed] {
        assert!(
            closed >= Duration::from_millis(800),
            "cut at the timeout, not before: {closed:?}"
        );
    }
    // A prompt client on a fresh connection is still served.
    let mut prompt = TcpStream::connect(server.addr).await.expect("connect");
    prompt.write_all(HEALTH).await.expect("write");
    let (status, _) = response_within(&mut prompt, Duration::from_secs(5))
        .await
        .expect("answered");
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_answers_a_stalled_body_with_408_after_the_body_timeout() {
    let server = start(|c| {
        c.server.body_timeout = Duration::from_secs(1);
        c.server.header_timeout = Duration::from_secs(30);
        c.server.idle_timeout = Duration::from_secs(30);
    })
    .await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client
        .write_all(
            b"POST /users HTTP/1.1\r\nHost: agora\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"email\": \"slow@example.com\", ",
        )
        .await
        .expect("write");
    let started = Instant::now();
    let answer = response_within(&mut client, Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    println!("stalled body answered {answer:?} after {elapsed:?}");
    let (status, body) = answer.expect("an answer within 5 s");
    assert_eq!(status, 408, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert!(body["detail"].is_string(), "{body}");
    assert!(elapsed >= Duration::from_millis(800), "{elapsed:?}");
    assert!(
        closed_within(&mut client, Duration::from_secs(2))
            .await
            .is_some(),
        "the connection is closed after the 408"
    );
    // A body that arrives in time is read as usual.
    let mut prompt = TcpStream::connect(server.addr).await.expect("connect");
    let json = br#"{"email": "prompt@example.com", "password": "a long enough password"}"#;
    let head = format!(
        "POST /users HTTP/1.1\r\nHost: agora\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        json.len()
    );
    prompt.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    prompt.write_all(json).await.expect("write");
    let (status, body) = response_within(&mut prompt, Duration::from_secs(10))
        .await
        .expect("answered");
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_closes_idle_keep_alive_connections() {
    let server = start(|c| {
        c.server.idle_timeout = Duration::from_secs(1);
        c.server.header_timeout = Duration::from_secs(30);
    })
    .await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(HEALTH).await.expect("write");
    let (status, _) = response_within(&mut client, Duration::from_secs(5))
        .await
        .expect("answered");
    assert_eq!(status, 200);
    // Still open for a second request shortly after: it is kept alive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.write_all(HEALTH).await.expect("write");
    let (status, _) = response_within(&mut client, Duration::from_secs(5))
        .await
        .expect("kept alive");
    assert_eq!(status, 200);
    let closed = closed_within(&mut client, Duration::from_secs(5)).await;
    println!("idle keep-alive connection closed after {closed:?}");
    let closed = closed.expect("an idle connection is closed within 5 s");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_serves_at_most_max_connections_at_once() {
    let server = start(|c| {
        c.server.max_connections = 5;
        c.server.idle_timeout = Duration::from_secs(30);
    })
    .await;
    // Five kept-alive connections, each served once: they hold every slot.
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(HEALTH).await.expect("write");
        let (status, _) = response_within(&mut stream, Duration::from_secs(5))
            .await
            .expect("answered");
        assert_eq!(status, 200);
        held.push(stream);
    }
    let mut sixth = TcpStream::connect(server.addr).await.expect("connect");
    sixth.write_all(HEALTH).await.expect("write");
    let early = response_within(&mut sixth, Duration::from_millis(700)).await;
    println!("sixth connection while five are open: {early:?}");
    assert!(early.is_none(), "a sixth connection waits for a free slot");
    drop(held.pop());
    let started = Instant::now();
    let later = response_within(&mut sixth, Duration::from_secs(5)).await;
    println!(
        "sixth connection once one closed: {later:?} after {:?}",
        started.elapsed()
    );
    assert_eq!(later.expect("served once a slot is free").0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_shutdown_ends_within_its_deadline_despite_slow_clients() {
    let mut server = start(|c| {
        c.server.shutdown_timeout = Duration::from_secs(1);
        c.server.header_timeout = Duration::from_secs(60);
        c.server.body_timeout = Duration::from_secs(60);
        c.server.idle_timeout = Duration::from_secs(60);
    })
    .await;
    // A slow client sending its headers, and one sending its body.
    let mut slow_head = TcpStream::connect(server.addr).await.expect("connect");
    slow_head
        .write_all(b"GET /health HTTP/1.1\r\nHo")
        .await
        .expect("write");
    let mut slow_body = TcpStream::connect(server.addr).await.expect("connect");
    slow_body
        .write_all(b"POST /users HTTP/1.1\r\nHost: agora\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .expect("write");
    // A request in flight: headers and half its body in, the rest comes
    // right after the shutdown starts.
    let json = br#"{"email": "inflight@example.com", "password": "a long enough password"}"#;
    let mut in_flight = TcpStream::connect(server.addr).await.expect("connect");
    let head = format!(
        "POST /users HTTP/1.1\r\nHost: agora\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        json.len()
    );
    in_flight.write_all(head.as_bytes()).await.expect("write");
    in_flight.write_all(&json[..10]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let _ = server.stop.take().expect("not stopped yet").send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    in_flight.write_all(&json[10..]).await.expect("write");
    let answer = response_within(&mut in_flight, Duration::from_secs(5)).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), &mut server.server).await;
    let elapsed = started.elapsed();
    println!("in-flight request: {answer:?}; serve returned after {elapsed:?}: {ended:?}");
    let (status, body) = answer.expect("the request in flight is answered");
    assert_eq!(status, 201, "{body}");
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "serve returns Ok: {ended:?}"
    );
    assert!(
        elapsed < Duration::from_millis(2500),
        "serve returns within the 1 s deadline (+ margin), took {elapsed:?}"
    );
    // The slow clients were dropped.
    assert!(
        closed_within(&mut slow_head, Duration::from_secs(1))
            .await
            .is_some()
    );
    assert!(
        closed_within(&mut slow_body, Duration::from_secs(1))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_shutdown_finishes_requests_in_flight_within_its_deadline_despite_a_slow_client() {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let mut config = common::config_for(&db);
    config.server.bind = "127.0.0.1:0".parse().expect("address");
    config.server.shutdown_timeout = Duration::from_secs(5);
    let agora = agora_sqlx::open(&config).await.expect("database opens");
    let (port_tx, port_rx) = oneshot::channel();
    let rocket = agora_rocket::app(agora, &config)
        .attach(rocket::fairing::AdHoc::on_liftoff("port", move |r| {
            Box::pin(async move {
                let _ = port_tx.send(r.config().port);
            })
        }))
        .ignite()
        .await
        .expect("ignites");
    let shutdown = rocket.shutdown();
    // Displaying a rocket::Error marks it handled (dropped unseen, it panics).
    let launched =
        tokio::spawn(async move { rocket.launch().await.map(|_| ()).map_err(|e| e.to_string()) });
    let port = port_rx.await.expect("lifts off");
    let mut slow = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    slow.write_all(b"POST /users HTTP/1.1\r\nHost: agora\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .expect("write");
    // A request in flight: headers and part of its body in.
    let json = br#"{"email": "inflight@example.com", "password": "a long enough password"}"#;
    let mut in_flight = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let head = format!(
        "POST /users HTTP/1.1\r\nHost: agora\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        json.len()
    );
    in_flight.write_all(head.as_bytes()).await.expect("write");
    in_flight.write_all(&json[..10]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    shutdown.notify();
    // The rest of the body comes 3 s into the 5 s deadline (rocket's own
    // default grace period is 2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = in_flight.write_all(&json[10..]).await;
    let answer = response_within(&mut in_flight, Duration::from_secs(5)).await;
    let ended = tokio::time::timeout(Duration::from_secs(15), launched).await;
    let elapsed = started.elapsed();
    println!("rocket: in-flight request {answer:?}; launch returned after {elapsed:?}: {ended:?}");
    let (status, body) = answer.expect("the request in flight is answered");
    assert_eq!(status, 201, "{body}");
    assert!(ended.is_ok(), "rocket stops at all");
    assert!(
        elapsed < Duration::from_millis(5700),
        "rocket stops within its 5 s deadline (+ margin), took {elapsed:?}"
    );
}

/// Many silent connections against a server whose process may open only 256
/// descriptors (as in the issue): `/health` still answers within the header
/// timeout. The server runs in a child process (this test binary, running
/// [`child_server`]) under `ulimit -n 256`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_health_answers_while_300_silent_connections_are_open() {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" "$@""#)
        .arg(exe)
        .args([
            "child_server",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AGORA_TEST_CHILD_SERVER", "1")
        .env("AGORA_DATABASE_URL", db.url())
        .env("AGORA_HEADER_TIMEOUT", "2s")
        .env("AGORA_MAX_CONNECTIONS", "200")
        .env("AGORA_THROTTLE", "off")
        .stdout(Stdio::piped())
        .spawn()
        .expect("child server starts");
    let stdout = child.stdout.take().expect("stdout");
    let _child = KillOnDrop(child);
    let (addr_tx, addr_rx) = oneshot::channel::<SocketAddr>();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut addr_tx = Some(addr_tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some((_, addr)) = line.split_once("LISTENING ")
                && let Some(tx) = addr_tx.take()
            {
                let _ = tx.send(addr.parse().expect("address"));
            }
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
        .await
        .expect("the child server listens within 30 s")
        .expect("the child server prints its address");

    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let mut health = TcpStream::connect(addr).await.expect("connect");
    health.write_all(HEALTH).await.expect("write");
    let answer = response_within(&mut health, Duration::from_secs(15)).await;
    let elapsed = started.elapsed();
    println!("/health with 300 silent connections open: {answer:?} after {elapsed:?}");
    let (status, body) = answer.expect("/health answers within 15 s");
    assert_eq!(status, 200, "{body}");
    assert!(
        elapsed < Duration::from_secs(6),
        "within the 2 s header timeout (+ margin): {elapsed:?}"
    );
}

/// Kills the child server however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Not a test: the server of
/// [`axum_health_answers_while_300_silent_connections_are_open`], run in a
/// child process (configured by `AGORA_*` variables) that prints its address
/// (after the test harness's own words on the same line).
#[tokio::test]
#[ignore = "helper process for axum_health_answers_while_300_silent_connections_are_open"]
async fn child_server() {
    if std::env::var_os("AGORA_TEST_CHILD_SERVER").is_none() {
        return;
    }
    let mut config = Config::from_env().expect("config");
    config.ensure_jwt_secret().expect("secret");
    let agora = agora_sqlx::open(&config).await.expect("database opens");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("LISTENING {}", listener.local_addr().expect("addr"));
    std::io::stdout().flush().expect("flush");
    agora_axum::serve(listener, agora, &config, std::future::pending())
        .await
        .expect("serves");
}
