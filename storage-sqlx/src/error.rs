//! sqlx errors to core's typed [`StorageError`].

use agora_core::storage::StorageError;

/// Maps a sqlx error: constraint violations by kind (with the constraint's
/// name), connection trouble to `Unavailable`, the rest to `Other`.
pub(crate) fn map(err: sqlx::Error) -> StorageError {
    match &err {
        sqlx::Error::Database(db) => {
            let constraint = db
                .constraint()
                .map(str::to_owned)
                .unwrap_or_else(|| sqlite_constraint_name(db.message()));
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => StorageError::Conflict { constraint },
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    StorageError::MissingReference { constraint }
                }
                _ if is_busy(db.code().as_deref()) => StorageError::Unavailable(Box::new(err)),
                _ => StorageError::Other(Box::new(err)),
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StorageError::Unavailable(Box::new(err)),
        _ => StorageError::Other(Box::new(err)),
    }
}

/// SQLite reports no constraint names, only `UNIQUE constraint failed:
/// users.email`; name them as the migrations do.
fn sqlite_constraint_name(message: &str) -> String {
    let columns = message.rsplit(": ").next().unwrap_or_default();
    match columns {
        "users.email" => "users_email_key".to_owned(),
        "votes.post_id, votes.user_id" => "votes_pkey".to_owned(),
        "FOREIGN KEY constraint failed" => "foreign_key".to_owned(),
        other => other.to_owned(),
    }
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6): another writer held the database
/// past the busy timeout.
fn is_busy(code: Option<&str>) -> bool {
    matches!(code, Some("5" | "6" | "517" | "262"))
}
