//! The MySQL / MariaDB backend. Written for MySQL 8 and MariaDB 10.5+
//! (no `RETURNING`: inserted ids come from `LAST_INSERT_ID()`); tested on MariaDB.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError};
use sqlx::{AssertSqlSafe, MySqlConnection, MySqlPool};

use crate::{ConnectError, PoolConfig};

crate::store::impl_store!(MySqlStore, sqlx::MySql, crate::sql::MYSQL, ids: last_insert_id);

/// Agora's storage on MySQL or MariaDB.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects to `url` (`mysql://user:password@host:port/database`; the
    /// scheme `mariadb://` works too) and runs the migrations (see
    /// [`crate::migrate`]). With `pool.schema` set, Agora's tables live in
    /// the database of that name on the same server (created if missing,
    /// `utf8mb4`), which every connection uses.
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let release = crate::pool::ReleaseCheck::Always;
        Self::open(url, pool, crate::migrate::default_lock_timeout(), release).await
    }

    /// [`MySqlStore::connect`], waiting up to `lock_timeout` for another
    /// instance's migration lock, with `release` as its pool's check of
    /// connections given back.
    pub(crate) async fn open(
        url: &str,
        pool: &PoolConfig,
        lock_timeout: Duration,
        release: crate::pool::ReleaseCheck,
    ) -> Result<Self, ConnectError> {
        pool.validate_for(url)?;
        let options = connect_options(url)?;
        crate::migrate::mysql(options.clone(), pool, lock_timeout).await?;
        let options = match &pool.schema {
            Some(schema) => options.database(schema),
            None => options,
        };
        let (limit, idle) = (pool.statement_timeout, pool.session_idle_timeout());
        let pool = crate::pool::network_options(pool, release)
            .after_connect(move |conn, _| Box::pin(limit_session(conn, limit, idle)))
            .connect_with(options)
            .await?;
        Ok(MySqlStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

/// The options every connection to `url` is opened with.
pub(crate) fn connect_options(url: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
    Ok(MySqlConnectOptions::from_str(url)?.charset("utf8mb4"))
}

/// Makes `schema` the database of the session on `conn` (`USE`), creating it
/// first (`utf8mb4`, binary collation, as the tables are) when it is missing
/// and `create` (checked first: `CREATE DATABASE IF NOT EXISTS` needs the
/// right to create databases even when it exists); says whether it exists.
/// Creating callers hold the schema's migration lock, so instances starting
/// together do not race.
pub(crate) async fn enter_schema(
    conn: &mut MySqlConnection,
    schema: &str,
    create: bool,
) -> Result<bool, sqlx::Error> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await?;
    if exists == 0 {
        if !create {
            return Ok(false);
        }
        tracing::info!(schema, "creating the database");
        // A plain lowercase name (`PoolConfig::validate_for`): no escaping needed.
        let create = format!(
            "CREATE DATABASE IF NOT EXISTS `{schema}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        );
        sqlx::raw_sql(AssertSqlSafe(create))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::raw_sql(AssertSqlSafe(format!("USE `{schema}`")))
        .execute(conn)
        .await?;
    Ok(true)
}

/// Makes the session of [`crate::inspect_schema`]'s connection read-only
/// (a write would fail), its statements limited as the pool's are.
pub(crate) async fn read_only_session(
    conn: &mut MySqlConnection,
    pool: &PoolConfig,
) -> Result<(), sqlx::Error> {
    limit_session(conn, pool.statement_timeout, pool.session_idle_timeout()).await?;
    sqlx::raw_sql("SET SESSION TRANSACTION READ ONLY")
        .execute(conn)
        .await
        .map(drop)
}

/// Bytes `GROUP_CONCAT` may return: a post's tags need at most 10 x 32
/// characters x 4 bytes plus separators; 64 KiB leaves room to spare.
const GROUP_CONCAT_MAX_LEN: u32 = 65_536;

/// Has the server cancel any statement of this session that runs past
/// `limit` (MariaDB's `max_statement_time`, seconds, every statement; else
/// MySQL's `max_execution_time`, milliseconds, read-only `SELECT`s only) and
/// close the session after `idle` without a statement (`wait_timeout`, see
/// `PoolConfig::session_idle_timeout`). Also lets `GROUP_CONCAT` return a
/// post's tags whole: up to 10 tags of 32 characters of 4 bytes, more than
/// MySQL's default `group_concat_max_len` of 1024 bytes.
async fn limit_session(
    conn: &mut MySqlConnection,
    limit: Duration,
    idle: Duration,
) -> Result<(), sqlx::Error> {
    let seconds = limit.as_secs_f64().max(0.001);
    let idle = idle.as_secs().max(1);
    let mariadb = format!(
        "SET SESSION max_statement_time = {seconds:.3}, wait_timeout = {idle}, \
         group_concat_max_len = {GROUP_CONCAT_MAX_LEN}"
    );
    match sqlx::raw_sql(AssertSqlSafe(mariadb))
        .execute(&mut *conn)
        .await
    {
        // 1193: unknown system variable, i.e. MySQL.
        Err(sqlx::Error::Database(e))
            if e.try_downcast_ref::<MySqlDatabaseError>()
                .is_some_and(|e| e.number() == 1193) =>
        {
            let millis = limit.as_millis().max(1);
            let mysql = format!(
                "SET SESSION max_execution_time = {millis}, wait_timeout = {idle}, \
                 group_concat_max_len = {GROUP_CONCAT_MAX_LEN}"
            );
            sqlx::raw_sql(AssertSqlSafe(mysql))
                .execute(conn)
                .await
                .map(drop)
        }
        done => done.map(drop),
    }
}
