//! The PostgreSQL backend: for several stateless app servers sharing one database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::{ConnectError, PoolConfig};

crate::store::impl_store!(PgStore, sqlx::Postgres, crate::sql::POSTGRES, ids: returning);

/// Agora's storage on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and
    /// runs the migrations (see [`crate::migrate`]).
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        Self::open(url, pool, crate::migrate::default_lock_timeout()).await
    }

    /// [`PgStore::connect`], waiting up to `lock_timeout` for another
    /// instance's migration lock.
    pub(crate) async fn open(
        url: &str,
        pool: &PoolConfig,
        lock_timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let options = connect_options(url)?;
        crate::migrate::postgres(options.clone(), pool, lock_timeout).await?;
        // The server cancels a statement (or an idle transaction) that runs
        // past the timeout, freeing its connection and locks, and closes
        // sessions left idle (see `PoolConfig::session_idle_timeout`).
        let millis = |d: Duration| d.as_millis().max(1).to_string();
        let statement = millis(pool.statement_timeout);
        let options = options.options([
            ("statement_timeout", statement.as_str()),
            ("idle_in_transaction_session_timeout", statement.as_str()),
            (
                "idle_session_timeout",
                millis(pool.session_idle_timeout()).as_str(),
            ),
        ]);
        let pool = crate::pool::options(pool).connect_with(options).await?;
        Ok(PgStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The options every connection to `url` is opened with.
pub(crate) fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?.application_name("agora"))
}

/// The options of [`crate::inspect_schema`]'s connection to `url`: a
/// read-only session (a write would fail), whose statements the server
/// cancels after `pool.statement_timeout`.
pub(crate) fn inspect_options(
    url: &str,
    pool: &PoolConfig,
) -> Result<PgConnectOptions, sqlx::Error> {
    let statement = pool.statement_timeout.as_millis().max(1).to_string();
    Ok(connect_options(url)?.options([
        ("default_transaction_read_only", "on"),
        ("statement_timeout", statement.as_str()),
    ]))
}
