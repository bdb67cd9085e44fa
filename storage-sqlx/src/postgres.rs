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
    /// runs the migrations.
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let options = PgConnectOptions::from_str(url)?.application_name("agora");
        // Migrations run on a connection of their own, free of the statement
        // timeout (an index build may take longer than any request should).
        let migrating =
            crate::pool::migration_pool::<sqlx::Postgres>(options.clone(), pool).await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&migrating)
            .await?;
        migrating.close().await;
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
