//! The services: every rule of the API, callable from any adapter.
//!
//! [`Agora`] is cheap to clone (an `Arc` inside) and safe to share across
//! threads and tasks.

mod auth;
mod posts;
mod users;
mod votes;

use std::sync::Arc;

pub use votes::VoteOutcome;

use crate::config::{Config, ConfigError};
use crate::crypto::jwt::TokenKeys;
use crate::crypto::password::PasswordHasher;
use crate::error::Result;
use crate::storage::Store;

/// The Agora application: storage, hashing, tokens and rules.
#[derive(Clone)]
pub struct Agora {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    tokens: TokenKeys,
    password_min_chars: usize,
    password_max_chars: usize,
    body_limit: usize,
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
    /// Builds the services over `store`. Fails when the configuration is
    /// invalid or has no JWT secret.
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let secret = config.jwt_secret.as_ref().ok_or(ConfigError::Invalid {
            name: "AGORA_JWT_SECRET",
            reason: "no JWT secret configured; set AGORA_JWT_SECRET to at least 32 random bytes"
                .to_owned(),
        })?;
        let hasher =
            PasswordHasher::new(config.hash_params, config.hash_concurrency).map_err(|e| {
                ConfigError::Invalid {
                    name: "hash_params",
                    reason: e.to_string(),
                }
            })?;
        Ok(Agora {
            inner: Arc::new(Inner {
                store,
                hasher,
                tokens: TokenKeys::new(secret, config.access_token_ttl, config.token_leeway),
                password_min_chars: config.password_min_chars,
                password_max_chars: config.password_max_chars,
                body_limit: config.body_limit,
            }),
        })
    }

    /// The password hasher, for apps that want the primitive.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// Succeeds when the database answers; [`crate::Error::Unavailable`] otherwise.
    pub async fn health(&self) -> Result<()> {
        Ok(self.inner.store.ping().await?)
    }

    /// The largest request body adapters accept, in bytes (larger: 413).
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// The storage backend's name.
    pub fn backend(&self) -> &'static str {
        self.inner.store.backend()
    }
}
