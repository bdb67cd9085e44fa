//! The throttling counter stores, in process and in Redis, against the same
//! cases. Redis runs when `AGORA_TEST_REDIS_URL` is set (e.g.
//! `redis://127.0.0.1:6379`); every test uses its own key prefix.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use agora_core::throttle::{MemoryThrottleStore, Reservation, Rule, ThrottleStore};

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

fn rule(max: u64, window_ms: u64, sliding: bool, backoff_ms: Option<u64>) -> Rule {
    Rule {
        max,
        window: Duration::from_millis(window_ms),
        sliding,
        backoff_base: backoff_ms.map(Duration::from_millis),
    }
}

fn refused(reservation: Reservation) -> Duration {
    match reservation {
        Reservation::Refused { retry_after } => retry_after,
        Reservation::Granted => panic!("granted, expected a refusal"),
    }
}

async fn reservations_are_granted_up_to_the_limit_then_refused_uncounted(
    store: Arc<dyn ThrottleStore>,
) {
    let r = rule(3, 60_000, false, None);
    for _ in 0..3 {
        assert_eq!(store.reserve("k", &r).await.unwrap(), Reservation::Granted);
    }
    for _ in 0..3 {
        let wait = refused(store.reserve("k", &r).await.unwrap());
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
    }
    // Refusals were not counted: one slot given back is one grant.
    store.release("k").await.unwrap();
    assert_eq!(store.reserve("k", &r).await.unwrap(), Reservation::Granted);
    refused(store.reserve("k", &r).await.unwrap());
    store.reset("k").await.unwrap();
    assert_eq!(store.reserve("k", &r).await.unwrap(), Reservation::Granted);
    // Releasing an unknown counter is harmless.
    store.release("never-seen").await.unwrap();
}

async fn fixed_windows_end_and_start_again(store: Arc<dyn ThrottleStore>) {
    let r = rule(1, 300, false, None);
    assert_eq!(store.reserve("f", &r).await.unwrap(), Reservation::Granted);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let wait = refused(store.reserve("f", &r).await.unwrap());
    assert!(
        wait <= Duration::from_millis(160),
        "the window began with the first attempt: {wait:?}"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(store.reserve("f", &r).await.unwrap(), Reservation::Granted);
}

async fn sliding_windows_restart_at_each_attempt(store: Arc<dyn ThrottleStore>) {
    let r = rule(2, 300, true, None);
    assert_eq!(store.reserve("s", &r).await.unwrap(), Reservation::Granted);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.reserve("s", &r).await.unwrap(), Reservation::Granted);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A fixed window would have ended 100 ms ago.
    refused(store.reserve("s", &r).await.unwrap());
}

async fn back_off_doubles_from_the_latest_attempt(store: Arc<dyn ThrottleStore>) {
    let r = rule(1, 10_000, true, Some(100));
    assert_eq!(store.reserve("b", &r).await.unwrap(), Reservation::Granted);
    let wait = refused(store.reserve("b", &r).await.unwrap());
    assert!(wait <= Duration::from_millis(100), "{wait:?}");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(store.reserve("b", &r).await.unwrap(), Reservation::Granted);
    let wait = refused(store.reserve("b", &r).await.unwrap());
    assert!(
        wait > Duration::from_millis(150) && wait <= Duration::from_millis(200),
        "{wait:?}"
    );
}

async fn concurrent_reservations_grant_exactly_the_limit(store: Arc<dyn ThrottleStore>) {
    let r = rule(5, 60_000, true, Some(30_000));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.reserve("c", &r).await })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Reservation::Granted {
            granted += 1;
        }
    }
    assert_eq!(granted, 5);
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
        reservations_are_granted_up_to_the_limit_then_refused_uncounted,
        fixed_windows_end_and_start_again,
        sliding_windows_restart_at_each_attempt,
        back_off_doubles_from_the_latest_attempt,
        concurrent_reservations_grant_exactly_the_limit
    ]
);
suite!(
    in_redis,
    redis(),
    [
        reservations_are_granted_up_to_the_limit_then_refused_uncounted,
        fixed_windows_end_and_start_again,
        sliding_windows_restart_at_each_attempt,
        back_off_doubles_from_the_latest_attempt,
        concurrent_reservations_grant_exactly_the_limit
    ]
);
