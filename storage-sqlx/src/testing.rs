//! Throwaway databases for tests (feature `testing`): each test gets its own
//! fresh, migrated database, dropped when the guard goes out of scope, so
//! tests run in parallel and leave nothing behind.
//!
//! SQLite always works (a temporary file). PostgreSQL and MySQL need a server:
//! set `AGORA_TEST_POSTGRES_URL` / `AGORA_TEST_MYSQL_URL` to a URL whose user
//! may create databases, e.g. `postgres://postgres@127.0.0.1:5432/test` and
//! `mysql://root@127.0.0.1:3306/test`. When unset, [`TestDatabase::create`]
//! returns `None` and prints one "skipped" line per backend and process.
//!
//! [`SmtpSink`] is an SMTP server on the loopback interface that keeps the
//! mails it receives, for tests of mail delivery that need no outside server.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx::Connection;

use crate::Backend;

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "AGORA_TEST_POSTGRES_URL";
/// The variable naming the MySQL/MariaDB server for tests.
pub const MYSQL_ENV: &str = "AGORA_TEST_MYSQL_URL";

/// A fresh database that is dropped (or deleted) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    backend: Backend,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

static SKIP_POSTGRES: Once = Once::new();
static SKIP_MYSQL: Once = Once::new();

/// Says once per process that a backend's tests are skipped. Written to the
/// process's stderr directly, past the test harness's output capture, so the
/// line shows in a normal `cargo test` run.
fn announce_skip(once: &Once, backend: &str, var: &str) {
    once.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {backend} tests (set {var} to run them against a server)"
        );
    });
}

impl TestDatabase {
    /// Every backend whose server is configured (SQLite always).
    pub fn backends() -> Vec<Backend> {
        let mut backends = vec![Backend::Sqlite];
        for (backend, var, once) in [
            (Backend::Postgres, POSTGRES_ENV, &SKIP_POSTGRES),
            (Backend::MySql, MYSQL_ENV, &SKIP_MYSQL),
        ] {
            if admin_url(var).is_some() {
                backends.push(backend);
            } else {
                announce_skip(once, backend.name(), var);
            }
        }
        backends
    }

    /// A fresh, empty database for `backend` (not yet migrated: connecting
    /// with [`crate::connect`] migrates it), or `None` when that backend's
    /// server is not configured.
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        let name = format!("agora_test_{}", random_hex(8));
        match backend {
            Backend::Sqlite => {
                #[allow(clippy::expect_used)]
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("agora.db").display());
                Some(TestDatabase {
                    url,
                    backend,
                    admin_url: None,
                    name,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres | Backend::MySql => {
                let (var, once) = match backend {
                    Backend::Postgres => (POSTGRES_ENV, &SKIP_POSTGRES),
                    _ => (MYSQL_ENV, &SKIP_MYSQL),
                };
                let Some(admin) = admin_url(var) else {
                    announce_skip(once, backend.name(), var);
                    return None;
                };
                run_admin(backend, &admin, &format!("CREATE DATABASE {name}")).await;
                let url = with_database(&admin, &name);
                Some(TestDatabase {
                    url,
                    backend,
                    admin_url: Some(admin),
                    name,
                    _dir: None,
                })
            }
        }
    }

    /// The database's URL, for [`crate::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend it is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin) = self.admin_url.clone() else {
            return;
        };
        let sql = match self.backend {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            _ => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let backend = self.backend;
        // Drop may run inside a tokio runtime (which cannot block), or while
        // unwinding from a failed test: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(run_admin(backend, &admin, &sql)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop test database {}",
                self.name
            );
        }
    }
}

fn admin_url(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// Runs one administrative statement on the server; panics with the reason
/// (a test cannot go on without its database).
#[allow(clippy::panic)]
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(unreachable_code, unused_variables)
)]
async fn run_admin(backend: Backend, admin_url: &str, sql: &str) {
    let result: Result<(), sqlx::Error> = match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => match sqlx::PgConnection::connect(admin_url).await {
            Ok(mut conn) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
        #[cfg(feature = "mysql")]
        Backend::MySql => match sqlx::MySqlConnection::connect(admin_url).await {
            Ok(mut conn) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
        #[allow(unreachable_patterns)]
        other => panic!("{} support is not compiled in", other.name()),
    };
    if let Err(e) = result {
        panic!(
            "`{sql}` failed on {}: {e}",
            crate::redact_password(admin_url)
        );
    }
}

/// `scheme://user@host:port/anything?query` with the database replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    let mut url = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("OS random numbers");
    hex::encode(bytes)
}

/// A test SMTP server on `127.0.0.1` (feature `testing`) that accepts every
/// mail and keeps it: point a mailer at [`SmtpSink::url`] (or
/// [`SmtpSink::url_with_auth`]), then read what arrived with
/// [`SmtpSink::next_mail`] or [`SmtpSink::received`]. It can refuse the
/// next deliveries ([`SmtpSink::fail_next`]) to exercise retries.
///
/// It speaks the part of SMTP a client needs: EHLO/HELO, AUTH PLAIN and
/// LOGIN (optional: any credentials are accepted and recorded), MAIL, RCPT,
/// DATA (dot-unstuffed), RSET, NOOP and QUIT; no TLS. It stops, closing
/// every connection, when dropped (or when its Tokio runtime ends).
///
/// ```no_run
/// # async fn demo() {
/// use std::time::Duration;
/// let sink = agora_sqlx::testing::SmtpSink::start().await;
/// // config.mail.smtp_url = Some(sink.url()); ... a mail is sent ...
/// let mail = sink.next_mail(Duration::from_secs(5)).await.expect("a mail");
/// assert_eq!(mail.rcpt_to, ["ada@example.com"]);
/// let link = mail.link().expect("a link");
/// # }
/// ```
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<SinkShared>,
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<ReceivedMail>>,
    server: tokio::task::JoinHandle<()>,
}

/// What the sink's connections share.
struct SinkShared {
    received: Mutex<Vec<ReceivedMail>>,
    arrivals: mpsc::UnboundedSender<ReceivedMail>,
    fail_next: AtomicUsize,
    refused: AtomicUsize,
}

/// One mail an [`SmtpSink`] received: its envelope, the credentials the
/// client logged in with, and the message as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM:<...>`, without the brackets).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO:<...>`), in order.
    pub rcpt_to: Vec<String>,
    /// The credentials of the session's AUTH, if any.
    pub auth: Option<SmtpAuth>,
    /// The message (headers and body) as received after DATA, dot-unstuffed,
    /// with its CRLF line ends.
    pub data: Vec<u8>,
}

/// Credentials a client gave an [`SmtpSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    /// `PLAIN` or `LOGIN`.
    pub mechanism: &'static str,
    /// The user name (PLAIN's authentication identity).
    pub user: String,
    /// The password.
    pub password: String,
}

/// The longest command line or message line the sink reads.
const MAX_LINE: u64 = 64 * 1024;
/// The largest message the sink keeps.
const MAX_MESSAGE: usize = 32 * 1024 * 1024;

impl SmtpSink {
    /// Starts a sink on `127.0.0.1` at a free port, on the current Tokio
    /// runtime. Panics when no port can be bound (a test cannot go on).
    pub async fn start() -> SmtpSink {
        #[allow(clippy::expect_used)]
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port on 127.0.0.1 for the test SMTP sink");
        #[allow(clippy::expect_used)]
        let addr = listener.local_addr().expect("the sink's address");
        let (arrivals, next) = mpsc::unbounded_channel();
        let shared = Arc::new(SinkShared {
            received: Mutex::new(Vec::new()),
            arrivals,
            fail_next: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        SmtpSink {
            addr,
            shared,
            next: tokio::sync::Mutex::new(next),
            server,
        }
    }

    /// The sink's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// `smtp://USER:PASS@127.0.0.1:PORT`, both percent-encoded: a client
    /// given it logs in (in clear), and each mail records the credentials.
    pub fn url_with_auth(&self, user: &str, pass: &str) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        format!(
            "smtp://{}:{}@{}",
            utf8_percent_encode(user, NON_ALPHANUMERIC),
            utf8_percent_encode(pass, NON_ALPHANUMERIC),
            self.addr
        )
    }

    /// Answers the next `n` deliveries' DATA with `451` (a temporary
    /// failure, which a client retries), on any connection; replaces an
    /// earlier count.
    pub fn fail_next(&self, n: usize) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// How many deliveries were refused so far ([`SmtpSink::fail_next`]).
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// The next mail received, in arrival order, each returned once by this
    /// method (whether it arrived before or after the call); `None` when
    /// none arrives within `within`.
    pub async fn next_mail(&self, within: Duration) -> Option<ReceivedMail> {
        let mut next = self.next.lock().await;
        tokio::time::timeout(within, next.recv())
            .await
            .ok()
            .flatten()
    }

    /// Every mail received so far, in arrival order (whether or not
    /// [`SmtpSink::next_mail`] returned it).
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared
            .received
            .lock()
            .map(|received| received.clone())
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Its connections are in the server task's JoinSet: they end too.
        self.server.abort();
    }
}

impl ReceivedMail {
    /// The message, parsed (`None` if it has no headers at all).
    pub fn parsed(&self) -> Option<mail_parser::Message<'_>> {
        mail_parser::MessageParser::default().parse(&self.data)
    }

    /// The first header `name` (any case) of the message, decoded (RFC 2047
    /// encoded words, folded lines joined), e.g. `header("Subject")`.
    pub fn header(&self, name: &str) -> Option<String> {
        let message = self.parsed()?;
        let values = message.header_as(name.to_owned(), mail_parser::HeaderForm::Text);
        let first = values.into_iter().next()?;
        Some(first.as_text().unwrap_or_default().trim().to_owned())
    }

    /// The decoded body of the first text/plain part (a part without a
    /// Content-Type is text/plain).
    pub fn text(&self) -> Option<String> {
        self.part("plain")
    }

    /// The decoded body of the first text/html part.
    pub fn html(&self) -> Option<String> {
        self.part("html")
    }

    /// The first http(s) URL in the text/plain part.
    pub fn link(&self) -> Option<String> {
        let text = self.text()?;
        let start = ["http://", "https://"]
            .iter()
            .filter_map(|scheme| text.find(scheme))
            .min()?;
        let rest = text.get(start..)?;
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ')'))
            .unwrap_or(rest.len());
        let link = rest
            .get(..end)?
            .trim_end_matches(['.', ',', ';', ':', '!', '?']);
        Some(link.to_owned())
    }

    fn part(&self, subtype: &str) -> Option<String> {
        use mail_parser::MimeHeaders;
        let message = self.parsed()?;
        message
            .parts
            .iter()
            .find(|part| {
                part.is_text()
                    && match part.content_type() {
                        Some(ct) => {
                            ct.ctype().eq_ignore_ascii_case("text")
                                && ct
                                    .subtype()
                                    .is_some_and(|s| s.eq_ignore_ascii_case(subtype))
                        }
                        None => subtype == "plain" && !part.is_text_html(),
                    }
            })
            .and_then(|part| part.text_contents())
            .map(str::to_owned)
    }
}

/// Accepts connections until aborted; each runs in the JoinSet, so they
/// end with it.
async fn serve(listener: TcpListener, shared: Arc<SinkShared>) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _)) => {
                        sessions.spawn(session(stream, shared.clone()));
                    }
                    // Out of file descriptors, say: wait rather than spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// The envelope of the transaction under way.
struct Envelope {
    from: String,
    to: Vec<String>,
}

/// One SMTP session. I/O errors just end it.
async fn session(stream: TcpStream, shared: Arc<SinkShared>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    reply(&mut write, "220 agora-test-sink ESMTP").await?;
    let mut auth: Option<SmtpAuth> = None;
    let mut envelope: Option<Envelope> = None;
    loop {
        let Some(line) = read_line(&mut read).await? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let answer = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => "250-agora-test-sink\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 HELP",
            "HELO" => "250 agora-test-sink",
            "AUTH" => match authenticate(&mut read, &mut write, arg.trim()).await? {
                Some(given) => {
                    auth = Some(given);
                    "235 2.7.0 Authentication successful"
                }
                None => "501 5.5.2 Cannot read the credentials",
            },
            "MAIL" => match path(arg, "FROM:") {
                Some(from) => {
                    envelope = Some(Envelope {
                        from,
                        to: Vec::new(),
                    });
                    "250 2.1.0 OK"
                }
                None => "501 5.5.4 Syntax: MAIL FROM:<address>",
            },
            "RCPT" => match (envelope.as_mut(), path(arg, "TO:")) {
                (None, _) => "503 5.5.1 MAIL first",
                (Some(envelope), Some(to)) => {
                    envelope.to.push(to);
                    "250 2.1.5 OK"
                }
                (Some(_), None) => "501 5.5.4 Syntax: RCPT TO:<address>",
            },
            "DATA" => match envelope.take() {
                Some(envelope) if !envelope.to.is_empty() => {
                    if shared.take_failure() {
                        "451 4.3.0 Temporary failure (the test sink was told to fail)"
                    } else {
                        reply(&mut write, "354 End data with <CR><LF>.<CR><LF>").await?;
                        let Some(data) = read_data(&mut read).await? else {
                            return Ok(());
                        };
                        if data.len() > MAX_MESSAGE {
                            "552 5.3.4 Message too big"
                        } else {
                            shared.keep(ReceivedMail {
                                mail_from: envelope.from,
                                rcpt_to: envelope.to,
                                auth: auth.clone(),
                                data,
                            });
                            "250 2.0.0 OK: queued"
                        }
                    }
                }
                _ => "503 5.5.1 RCPT first",
            },
            "RSET" => {
                envelope = None;
                "250 2.0.0 OK"
            }
            "NOOP" => "250 2.0.0 OK",
            "QUIT" => {
                reply(&mut write, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => "502 5.5.2 Command not implemented",
        };
        reply(&mut write, answer).await?;
    }
}

impl SinkShared {
    /// Whether this delivery is to be refused (and counts it).
    fn take_failure(&self) -> bool {
        let refuse = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            self.refused.fetch_add(1, Ordering::SeqCst);
        }
        refuse
    }

    fn keep(&self, mail: ReceivedMail) {
        if let Ok(mut received) = self.received.lock() {
            received.push(mail.clone());
        }
        let _ = self.arrivals.send(mail);
    }
}

/// Writes one reply (which may hold several CRLF-separated lines).
async fn reply(write: &mut (impl AsyncWrite + Unpin), text: &str) -> std::io::Result<()> {
    write.write_all(text.as_bytes()).await?;
    write.write_all(b"\r\n").await?;
    write.flush().await
}

/// Reads one line with its end; `None` at the end of the stream.
async fn read_line(read: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = read.take(MAX_LINE).read_until(b'\n', &mut line).await?;
    Ok((n > 0).then_some(line))
}

/// Reads a message up to the line `.`, dot-unstuffed; `None` when the
/// stream ends first. Keeps reading (and drops the rest) past
/// [`MAX_MESSAGE`], so that the client gets its answer.
async fn read_data(read: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    loop {
        let Some(line) = read_line(read).await? else {
            return Ok(None);
        };
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(data));
        }
        if data.len() <= MAX_MESSAGE {
            data.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
        }
    }
}

/// The address of `FROM:<a@b> SIZE=1` (after `prefix`, any case), without
/// the brackets; `<>` is the empty string.
fn path(arg: &str, prefix: &str) -> Option<String> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg.get(prefix.len()..)?.trim_start();
    match rest.strip_prefix('<') {
        Some(inner) => inner.split_once('>').map(|(path, _)| path.to_owned()),
        None => rest.split_whitespace().next().map(str::to_owned),
    }
}

/// Runs the AUTH exchange of `arg` (`PLAIN [initial]` or `LOGIN
/// [user]`); `None` when the mechanism is unknown, the exchange is
/// cancelled, or the credentials are not base64 text.
async fn authenticate(
    read: &mut (impl AsyncBufRead + Unpin),
    write: &mut (impl AsyncWrite + Unpin),
    arg: &str,
) -> std::io::Result<Option<SmtpAuth>> {
    let (mechanism, initial) = arg.split_once(' ').unwrap_or((arg, ""));
    let initial = initial.trim();
    // A client's answer to a challenge; `None` when it cancels (`*`).
    async fn answer(
        read: &mut (impl AsyncBufRead + Unpin),
        write: &mut (impl AsyncWrite + Unpin),
        challenge: &str,
    ) -> std::io::Result<Option<Vec<u8>>> {
        reply(write, challenge).await?;
        let line = read_line(read).await?.unwrap_or_default();
        let line = String::from_utf8_lossy(&line);
        let line = line.trim();
        Ok((line != "*").then(|| decode(line)).flatten())
    }
    let given = match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => {
            let response = if initial.is_empty() {
                answer(read, write, "334 ").await?
            } else {
                decode(initial)
            };
            response.and_then(|response| {
                let mut fields = response.split(|&b| b == 0);
                let (_authzid, user, password) = (fields.next()?, fields.next()?, fields.next()?);
                Some(SmtpAuth {
                    mechanism: "PLAIN",
                    user: String::from_utf8(user.to_vec()).ok()?,
                    password: String::from_utf8(password.to_vec()).ok()?,
                })
            })
        }
        "LOGIN" => {
            let user = if initial.is_empty() {
                answer(read, write, "334 VXNlcm5hbWU6").await?
            } else {
                decode(initial)
            };
            let password = match user {
                Some(_) => answer(read, write, "334 UGFzc3dvcmQ6").await?,
                None => None,
            };
            user.zip(password).and_then(|(user, password)| {
                Some(SmtpAuth {
                    mechanism: "LOGIN",
                    user: String::from_utf8(user).ok()?,
                    password: String::from_utf8(password).ok()?,
                })
            })
        }
        _ => None,
    };
    Ok(given)
}

fn decode(base64: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .ok()
}

/// The original FastAPI app's tables on PostgreSQL, for tests of
/// [`crate::import_fastapi`], as its alembic migrations make
/// them (`users.phone_number` from the last one).
pub const FASTAPI_POSTGRES_DDL: &str = "
CREATE TABLE users (
    id SERIAL NOT NULL,
    email VARCHAR NOT NULL,
    password VARCHAR NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    phone_number VARCHAR,
    PRIMARY KEY (id),
    UNIQUE (email)
);
CREATE TABLE posts (
    id SERIAL NOT NULL,
    title VARCHAR NOT NULL,
    content VARCHAR NOT NULL,
    published BOOLEAN DEFAULT 'TRUE' NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    owner_id INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE TABLE votes (
    user_id INTEGER NOT NULL,
    post_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, post_id),
    FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);";

/// The same tables as SQLAlchemy makes them on SQLite (timestamps as text
/// without a zone, booleans as integers).
pub const FASTAPI_SQLITE_DDL: &str = "
CREATE TABLE users (
    id INTEGER NOT NULL,
    email VARCHAR NOT NULL,
    password VARCHAR NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    phone_number VARCHAR,
    PRIMARY KEY (id),
    UNIQUE (email)
);
CREATE TABLE posts (
    id INTEGER NOT NULL,
    title VARCHAR NOT NULL,
    content VARCHAR NOT NULL,
    published BOOLEAN DEFAULT 'TRUE' NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL,
    owner_id INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE TABLE votes (
    user_id INTEGER NOT NULL,
    post_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, post_id),
    FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);";

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn test_database_urls_replace_only_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306", "x"),
            "mysql://root@h:3306/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
