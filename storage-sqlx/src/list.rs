//! Post listings, written once for every backend: only the statements
//! differ (placeholders and the case-insensitive match), so each backend
//! passes its [`ListSql`].

use agora_core::domain::{PostFilter, PostWithVotes};
use agora_core::storage::StorageResult;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use crate::error::map;
use crate::rows::{PostRow, like_pattern};

/// A listing's two statements in one dialect, built with
/// `select_post_page!`. Binds, in order: viewer, before, (search pattern,)
/// limit, skip.
pub(crate) struct ListSql {
    /// Every visible post.
    pub(crate) all: &'static str,
    /// Visible posts whose title contains the bound `LIKE` pattern,
    /// case-insensitively (escape character `\`).
    pub(crate) search: &'static str,
}

/// Every visible post, with `?` placeholders (SQLite and MySQL).
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) const POSITIONAL_ALL: &str = select_post_page!(
    "SELECT id FROM posts WHERE (published OR owner_id = ?) AND id < ? \
     ORDER BY id DESC LIMIT ? OFFSET ?"
);

/// A page of posts visible to `filter.viewer`, as `PostStore::list_posts`
/// describes it. Two static statements rather than `(? IS NULL OR ...)`, so
/// each gets its own plan (PostgreSQL's trigram index serves only the
/// search).
pub(crate) async fn list_posts<DB>(
    pool: &Pool<DB>,
    sql: &ListSql,
    filter: &PostFilter,
) -> StorageResult<Vec<PostWithVotes>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'r> PostRow: FromRow<'r, DB::Row>,
    DB::Arguments: IntoArguments<DB>,
{
    let query = match &filter.search {
        None => sqlx::query_as::<DB, PostRow>(sql.all)
            .bind(filter.viewer.0)
            .bind(filter.before),
        Some(search) => sqlx::query_as::<DB, PostRow>(sql.search)
            .bind(filter.viewer.0)
            .bind(filter.before)
            .bind(like_pattern(search)),
    };
    let rows = query
        .bind(i64::from(filter.limit))
        .bind(i64::try_from(filter.skip).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(map)?;
    Ok(rows.into_iter().map(PostWithVotes::from).collect())
}
