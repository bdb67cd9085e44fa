//! # agora-sqlx
//!
//! SQL storage for Agora on [sqlx](https://docs.rs/sqlx): implements
//! [`agora_core::storage::Store`] and owns the migrations.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_sqlx::ConnectError> {
//! // Creates the file if needed and runs the migrations.
//! let store = agora_sqlx::connect("sqlite://agora.db").await?;
//! # Ok(()) }
//! ```

mod error;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use agora_core::storage::Store;

/// Why [`connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL names a database this build does not support.
    #[error("unsupported database URL {0:?}: expected sqlite:// (e.g. sqlite://agora.db)")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Most connections open at once.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing with
    /// "unavailable" (503) instead of hanging.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens the database named by `url`, runs its migrations, and returns the
/// store. `sqlite://path` creates the file when missing.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, ConnectError> {
    connect_with(url, &PoolConfig::default()).await
}

/// [`connect`] with explicit pool settings.
pub async fn connect_with(url: &str, pool: &PoolConfig) -> Result<Arc<dyn Store>, ConnectError> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(sqlite::SqliteStore::connect(url, pool).await?));
    }
    Err(ConnectError::UnsupportedUrl(redact_password(url)))
}

/// The URL with any password replaced, safe to print.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db:5432/agora"),
            "postgres://app:***@db:5432/agora"
        );
        assert_eq!(redact_password("sqlite://agora.db"), "sqlite://agora.db");
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_clearly() {
        let err = connect("oracle://x").await.err().expect("refused");
        assert!(err.to_string().contains("unsupported database URL"));
    }
}
