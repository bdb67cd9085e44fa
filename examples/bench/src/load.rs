//! The load generator: hyper 1 HTTP/1.1 clients, one keep-alive connection
//! per task, closed loop, on single-threaded runtimes (one per client
//! thread), latencies in HDR histograms.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{BoxError, seed};

/// The longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A request as the client sends it.
pub type Req = Request<Full<Bytes>>;

/// A GET request without credentials.
pub fn get(path: &str) -> Req {
    request(Method::GET, path, None, None)
}

/// Any request: `auth` is a ready `Bearer ...` header value, `body` a
/// content type and bytes.
pub fn request(
    method: Method,
    path: &str,
    auth: Option<&HeaderValue>,
    body: Option<(&'static str, Bytes)>,
) -> Req {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, HeaderValue::from_static("127.0.0.1"));
    if let Some(auth) = auth {
        builder = builder.header(AUTHORIZATION, auth.clone());
    }
    let body = match body {
        Some((content_type, bytes)) => {
            builder = builder.header(CONTENT_TYPE, HeaderValue::from_static(content_type));
            bytes
        }
        None => Bytes::new(),
    };
    #[allow(clippy::expect_used)]
    builder
        .body(Full::new(body))
        .expect("the bench builds valid requests")
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Req,
) -> Result<(StatusCode, Bytes), BoxError> {
    sender.ready().await?;
    let response = sender.send_request(req).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One request on a fresh connection (readiness checks, logins).
pub async fn one_request(addr: SocketAddr, req: Req) -> Result<(StatusCode, Bytes), BoxError> {
    let mut sender = connect(addr).await?;
    tokio::time::timeout(REQUEST_TIMEOUT, send(&mut sender, req))
        .await
        .map_err(|_| crate::err("request timed out"))?
}

/// A small, fast PRNG (splitmix64): request parameters, not secrets.
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// What a group of connections sends.
pub enum Kind {
    /// `GET /posts/{id}` for random ids from the list.
    GetPost(Arc<Vec<i64>>),
    /// `GET <path>` (a fixed path and query).
    GetPath(String),
    /// `POST /posts` with a small JSON post.
    CreatePost,
    /// `POST /vote` `dir: 1`, each request a new (voter, post) pair: pair
    /// `i` of the shared counter is voter `i % voters`, post `i / voters`.
    Vote {
        /// Post ids voted on.
        ids: Arc<Vec<i64>>,
        /// Bearer headers of users with no votes of their own yet.
        voters: Arc<Vec<HeaderValue>>,
        /// Pairs used so far, shared by all connections and scenarios.
        counter: Arc<AtomicU64>,
    },
    /// `POST /login` with form bodies, cycling through users.
    Login(Arc<Vec<Bytes>>),
    /// `POST /forgot-password` `{"email": ...}`, request `i` of the shared
    /// counter with address `i` of `addresses`; only a 202 is a success.
    ForgotPassword {
        /// Registered or unknown addresses.
        addresses: Addresses,
        /// Requests built so far by the group's connections.
        counter: Arc<AtomicU64>,
    },
    /// The inner kind's request with `/` appended to its path (before the
    /// query): the original FastAPI app's collection routes are `/posts/`
    /// and `/vote/`, and it answers `/posts` with a 307 redirect.
    TrailingSlash(Box<Kind>),
}

/// Whose addresses a mail request scenario sends.
#[derive(Clone, Copy)]
pub enum Addresses {
    /// The seeded users' ([`seed::email`]), each in turn.
    Registered,
    /// Addresses no account has ([`seed::unknown_email`]), a new one each time.
    Unknown,
}

impl Kind {
    /// Whether an answer with `status` is a success.
    fn accepts(&self, status: StatusCode) -> bool {
        match self {
            // The same answer for every address, whatever happens after it.
            Kind::ForgotPassword { .. } => status == StatusCode::ACCEPTED,
            Kind::TrailingSlash(inner) => inner.accepts(status),
            _ => status.is_success(),
        }
    }
}

/// A group of identical connections within a scenario.
pub struct Group {
    /// The label in the report.
    pub label: String,
    /// What each request is.
    pub kind: Kind,
    /// Bearer header values to pick from at random.
    pub tokens: Arc<Vec<HeaderValue>>,
    /// How many connections.
    pub connections: usize,
    /// `None`: a closed loop (each connection sends its next request when
    /// the last is answered). `Some(r)`: an open loop at `r` requests per
    /// second for the whole group, spread evenly over its connections,
    /// each request timed from when it was due, not from when it was sent
    /// (so a server that falls behind is charged its queue).
    pub rate: Option<f64>,
}

impl Group {
    fn build(&self, rng: &mut Rng) -> Req {
        let auth = if self.tokens.is_empty() {
            None
        } else {
            Some(&self.tokens[rng.below(self.tokens.len())])
        };
        self.kind.build(auth, rng)
    }
}

impl Kind {
    /// The next request of this kind; `auth` is the group's pick, if any.
    fn build(&self, auth: Option<&HeaderValue>, rng: &mut Rng) -> Req {
        match self {
            Kind::GetPost(ids) => {
                let id = ids[rng.below(ids.len())];
                request(Method::GET, &format!("/posts/{id}"), auth, None)
            }
            Kind::GetPath(path) => request(Method::GET, path, auth, None),
            Kind::CreatePost => {
                let n = rng.next_u64() % 1_000_000;
                let body = format!(
                    r#"{{"title":"bench post {n}","content":"Written by the load generator, number {n}.","published":true}}"#
                );
                request(
                    Method::POST,
                    "/posts",
                    auth,
                    Some(("application/json", Bytes::from(body))),
                )
            }
            Kind::Vote {
                ids,
                voters,
                counter,
            } => {
                let i = counter.fetch_add(1, Ordering::Relaxed) as usize;
                let voter = &voters[i % voters.len()];
                let post = ids[(i / voters.len()) % ids.len()];
                let body = format!(r#"{{"post_id":{post},"dir":1}}"#);
                request(
                    Method::POST,
                    "/vote",
                    Some(voter),
                    Some(("application/json", Bytes::from(body))),
                )
            }
            Kind::Login(bodies) => request(
                Method::POST,
                "/login",
                None,
                Some((
                    "application/x-www-form-urlencoded",
                    bodies[rng.below(bodies.len())].clone(),
                )),
            ),
            Kind::ForgotPassword { addresses, counter } => {
                let i = counter.fetch_add(1, Ordering::Relaxed) as i64;
                let email = match addresses {
                    Addresses::Registered => seed::email(i % seed::USERS + 1),
                    Addresses::Unknown => seed::unknown_email(i),
                };
                let body = format!(r#"{{"email":"{email}"}}"#);
                request(
                    Method::POST,
                    "/forgot-password",
                    None,
                    Some(("application/json", Bytes::from(body))),
                )
            }
            Kind::TrailingSlash(inner) => {
                let mut req = inner.build(auth, rng);
                let uri = req.uri();
                let slashed = match uri.query() {
                    Some(query) => format!("{}/?{query}", uri.path()),
                    None => format!("{}/", uri.path()),
                };
                #[allow(clippy::expect_used)]
                let slashed = slashed
                    .parse()
                    .expect("a valid path with a slash appended is valid");
                *req.uri_mut() = slashed;
                req
            }
        }
    }
}

/// What one group measured.
pub struct GroupResult {
    /// Requests sent in the measured window (answered, whatever the status).
    pub requests: u64,
    /// Non-2xx answers (non-202 for mail requests), timeouts and
    /// connection failures in the window.
    pub errors: u64,
    /// One example of an error, for the notes.
    pub first_error: Option<String>,
    /// Latencies in microseconds of the answered requests.
    pub histogram: Histogram<u64>,
}

impl GroupResult {
    fn new() -> GroupResult {
        GroupResult {
            requests: 0,
            errors: 0,
            first_error: None,
            #[allow(clippy::expect_used)]
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("valid histogram bounds"),
        }
    }

    fn merge(&mut self, other: GroupResult) {
        self.requests += other.requests;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        #[allow(clippy::expect_used)]
        self.histogram
            .add(&other.histogram)
            .expect("histograms with the same bounds merge");
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// Runs `groups` against `addr` on `threads` client threads: requests
/// start at once (the warm-up), those sent from `start` on are measured,
/// and none is sent from `end` on. Blocks until every connection is done.
pub fn run(
    addr: SocketAddr,
    groups: Arc<Vec<Group>>,
    threads: usize,
    start: Instant,
    end: Instant,
) -> Vec<GroupResult> {
    let threads = threads.max(1);
    // Connection k of group g goes to thread (sum of earlier connections + k) % threads.
    let mut plan: Vec<Vec<(usize, usize)>> = vec![Vec::new(); threads];
    let mut n = 0usize;
    for (g, group) in groups.iter().enumerate() {
        for _ in 0..group.connections {
            plan[n % threads].push((g, n));
            n += 1;
        }
    }
    let handles: Vec<_> = plan
        .into_iter()
        .map(|conns| {
            let groups = Arc::clone(&groups);
            std::thread::spawn(move || {
                #[allow(clippy::expect_used)]
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a client runtime");
                runtime.block_on(async move {
                    let tasks: Vec<_> = conns
                        .into_iter()
                        .map(|(g, n)| {
                            let groups = Arc::clone(&groups);
                            let seed = 0x5eed_0000 + n as u64;
                            (
                                g,
                                tokio::spawn(async move {
                                    connection(addr, &groups[g], seed, start, end).await
                                }),
                            )
                        })
                        .collect();
                    let mut out = Vec::new();
                    for (g, task) in tasks {
                        if let Ok(result) = task.await {
                            out.push((g, result));
                        }
                    }
                    out
                })
            })
        })
        .collect();
    let mut results: Vec<GroupResult> = groups.iter().map(|_| GroupResult::new()).collect();
    for handle in handles {
        if let Ok(per_conn) = handle.join() {
            for (g, result) in per_conn {
                results[g].merge(result);
            }
        }
    }
    results
}

/// The schedule of an open-loop connection ([`Group::rate`]).
struct Pace {
    /// When its next request is due.
    due: Instant,
    /// Between two of its requests.
    interval: Duration,
}

impl Pace {
    /// Waits until the next request is due (not at all if it is late) and
    /// returns when it was due.
    async fn next_due(&mut self) -> Instant {
        let due = self.due;
        self.due += self.interval;
        tokio::time::sleep_until(due.into()).await;
        due
    }
}

async fn connection(
    addr: SocketAddr,
    group: &Group,
    seed: u64,
    start: Instant,
    end: Instant,
) -> GroupResult {
    let mut result = GroupResult::new();
    let mut rng = Rng::new(seed);
    let mut pace = group.rate.map(|rate| {
        let interval = Duration::from_secs_f64(group.connections as f64 / rate.max(1e-3));
        // Connections start at random points of one interval, so that their
        // requests are spread over it rather than sent in bursts.
        let offset = interval.mul_f64(rng.below(1_000) as f64 / 1_000.0);
        Pace {
            due: Instant::now() + offset,
            interval,
        }
    });
    'connect: while Instant::now() < end {
        let mut sender = match connect(addr).await {
            Ok(sender) => sender,
            Err(e) => {
                if Instant::now() >= start {
                    result.error(format!("connect: {e}"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        loop {
            let sent = match pace.as_mut() {
                Some(pace) => pace.next_due().await,
                None => Instant::now(),
            };
            if sent >= end {
                break 'connect;
            }
            let req = group.build(&mut rng);
            let outcome = tokio::time::timeout(REQUEST_TIMEOUT, send(&mut sender, req)).await;
            let measured = sent >= start;
            let micros = sent.elapsed().as_micros().max(1) as u64;
            match outcome {
                Ok(Ok((status, body))) => {
                    if measured {
                        result.requests += 1;
                        let _ = result.histogram.record(micros);
                        if !group.kind.accepts(status) {
                            let body = String::from_utf8_lossy(&body);
                            let body: String = body.chars().take(120).collect();
                            result.error(format!("{status} {body}"));
                        }
                    }
                }
                Ok(Err(e)) => {
                    if measured {
                        result.error(format!("request: {e}"));
                    }
                    continue 'connect;
                }
                Err(_) => {
                    if measured {
                        result.error("timed out after 30 s".to_owned());
                    }
                    continue 'connect;
                }
            }
        }
    }
    result
}
