//! The storage conformance suite (`agora_core::storage::conformance`) on
//! every backend, each case on its own fresh database.

use std::sync::Arc;

use agora_core::storage::Store;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

/// A store on a fresh database, with the guard that drops the database;
/// `None` (after one printed "skipped" line) when the backend's server is
/// not configured.
async fn open(backend: Backend) -> Option<(Arc<dyn Store>, TestDatabase)> {
    let db = TestDatabase::create(backend).await?;
    let store = agora_sqlx::connect(db.url(), &agora_sqlx::PoolConfig::default())
        .await
        .expect("test database opens");
    Some((store, db))
}

agora_core::storage_conformance_tests!(sqlite, open(Backend::Sqlite));
agora_core::storage_conformance_tests!(postgres, open(Backend::Postgres));
agora_core::storage_conformance_tests!(mysql, open(Backend::MySql));
