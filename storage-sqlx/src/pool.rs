//! Pool settings shared by every backend: bounded waits and connections that
//! are retired after a while, plus, for database servers, health checks that
//! cannot hang.

use std::time::Duration;

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
/// connection that never comes, even once the database is back. So each
/// returned connection first has to answer a ping within the acquire
/// timeout; one that does not is closed, and the pool opens a fresh one.
///
/// A connection taken from the pool is pinged first (within the acquire
/// timeout) only if it sat idle for more than [`PING_WHEN_IDLE_FOR`], so
/// that one the database dropped while it was idle (a restart, a network
/// cut) is replaced instead of failing a request.
pub(crate) fn network_options<DB: Database>(config: &PoolConfig) -> PoolOptions<DB> {
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
            Box::pin(async move {
                ping_within(conn, limit, "a returned connection's ping").await?;
                Ok(true)
            })
        })
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
