//! The store, written once for every backend: [`impl_store!`] gives a
//! backend's store type every storage trait from its dialect's statements
//! (see [`crate::sql`]), so a backend module holds only how to connect.

/// Implements [`agora_core::storage::Store`] and every trait it needs for
/// `$store` (a type with a `pool: sqlx::Pool<$db>` field) with the
/// statements `$sql` (a [`crate::sql::Sql`] const). `ids` says how an insert
/// learns its row's id, as `$sql` was built for (checked when compiling):
/// `returning` (`INSERT ... RETURNING id`) or `last_insert_id` (from the
/// connection, MySQL's `LAST_INSERT_ID()`).
macro_rules! impl_store {
    ($store:ident, $db:ty, $sql:path, ids: returning) => {
        const _: () = assert!($sql.inserts_return_ids, "the inserts must end in RETURNING id");
        $crate::store::impl_store!(@impl $store, $db, $sql, returning);
    };
    ($store:ident, $db:ty, $sql:path, ids: last_insert_id) => {
        const _: () = assert!(!$sql.inserts_return_ids, "the inserts must not return ids");
        $crate::store::impl_store!(@impl $store, $db, $sql, last_insert_id);
    };
    (@impl $store:ident, $db:ty, $sql:path, $ids:ident) => {
        $crate::sessions::impl_session_store!($store, $db, $sql);

        mod store {
            use agora_core::domain::{
                Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, User, UserId,
            };
            use agora_core::storage::{
                PostStore, StorageResult, Store, UserStore, VoteStore,
            };
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};

            use super::$store;
            use $sql as SQL;
            use crate::error::map;
            use crate::rows::{PostRow, UserRow, like_pattern};

            #[async_trait]
            impl UserStore for $store {
                async fn create_user(
                    &self,
                    email: &Email,
                    password_hash: &str,
                    created_at: DateTime<Utc>,
                ) -> StorageResult<User> {
                    let insert = sqlx::query(SQL.insert_user)
                        .bind(email.as_str())
                        .bind(password_hash)
                        .bind(created_at);
                    let id = $crate::store::inserted_id!($ids, insert, &self.pool);
                    Ok(User {
                        id: UserId(id),
                        email: Some(email.clone()),
                        created_at,
                    })
                }

                async fn get_user(&self, id: UserId) -> StorageResult<Option<User>> {
                    let row: Option<UserRow> = sqlx::query_as(SQL.get_user)
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(User::from))
                }

                async fn delete_user(&self, id: UserId) -> StorageResult<bool> {
                    delete(&self.pool, SQL.delete_user, id.0).await
                }
            }

            #[async_trait]
            impl PostStore for $store {
                async fn create_post(
                    &self,
                    owner: &User,
                    draft: &PostDraft,
                    created_at: DateTime<Utc>,
                ) -> StorageResult<Post> {
                    let insert = sqlx::query(SQL.insert_post)
                        .bind(&draft.title)
                        .bind(&draft.content)
                        .bind(draft.published)
                        .bind(created_at)
                        .bind(owner.id.0);
                    let id = $crate::store::inserted_id!($ids, insert, &self.pool);
                    Ok(Post::new(PostId(id), draft, created_at, owner))
                }

                async fn get_post(&self, id: PostId) -> StorageResult<Option<PostWithVotes>> {
                    let row: Option<PostRow> = sqlx::query_as(SQL.get_post)
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(PostWithVotes::from))
                }

                /// Two static statements rather than `(? IS NULL OR ...)`,
                /// so each gets its own plan (PostgreSQL's trigram index
                /// serves only the search).
                async fn list_posts(
                    &self,
                    filter: &PostFilter,
                ) -> StorageResult<Vec<PostWithVotes>> {
                    let query = match &filter.search {
                        None => sqlx::query_as::<_, PostRow>(SQL.list_posts)
                            .bind(filter.viewer.0)
                            .bind(filter.before),
                        Some(search) => sqlx::query_as::<_, PostRow>(SQL.search_posts)
                            .bind(filter.viewer.0)
                            .bind(filter.before)
                            .bind(like_pattern(search)),
                    };
                    let rows = query
                        .bind(i64::from(filter.limit))
                        .bind(i64::try_from(filter.skip).unwrap_or(i64::MAX))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(rows.into_iter().map(PostWithVotes::from).collect())
                }

                /// Reads the post back in the same transaction: the update
                /// holds its row, and a missing row is what tells a missing
                /// post (MySQL counts changed rows, not matched ones, so an
                /// update writing identical values changes none).
                async fn update_post(
                    &self,
                    id: PostId,
                    draft: &PostDraft,
                ) -> StorageResult<Option<Post>> {
                    let mut tx = self.pool.begin().await.map_err(map)?;
                    sqlx::query(SQL.update_post)
                        .bind(&draft.title)
                        .bind(&draft.content)
                        .bind(draft.published)
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                    let row: Option<PostRow> = sqlx::query_as(SQL.get_post)
                        .bind(id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map)?;
                    tx.commit().await.map_err(map)?;
                    Ok(row.map(|r| PostWithVotes::from(r).post))
                }

                async fn delete_post(&self, id: PostId) -> StorageResult<bool> {
                    delete(&self.pool, SQL.delete_post, id.0).await
                }
            }

            #[async_trait]
            impl VoteStore for $store {
                async fn add_vote(&self, user: UserId, post: PostId) -> StorageResult<()> {
                    sqlx::query(SQL.insert_vote)
                        .bind(post.0)
                        .bind(user.0)
                        .execute(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(())
                }

                async fn remove_vote(&self, user: UserId, post: PostId) -> StorageResult<bool> {
                    let done = sqlx::query(SQL.delete_vote)
                        .bind(post.0)
                        .bind(user.0)
                        .execute(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(done.rows_affected() > 0)
                }
            }

            #[async_trait]
            impl Store for $store {
                async fn ping(&self) -> StorageResult<()> {
                    sqlx::query(SQL.ping)
                        .execute(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(())
                }

                fn backend(&self) -> &'static str {
                    SQL.backend
                }
            }

            /// Runs a `DELETE` by id; whether it removed a row.
            async fn delete(
                pool: &sqlx::Pool<$db>,
                statement: &'static str,
                id: i64,
            ) -> StorageResult<bool> {
                let done = sqlx::query(statement)
                    .bind(id)
                    .execute(pool)
                    .await
                    .map_err(map)?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

/// The id of the row that the insert `$query` adds on `$pool`: read from
/// its `RETURNING id` (`returning`), or from the connection
/// (`last_insert_id`, MySQL's `LAST_INSERT_ID()`).
macro_rules! inserted_id {
    (returning, $query:expr, $pool:expr) => {{
        let row = $query.fetch_one($pool).await.map_err($crate::error::map)?;
        sqlx::Row::try_get::<i64, _>(&row, 0).map_err($crate::error::map)?
    }};
    (last_insert_id, $query:expr, $pool:expr) => {{
        let done = $query.execute($pool).await.map_err($crate::error::map)?;
        i64::try_from(done.last_insert_id())
            .map_err(|e| agora_core::storage::StorageError::Other(Box::new(e)))?
    }};
}

pub(crate) use {impl_store, inserted_id};
