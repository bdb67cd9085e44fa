//! The services: every rule of the API, callable from any adapter.
//!
//! [`Agora`] is cheap to clone (an `Arc` inside) and safe to share across
//! threads and tasks.

mod admin;
pub(crate) mod audit;
mod auth;
mod health;
mod posts;
mod recovery;
mod sessions;
mod social;
mod users;
mod votes;

use std::sync::Arc;

pub use admin::AccountChange;
pub use health::{Check, HealthReport, HealthStatus};
pub use votes::VoteOutcome;

use crate::config::{Config, ConfigError};
use crate::crypto::jwt::TokenKeys;
use crate::crypto::password::PasswordHasher;
use crate::domain::{ClientInfo, Post, SessionConfig, TrustedProxy, User, UserId};
use crate::error::Result;
use crate::mail::{LogMailer, MailConfig, Mailer};
use crate::storage::Store;
use crate::throttle::{MemoryThrottleStore, Throttle, ThrottleStore};

/// The Agora application: storage, hashing, tokens and rules.
#[derive(Clone)]
pub struct Agora {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    tokens: TokenKeys,
    password_policy: crate::domain::PasswordPolicy,
    body_limit: usize,
    hide_emails: bool,
    throttle: Throttle,
    /// The throttling counters, checked by [`Agora::health`] when throttling is on.
    throttle_store: Option<Arc<dyn ThrottleStore>>,
    proxy: TrustedProxy,
    sessions: SessionConfig,
    mail: MailConfig,
    mailer: Arc<dyn Mailer>,
    /// Mails queued or being sent (at most `recovery::MAX_PENDING_MAILS`).
    pending_mails: std::sync::atomic::AtomicUsize,
    /// Mails dropped because the queue was full, since start.
    dropped_mails: std::sync::atomic::AtomicU64,
    /// Turns to prepare and send a mail (`recovery::CONCURRENT_MAILS`).
    mail_turns: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Agora {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agora")
            .field("backend", &self.inner.store.backend())
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

impl From<ConfigError> for crate::Error {
    fn from(e: ConfigError) -> Self {
        crate::Error::internal(e)
    }
}

impl Agora {
    /// Builds the services over `store`, with throttling counters in this
    /// process. Fails when the configuration is invalid or its token keys
    /// (the JWT secret, or the EdDSA/ES256 key files) are missing or unusable.
    ///
    /// `store` is used as given: `config.server`'s database URL, pool and
    /// Redis settings are not read here. To build Agora from a [`Config`]
    /// with every field honoured, use `agora_sqlx::open(&config)`.
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Result<Self, ConfigError> {
        Self::with_throttle_store(store, Arc::new(MemoryThrottleStore::default()), config)
    }

    /// [`Agora::new`] with throttling counters kept in `throttle_store`
    /// (shared by several servers, e.g. Redis).
    pub fn with_throttle_store(
        store: Arc<dyn Store>,
        throttle_store: Arc<dyn ThrottleStore>,
        config: &Config,
    ) -> Result<Self, ConfigError> {
        Self::from_parts(store, throttle_store, Arc::new(LogMailer), config)
    }

    /// [`Agora::with_throttle_store`] with account mail (password reset and
    /// address verification links) delivered by `mailer`, e.g.
    /// `agora_sqlx`'s SMTP mailer; the other constructors log links
    /// instead ([`LogMailer`], for local development).
    pub fn from_parts(
        store: Arc<dyn Store>,
        throttle_store: Arc<dyn ThrottleStore>,
        mailer: Arc<dyn Mailer>,
        config: &Config,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        if config.mail.public_url.is_none() {
            tracing::warn!(
                "no public URL (AGORA_PUBLIC_URL): password reset and verification mails are not sent"
            );
        } else if mailer.logs_links() {
            tracing::info!(
                "no SMTP server (AGORA_SMTP_URL): password reset and verification links are \
                 logged at INFO instead of mailed, for local development only"
            );
        }
        // HS256 secret or EdDSA/ES256 keys; a clear error when missing or unusable.
        let tokens = TokenKeys::from_config(&config.tokens)?;
        let hasher = PasswordHasher::from_config(&config.hashing)?;
        Ok(Agora {
            inner: Arc::new(Inner {
                store,
                hasher,
                tokens,
                password_policy: config.passwords,
                body_limit: config.server.body_limit,
                hide_emails: config.hide_emails,
                throttle_store: config.throttle.enabled.then(|| throttle_store.clone()),
                throttle: Throttle::new(config.throttle.clone(), throttle_store),
                proxy: config.proxy.clone(),
                sessions: config.sessions,
                mail: config.mail.clone(),
                mailer,
                pending_mails: std::sync::atomic::AtomicUsize::new(0),
                dropped_mails: std::sync::atomic::AtomicU64::new(0),
                mail_turns: tokio::sync::Semaphore::new(recovery::CONCURRENT_MAILS),
            }),
        })
    }

    /// The password hasher, for apps that want the primitive.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// Succeeds when the database answers and, with throttling on, the
    /// throttling store (Redis) too, which logins and registrations need;
    /// [`crate::Error::Unavailable`] otherwise (its detail names Redis when
    /// Redis is the one down), so a load balancer stops sending traffic here.
    /// [`Agora::health_report`] has each check and its latency (`/health`).
    pub async fn health(&self) -> Result<()> {
        self.inner.store.ping().await?;
        if let Some(counters) = &self.inner.throttle_store {
            counters.ping().await?;
        }
        Ok(())
    }

    /// The largest request body adapters accept, in bytes (larger: 413).
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// Who sent a request: `peer` is the socket's IP; `header` gives every
    /// value of a request header by name, in the order received (all its
    /// lines: a proxy may add its own line after the client's). The client
    /// IP is taken from the configured trusted proxy header when there is
    /// one (see [`Config::proxy`]; rules in
    /// [`crate::domain::forwarded_client_ip`]), else from the peer;
    /// IPv4-mapped IPv6 addresses become IPv4 ([`ClientInfo::from_request`]).
    pub fn client_info<I, V>(
        &self,
        peer: Option<std::net::IpAddr>,
        header: impl Fn(&str) -> I,
    ) -> ClientInfo
    where
        I: IntoIterator<Item = V>,
        V: AsRef<str>,
    {
        let proxy = &self.inner.proxy;
        let forwarded = proxy
            .header
            .as_deref()
            .and_then(|name| crate::domain::forwarded_client_ip(header(name), proxy.hops));
        let user_agent = header("user-agent").into_iter().next();
        ClientInfo::from_request(peer, forwarded, user_agent.as_ref().map(AsRef::as_ref))
    }

    /// The public keys that verify access tokens, as a JWK Set
    /// (`GET /.well-known/jwks.json`); `None` with a shared HMAC secret,
    /// which must never be published.
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.inner.tokens.jwks()
    }

    /// `user` as `viewer` may see them: with `Config::hide_emails`, other
    /// users' email addresses are hidden.
    fn shown_to(&self, user: User, viewer: Option<UserId>) -> User {
        if self.inner.hide_emails && viewer != Some(user.id) {
            user.without_email()
        } else {
            user
        }
    }

    /// A post as `viewer` may see it (its owner's email, see [`Agora::shown_to`]).
    fn post_shown_to(&self, mut post: Post, viewer: Option<UserId>) -> Post {
        post.owner = self.shown_to(post.owner, viewer);
        post
    }

    /// The storage backend's name.
    pub fn backend(&self) -> &'static str {
        self.inner.store.backend()
    }

    /// The database connection pool's state now, when the store has a
    /// pool (sampled by `agora_core::metrics::Exporter::render`).
    pub fn pool_status(&self) -> Option<crate::storage::PoolStatus> {
        self.inner.store.pool_status()
    }
}
