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

use agora_core::domain::{PostFilter, Tag, UserId};
use agora_core::storage::PostStore;
use agora_sqlx::postgres::PgStore;
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
