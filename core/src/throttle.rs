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
//! several servers (Redis, in `agora-sqlx`'s `redis` feature). An attempt
//! reserves its slot atomically *before* the password is checked (a success
//! then clears the account and gives the IP its slot back), so the limits
//! hold however many guesses arrive at once, on however many servers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::domain::Email;
use crate::error::{Error, RefusedPolicy, Result};
use crate::service::audit::Audit;
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
    /// Password reset and verification mail requests per client IP: 10 per
    /// hour (each address also gets at most 3 mails per 15 minutes, see
    /// `MailConfig::per_address`).
    pub mail_ip: Limit,
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
            mail_ip: Limit {
                max: 10,
                window: Duration::from_secs(3600),
            },
        }
    }
}

/// A throttling policy as the `RateLimit-Policy` and `RateLimit` response
/// fields name it (draft-ietf-httpapi-ratelimit-headers-12): the limit an
/// endpoint's refusals (429) are reported against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `"login"`: failed logins per account ([`ThrottleConfig::login_account`]).
    Login,
    /// `"login-ip"`: failed logins per client IP ([`ThrottleConfig::login_ip`]).
    LoginIp,
    /// `"register"`: registrations per client IP ([`ThrottleConfig::register_ip`]).
    Register,
    /// `"mail"`: mail requests per client IP ([`ThrottleConfig::mail_ip`]).
    Mail,
}

impl Policy {
    /// The policy's name in the header fields.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Login => "login",
            Policy::LoginIp => "login-ip",
            Policy::Register => "register",
            Policy::Mail => "mail",
        }
    }

    /// The limit of this policy under `config`.
    pub fn limit(self, config: &ThrottleConfig) -> Limit {
        match self {
            Policy::Login => config.login_account,
            Policy::LoginIp => config.login_ip,
            Policy::Register => config.register_ip,
            Policy::Mail => config.mail_ip,
        }
    }

    /// This policy under `config`, as an [`Error::RateLimited`] reports it
    /// (its [`RefusedPolicy::headers`] are the answer's `RateLimit` fields).
    pub fn refused(self, config: &ThrottleConfig) -> RefusedPolicy {
        let limit = self.limit(config);
        RefusedPolicy {
            name: self.name(),
            quota: limit.max,
            window_secs: limit.window.as_secs(),
        }
    }
}

/// How one counter decides: at most `max` attempts per `window`; past
/// that, either wait for the window to end or, with `backoff_base`, wait
/// `backoff_base` doubled per attempt beyond `max` (capped at `window`)
/// counted from the latest attempt.
///
/// Counter stores apply this rule atomically in [`ThrottleStore::reserve`];
/// [`Rule::wait`] is its one definition (the Redis store's Lua script follows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Attempts allowed before waiting.
    pub max: u64,
    /// How long a counter lives: from its first attempt, or with `sliding`
    /// from its latest.
    pub window: Duration,
    /// Each attempt restarts the window.
    pub sliding: bool,
    /// Exponential back-off instead of waiting for the window to end.
    pub backoff_base: Option<Duration>,
}

impl Rule {
    /// The wait before another attempt is allowed, for a counter at `count`
    /// whose latest attempt was `since_last` ago and whose window ends in
    /// `resets_in`; `None` when an attempt may go ahead now.
    pub fn wait(&self, count: u64, since_last: Duration, resets_in: Duration) -> Option<Duration> {
        if count < self.max {
            return None;
        }
        let Some(base) = self.backoff_base else {
            return Some(resets_in).filter(|w| !w.is_zero());
        };
        let doublings = u32::try_from(count - self.max).unwrap_or(u32::MAX).min(20);
        let backoff = base.saturating_mul(1 << doublings).min(self.window);
        backoff.checked_sub(since_last).filter(|w| !w.is_zero())
    }
}

/// The answer of [`ThrottleStore::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt was counted and may go ahead.
    Granted,
    /// Nothing was counted; the caller must wait this long.
    Refused {
        /// How long until an attempt may be granted.
        retry_after: Duration,
    },
}

/// Where counters live.
///
/// Every method is atomic per key: however many callers reserve one key at
/// once, from however many servers, at most [`Rule::max`] are granted
/// within a window (the check and the count are one step, never a read
/// followed by a write).
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts an attempt on `key` if `rule` allows one now, or refuses it
    /// without counting.
    async fn reserve(&self, key: &str, rule: &Rule) -> StorageResult<Reservation>;
    /// Gives back one granted attempt (an attempt that turned out not to count).
    async fn release(&self, key: &str) -> StorageResult<()>;
    /// Forgets the counter.
    async fn reset(&self, key: &str) -> StorageResult<()>;
    /// Succeeds when the store answers (for `/health`); the in-process store
    /// always does. A remote store fails with
    /// [`crate::storage::StorageError::Unavailable`], ideally caused by a
    /// [`crate::error::DependencyDown`] naming it.
    async fn ping(&self) -> StorageResult<()> {
        Ok(())
    }
    /// The name `/health` reports this store's check under (e.g.
    /// `"redis"`) when it is a dependency of its own; `None` (the default,
    /// the in-process store) when it cannot be down.
    fn dependency(&self) -> Option<&'static str> {
        None
    }
}

/// Counters in this process's memory (one server), at most
/// [`MemoryThrottleStore::capacity`] of them.
#[derive(Debug)]
pub struct MemoryThrottleStore {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    count: u64,
    last: Instant,
    ends: Instant,
}

/// The default most counters a [`MemoryThrottleStore`] keeps: about 10 MB.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;

impl Default for MemoryThrottleStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }
}

impl MemoryThrottleStore {
    /// A store keeping at most `capacity` counters. When it is full, expired
    /// counters go first, then those whose windows end soonest (the least
    /// recently active), so memory stays bounded whatever callers send.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryThrottleStore {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The most counters kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many counters are kept now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// No counters are kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave a counter half-written.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Makes room for one more counter: drops expired ones, then (still full)
/// the tenth whose windows end soonest.
fn make_room(entries: &mut HashMap<String, Entry>, capacity: usize, now: Instant) {
    if entries.len() < capacity {
        return;
    }
    entries.retain(|_, e| e.ends > now);
    if entries.len() < capacity {
        return;
    }
    let mut ends: Vec<Instant> = entries.values().map(|e| e.ends).collect();
    let cut = (capacity / 10).max(1).min(ends.len() - 1);
    let (_, threshold, _) = ends.select_nth_unstable(cut);
    let threshold = *threshold;
    entries.retain(|_, e| e.ends > threshold);
}

#[async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn reserve(&self, key: &str, rule: &Rule) -> StorageResult<Reservation> {
        let now = Instant::now();
        let mut entries = self.lock();
        let current = entries.get(key).filter(|e| e.ends > now).copied();
        if let Some(e) = current
            && let Some(retry_after) = rule.wait(
                e.count,
                now.saturating_duration_since(e.last),
                e.ends.saturating_duration_since(now),
            )
        {
            return Ok(Reservation::Refused { retry_after });
        }
        let entry = match current {
            Some(mut e) => {
                e.count += 1;
                e.last = now;
                if rule.sliding {
                    e.ends = now + rule.window;
                }
                e
            }
            None => {
                if !entries.contains_key(key) {
                    make_room(&mut entries, self.capacity, now);
                }
                Entry {
                    count: 1,
                    last: now,
                    ends: now + rule.window,
                }
            }
        };
        entries.insert(key.to_owned(), entry);
        Ok(Reservation::Granted)
    }

    async fn release(&self, key: &str) -> StorageResult<()> {
        let mut entries = self.lock();
        if let Some(e) = entries.get_mut(key) {
            e.count = e.count.saturating_sub(1);
            if e.count == 0 {
                entries.remove(key);
            }
        }
        Ok(())
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

/// The store as [`Throttle`] uses it: every failed call is counted in the
/// metrics ([`crate::metrics::THROTTLE_STORE_ERRORS`]).
struct Counted(Arc<dyn ThrottleStore>);

impl Counted {
    fn counted<T>(operation: &'static str, result: StorageResult<T>) -> StorageResult<T> {
        if result.is_err() {
            crate::metrics::record_throttle_store_error(operation);
        }
        result
    }
}

#[async_trait]
impl ThrottleStore for Counted {
    async fn reserve(&self, key: &str, rule: &Rule) -> StorageResult<Reservation> {
        Self::counted("reserve", self.0.reserve(key, rule).await)
    }

    async fn release(&self, key: &str) -> StorageResult<()> {
        Self::counted("release", self.0.release(key).await)
    }

    async fn reset(&self, key: &str) -> StorageResult<()> {
        Self::counted("reset", self.0.reset(key).await)
    }

    async fn ping(&self) -> StorageResult<()> {
        self.0.ping().await
    }

    fn dependency(&self) -> Option<&'static str> {
        self.0.dependency()
    }
}

/// IPv4 as is; IPv6 by its /64 network (one subscriber usually owns a /64).
fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// A fixed-size key for an account, whatever was typed as its email: 128
/// bits of its SHA-256, so counters stay small and hold no addresses.
fn account_key(account: &str) -> String {
    let digest = Sha256::digest(account.as_bytes());
    format!("login:account:{}", hex::encode(&digest[..16]))
}

/// Audits a login refused by throttling, with the address it tried when
/// `account` (the normalised email as typed) is a well-formed one.
fn audit_refused_login(outcome: &str, account: &str, ip: Option<IpAddr>) {
    let email = Email::parse(account).ok();
    Audit::new("login")
        .outcome(outcome)
        .email(email.as_ref())
        .ip(ip)
        .warn();
}

/// A refusal under `policy` that must wait `wait`.
fn limited(wait: Duration, policy: RefusedPolicy) -> Error {
    // Round up: a client retrying after `Retry-After` seconds must get through.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Error::RateLimited {
        retry_after_secs: secs.max(1),
        policy: Some(policy),
    }
}

/// A login attempt whose slots are reserved: finish it with
/// [`LoginAttempt::succeeded`]; dropping it leaves the attempt counted as a
/// failure.
#[must_use = "a successful login must call `succeeded` to clear its counters"]
#[derive(Debug)]
pub struct LoginAttempt {
    throttle: Option<Throttle>,
    account: String,
    ip: Option<String>,
}

impl LoginAttempt {
    /// The credentials were right: clears the account's failures and gives
    /// the client IP its slot back.
    pub async fn succeeded(self) -> Result<()> {
        let Some(throttle) = self.throttle else {
            return Ok(());
        };
        throttle.store.reset(&self.account).await?;
        if let Some(ip) = &self.ip {
            throttle.store.release(ip).await?;
        }
        Ok(())
    }
}

impl Throttle {
    /// Throttling with these settings and counters.
    pub fn new(config: ThrottleConfig, store: Arc<dyn ThrottleStore>) -> Self {
        Throttle {
            store: Arc::new(Counted(store)),
            config,
        }
    }

    fn account_rule(&self) -> Rule {
        Rule {
            max: self.config.login_account.max,
            window: self.config.login_account.window,
            sliding: true,
            backoff_base: Some(self.config.backoff_base),
        }
    }

    fn fixed(limit: Limit) -> Rule {
        Rule {
            max: limit.max,
            window: limit.window,
            sliding: false,
            backoff_base: None,
        }
    }

    /// Reserves a login attempt on `account` (the normalised email as typed)
    /// from `ip` before the password is checked, or refuses it
    /// ([`Error::RateLimited`]) while the IP or the account is throttled.
    /// Every attempt counts as a failure until [`LoginAttempt::succeeded`],
    /// so concurrent guesses cannot all pass a check made before any of them
    /// is counted.
    /// A refusal names its policy ([`Policy::LoginIp`] or [`Policy::Login`]).
    pub async fn begin_login(&self, account: &str, ip: Option<IpAddr>) -> Result<LoginAttempt> {
        let typed = account;
        let account = account_key(typed);
        if !self.config.enabled {
            return Ok(LoginAttempt {
                throttle: None,
                account,
                ip: None,
            });
        }
        let ip_counter = ip.map(|ip| format!("login:ip:{}", ip_key(ip)));
        if let Some(key) = &ip_counter
            && let Reservation::Refused { retry_after } = self
                .store
                .reserve(key, &Self::fixed(self.config.login_ip))
                .await?
        {
            audit_refused_login("throttled_ip", typed, ip);
            return Err(limited(retry_after, Policy::LoginIp.refused(&self.config)));
        }
        if let Reservation::Refused { retry_after } =
            self.store.reserve(&account, &self.account_rule()).await?
        {
            if let Some(key) = &ip_counter {
                // Refused before any password was checked: the IP's slot is not used.
                self.store.release(key).await?;
            }
            audit_refused_login("throttled_account", typed, ip);
            return Err(limited(retry_after, Policy::Login.refused(&self.config)));
        }
        Ok(LoginAttempt {
            throttle: Some(self.clone()),
            account,
            ip: ip_counter,
        })
    }

    /// Counts a registration attempt from `ip`; refuses it past the limit.
    pub async fn check_registration(&self, ip: Option<IpAddr>) -> Result<()> {
        self.check_ip("register", Policy::Register, ip).await
    }

    /// Counts a request for a password reset or verification mail from
    /// `ip`; refuses it past the limit.
    pub async fn check_mail_request(&self, ip: Option<IpAddr>) -> Result<()> {
        self.check_ip("mail_request", Policy::Mail, ip).await
    }

    /// Counts an `event` from `ip` against `policy`'s limit.
    async fn check_ip(&self, event: &str, policy: Policy, ip: Option<IpAddr>) -> Result<()> {
        let (true, Some(ip)) = (self.config.enabled, ip) else {
            return Ok(());
        };
        let key = format!("{event}:ip:{}", ip_key(ip));
        if let Reservation::Refused { retry_after } = self
            .store
            .reserve(&key, &Self::fixed(policy.limit(&self.config)))
            .await?
        {
            Audit::new(event)
                .outcome("throttled_ip")
                .ip(Some(ip))
                .warn();
            return Err(limited(retry_after, policy.refused(&self.config)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throttling store that is always down (Redis unreachable).
    struct Down;

    #[async_trait]
    impl ThrottleStore for Down {
        async fn reserve(&self, _: &str, _: &Rule) -> StorageResult<Reservation> {
            Err(crate::storage::StorageError::Unavailable("down".into()))
        }
        async fn release(&self, _: &str) -> StorageResult<()> {
            Err(crate::storage::StorageError::Unavailable("down".into()))
        }
        async fn reset(&self, _: &str) -> StorageResult<()> {
            Err(crate::storage::StorageError::Unavailable("down".into()))
        }
    }

    #[test]
    fn throttle_store_errors_are_counted_by_operation() {
        let recorder = crate::metrics::recorder().unwrap();
        let handle = recorder.handle();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let text = metrics::with_local_recorder(&recorder, || {
            let throttle = Throttle::new(ThrottleConfig::default(), Arc::new(Down));
            let ip = Some(IpAddr::from([192, 0, 2, 1]));
            let login = runtime.block_on(throttle.begin_login("a@example.com", ip));
            assert!(matches!(login, Err(Error::Unavailable(_))));
            let registration = runtime.block_on(throttle.check_registration(ip));
            assert!(matches!(registration, Err(Error::Unavailable(_))));
            handle.render()
        });
        let line = r#"agora_throttle_store_errors_total{operation="reserve"} 2"#;
        assert!(text.contains(line), "{text}");
    }

    fn throttle(config: ThrottleConfig) -> Throttle {
        Throttle::new(config, Arc::new(MemoryThrottleStore::default()))
    }

    fn retry_after<T>(result: Result<T>) -> Option<u64> {
        match result {
            Err(Error::RateLimited {
                retry_after_secs, ..
            }) => Some(retry_after_secs),
            _ => None,
        }
    }

    /// A login attempt that fails (its reservation stays counted).
    async fn fail(t: &Throttle, account: &str, ip: Option<IpAddr>) {
        drop(t.begin_login(account, ip).await.expect("allowed"));
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9)));

    #[tokio::test]
    async fn five_failures_on_an_account_then_429_with_retry_after() {
        let t = throttle(ThrottleConfig::default());
        for _ in 0..5 {
            fail(&t, "ada@example.com", IP).await;
        }
        assert_eq!(
            retry_after(t.begin_login("ada@example.com", IP).await),
            Some(30)
        );
        // Another account from the same IP is not affected.
        fail(&t, "bob@example.com", IP).await;
    }

    #[tokio::test]
    async fn concurrent_attempts_cannot_pass_the_limit_together() {
        let t = throttle(ThrottleConfig::default());
        let attempts: Vec<_> = (0..100)
            .map(|_| {
                let t = t.clone();
                tokio::spawn(async move { t.begin_login("ada@example.com", IP).await })
            })
            .collect();
        let mut granted = 0;
        for attempt in attempts {
            if attempt.await.expect("task").is_ok() {
                granted += 1;
            }
        }
        assert_eq!(granted, 5, "exactly the account's limit is evaluated");
    }

    #[tokio::test]
    async fn the_account_counter_ignores_the_client_ip() {
        let t = throttle(ThrottleConfig::default());
        for i in 0..5u8 {
            let spoofed = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i)));
            fail(&t, "ada@example.com", spoofed).await;
        }
        let fresh_ip = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 9, 9)));
        assert!(retry_after(t.begin_login("ada@example.com", fresh_ip).await).is_some());
        assert!(retry_after(t.begin_login("ada@example.com", None).await).is_some());
    }

    #[tokio::test]
    async fn back_off_doubles_per_failure_and_is_never_permanent() {
        let config = ThrottleConfig {
            backoff_base: Duration::from_millis(40),
            ..ThrottleConfig::default()
        };
        let t = throttle(config);
        for _ in 0..5 {
            fail(&t, "ada@example.com", None).await;
        }
        assert!(retry_after(t.begin_login("ada@example.com", None).await).is_some());
        tokio::time::sleep(Duration::from_millis(60)).await;
        // Allowed again after the back-off; this attempt fails too.
        fail(&t, "ada@example.com", None).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            retry_after(t.begin_login("ada@example.com", None).await).is_some(),
            "80 ms now"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        fail(&t, "ada@example.com", None).await; // allowed after it
    }

    #[tokio::test]
    async fn success_resets_the_account_and_gives_the_ip_its_slot_back() {
        let t = throttle(ThrottleConfig::default());
        for _ in 0..4 {
            fail(&t, "ada@example.com", IP).await;
        }
        let attempt = t.begin_login("ada@example.com", IP).await.unwrap();
        attempt.succeeded().await.unwrap();
        fail(&t, "ada@example.com", IP).await;
        fail(&t, "ada@example.com", IP).await;
        // 16 successes from one IP use none of its 20 failure slots.
        let t = throttle(ThrottleConfig::default());
        for i in 0..40 {
            let attempt = t.begin_login(&format!("u{i}@example.com"), IP).await;
            attempt
                .expect("successes are not limited")
                .succeeded()
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn twenty_failures_from_one_ip_per_minute_then_429() {
        let t = throttle(ThrottleConfig::default());
        for i in 0..20 {
            fail(&t, &format!("user{i}@example.com"), IP).await;
        }
        let wait = retry_after(t.begin_login("someone-new@example.com", IP).await);
        assert!(matches!(wait, Some(1..=60)), "{wait:?}");
    }

    #[tokio::test]
    async fn ipv6_clients_are_counted_by_their_64_network() {
        let t = throttle(ThrottleConfig::default());
        for i in 0..20u16 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 0, 0, 1));
            fail(&t, &format!("user{i}@example.com"), Some(ip)).await;
        }
        let neighbour = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 99, 9, 9, 9));
        assert!(retry_after(t.begin_login("x@example.com", Some(neighbour)).await).is_some());
        let elsewhere = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        fail(&t, "x@example.com", Some(elsewhere)).await;
    }

    #[tokio::test]
    async fn ipv4_mapped_clients_are_counted_as_ipv4() {
        let t = throttle(ThrottleConfig::default());
        let mapped = |last: u8| {
            Some(IpAddr::V6(
                std::net::Ipv4Addr::new(192, 0, 2, last).to_ipv6_mapped(),
            ))
        };
        for i in 0..20 {
            fail(&t, &format!("user{i}@example.com"), mapped(1)).await;
        }
        assert!(retry_after(t.begin_login("x@example.com", mapped(1)).await).is_some());
        // Another IPv4 client has its own counter.
        fail(&t, "x@example.com", mapped(2)).await;
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
            fail(&t, "ada@example.com", IP).await;
            t.check_registration(IP).await.unwrap();
        }
        fail(&t, "ada@example.com", IP).await;
    }

    #[tokio::test]
    async fn huge_accounts_and_many_counters_use_bounded_memory() {
        let store = Arc::new(MemoryThrottleStore::with_capacity(100));
        let t = Throttle::new(ThrottleConfig::default(), store.clone());
        for i in 0..400 {
            let huge = format!("{i}{}", "x".repeat(58_000));
            fail(&t, &huge, None).await;
        }
        assert!(store.len() <= 100, "{} counters", store.len());
        let longest = store.lock().keys().map(String::len).max().unwrap_or(0);
        assert!(longest <= 64, "keys are fixed-size: {longest} bytes");
    }

    #[test]
    fn each_policy_reports_its_configured_limit() {
        let config = ThrottleConfig::default();
        let refused = |policy: Policy| {
            let r = policy.refused(&config);
            (r.name, r.quota, r.window_secs)
        };
        assert_eq!(refused(Policy::Login), ("login", 5, 900));
        assert_eq!(refused(Policy::Register), ("register", 20, 3600));
        assert_eq!(refused(Policy::Mail), ("mail", 10, 3600));
        assert_eq!(refused(Policy::LoginIp), ("login-ip", 20, 60));
    }

    #[tokio::test]
    async fn a_refusal_names_the_policy_that_refused_it() {
        let t = throttle(ThrottleConfig::default());
        let policy_of = |result: Result<LoginAttempt>| match result {
            Err(Error::RateLimited { policy, .. }) => policy.map(|p| p.name),
            other => panic!("not refused: {:?}", other.err()),
        };
        let ip = Some("192.0.2.9".parse().unwrap());
        for _ in 0..5 {
            fail(&t, "victim@example.com", ip).await;
        }
        let refused = t.begin_login("victim@example.com", ip).await;
        assert_eq!(policy_of(refused), Some("login"));
        for i in 0..15 {
            fail(&t, &format!("spray{i}@example.com"), ip).await;
        }
        let refused = t.begin_login("fresh@example.com", ip).await;
        assert_eq!(policy_of(refused), Some("login-ip"));
        for _ in 0..20 {
            t.check_registration(ip).await.unwrap();
        }
        match t.check_registration(ip).await {
            Err(Error::RateLimited { policy, .. }) => {
                assert_eq!(policy, Some(Policy::Register.refused(&t.config)));
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn the_rule_waits_for_the_window_or_backs_off() {
        let fixed = Rule {
            max: 2,
            window: Duration::from_secs(60),
            sliding: false,
            backoff_base: None,
        };
        let s = Duration::from_secs;
        assert_eq!(fixed.wait(1, s(0), s(50)), None);
        assert_eq!(fixed.wait(2, s(0), s(50)), Some(s(50)));
        let backoff = Rule {
            backoff_base: Some(s(30)),
            ..fixed
        };
        assert_eq!(backoff.wait(2, s(10), s(50)), Some(s(20)));
        assert_eq!(backoff.wait(3, s(10), s(50)), Some(s(50)));
        assert_eq!(
            backoff.wait(9, s(10), s(50)),
            Some(s(50)),
            "capped at the window"
        );
        assert_eq!(backoff.wait(2, s(30), s(50)), None);
    }
}
