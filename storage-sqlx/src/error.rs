//! sqlx errors to core's typed [`StorageError`].

use agora_core::storage::StorageError;

/// Maps a sqlx error: constraint violations by kind (with the constraint's
/// name), connection trouble to `Unavailable`, the rest to `Other`.
pub(crate) fn map(err: sqlx::Error) -> StorageError {
    match &err {
        sqlx::Error::Database(db) => {
            let constraint = || {
                db.constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| constraint_from_message(db.message()))
            };
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => StorageError::Conflict {
                    constraint: constraint(),
                },
                sqlx::error::ErrorKind::ForeignKeyViolation => StorageError::MissingReference {
                    constraint: constraint(),
                },
                _ if is_transient(db.code().as_deref()) || is_mysql_timeout(db.as_ref()) => {
                    StorageError::Unavailable(Box::new(err))
                }
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

/// PostgreSQL reports constraint names; SQLite and MySQL only put something
/// in the message. Recover the names the migrations give:
/// - SQLite: `UNIQUE constraint failed: users.email` (or `users.username`,
///   the column of `users_username_key`), `FOREIGN KEY constraint failed`;
/// - MariaDB: `Duplicate entry 'x' for key 'users_email_key'` (MySQL 8:
///   `'users.users_email_key'`); every primary key is called `PRIMARY`, and
///   the only one a write can collide on is `votes_pkey`;
/// - MySQL foreign keys: `... CONSTRAINT `votes_post_id_fkey` FOREIGN KEY ...`.
fn constraint_from_message(message: &str) -> String {
    if let Some(key) = message
        .split(" for key '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
    {
        let key = key.rsplit('.').next().unwrap_or(key);
        return if key == "PRIMARY" { "votes_pkey" } else { key }.to_owned();
    }
    if let Some(name) = message
        .split("CONSTRAINT `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
    {
        return name.to_owned();
    }
    match message.rsplit(": ").next().unwrap_or_default() {
        "users.email" => "users_email_key".to_owned(),
        "users.username" => "users_username_key".to_owned(),
        "votes.post_id, votes.user_id" => "votes_pkey".to_owned(),
        other => other.to_owned(),
    }
}

/// Errors that mean "try again later" rather than a bug: SQLite busy or
/// locked past the busy timeout; PostgreSQL connection failures (class 08),
/// a statement cancelled by `statement_timeout` (57014), admin shutdown
/// (57P01..57P03) and too many connections (53300); MySQL "too many
/// connections" (1040), lock wait timeout (1205) and a statement interrupted
/// by MariaDB's `max_statement_time` (SQLSTATE 70100).
fn is_transient(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    code.starts_with("08")
        || matches!(
            code,
            "5" | "6"
                | "261"
                | "262"
                | "517"
                | "57014"
                | "57P01"
                | "57P02"
                | "57P03"
                | "53300"
                | "1040"
                | "1205"
                | "70100"
        )
}

/// A deadlock victim or serialization failure, which succeeds when run
/// again: PostgreSQL 40001 and 40P01, MySQL/MariaDB 1213, and SQLite's
/// stale WAL snapshot (517, which the busy timeout does not wait out).
pub(crate) fn is_retryable(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        Some("40001" | "40P01" | "1213" | "517")
    )
}

/// MySQL 8's `max_execution_time` cancelled the statement (error 3024,
/// SQLSTATE HY000, so only its number tells).
fn is_mysql_timeout(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "mysql")]
    {
        db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|e| e.number() == 3024)
    }
    #[cfg(not(feature = "mysql"))]
    {
        let _ = db;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::constraint_from_message;

    #[test]
    fn constraint_names_are_recovered_from_each_backends_messages() {
        let cases = [
            ("UNIQUE constraint failed: users.email", "users_email_key"),
            (
                "UNIQUE constraint failed: votes.post_id, votes.user_id",
                "votes_pkey",
            ),
            (
                "Duplicate entry 'a@b.co' for key 'users_email_key'",
                "users_email_key",
            ),
            (
                "Duplicate entry 'a@b.co' for key 'users.users_email_key'",
                "users_email_key",
            ),
            ("Duplicate entry '1-2' for key 'PRIMARY'", "votes_pkey"),
            (
                "UNIQUE constraint failed: users.username",
                "users_username_key",
            ),
            (
                "Duplicate entry 'ada' for key 'users_username_key'",
                "users_username_key",
            ),
            (
                "Duplicate entry 'ada' for key 'users.users_username_key'",
                "users_username_key",
            ),
            (
                "Cannot add or update a child row: a foreign key constraint fails (`t`.`follows`, \
                 CONSTRAINT `follows_followee_id_fkey` FOREIGN KEY (`followee_id`) REFERENCES `users` (`id`) ON DELETE CASCADE)",
                "follows_followee_id_fkey",
            ),
            (
                "Cannot add or update a child row: a foreign key constraint fails (`t`.`comments`, \
                 CONSTRAINT `comments_post_id_fkey` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE CASCADE)",
                "comments_post_id_fkey",
            ),
            (
                "Cannot add or update a child row: a foreign key constraint fails (`t`.`votes`, \
                 CONSTRAINT `votes_post_id_fkey` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`))",
                "votes_post_id_fkey",
            ),
        ];
        for (message, name) in cases {
            assert_eq!(constraint_from_message(message), name, "{message}");
        }
    }
}
