//! The PostgreSQL backend: for several stateless app servers sharing one database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::{ConnectError, PoolConfig};

crate::store::impl_store!(PgStore, sqlx::Postgres, crate::sql::POSTGRES, ids: returning);

/// Agora's storage on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and
    /// runs the migrations (see [`crate::migrate`]). With `pool.schema`
    /// set, Agora's tables live in that schema of the database, created if
    /// missing, and every connection's `search_path` is that schema alone.
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let release = crate::pool::ReleaseCheck::Always;
        Self::open(url, pool, crate::migrate::default_lock_timeout(), release).await
    }

    /// [`PgStore::connect`], waiting up to `lock_timeout` for another
    /// instance's migration lock, with `release` as its pool's check of
    /// connections given back.
    pub(crate) async fn open(
        url: &str,
        pool: &PoolConfig,
        lock_timeout: Duration,
        release: crate::pool::ReleaseCheck,
    ) -> Result<Self, ConnectError> {
        pool.validate_for(url)?;
        let options = connect_options(url, pool)?;
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
        let pool = crate::pool::network_options(pool, release)
            .connect_with(options)
            .await?;
        Ok(PgStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The options every connection to `url` is opened with: in
/// `pool.schema`, when set, and nowhere else (its `search_path` is that
/// schema alone, so no statement can reach an app's table of the same name
/// in another schema; a schema that does not exist yet is skipped by the
/// server, leaving nothing on the path).
pub(crate) fn connect_options(
    url: &str,
    pool: &PoolConfig,
) -> Result<PgConnectOptions, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name("agora");
    Ok(match &pool.schema {
        // A plain lowercase name (`PoolConfig::validate_for`): no quoting needed.
        Some(schema) => options.options([("search_path", schema.as_str())]),
        None => options,
    })
}

/// Creates `schema` if it does not exist (checked first: `CREATE SCHEMA IF
/// NOT EXISTS` needs the right to create schemas even when it exists). The
/// caller holds the schema's migration lock, so instances starting together
/// do not race to create it.
pub(crate) async fn create_schema(
    conn: &mut PgConnection,
    schema: &str,
) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        tracing::info!(schema, "creating the database schema");
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        sqlx::raw_sql(AssertSqlSafe(create))
            .execute(&mut *conn)
            .await?;
    }
    // The path named the schema before it existed: have the server resolve it anew.
    sqlx::query("SELECT set_config('search_path', current_setting('search_path'), false)")
        .execute(&mut *conn)
        .await
        .map(drop)
}

/// Makes the `pg_trgm` extension's operator classes, which the first
/// migration's title index uses, visible to the migrating connection
/// `conn`: the extension is one per database, in one schema, which may be
/// off this connection's `search_path` (another Agora schema's, or `public`
/// when `in_schema`). When it is not installed yet and `in_schema`, it is
/// installed in `public` if this user may create there (else the migration
/// installs it in Agora's schema, where dropping that schema with `CASCADE`
/// would drop it and every other schema's title index).
pub(crate) async fn reach_trigrams(
    conn: &mut PgConnection,
    in_schema: bool,
) -> Result<(), sqlx::Error> {
    const INSTALLED: &str = concat!(
        "SELECT n.nspname::text FROM pg_extension e ",
        "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    );
    let mut installed: Option<String> = sqlx::query_scalar(INSTALLED)
        .fetch_optional(&mut *conn)
        .await?;
    if installed.is_none() && in_schema {
        let public: bool = sqlx::query_scalar(concat!(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace ",
            "WHERE nspname = 'public' AND has_schema_privilege(oid, 'CREATE'))"
        ))
        .fetch_one(&mut *conn)
        .await?;
        if public {
            match sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
                .execute(&mut *conn)
                .await
            {
                Ok(_) => {}
                // Another schema's instance installed it at the same moment.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
                Err(e) => return Err(e),
            }
            installed = sqlx::query_scalar(INSTALLED)
                .fetch_optional(&mut *conn)
                .await?;
        }
    }
    if let Some(extension_schema) = installed {
        sqlx::query(concat!(
            "SELECT set_config('search_path', ",
            "current_setting('search_path') || ', ' || quote_ident($1), false)"
        ))
        .bind(extension_schema)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The options of [`crate::inspect_schema`]'s connection to `url`, in
/// `pool.schema` as the pool's (a missing schema leaves nothing on the
/// path, so nothing is found): a read-only session (a write would fail), whose statements the server
/// cancels after `pool.statement_timeout`.
pub(crate) fn inspect_options(
    url: &str,
    pool: &PoolConfig,
) -> Result<PgConnectOptions, sqlx::Error> {
    let statement = pool.statement_timeout.as_millis().max(1).to_string();
    Ok(connect_options(url, pool)?.options([
        ("default_transaction_read_only", "on"),
        ("statement_timeout", statement.as_str()),
    ]))
}
