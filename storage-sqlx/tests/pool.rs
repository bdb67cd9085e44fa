//! The pool hands requests live connections: one the database dropped while
//! it sat idle (a restart, a network cut) is pinged before use and
//! replaced, so no request fails on it. PostgreSQL and MySQL/MariaDB; each
//! case skips with one printed line when `AGORA_TEST_POSTGRES_URL` /
//! `AGORA_TEST_MYSQL_URL` is unset (SQLite has no server to drop it).

use std::time::Duration;

use agora_sqlx::testing::TestDatabase;
use agora_sqlx::{Backend, PoolConfig};
use sqlx::{AssertSqlSafe, Connection, Row};

/// Longer than the idleness after which the pool pings a connection
/// before handing it out.
const IDLE: Duration = Duration::from_millis(1_500);

async fn a_connection_dropped_while_idle_is_replaced(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let pool = PoolConfig {
        max_connections: 1,
        ..PoolConfig::default()
    };
    let store = agora_sqlx::connect(db.url(), &pool).await.expect("connect");
    store.ping().await.expect("the pool's connection answers");
    let killed = drop_other_connections(backend, db.url()).await;
    assert!(killed > 0, "the pool's idle connection was dropped");
    tokio::time::sleep(IDLE).await;
    store
        .ping()
        .await
        .expect("the dead connection is replaced, not handed to the call");
}

/// Ends every connection to `url`'s database but this one's; how many.
async fn drop_other_connections(backend: Backend, url: &str) -> usize {
    match backend {
        Backend::Postgres => {
            let mut admin = sqlx::PgConnection::connect(url).await.expect("admin");
            let rows = sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_all(&mut admin)
            .await
            .expect("terminate");
            rows.len()
        }
        Backend::MySql => {
            let mut admin = sqlx::MySqlConnection::connect(url).await.expect("admin");
            let ids: Vec<i64> = sqlx::query(
                "SELECT CAST(id AS SIGNED) FROM information_schema.processlist \
                 WHERE db = DATABASE() AND id <> CONNECTION_ID()",
            )
            .fetch_all(&mut admin)
            .await
            .expect("processlist")
            .iter()
            .map(|row| row.get::<i64, _>(0))
            .collect();
            for id in &ids {
                sqlx::query(AssertSqlSafe(format!("KILL {id}")))
                    .execute(&mut admin)
                    .await
                    .expect("kill");
            }
            ids.len()
        }
        // No server to drop it.
        Backend::Sqlite => 0,
    }
}

#[tokio::test]
async fn postgres_a_connection_dropped_while_idle_is_replaced() {
    a_connection_dropped_while_idle_is_replaced(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_a_connection_dropped_while_idle_is_replaced() {
    a_connection_dropped_while_idle_is_replaced(Backend::MySql).await;
}
