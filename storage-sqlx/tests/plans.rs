//! Issue 20: on PostgreSQL a listing's first page is one statement for
//! every page size, planned once (the connection keeps a generic plan for
//! it), not again at every request. With the page size bound as a parameter
//! alone, PostgreSQL estimated a tenth of the rows for the generic plan and
//! so planned each execution anew, which was most of a tag page's database
//! time at 1M posts (BENCHMARKS.md, issue 20 round eleven); with the page
//! size as a literal, each size was a statement of its own, prepared and
//! planned anew by clients that vary it (round twelve). Read from
//! `pg_prepared_statements` of the store's only connection; skipped without
//! `AGORA_TEST_POSTGRES_URL`.
//!
//! On SQLite a newest page must walk the newest posts only, whatever the
//! table's size: a listing statement without the cursor's condition walked
//! every post (BENCHMARKS.md round twelve). Counted in SQLite's virtual
//! machine instructions (its progress handler), not in time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agora_core::domain::{PostFilter, Tag, UserId};
use agora_core::storage::PostStore;
use agora_sqlx::postgres::PgStore;
use agora_sqlx::sqlite::SqliteStore;
use agora_sqlx::testing::TestDatabase;
use agora_sqlx::{Backend, PoolConfig};

#[tokio::test]
async fn tag_pages_of_every_size_are_one_statement_planned_once_on_postgres() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let pool = PoolConfig {
        max_connections: 1,
        ..PoolConfig::default()
    };
    let store = PgStore::connect(db.url(), &pool).await.expect("connects");
    // 20,000 posts of 100 users, a tenth of them drafts, every 100th
    // tagged `t7`: enough rows that a bound `id < i64::MAX` priced the
    // generic plan above the custom ones (10 custom plans in 10).
    for statement in [
        "INSERT INTO users (email, password_hash, created_at) \
         SELECT 'user' || i || '@example.com', 'x', now() FROM generate_series(1, 100) AS s(i)",
        "INSERT INTO posts (title, content, published, created_at, owner_id) \
         SELECT 'post ' || i, 'text', i % 10 <> 3, now(), (SELECT min(id) FROM users) + i % 100 \
         FROM generate_series(1, 20000) AS s(i)",
        "INSERT INTO post_tags (post_id, tag) SELECT id, 't' || (id % 100) FROM posts",
        "ANALYZE users, posts, post_tags",
    ] {
        sqlx::query(statement)
            .execute(store.pool())
            .await
            .expect("seeds");
    }
    let (viewer,): (i64,) = sqlx::query_as("SELECT min(id) FROM users")
        .fetch_one(store.pool())
        .await
        .expect("the user");
    let newest_tagged: Vec<(i64,)> = sqlx::query_as(
        "SELECT p.id FROM post_tags t JOIN posts p ON p.id = t.post_id WHERE t.tag = 't7' \
         AND (p.published OR p.owner_id = $1) ORDER BY p.id DESC LIMIT 50",
    )
    .bind(viewer)
    .fetch_all(store.pool())
    .await
    .expect("the newest tagged posts");
    for limit in [10, 3, 25, 10, 1, 7, 10, 50, 2, 10] {
        let filter = PostFilter {
            viewer: Some(UserId(viewer)),
            feed: false,
            tag: Some(Tag::parse("t7").expect("a tag")),
            author: None,
            voted_by: None,
            limit,
            skip: 0,
            before: i64::MAX,
            search: None,
        };
        let page = store.list_posts(&filter).await.expect("lists");
        let ids: Vec<i64> = page.iter().map(|p| p.post.id.0).collect();
        let expected: Vec<i64> = newest_tagged[..limit as usize]
            .iter()
            .map(|(id,)| *id)
            .collect();
        assert_eq!(ids, expected, "limit={limit}");
    }
    let statements: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE statement LIKE '%JOIN post_tags t ON t.post_id = p.id AND t.tag = %' \
         AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .fetch_all(store.pool())
    .await
    .expect("the tag page's prepared statements");
    assert_eq!(
        statements.len(),
        1,
        "ten tag pages of seven sizes were {} statements: {statements:?}",
        statements.len()
    );
    let (generic, custom) = statements[0];
    // PostgreSQL tries five custom plans before it weighs the generic one.
    assert!(
        generic >= 5 && custom <= 5,
        "the tag page was planned {custom} times in 10 executions ({generic} generic)"
    );
}

/// Posts `from..=to` of the 100 seeded users, a tenth of them drafts, the
/// ones whose id ends in 07 tagged `t7`, inserted in one statement.
async fn seed_posts(store: &SqliteStore, from: i64, to: i64) {
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM s WHERE i < ?2) \
         INSERT INTO posts (title, content, published, created_at, owner_id) \
         SELECT 'post ' || i, 'text', i % 10 <> 3, '2026-12-06T00:00:00Z', \
         (SELECT min(id) FROM users) + i % 100 FROM s",
    )
    .bind(from)
    .bind(to)
    .execute(store.pool())
    .await
    .expect("seeds posts");
    sqlx::query(
        "INSERT INTO post_tags (post_id, tag) SELECT id, 't' || (id % 100) FROM posts \
         WHERE id NOT IN (SELECT post_id FROM post_tags)",
    )
    .execute(store.pool())
    .await
    .expect("tags them");
}

#[tokio::test]
async fn newest_pages_cost_the_same_at_any_table_size_on_sqlite() {
    let db = TestDatabase::create(Backend::Sqlite)
        .await
        .expect("SQLite needs no server");
    let pool = PoolConfig {
        max_connections: 1,
        ..PoolConfig::default()
    };
    let store = SqliteStore::connect(db.url(), &pool)
        .await
        .expect("connects");
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100) \
         INSERT INTO users (email, password_hash, created_at) \
         SELECT 'user' || i || '@example.com', 'x', '2026-12-06T00:00:00Z' FROM s",
    )
    .execute(store.pool())
    .await
    .expect("seeds users");
    let (viewer,): (i64,) = sqlx::query_as("SELECT min(id) FROM users")
        .fetch_one(store.pool())
        .await
        .expect("the user");
    // One tick per 10 instructions of the store's only connection.
    let ticks = Arc::new(AtomicU64::new(0));
    {
        let counter = Arc::clone(&ticks);
        let mut connection = store.pool().acquire().await.expect("the connection");
        connection
            .lock_handle()
            .await
            .expect("its handle")
            .set_progress_handler(10, move || {
                counter.fetch_add(1, Ordering::Relaxed);
                true
            });
    }
    let pages = [
        ("list", None),
        ("tag", Some(Tag::parse("t7").expect("a tag"))),
    ];
    let cost = |tag: Option<Tag>| {
        let (store, ticks) = (&store, &ticks);
        async move {
            let filter = PostFilter {
                viewer: Some(UserId(viewer)),
                feed: false,
                tag,
                author: None,
                voted_by: None,
                limit: 10,
                skip: 0,
                before: i64::MAX,
                search: None,
            };
            let before = ticks.load(Ordering::Relaxed);
            let page = store.list_posts(&filter).await.expect("lists");
            assert_eq!(page.len(), 10);
            ticks.load(Ordering::Relaxed) - before
        }
    };
    seed_posts(&store, 1, 2_000).await;
    let mut small = Vec::new();
    for (_, tag) in &pages {
        small.push(cost(tag.clone()).await);
    }
    seed_posts(&store, 2_001, 40_000).await;
    for ((name, tag), small) in pages.iter().zip(small) {
        let large = cost(tag.clone()).await;
        assert!(
            small > 0 && large < 2 * small,
            "the newest {name} page took {large} tens of instructions at 40,000 posts \
             against {small} at 2,000"
        );
    }
}
