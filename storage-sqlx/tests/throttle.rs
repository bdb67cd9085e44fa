//! The throttling counter stores, in process and in Redis, against the same
//! cases. Redis runs when `AGORA_TEST_REDIS_URL` is set (e.g.
//! `redis://127.0.0.1:6379`); every test uses its own key prefix.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use agora_core::throttle::{MemoryThrottleStore, ThrottleStore};

async fn memory() -> Option<Arc<dyn ThrottleStore>> {
    Some(Arc::new(MemoryThrottleStore::default()))
}

async fn redis() -> Option<Arc<dyn ThrottleStore>> {
    let Some(url) = std::env::var("AGORA_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: redis tests (set AGORA_TEST_REDIS_URL to run them)"
            );
        });
        return None;
    };
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let prefix = format!("agora:test:{}:", hex::encode(bytes));
    let store = agora_sqlx::redis::RedisThrottleStore::connect(&url, &prefix)
        .await
        .unwrap();
    Some(Arc::new(store))
}

async fn hits_are_counted_and_reset(store: Arc<dyn ThrottleStore>) {
    assert!(store.peek("k").await.unwrap().is_none());
    for expected in 1..=3 {
        let count = store
            .hit("k", Duration::from_secs(60), false)
            .await
            .unwrap();
        assert_eq!(count.count, expected);
        assert!(
            count.resets_in <= Duration::from_secs(60) && count.resets_in > Duration::from_secs(50)
        );
    }
    let peeked = store.peek("k").await.unwrap().expect("counted");
    assert_eq!(peeked.count, 3);
    assert!(peeked.since_last < Duration::from_secs(5));
    store.reset("k").await.unwrap();
    assert!(store.peek("k").await.unwrap().is_none());
}

async fn fixed_windows_end_and_start_again(store: Arc<dyn ThrottleStore>) {
    store
        .hit("f", Duration::from_millis(300), false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    store
        .hit("f", Duration::from_millis(300), false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        store.peek("f").await.unwrap().is_none(),
        "the window began with the first hit"
    );
    assert_eq!(
        store
            .hit("f", Duration::from_millis(300), false)
            .await
            .unwrap()
            .count,
        1
    );
}

async fn sliding_windows_restart_at_each_hit(store: Arc<dyn ThrottleStore>) {
    store
        .hit("s", Duration::from_millis(300), true)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    store
        .hit("s", Duration::from_millis(300), true)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store
            .peek("s")
            .await
            .unwrap()
            .expect("still counting")
            .count,
        2
    );
}

async fn concurrent_hits_are_all_counted(store: Arc<dyn ThrottleStore>) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.hit("c", Duration::from_secs(60), true).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.peek("c").await.unwrap().expect("counted").count, 50);
}

macro_rules! suite {
    ($name:ident, $open:expr, [$($case:ident),*]) => {
        mod $name {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $open.await else { return };
                    super::$case(store).await;
                }
            )*
        }
    };
}

suite!(
    in_memory,
    memory(),
    [
        hits_are_counted_and_reset,
        fixed_windows_end_and_start_again,
        sliding_windows_restart_at_each_hit,
        concurrent_hits_are_all_counted
    ]
);
suite!(
    in_redis,
    redis(),
    [
        hits_are_counted_and_reset,
        fixed_windows_end_and_start_again,
        sliding_windows_restart_at_each_hit,
        concurrent_hits_are_all_counted
    ]
);
