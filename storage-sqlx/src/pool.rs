//! Pool settings shared by every backend: bounded waits and connections that
//! are retired after a while, plus, for database servers, health checks that
//! cannot hang.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;
use sqlx::pool::PoolOptions;
use sqlx::{Connection, Database};

use crate::PoolConfig;

/// Connections are replaced after this long, so the database can free what
/// a session accumulated (sqlx's default, stated).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Idle connections are closed after this long (sqlx's default, stated).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A connection idle for longer than this is pinged before it is handed
/// out; one given back more recently answered a ping then (below).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// The pool options every backend starts from: bounded waits, connections
/// retired after a while, and no ping when a connection is handed out.
///
/// sqlx's own check pings every connection it hands out
/// (`test_before_acquire`): under load that was a round trip more than the
/// query on every request, for a connection that had answered a ping an
/// instant before (sqlx pings each connection given back, below). A server
/// database adds bounded checks of its own ([`network_options`]). SQLite
/// needs none: it runs in the process, so nothing can drop its connections
/// or go silent, and a connection given back mid-statement (its call was
/// abandoned at its deadline) is ready again once that statement ends, which
/// the busy timeout bounds for locks.
pub(crate) fn options<DB: Database>(config: &PoolConfig) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(false)
        .max_lifetime(MAX_LIFETIME)
        .idle_timeout(IDLE_TIMEOUT)
}

/// [`options`] for a database server over the network, with health checks
/// that cannot hang.
///
/// sqlx pings a connection when it is given back, with no time limit. A
/// connection given back mid-query (its call was abandoned at its deadline)
/// or whose database went silent would hang in that ping forever, holding
/// its place in the pool: after enough of them every request waits for a
/// connection that never comes, even once the database is back. So a
/// returned connection that may be such a one ([`ReleaseCheck`]) first has
/// to answer a ping within the acquire timeout; one that does not is
/// closed, and the pool opens a fresh one.
///
/// A connection taken from the pool is pinged first (within the acquire
/// timeout) only if it sat idle for more than [`PING_WHEN_IDLE_FOR`], so
/// that one the database dropped while it was idle (a restart, a network
/// cut) is replaced instead of failing a request.
pub(crate) fn network_options<DB: Database>(
    config: &PoolConfig,
    release: ReleaseCheck,
) -> PoolOptions<DB> {
    let limit = config.acquire_timeout;
    options(config)
        .before_acquire(move |conn: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_WHEN_IDLE_FOR {
                    ping_within(conn, limit, "an idle connection's ping").await?;
                }
                Ok(true)
            })
        })
        .after_release(move |conn: &mut DB::Connection, _| {
            let check = release.needed();
            Box::pin(async move {
                if check {
                    ping_within(conn, limit, "a returned connection's ping").await?;
                }
                Ok(true)
            })
        })
}

/// Which connections given back to a database server's pool first answer
/// a ping within the acquire timeout ([`network_options`]).
#[derive(Clone, Debug)]
pub(crate) enum ReleaseCheck {
    /// Every one: the store's calls may be abandoned where nothing sees it
    /// (a store used without [`crate::BoundedStore`]).
    Always,
    /// Those given back while [`Abandons::recent`]. Every call of the store
    /// is watched ([`Abandons::watch`], by [`crate::BoundedStore`]), so a
    /// connection given back mid-query, or from a database that stopped
    /// answering, comes right after the call that held it was abandoned. The
    /// others come from a call that had its answer: the database spoke an
    /// instant before, and sqlx's own ping on return finds it ready without
    /// a second ping's round trip. (A call that failed on a broken
    /// connection leaves one whose ping fails at once.)
    AfterAbandon(Arc<Abandons>),
}

impl ReleaseCheck {
    /// Whether the connection given back now must answer a bounded ping.
    fn needed(&self) -> bool {
        match self {
            ReleaseCheck::Always => true,
            ReleaseCheck::AfterAbandon(abandons) => abandons.recent(),
        }
    }
}

/// When a store's call was last abandoned after it had waited a while for
/// the database: its future dropped before its answer, at its deadline or
/// with its request. Only such a call may have been waiting on a database
/// that stopped answering; a request dropped an instant after it started
/// (say its client went away) leaves a connection whose statement ends
/// within the statement timeout, and sqlx's own ping waits for that.
#[derive(Debug)]
pub(crate) struct Abandons {
    epoch: Instant,
    /// How long a call must have run for its abandonment to count.
    after: Duration,
    /// Until when (milliseconds after `epoch`) a connection given back is
    /// suspect.
    suspect_until: AtomicU64,
    /// How long after an abandoned call connections stay suspect: long
    /// enough for the abandoned call's connection to come back (sqlx gives
    /// it back in a task of its own, spawned as the call is dropped).
    window: Duration,
}

impl Abandons {
    /// No call abandoned yet; one abandoned after running for `after` will
    /// make returned connections suspect for `window`.
    pub(crate) fn new(after: Duration, window: Duration) -> Self {
        Abandons {
            epoch: Instant::now(),
            after,
            suspect_until: AtomicU64::new(0),
            window,
        }
    }

    /// Those of a pool with `config`: calls abandoned after running for
    /// [`PING_WHEN_IDLE_FOR`] (a healthy database answers long before,
    /// short of a statement the caller chose to make long), or for half the
    /// call deadline when that is shorter (a call abandoned at its deadline
    /// always counts), make connections suspect for the call deadline.
    pub(crate) fn of(config: &PoolConfig) -> Self {
        let deadline = config.call_deadline();
        Abandons::new(PING_WHEN_IDLE_FOR.min(deadline / 2), deadline)
    }

    /// [`Abandons::of`] `config`, and the release check of a pool whose
    /// calls a [`crate::BoundedStore`] watches with them.
    pub(crate) fn watched(config: &PoolConfig) -> (Arc<Abandons>, ReleaseCheck) {
        let abandons = Arc::new(Abandons::of(config));
        (abandons.clone(), ReleaseCheck::AfterAbandon(abandons))
    }

    fn millis_since_epoch(&self, later: Duration) -> u64 {
        u64::try_from((self.epoch.elapsed() + later).as_millis()).unwrap_or(u64::MAX)
    }

    /// A call was abandoned.
    fn note(&self) {
        let until = self.millis_since_epoch(self.window);
        // Relaxed is enough: the abandoned call's connection is given back
        // by a task spawned after this (as the call's future is dropped),
        // and a spawn orders what came before it.
        self.suspect_until.fetch_max(until, Ordering::Relaxed);
    }

    /// Whether a call was abandoned within the window.
    fn recent(&self) -> bool {
        self.millis_since_epoch(Duration::ZERO) < self.suspect_until.load(Ordering::Relaxed)
    }

    /// `call`, noted here if it is dropped before its answer and at least
    /// `after` after it started. With `None`, `call` as it is.
    pub(crate) fn watch<F>(abandons: Option<&Abandons>, call: F) -> Watched<'_, F> {
        Watched {
            call,
            abandons,
            started: None,
            answered: false,
        }
    }
}

pin_project! {
    /// A storage call watched for abandonment ([`Abandons::watch`]).
    pub(crate) struct Watched<'a, F> {
        #[pin]
        call: F,
        abandons: Option<&'a Abandons>,
        started: Option<Instant>,
        answered: bool,
    }

    impl<F> PinnedDrop for Watched<'_, F> {
        // Runs before `call` is dropped, and with it any pooled connection
        // the call holds: the note is there before sqlx gives it back.
        fn drop(this: Pin<&mut Self>) {
            let unanswered = (this.abandons, this.started, this.answered);
            if let (Some(abandons), Some(started), false) = unanswered
                && started.elapsed() >= abandons.after
            {
                abandons.note();
            }
        }
    }
}

impl<F: Future> Future for Watched<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if this.started.is_none() && this.abandons.is_some() {
            *this.started = Some(Instant::now());
        }
        let answer = std::task::ready!(this.call.poll(cx));
        *this.answered = true;
        Poll::Ready(answer)
    }
}

/// Pings `conn`; an error, or no answer within `limit`, is an error (and
/// the pool then closes the connection).
async fn ping_within<C: Connection>(
    conn: &mut C,
    limit: Duration,
    what: &str,
) -> Result<(), sqlx::Error> {
    match tokio::time::timeout(limit, conn.ping()).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(what, limit)),
    }
}

/// A connection outside the main pool, for migrations, which must not be
/// cut short by the statement timeout, and for reading the migrations'
/// state (`migrate::inspect_schema`, any backend); it connects within the
/// acquire timeout (through a one-connection pool, whose errors
/// `error::explain` knows).
pub(crate) async fn migration_connection<DB: Database>(
    options: <DB::Connection as Connection>::Options,
    config: &PoolConfig,
) -> Result<DB::Connection, sqlx::Error> {
    let pool = PoolOptions::<DB>::new()
        .max_connections(1)
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await?;
    let conn = pool.acquire().await?.detach();
    pool.close().await;
    Ok(conn)
}

/// An I/O "timed out" error naming what did not finish.
fn timed_out(what: &str, limit: Duration) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} did not finish within {limit:?}"),
    ))
}

#[cfg(test)]
mod tests {
    use std::future::{Future, pending, ready};
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    use super::{Abandons, ReleaseCheck};

    /// Polls `call` once, waits `running`, then drops it.
    fn poll_then_drop<F: Future>(call: F, running: Duration) -> Poll<F::Output> {
        let mut call = pin!(call);
        let first = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        std::thread::sleep(running);
        first
    }

    #[test]
    fn a_call_abandoned_after_waiting_a_while_makes_returns_suspect() {
        let abandons = Abandons::new(Duration::from_millis(20), Duration::from_secs(60));
        assert!(!abandons.recent(), "nothing abandoned yet");

        // Answered: not abandoned.
        let answered = poll_then_drop(Abandons::watch(Some(&abandons), ready(7)), Duration::ZERO);
        assert_eq!(answered, Poll::Ready(7));
        // Dropped before it started (it waited for its turn): it held no
        // connection.
        drop(Abandons::watch(Some(&abandons), pending::<()>()));
        // Dropped at once (its client went away): the database had no time
        // to fall silent on it.
        let _ = poll_then_drop(
            Abandons::watch(Some(&abandons), pending::<()>()),
            Duration::ZERO,
        );
        assert!(!abandons.recent());

        // Dropped unanswered after waiting (its deadline passed).
        let waited = Duration::from_millis(30);
        let pending = poll_then_drop(Abandons::watch(Some(&abandons), pending::<()>()), waited);
        assert_eq!(pending, Poll::Pending);
        assert!(abandons.recent());
        let release = ReleaseCheck::AfterAbandon(Arc::new(abandons));
        assert!(release.needed());
    }

    #[test]
    fn a_call_abandoned_at_its_deadline_counts_however_short_the_deadline() {
        let pool = |millis| crate::PoolConfig {
            acquire_timeout: Duration::from_millis(millis),
            statement_timeout: Duration::from_millis(millis),
            ..crate::PoolConfig::default()
        };
        let short = Abandons::of(&pool(100));
        assert_eq!(
            (short.after, short.window),
            (Duration::from_millis(100), Duration::from_millis(200))
        );
        let usual = Abandons::of(&pool(3_000));
        assert_eq!(
            (usual.after, usual.window),
            (Duration::from_secs(1), Duration::from_secs(6))
        );
    }

    #[test]
    fn suspicion_ends_after_its_window() {
        let abandons = Abandons::new(Duration::ZERO, Duration::from_millis(20));
        let _ = poll_then_drop(
            Abandons::watch(Some(&abandons), pending::<()>()),
            Duration::ZERO,
        );
        assert!(abandons.recent());
        std::thread::sleep(Duration::from_millis(50));
        assert!(!abandons.recent(), "the window has passed");
        let release = ReleaseCheck::AfterAbandon(Arc::new(abandons));
        assert!(!release.needed());
        assert!(ReleaseCheck::Always.needed());
    }

    /// A call abandoned mid-query gives its connection back busy: the
    /// pool's bounded ping closes it within the acquire timeout, and the
    /// next caller gets a fresh one long before the query would have ended.
    /// (Unnoted, the connection would sit in sqlx's own ping until then.)
    async fn an_abandoned_calls_connection_is_replaced<DB: sqlx::Database>(
        backend: crate::Backend,
        long_query: &'static str,
    ) where
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    {
        let Some(db) = crate::testing::TestDatabase::create(backend).await else {
            return;
        };
        let config = crate::PoolConfig {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(300),
            ..crate::PoolConfig::default()
        };
        let abandons = Arc::new(Abandons::new(
            Duration::from_millis(100),
            config.call_deadline(),
        ));
        let release = ReleaseCheck::AfterAbandon(abandons.clone());
        let pool = super::network_options::<DB>(&config, release)
            .connect(db.url())
            .await
            .expect("connects");
        sqlx::raw_sql("SELECT 1")
            .execute(&pool)
            .await
            .expect("answers");

        let call = sqlx::raw_sql(long_query).execute(&pool);
        let abandoned = tokio::time::timeout(
            Duration::from_millis(200),
            Abandons::watch(Some(&abandons), call),
        )
        .await;
        assert!(
            abandoned.is_err(),
            "{backend:?}: the long query was cut short"
        );

        let started = Instant::now();
        let answered = loop {
            match sqlx::raw_sql("SELECT 1").execute(&pool).await {
                Ok(_) => break started.elapsed(),
                Err(sqlx::Error::PoolTimedOut) if started.elapsed() < Duration::from_secs(4) => {}
                Err(e) => panic!(
                    "{backend:?}: no connection after {:?}: {e}",
                    started.elapsed()
                ),
            }
        };
        assert!(
            answered < Duration::from_secs(2),
            "{backend:?}: the busy connection was replaced after {answered:?}, not within the \
             acquire timeout (the long query runs 5 s)"
        );
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn an_abandoned_calls_postgres_connection_is_replaced() {
        an_abandoned_calls_connection_is_replaced::<sqlx::Postgres>(
            crate::Backend::Postgres,
            "SELECT pg_sleep(5)",
        )
        .await;
    }

    #[cfg(feature = "mysql")]
    #[tokio::test]
    async fn an_abandoned_calls_mysql_connection_is_replaced() {
        an_abandoned_calls_connection_is_replaced::<sqlx::MySql>(
            crate::Backend::MySql,
            "SELECT SLEEP(5)",
        )
        .await;
    }

    #[test]
    fn an_unwatched_call_is_the_call_itself() {
        let answered = poll_then_drop(Abandons::watch(None, ready("answer")), Duration::ZERO);
        assert_eq!(answered, Poll::Ready("answer"));
        let waiting = poll_then_drop(Abandons::watch(None, pending::<()>()), Duration::ZERO);
        assert_eq!(waiting, Poll::Pending);
    }
}
