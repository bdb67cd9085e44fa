//! The HTTP contract suite against the axum adapter, served exactly as the
//! example server serves it, on a free port, over a fresh database of every
//! configured backend (SQLite always; PostgreSQL and MySQL when
//! `AGORA_TEST_POSTGRES_URL` / `AGORA_TEST_MYSQL_URL` are set).

use agora_contract::harness as common;

use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

async fn contract_on(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let base = common::spawn_axum(common::config_for(&db)).await;
    agora_contract::run_contract(&base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_on_sqlite_passes_the_contract() {
    contract_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_on_postgres_passes_the_contract() {
    contract_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_on_mysql_passes_the_contract() {
    contract_on(Backend::MySql).await;
}
