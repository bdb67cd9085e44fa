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
            use std::collections::BTreeSet;

            use agora_core::domain::{
                Comment, CommentId, Email, Post, PostDraft, PostFilter, PostId, PostWithVotes,
                ProfileChange, Tag, TagCount, User, UserId, Username,
            };
            use agora_core::storage::{
                CommentStore, FollowStore, PostStore, StorageResult, Store, UserStore,
                VoteStore,
            };
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};

            use super::$store;
            use $sql as SQL;
            use crate::error::map;
            use crate::rows::{
                CommentRow, FollowedUserRow, PostRow, TagCountRow, UserRow,
            };
            use crate::sessions::retrying;

            type Tx<'c> = sqlx::Transaction<'c, $db>;

            #[async_trait]
            impl UserStore for $store {
                async fn create_user(
                    &self,
                    email: &Email,
                    username: Option<&Username>,
                    password_hash: &str,
                    created_at: DateTime<Utc>,
                ) -> StorageResult<User> {
                    let insert = sqlx::query(SQL.insert_user)
                        .bind(email.as_str())
                        .bind(password_hash)
                        .bind(created_at)
                        .bind(username.map(Username::as_str));
                    let id = $crate::store::inserted_id!($ids, insert, &self.pool);
                    Ok(User::new(UserId(id), email.clone(), username.cloned(), created_at))
                }

                async fn get_user(&self, id: UserId) -> StorageResult<Option<User>> {
                    let row: Option<UserRow> = sqlx::query_as(SQL.get_user)
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(User::from))
                }

                /// One `UPDATE` setting each field to `CASE WHEN <given>
                /// THEN <value> ELSE <itself> END`, so a field left out keeps
                /// whatever a concurrent update wrote; read back in the same
                /// transaction, which holds the row.
                async fn update_profile(
                    &self,
                    id: UserId,
                    change: &ProfileChange,
                ) -> StorageResult<Option<User>> {
                    let username = change
                        .username
                        .as_ref()
                        .map(|u| u.as_ref().map(Username::as_str));
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        sqlx::query(SQL.update_profile)
                            .bind(username.is_some())
                            .bind(username.flatten())
                            .bind(change.bio.is_some())
                            .bind(change.bio.as_ref().and_then(Option::as_deref))
                            .bind(change.image.is_some())
                            .bind(change.image.as_ref().and_then(Option::as_deref))
                            .bind(id.0)
                            .execute(&mut *tx)
                            .await?;
                        let row: Option<UserRow> = sqlx::query_as(SQL.get_user)
                            .bind(id.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(row.map(User::from))
                    })
                    .await
                }

                async fn find_by_username(
                    &self,
                    username: &Username,
                    viewer: Option<UserId>,
                ) -> StorageResult<Option<(User, bool)>> {
                    let row: Option<FollowedUserRow> = sqlx::query_as(SQL.find_by_username)
                        .bind(viewer.map(|v| v.0))
                        .bind(username.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(Into::into))
                }

                /// One transaction: the user's posts locked, their tags'
                /// counts lowered, the user deleted (the rest cascades).
                async fn delete_user(&self, id: UserId) -> StorageResult<bool> {
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        sqlx::query(SQL.lock_user_posts)
                            .bind(id.0)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(SQL.uncount_tags_of_user)
                            .bind(id.0)
                            .bind(id.0)
                            .execute(&mut *tx)
                            .await?;
                        let done = sqlx::query(SQL.delete_user)
                            .bind(id.0)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(done.rows_affected() > 0)
                    })
                    .await
                }
            }

            #[async_trait]
            impl PostStore for $store {
                /// The post, its tags and, when it is published, their
                /// counts, in one transaction (the post alone when it has
                /// no tags).
                async fn create_post(
                    &self,
                    owner: &User,
                    draft: &PostDraft,
                    created_at: DateTime<Utc>,
                ) -> StorageResult<Post> {
                    let tags: BTreeSet<&Tag> = draft.tags.iter().flatten().collect();
                    let insert = || {
                        sqlx::query(SQL.insert_post)
                            .bind(&draft.title)
                            .bind(&draft.content)
                            .bind(draft.published)
                            .bind(created_at)
                            .bind(owner.id.0)
                            .bind(draft.description.as_deref())
                    };
                    let id = if tags.is_empty() {
                        $crate::store::inserted_id!($ids, insert(), &self.pool)
                    } else {
                        retrying(|| async {
                            let mut tx = self.pool.begin().await?;
                            let id = $crate::store::inserted_id!(@raw $ids, insert(), &mut *tx);
                            insert_tags(&mut tx, id, &tags).await?;
                            if draft.published {
                                sqlx::query(SQL.count_tags_of_post)
                                    .bind(id)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            tx.commit().await?;
                            Ok(id)
                        })
                        .await?
                    };
                    let mut post = Post::new(PostId(id), draft, created_at, owner);
                    post.tags = tags.into_iter().cloned().collect();
                    Ok(post)
                }

                async fn get_post(
                    &self,
                    id: PostId,
                    viewer: Option<UserId>,
                ) -> StorageResult<Option<PostWithVotes>> {
                    let row: Option<PostRow> = sqlx::query_as(SQL.get_post)
                        .bind(viewer.map(|v| v.0))
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(PostWithVotes::from))
                }

                /// The statement is built for the filters given (each set
                /// of filters is its own statement text, so each gets its
                /// own cached plan: PostgreSQL's trigram index serves the
                /// searches, and no `(? IS NULL OR ...)` hides an index).
                /// The page's ids are picked by an inner query ordered by
                /// the column of the index that drives the filter
                /// (`post_tags (tag, post_id)` for a tag, `votes (user_id,
                /// post_id)` for a voter, else the posts' id, with `posts
                /// (owner_id, id)` for an author; a feed probes `follows`
                /// for each post, see `Sql::feed_join`), then joined with
                /// owners, tags and counts for the page only. A listing of
                /// all posts that skips at least a block of ids first finds
                /// the block its page starts in from `post_blocks` (one more
                /// statement), then walks that block only; see
                /// `page_start` in `store.rs`.
                async fn list_posts(
                    &self,
                    filter: &PostFilter,
                ) -> StorageResult<Vec<PostWithVotes>> {
                    let viewer = filter.viewer.map(|v| v.0);
                    if filter.feed && viewer.is_none() {
                        return Ok(Vec::new());
                    }
                    let (mut before, mut skip) = (filter.before, filter.skip);
                    if $crate::store::starts_from_blocks(filter) {
                        let blocks: Vec<(i64, i64)> = match viewer {
                            Some(viewer) => sqlx::query_as(SQL.post_blocks_with_drafts)
                                .bind(viewer)
                                .fetch_all(&self.pool)
                                .await,
                            None => sqlx::query_as(SQL.post_blocks).fetch_all(&self.pool).await,
                        }
                        .map_err(map)?;
                        match $crate::store::page_start(&blocks, skip) {
                            Some(start) => (before, skip) = start,
                            None => return Ok(Vec::new()),
                        }
                    }
                    let (user_pre, user_post) = SQL.username_is;
                    let key = if filter.tag.is_some() {
                        "t.post_id"
                    } else if filter.voted_by.is_some() {
                        "vb.post_id"
                    } else {
                        "p.id"
                    };
                    let capped = SQL.capped_first_page
                        && $crate::store::planned_once(filter, skip)
                        && filter.limit <= agora_core::schema::LIST_LIMIT_MAX;
                    let mut query = sqlx::QueryBuilder::<$db>::new(SQL.post_page_head);
                    query.push_bind(viewer).push(SQL.post_page_from);
                    if capped {
                        query.push("SELECT id FROM (");
                    }
                    let all_posts = $crate::store::lists_all_posts(filter);
                    query
                        .push("SELECT ")
                        .push(key)
                        .push(" AS id FROM ")
                        .push(if all_posts { SQL.all_posts } else { "posts p" });
                    if let Some(tag) = &filter.tag {
                        query
                            .push(" JOIN post_tags t ON t.post_id = p.id AND t.tag = ")
                            .push_bind(tag.as_str());
                    }
                    if let Some(voter) = &filter.voted_by {
                        query
                            .push(" JOIN votes vb ON vb.post_id = p.id AND vb.user_id = (SELECT id FROM users WHERE ")
                            .push(user_pre)
                            .push_bind(voter.as_str())
                            .push(user_post)
                            .push(")");
                    }
                    if filter.feed {
                        query
                            .push(" ")
                            .push(SQL.feed_join)
                            .push(" follows f ON f.followee_id = p.owner_id AND f.follower_id = ")
                            .push_bind(viewer);
                    }
                    match viewer {
                        Some(viewer) if !filter.feed => {
                            query
                                .push(" WHERE (p.published OR p.owner_id = ")
                                .push_bind(viewer)
                                .push(")");
                        }
                        // Anonymous viewers, and the feed, see published posts only.
                        _ => {
                            query.push(" WHERE p.published");
                        }
                    }
                    // No bound for the newest page planned once: `< i64::MAX`
                    // would be estimated at a third of the rows in a generic
                    // plan. (Searches keep it: it leads PostgreSQL to walk the
                    // newest posts for a common term. SQLite and MariaDB keep
                    // it too: without it, and with the page size bound,
                    // SQLite walked every post, BENCHMARKS.md round twelve.)
                    if before != i64::MAX || !capped {
                        query.push(" AND ").push(key).push(" < ").push_bind(before);
                    }
                    if let Some(author) = &filter.author {
                        query
                            .push(" AND p.owner_id = (SELECT id FROM users WHERE ")
                            .push(user_pre)
                            .push_bind(author.as_str())
                            .push(user_post)
                            .push(")");
                    }
                    if let Some(search) = &filter.search {
                        let (title_pre, title_post) = SQL.title_contains;
                        query
                            .push(" AND ")
                            .push(title_pre)
                            .push_bind((SQL.title_pattern)(search))
                            .push(title_post);
                    }
                    query.push(" ORDER BY ").push(key).push(" DESC LIMIT ");
                    if capped {
                        // No OFFSET, and the page size bound under a literal
                        // cap: see `planned_once` and `Sql::capped_first_page`.
                        query
                            .push(agora_core::schema::LIST_LIMIT_MAX)
                            .push(") capped ORDER BY id DESC LIMIT ")
                            .push_bind(i64::from(filter.limit));
                    } else {
                        query
                            .push_bind(i64::from(filter.limit))
                            .push(" OFFSET ")
                            .push_bind(i64::try_from(skip).unwrap_or(i64::MAX));
                    }
                    query.push(SQL.post_page_tail);
                    let rows = query
                        .build_query_as::<PostRow>()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(rows.into_iter().map(PostWithVotes::from).collect())
                }

                /// One transaction: the post's row locked, its tags taken
                /// from their counts if it was published, the update
                /// (description only when given), the tags replaced when
                /// given, counted again if it is published, and the post
                /// read back. A missing row is what tells a missing post
                /// (MySQL counts changed rows, not matched ones).
                async fn update_post(
                    &self,
                    id: PostId,
                    draft: &PostDraft,
                    updated_at: DateTime<Utc>,
                ) -> StorageResult<Option<Post>> {
                    let tags: Option<BTreeSet<&Tag>> =
                        draft.tags.as_ref().map(|tags| tags.iter().collect());
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        let Some(was_published) = lock_post(&mut tx, id.0).await? else {
                            return Ok(None);
                        };
                        if was_published {
                            sqlx::query(SQL.uncount_tags_of_post)
                                .bind(id.0)
                                .execute(&mut *tx)
                                .await?;
                        }
                        sqlx::query(SQL.update_post)
                            .bind(&draft.title)
                            .bind(&draft.content)
                            .bind(draft.published)
                            .bind(draft.description.as_deref())
                            .bind(updated_at)
                            .bind(id.0)
                            .execute(&mut *tx)
                            .await?;
                        if let Some(tags) = &tags {
                            sqlx::query(SQL.delete_tags)
                                .bind(id.0)
                                .execute(&mut *tx)
                                .await?;
                            insert_tags(&mut tx, id.0, tags).await?;
                        }
                        if draft.published {
                            sqlx::query(SQL.count_tags_of_post)
                                .bind(id.0)
                                .execute(&mut *tx)
                                .await?;
                        }
                        let row: Option<PostRow> = sqlx::query_as(SQL.get_post)
                            .bind(None::<i64>)
                            .bind(id.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(row.map(|r| PostWithVotes::from(r).post))
                    })
                    .await
                }

                /// One transaction: the post's row locked, its tags taken
                /// from their counts if it was published, the post deleted
                /// (its tags, votes and comments cascade).
                async fn delete_post(&self, id: PostId) -> StorageResult<bool> {
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        let Some(was_published) = lock_post(&mut tx, id.0).await? else {
                            return Ok(false);
                        };
                        if was_published {
                            sqlx::query(SQL.uncount_tags_of_post)
                                .bind(id.0)
                                .execute(&mut *tx)
                                .await?;
                        }
                        let done = sqlx::query(SQL.delete_post)
                            .bind(id.0)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(done.rows_affected() > 0)
                    })
                    .await
                }

                async fn tags(&self, limit: u32, skip: u64) -> StorageResult<Vec<TagCount>> {
                    let rows: Vec<TagCountRow> = sqlx::query_as(SQL.tag_counts)
                        .bind(i64::from(limit))
                        .bind(i64::try_from(skip).unwrap_or(i64::MAX))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(rows.into_iter().map(TagCount::from).collect())
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
            impl FollowStore for $store {
                /// Insert unless present: concurrent follows leave one edge
                /// and all succeed (a deadlock between them, which InnoDB
                /// may report for concurrent upserts, is retried).
                async fn follow(&self, follower: UserId, followee: UserId) -> StorageResult<()> {
                    retrying(|| {
                        sqlx::query(SQL.insert_follow)
                            .bind(follower.0)
                            .bind(followee.0)
                            .execute(&self.pool)
                    })
                    .await?;
                    Ok(())
                }

                async fn unfollow(&self, follower: UserId, followee: UserId) -> StorageResult<bool> {
                    let done = sqlx::query(SQL.delete_follow)
                        .bind(follower.0)
                        .bind(followee.0)
                        .execute(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(done.rows_affected() > 0)
                }
            }

            #[async_trait]
            impl CommentStore for $store {
                async fn add_comment(
                    &self,
                    post: PostId,
                    author: &User,
                    body: &str,
                    created_at: DateTime<Utc>,
                ) -> StorageResult<Comment> {
                    let insert = sqlx::query(SQL.insert_comment)
                        .bind(post.0)
                        .bind(author.id.0)
                        .bind(body)
                        .bind(created_at);
                    let id = $crate::store::inserted_id!($ids, insert, &self.pool);
                    Ok(Comment {
                        id: CommentId(id),
                        post_id: post,
                        body: body.to_owned(),
                        created_at,
                        author: author.clone(),
                    })
                }

                async fn get_comment(&self, id: CommentId) -> StorageResult<Option<Comment>> {
                    let row: Option<CommentRow> = sqlx::query_as(SQL.get_comment)
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(Comment::from))
                }

                async fn list_comments(
                    &self,
                    post: PostId,
                    after: i64,
                    limit: u32,
                    skip: u64,
                ) -> StorageResult<Vec<Comment>> {
                    let rows: Vec<CommentRow> = sqlx::query_as(SQL.list_comments)
                        .bind(post.0)
                        .bind(after)
                        .bind(i64::from(limit))
                        .bind(i64::try_from(skip).unwrap_or(i64::MAX))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(rows.into_iter().map(Comment::from).collect())
                }

                async fn delete_comment(&self, id: CommentId) -> StorageResult<bool> {
                    delete(&self.pool, SQL.delete_comment, id.0).await
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

                /// One statement: the post's row (NULL columns without a
                /// post), if the session is active.
                async fn active_session_post(
                    &self,
                    user: UserId,
                    session_id: &str,
                    post: PostId,
                    now: DateTime<Utc>,
                ) -> StorageResult<Option<Option<PostWithVotes>>> {
                    use sqlx::{FromRow as _, Row as _};
                    let row = sqlx::query(SQL.active_session_post)
                        .bind(user.0)
                        .bind(post.0)
                        .bind(session_id)
                        .bind(user.0)
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    // Column 0 is the post's id: NULL without the post.
                    match row.try_get::<Option<i64>, _>(0).map_err(map)? {
                        Some(_) => Ok(Some(Some(PostRow::from_row(&row).map_err(map)?.into()))),
                        None => Ok(Some(None)),
                    }
                }

                /// The pool's size and idle connections (sqlx does not
                /// count its waiters: [`crate::BoundedStore`] estimates them).
                fn pool_status(&self) -> Option<agora_core::storage::PoolStatus> {
                    Some(agora_core::storage::PoolStatus {
                        size: self.pool.size(),
                        idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                        max: self.pool.options().get_max_connections(),
                        waiting: 0,
                    })
                }
            }

            /// Adds a post's tags (one statement per tag: at most ten).
            /// Locks the post's row (SQLite: takes the write lock) and
            /// reads whether it is published; `None` when it is gone.
            async fn lock_post(tx: &mut Tx<'_>, post: i64) -> Result<Option<bool>, sqlx::Error> {
                let published: Option<(bool,)> = sqlx::query_as(SQL.lock_post)
                    .bind(post)
                    .fetch_optional(&mut **tx)
                    .await?;
                Ok(published.map(|(p,)| p))
            }

            async fn insert_tags(
                tx: &mut Tx<'_>,
                post: i64,
                tags: &BTreeSet<&Tag>,
            ) -> Result<(), sqlx::Error> {
                for tag in tags {
                    sqlx::query(SQL.insert_tag)
                        .bind(post)
                        .bind(tag.as_str())
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
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

/// Whether a listing is of all the posts the viewer may see: no search,
/// tag, author, voter or feed (a cursor may be given).
pub(crate) fn lists_all_posts(filter: &PostFilter) -> bool {
    !filter.feed
        && filter.tag.is_none()
        && filter.author.is_none()
        && filter.voted_by.is_none()
        && filter.search.is_none()
}

/// Whether a listing finds where its page starts from `post_blocks`: a
/// listing of all posts, from the newest, that skips at least one block of
/// ids. (With a filter or a cursor, `OFFSET` walks the filter's index; such
/// deep listings take a turn, see `BoundedStore`.)
pub(crate) fn starts_from_blocks(filter: &PostFilter) -> bool {
    lists_all_posts(filter) && filter.before == i64::MAX && filter.skip >= 1 << POST_BLOCK_BITS
}

/// Whether a listing's page can be planned once, on a dialect that caps
/// its first pages ([`crate::sql::Sql::capped_first_page`]: PostgreSQL):
/// nothing is left to skip (after the block counts), so the page needs no
/// `OFFSET`, and its walk is capped by a literal with the page size bound
/// on top. PostgreSQL then keeps one generic plan for the statement,
/// whatever the page size, instead of planning every execution: a bound
/// LIMIT or OFFSET alone is estimated at a tenth of the rows, which priced
/// the generic plan above the custom ones, and planning was 0.4 ms of a tag
/// page's 0.6 ms at 1M posts (BENCHMARKS.md, issue 20 rounds eleven and
/// twelve). Every listing but searches, whose plan depends on the term
/// (the trigram index for a rare one, the newest posts first for a common
/// one), and the feed, whose plan depends on how many users the viewer
/// follows.
pub(crate) fn planned_once(filter: &PostFilter, skip: u64) -> bool {
    skip == 0 && filter.search.is_none() && !filter.feed
}

/// Where the page of a listing that skips `skip` posts starts, given the
/// posts the viewer may see per block of ids, newest block first: the id
/// below which it starts (the end of the block holding the first post of
/// the page) and the posts left to skip from there; `None` when there are no
/// more than `skip` posts. The counts come from a statement before the
/// page's own, so a write committed between the two moves the page as it
/// would between two requests.
pub(crate) fn page_start(blocks: &[(i64, i64)], skip: u64) -> Option<(i64, u64)> {
    let mut passed = 0u64;
    for &(block, posts) in blocks {
        let posts = u64::try_from(posts).unwrap_or(0);
        if skip < passed + posts {
            let end = block
                .checked_add(1)
                .and_then(|b| b.checked_mul(1 << POST_BLOCK_BITS))
                .unwrap_or(i64::MAX);
            return Some((end, skip - passed));
        }
        passed += posts;
    }
    None
}

/// The id of the row that the insert `$query` adds on `$pool`: read from
/// its `RETURNING id` (`returning`), or from the connection
/// (`last_insert_id`, MySQL's `LAST_INSERT_ID()`). With `@raw` first, it
/// fails with the `sqlx::Error` itself (inside a transaction that may be
/// retried).
macro_rules! inserted_id {
    (@raw returning, $query:expr, $pool:expr) => {{
        let row = $query.fetch_one($pool).await?;
        sqlx::Row::try_get::<i64, _>(&row, 0)?
    }};
    (@raw last_insert_id, $query:expr, $pool:expr) => {{
        let done = $query.execute($pool).await?;
        i64::try_from(done.last_insert_id()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
    }};
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

use agora_core::domain::PostFilter;

use crate::sql::POST_BLOCK_BITS;
