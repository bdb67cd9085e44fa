//! Throttling of password guessing and mass registration.
//!
//! - Failed logins per **account** (the submitted email, whether or not it
//!   exists, so throttling reveals nothing): after `login_account.max`
//!   failures within its window, each further attempt must wait
//!   `backoff_base`, doubling per failure, capped at the window. Never a
//!   permanent lock, so an attacker cannot lock a user out for good; a
//!   success resets the count. Keyed by the account, so a spoofed
//!   `X-Forwarded-For` does not dodge it.
//! - Failed logins per **client IP** (IPv6 by /64): `login_ip.max` per window.
//! - Registrations per **client IP**: `register_ip.max` per window.
//!
//! Counters live in a [`ThrottleStore`]: in process by default, or shared by
//! several servers (Redis, in `agora-sqlx`'s `redis` feature).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::storage::StorageResult;

/// A limit: at most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Events allowed in a window.
    pub max: u64,
    /// The window.
    pub window: Duration,
}

/// Throttling settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// `AGORA_THROTTLE=off` turns every limit off (tests, trusted networks).
    pub enabled: bool,
    /// Failed logins per account: 5 per 15 minutes, then back-off.
    pub login_account: Limit,
    /// First wait once the account limit is reached (30 s), doubling per failure.
    pub backoff_base: Duration,
    /// Failed logins per client IP: 20 per minute.
    pub login_ip: Limit,
    /// Registrations per client IP: 20 per hour.
    pub register_ip: Limit,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            enabled: true,
            login_account: Limit {
                max: 5,
                window: Duration::from_secs(15 * 60),
            },
            backoff_base: Duration::from_secs(30),
            login_ip: Limit {
                max: 20,
                window: Duration::from_secs(60),
            },
            register_ip: Limit {
                max: 20,
                window: Duration::from_secs(3600),
            },
        }
    }
}

/// A counter's state after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Events in the current window.
    pub count: u64,
    /// Time since the latest event.
    pub since_last: Duration,
    /// Time until the window (and the count) ends.
    pub resets_in: Duration,
}

/// Where counters live. Implementations must make `hit` atomic: concurrent
/// hits on one key are all counted.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts one event on `key`. With `sliding`, each event restarts the
    /// window (the count ends `window` after the latest event); otherwise the
    /// window starts at the first event.
    async fn hit(&self, key: &str, window: Duration, sliding: bool) -> StorageResult<Count>;
    /// The counter's state, if it has one.
    async fn peek(&self, key: &str) -> StorageResult<Option<Count>>;
    /// Forgets the counter.
    async fn reset(&self, key: &str) -> StorageResult<()>;
    /// Succeeds when the store answers (for `/health`); the in-process store
    /// always does. A remote store fails with
    /// [`crate::storage::StorageError::Unavailable`], ideally caused by a
    /// [`crate::error::DependencyDown`] naming it.
    async fn ping(&self) -> StorageResult<()> {
        Ok(())
    }
}

/// Counters in this process's memory (one server).
#[derive(Debug, Default)]
pub struct MemoryThrottleStore {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    count: u64,
    last: Instant,
    ends: Instant,
}

impl Entry {
    fn count(&self, now: Instant) -> Count {
        Count {
            count: self.count,
            since_last: now.saturating_duration_since(self.last),
            resets_in: self.ends.saturating_duration_since(now),
        }
    }
}

/// Past this many counters, expired ones are swept on the next hit.
const SWEEP_AT: usize = 10_000;

impl MemoryThrottleStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave a counter half-written.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn hit(&self, key: &str, window: Duration, sliding: bool) -> StorageResult<Count> {
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, e| e.ends > now);
        }
        let entry = entries
            .entry(key.to_owned())
            .and_modify(|e| {
                if e.ends <= now {
                    *e = Entry {
                        count: 0,
                        last: now,
                        ends: now + window,
                    };
                }
            })
            .or_insert(Entry {
                count: 0,
                last: now,
                ends: now + window,
            });
        entry.count += 1;
        entry.last = now;
        if sliding {
            entry.ends = now + window;
        }
        Ok(entry.count(now))
    }

    async fn peek(&self, key: &str) -> StorageResult<Option<Count>> {
        let now = Instant::now();
        Ok(self
            .lock()
            .get(key)
            .filter(|e| e.ends > now)
            .map(|e| e.count(now)))
    }

    async fn reset(&self, key: &str) -> StorageResult<()> {
        self.lock().remove(key);
        Ok(())
    }
}

/// Applies [`ThrottleConfig`] over a [`ThrottleStore`].
#[derive(Clone)]
pub struct Throttle {
    store: Arc<dyn ThrottleStore>,
    config: ThrottleConfig,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// IPv4 as is; IPv6 by its /64 network (one subscriber usually owns a /64).
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

fn limited(wait: Duration) -> Error {
    // Round up: a client retrying after `Retry-After` seconds must get through.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Error::RateLimited {
        retry_after_secs: secs.max(1),
    }
}

impl Throttle {
    /// Throttling with these settings and counters.
    pub fn new(config: ThrottleConfig, store: Arc<dyn ThrottleStore>) -> Self {
        Throttle { store, config }
    }

    /// The wait the account must observe after `count` failures, `since_last` ago.
    fn account_wait(&self, count: Count) -> Option<Duration> {
        let limit = self.config.login_account;
        if count.count < limit.max {
            return None;
        }
        let doublings = u32::try_from(count.count - limit.max)
            .unwrap_or(u32::MAX)
            .min(20);
        let backoff = self
            .config
            .backoff_base
            .saturating_mul(1 << doublings)
            .min(limit.window);
        backoff
            .checked_sub(count.since_last)
            .filter(|w| !w.is_zero())
    }

    /// Refuses a login attempt while its account or IP is throttled.
    pub async fn check_login(&self, account: &str, ip: Option<IpAddr>) -> Result<()> {
        if !self.config.enabled {
            return Ok(());
        }
        if let Some(ip) = ip
            && let Some(count) = self.store.peek(&format!("login:ip:{}", ip_key(ip))).await?
            && count.count >= self.config.login_ip.max
        {
            tracing::warn!(target: "agora::audit", event = "login", outcome = "throttled_ip", ip = %ip);
            return Err(limited(count.resets_in));
        }
        if let Some(count) = self.store.peek(&format!("login:account:{account}")).await?
            && let Some(wait) = self.account_wait(count)
        {
            tracing::warn!(target: "agora::audit", event = "login", outcome = "throttled_account", ip = ?ip);
            return Err(limited(wait));
        }
        Ok(())
    }

    /// Counts a failed login against the account and the IP.
    pub async fn login_failed(&self, account: &str, ip: Option<IpAddr>) -> Result<()> {
        if !self.config.enabled {
            return Ok(());
        }
        let limit = self.config.login_account;
        self.store
            .hit(&format!("login:account:{account}"), limit.window, true)
            .await?;
        if let Some(ip) = ip {
            let limit = self.config.login_ip;
            self.store
                .hit(&format!("login:ip:{}", ip_key(ip)), limit.window, false)
                .await?;
        }
        Ok(())
    }

    /// A successful login clears the account's failures.
    pub async fn login_succeeded(&self, account: &str) -> Result<()> {
        if !self.config.enabled {
            return Ok(());
        }
        Ok(self
            .store
            .reset(&format!("login:account:{account}"))
            .await?)
    }

    /// Counts a registration attempt from `ip`; refuses it past the limit.
    pub async fn check_registration(&self, ip: Option<IpAddr>) -> Result<()> {
        let (true, Some(ip)) = (self.config.enabled, ip) else {
            return Ok(());
        };
        let limit = self.config.register_ip;
        let count = self
            .store
            .hit(&format!("register:ip:{}", ip_key(ip)), limit.window, false)
            .await?;
        if count.count > limit.max {
            tracing::warn!(target: "agora::audit", event = "register", outcome = "throttled_ip", ip = %ip);
            return Err(limited(count.resets_in));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(config: ThrottleConfig) -> Throttle {
        Throttle::new(config, Arc::new(MemoryThrottleStore::default()))
    }

    fn retry_after(result: Result<()>) -> Option<u64> {
        match result {
            Err(Error::RateLimited { retry_after_secs }) => Some(retry_after_secs),
            _ => None,
        }
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9)));

    #[tokio::test]
    async fn five_failures_on_an_account_then_429_with_retry_after() {
        let t = throttle(ThrottleConfig::default());
        for _ in 0..5 {
            t.check_login("ada@example.com", IP).await.unwrap();
            t.login_failed("ada@example.com", IP).await.unwrap();
        }
        assert_eq!(
            retry_after(t.check_login("ada@example.com", IP).await),
            Some(30)
        );
        // Another account from the same IP is not affected.
        t.check_login("bob@example.com", IP).await.unwrap();
    }

    #[tokio::test]
    async fn the_account_counter_ignores_the_client_ip() {
        let t = throttle(ThrottleConfig::default());
        for i in 0..5u8 {
            let spoofed = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i)));
            t.login_failed("ada@example.com", spoofed).await.unwrap();
        }
        let fresh_ip = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 9, 9)));
        assert!(retry_after(t.check_login("ada@example.com", fresh_ip).await).is_some());
        assert!(retry_after(t.check_login("ada@example.com", None).await).is_some());
    }

    #[tokio::test]
    async fn back_off_doubles_per_failure_and_is_never_permanent() {
        let config = ThrottleConfig {
            backoff_base: Duration::from_millis(40),
            ..ThrottleConfig::default()
        };
        let t = throttle(config);
        for _ in 0..5 {
            t.login_failed("ada@example.com", None).await.unwrap();
        }
        assert!(retry_after(t.check_login("ada@example.com", None).await).is_some());
        tokio::time::sleep(Duration::from_millis(60)).await;
        t.check_login("ada@example.com", None)
            .await
            .expect("allowed again after the back-off");
        t.login_failed("ada@example.com", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            retry_after(t.check_login("ada@example.com", None).await).is_some(),
            "80 ms now"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        t.check_login("ada@example.com", None)
            .await
            .expect("and allowed after it");
    }

    #[tokio::test]
    async fn success_resets_the_account() {
        let t = throttle(ThrottleConfig::default());
        for _ in 0..4 {
            t.login_failed("ada@example.com", None).await.unwrap();
        }
        t.login_succeeded("ada@example.com").await.unwrap();
        t.login_failed("ada@example.com", None).await.unwrap();
        t.check_login("ada@example.com", None).await.unwrap();
    }

    #[tokio::test]
    async fn twenty_failures_from_one_ip_per_minute_then_429() {
        let t = throttle(ThrottleConfig::default());
        for i in 0..20 {
            t.login_failed(&format!("user{i}@example.com"), IP)
                .await
                .unwrap();
        }
        let wait = retry_after(t.check_login("someone-new@example.com", IP).await);
        assert!(matches!(wait, Some(1..=60)), "{wait:?}");
    }

    #[tokio::test]
    async fn ipv6_clients_are_counted_by_their_64_network() {
        let t = throttle(ThrottleConfig::default());
        for i in 0..20u16 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 0, 0, 1));
            t.login_failed(&format!("user{i}@example.com"), Some(ip))
                .await
                .unwrap();
        }
        let neighbour = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 99, 9, 9, 9));
        assert!(retry_after(t.check_login("x@example.com", Some(neighbour)).await).is_some());
        let elsewhere = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        t.check_login("x@example.com", Some(elsewhere))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn registrations_per_ip_are_limited() {
        let config = ThrottleConfig {
            register_ip: Limit {
                max: 3,
                window: Duration::from_secs(3600),
            },
            ..ThrottleConfig::default()
        };
        let t = throttle(config);
        for _ in 0..3 {
            t.check_registration(IP).await.unwrap();
        }
        assert!(retry_after(t.check_registration(IP).await).is_some());
        t.check_registration(None)
            .await
            .expect("unknown IPs are not throttled");
    }

    #[tokio::test]
    async fn disabled_throttling_never_refuses() {
        let t = throttle(ThrottleConfig {
            enabled: false,
            ..ThrottleConfig::default()
        });
        for _ in 0..50 {
            t.login_failed("ada@example.com", IP).await.unwrap();
            t.check_registration(IP).await.unwrap();
        }
        t.check_login("ada@example.com", IP).await.unwrap();
    }
}
