//! Issue 20: on a database server (PostgreSQL, MariaDB/MySQL, when their
//! `AGORA_TEST_*_URL` is set), an authenticated read of a post makes two
//! round trips on the wire: its one statement and sqlx's own ping when the
//! connection is given back. Agora's bounded ping on return (see
//! `storage-sqlx/src/pool.rs`) comes only after a call was abandoned.
//! Counted by a TCP proxy in front of the database.

use std::time::Duration;

use agora_contract::harness::{Proxy, config_for, token_for, via};
use agora_core::config::PoolConfig;
use agora_core::schema::PostCreate;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

/// Reads counted.
const READS: usize = 20;

async fn two_round_trips_per_read(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let (_, target) = via(db.url(), "127.0.0.1:1".parse().expect("addr"));
    let proxy = Proxy::start(&target).await;
    let mut config = config_for(&db);
    config.server.database_url = via(db.url(), proxy.addr).0;
    // One connection, so that no read meets another's idle ping.
    config.server.pool = PoolConfig {
        max_connections: 1,
        ..PoolConfig::default()
    };
    let agora = agora_sqlx::open(&config).await.expect("opens");
    let (_, token) = token_for(&agora, "wire@example.com").await;
    let caller = agora.authenticate(&token).await.expect("authenticates");
    let post = agora
        .create_post(
            &caller,
            PostCreate {
                title: "on the wire".into(),
                content: "counted".into(),
                published: true,
                description: None,
                tags: None,
            },
        )
        .await
        .expect("post created");
    let header = format!("Bearer {token}");

    // The connection's pings on return run in a task of their own: let
    // each finish before counting.
    let settle = || tokio::time::sleep(Duration::from_millis(30));
    agora
        .get_post_as_bearer(Some(&header), post.id)
        .await
        .expect("reads");
    settle().await;
    let before = proxy.messages_to_server();
    for _ in 0..READS {
        let read = agora
            .get_post_as_bearer(Some(&header), post.id)
            .await
            .expect("reads");
        assert_eq!(read.post.id, post.id);
        settle().await;
    }
    let sent = proxy.messages_to_server() - before;
    eprintln!("{backend:?}: {sent} messages to the database for {READS} reads");
    assert_eq!(
        sent,
        2 * READS,
        "{backend:?}: each read sends its statement and sqlx's ping on return, nothing more"
    );
}

#[tokio::test]
async fn an_authenticated_read_is_two_round_trips_on_a_database_server() {
    for backend in [Backend::Postgres, Backend::MySql] {
        two_round_trips_per_read(backend).await;
    }
}
