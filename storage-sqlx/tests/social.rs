//! Concurrency of the social graph's writes on every backend, beyond the
//! conformance suite: many concurrent follows of one pair, and concurrent
//! tag replacements of one post.

use std::sync::Arc;

use agora_core::domain::{Email, PostDraft, Tag, Username, now};
use agora_core::storage::Store;
use agora_sqlx::testing::TestDatabase;

async fn stores() -> Vec<(Arc<dyn Store>, TestDatabase)> {
    let mut stores = Vec::new();
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let store = agora_sqlx::connect(db.url(), &agora_sqlx::PoolConfig::default())
            .await
            .expect("test database opens");
        stores.push((store, db));
    }
    stores
}

async fn named(store: &dyn Store, name: &str) -> agora_core::domain::User {
    let email = Email::parse(&format!("{name}@example.com")).expect("valid email");
    let username = Username::parse(name).expect("valid username");
    store
        .create_user(&email, Some(&username), "$h", now())
        .await
        .expect("user created")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_follows_all_succeed_and_leave_one_edge() {
    for (store, _db) in stores().await {
        let a = named(&*store, "fan").await;
        let b = named(&*store, "star").await;
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.follow(a.id, b.id).await })
            })
            .collect();
        for task in tasks {
            task.await
                .expect("task ran")
                .unwrap_or_else(|e| panic!("{}: a follow failed: {e:?}", store.backend()));
        }
        assert!(store.unfollow(a.id, b.id).await.unwrap());
        assert!(!store.unfollow(a.id, b.id).await.unwrap(), "one edge only");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tag_replacements_leave_one_whole_set() {
    for (store, _db) in stores().await {
        let u = named(&*store, "tagger").await;
        let draft = |i: usize| PostDraft {
            title: format!("t{i}"),
            content: "c".to_owned(),
            published: true,
            description: None,
            tags: Some(
                (0..10)
                    .map(|j| Tag::parse(&format!("tag{i}-{j}-{}", "é".repeat(20))).unwrap())
                    .collect(),
            ),
        };
        let post = store.create_post(&u, &draft(0), now()).await.unwrap();
        assert_eq!(post.tags.len(), 10);
        let tasks: Vec<_> = (1..=20)
            .map(|i| {
                let (store, draft) = (Arc::clone(&store), draft(i));
                tokio::spawn(async move { store.update_post(post.id, &draft, now()).await })
            })
            .collect();
        for task in tasks {
            task.await
                .expect("task ran")
                .unwrap_or_else(|e| panic!("{}: an update failed: {e:?}", store.backend()))
                .expect("the post exists");
        }
        let stored = store.get_post(post.id, None).await.unwrap().unwrap().post;
        let i: usize = stored.title[1..].parse().unwrap();
        assert_eq!(
            stored.tags,
            draft(i).tags.unwrap(),
            "{}: the tags of the last update, whole",
            store.backend()
        );
    }
}
