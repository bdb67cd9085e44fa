//! Deep pages of the post listing on every backend: a listing that skips
//! far starts from the per-block counts of `post_blocks` (kept by triggers),
//! and must return exactly the page a walk over every post returns, after
//! every kind of write, and with the counts still exact after concurrent
//! writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use agora_core::domain::{Email, PostDraft, PostFilter, PostId, User, UserId, now};
use agora_core::storage::Store;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

/// A connection of the test's own to its database, for what the store does
/// not offer: seeding in bulk and reading every post and every count.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// A post as the walk sees it: id, published, owner.
type PostRow = (i64, bool, i64);

impl Raw {
    async fn connect(db: &TestDatabase) -> Raw {
        match db.backend() {
            Backend::Sqlite => Raw::Sqlite(
                sqlx::SqlitePool::connect(db.url())
                    .await
                    .expect("test database opens"),
            ),
            Backend::Postgres => Raw::Postgres(
                sqlx::PgPool::connect(db.url())
                    .await
                    .expect("test database opens"),
            ),
            Backend::MySql => Raw::MySql(
                sqlx::MySqlPool::connect(db.url())
                    .await
                    .expect("test database opens"),
            ),
        }
    }

    async fn execute(&self, sql: String) {
        let sql = sqlx::AssertSqlSafe(sql);
        match self {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Raw::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Raw::MySql(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .expect("statement runs");
    }

    /// Every post, newest first.
    async fn posts(&self) -> Vec<PostRow> {
        const SQL: &str = "SELECT id, published, owner_id FROM posts ORDER BY id DESC";
        match self {
            Raw::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
            Raw::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
            Raw::MySql(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        }
        .expect("posts read")
    }

    /// The non-zero counts of `post_blocks`, by (block, shard).
    async fn counts(&self) -> BTreeMap<(i64, i64), i64> {
        const SQL: &str = "SELECT block, shard, visible FROM post_blocks WHERE visible <> 0";
        let rows: Vec<(i64, i64, i64)> = match self {
            Raw::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
            Raw::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
            Raw::MySql(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        }
        .expect("counts read");
        rows.into_iter().map(|(b, s, n)| ((b, s), n)).collect()
    }

    /// How many 8 KiB pages `post_blocks` takes on PostgreSQL (`None`
    /// elsewhere: SQLite and InnoDB update a row in place).
    async fn post_blocks_pages(&self) -> Option<i64> {
        const SQL: &str = "SELECT pg_relation_size('post_blocks') / 8192";
        match self {
            Raw::Postgres(pool) => Some(
                sqlx::query_scalar(SQL)
                    .fetch_one(pool)
                    .await
                    .expect("size read"),
            ),
            Raw::Sqlite(_) | Raw::MySql(_) => None,
        }
    }

    /// The counts `post_blocks` should hold for the posts there are.
    async fn expected_counts(&self) -> BTreeMap<(i64, i64), i64> {
        let mut counts = BTreeMap::new();
        for (id, published, _) in self.posts().await {
            if published {
                *counts.entry((id >> 13, id & 31)).or_insert(0) += 1;
            }
        }
        counts
    }
}

async fn user(store: &dyn Store, name: &str) -> User {
    let email = Email::parse(&format!("{name}@example.com")).expect("valid email");
    store
        .create_user(&email, None, "$h", now())
        .await
        .expect("user created")
}

fn draft(published: bool) -> PostDraft {
    PostDraft {
        title: "a title".to_owned(),
        content: "some content".to_owned(),
        published,
        description: None,
        tags: None,
    }
}

fn listing(viewer: Option<UserId>, skip: u64, limit: u32) -> PostFilter {
    PostFilter {
        viewer,
        feed: false,
        tag: None,
        author: None,
        voted_by: None,
        limit,
        skip,
        before: i64::MAX,
        search: None,
    }
}

/// Seeds 30,000 posts (four blocks of 8,192 ids) in one statement (a cross join of digit tables):
/// the owners take turns, every seventh post is a draft.
async fn seed(raw: &Raw, owners: [&User; 3]) {
    let digits = "(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let [a, b, c] = owners.map(|u| u.id.0);
    raw.execute(format!(
        "INSERT INTO posts (title, content, published, created_at, owner_id) \
         SELECT 'seeded', 'seeded', (s.n % 7) <> 0, (SELECT MIN(created_at) FROM users), \
         CASE s.n % 3 WHEN 0 THEN {a} WHEN 1 THEN {b} ELSE {c} END \
         FROM (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * d.n + 10000 * e.n AS n \
         FROM {digits} a, {digits} b, {digits} c, {digits} d, \
         (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2) e) s ORDER BY s.n"
    ))
    .await;
}

/// Every deep page the store returns, for each viewer and skip, is the page
/// a walk over every post returns.
async fn assert_pages_match_the_walk(store: &dyn Store, raw: &Raw, viewers: &[Option<UserId>]) {
    let posts = raw.posts().await;
    for &viewer in viewers {
        let visible: Vec<i64> = posts
            .iter()
            .filter(|(_, published, owner)| *published || Some(UserId(*owner)) == viewer)
            .map(|(id, _, _)| *id)
            .collect();
        let n = visible.len() as u64;
        let mut skips = vec![8_192, 8_193, 10_000, 16_383, 16_384, 20_000, 25_000];
        skips.extend([n.saturating_sub(7), n.saturating_sub(1), n, n + 1, 1 << 40]);
        for skip in skips {
            let page = store
                .list_posts(&listing(viewer, skip, 10))
                .await
                .expect("page listed");
            let got: Vec<i64> = page.iter().map(|p| p.post.id.0).collect();
            let expected: Vec<i64> = visible
                .iter()
                .copied()
                .skip(skip as usize)
                .take(10)
                .collect();
            assert_eq!(got, expected, "viewer {viewer:?}, skip={skip}");
        }
    }
}

/// A store on every configured backend, with three users and their
/// [`seed`]ed posts.
async fn seeded_stores() -> Vec<(Arc<dyn Store>, Raw, TestDatabase, [User; 3])> {
    let mut stores = Vec::new();
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let store = agora_sqlx::connect(db.url(), &agora_sqlx::PoolConfig::default())
            .await
            .expect("test database opens");
        let raw = Raw::connect(&db).await;
        let users = [
            user(&*store, "a").await,
            user(&*store, "b").await,
            user(&*store, "c").await,
        ];
        seed(&raw, [&users[0], &users[1], &users[2]]).await;
        stores.push((store, raw, db, users));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_pages_are_the_walks_pages_after_every_kind_of_write() {
    for (store, raw, db, [a, b, c]) in seeded_stores().await {
        let backend = db.backend().name();
        assert_eq!(
            raw.counts().await,
            raw.expected_counts().await,
            "{backend}: seeded"
        );
        // One statement wrote each of the 128 (block, shard) rows once, not
        // once per post (30,000 versions: about 160 pages).
        if let Some(pages) = raw.post_blocks_pages().await {
            assert!(pages <= 2, "{backend}: post_blocks takes {pages} pages");
        }
        let viewers = [None, Some(a.id), Some(c.id)];
        assert_pages_match_the_walk(&*store, &raw, &viewers).await;

        // Publish drafts and unpublish posts in several blocks.
        let before = raw.posts().await;
        for id in [7_i64, 8, 8_190, 8_195, 16_387, 16_390, 24_577, 29_990] {
            let published = before.iter().find(|p| p.0 == id).expect("seeded post").1;
            let post = store
                .update_post(PostId(id), &draft(!published), now())
                .await
                .expect("post updated");
            assert!(post.is_some(), "{backend}: post {id} exists");
        }
        // Deleted posts, a published one and a draft.
        for id in [3_i64, 8_192, 14, 20_001, 20_006] {
            assert!(store.delete_post(PostId(id)).await.expect("post deleted"));
        }
        // New posts, published and not.
        for published in [true, false, true] {
            store
                .create_post(&b, &draft(published), now())
                .await
                .expect("post created");
        }
        assert_eq!(
            raw.counts().await,
            raw.expected_counts().await,
            "{backend}: after writes"
        );
        assert_pages_match_the_walk(&*store, &raw, &viewers).await;

        // A deleted user's posts go with them (a cascade on PostgreSQL and
        // SQLite, a trigger on MySQL).
        assert!(store.delete_user(b.id).await.expect("user deleted"));
        assert_eq!(
            raw.counts().await,
            raw.expected_counts().await,
            "{backend}: user deleted"
        );
        // The cascade deleted 10,000 posts in one statement: one more
        // version of each row at most.
        if let Some(pages) = raw.post_blocks_pages().await {
            assert!(pages <= 4, "{backend}: post_blocks takes {pages} pages");
        }
        assert_pages_match_the_walk(&*store, &raw, &viewers).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_post_writes_leave_exact_block_counts() {
    for (store, raw, db, [a, b, c]) in seeded_stores().await {
        let backend = db.backend().name();
        let writes = (0..100_i64).map(|i| {
            let store = store.clone();
            let owner = [&a, &b, &c][(i % 3) as usize].clone();
            async move {
                match i % 4 {
                    0 | 1 => store
                        .create_post(&owner, &draft(i % 8 != 1), now())
                        .await
                        .map(drop),
                    // Each post toggled by one writer, some deleted by another.
                    2 => store
                        .update_post(PostId(8_000 + i), &draft(i % 7 == 0), now())
                        .await
                        .map(drop),
                    _ => store.delete_post(PostId(8_000 + i - 1)).await.map(drop),
                }
            }
        });
        let handles: Vec<_> = writes.map(tokio::spawn).collect();
        for handle in handles {
            handle.await.expect("writer ran").expect("write succeeded");
        }
        assert_eq!(raw.counts().await, raw.expected_counts().await, "{backend}");
        assert_pages_match_the_walk(&*store, &raw, &[None, Some(a.id)]).await;
    }
}
