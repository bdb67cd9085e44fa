//! Argon2id password hashing with OWASP parameters, off the async runtime.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`). Every hash
//! and verify runs on tokio's blocking pool behind a semaphore, so a burst of
//! logins neither blocks request threads nor spawns hundreds of threads.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::domain::Password;
use crate::error::{Error, Result};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl HashParams {
    /// OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: HashParams = HashParams {
        m_cost: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    fn to_argon2(self) -> Result<Params> {
        Params::new(self.m_cost, self.t_cost, self.p_cost, None).map_err(Error::internal)
    }
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams::OWASP
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches.
    pub valid: bool,
    /// The stored hash uses weaker parameters (or another algorithm) than the
    /// configured ones and should be replaced after a successful login.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: HashParams,
    argon2: Argon2<'static>,
    permits: Semaphore,
    dummy_hash: OnceCell<String>,
}

impl PasswordHasher {
    /// A hasher with these parameters running at most `max_concurrent`
    /// hashes at once (use the number of cores).
    pub fn new(params: HashParams, max_concurrent: usize) -> Result<Self> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        Ok(PasswordHasher {
            inner: Arc::new(Inner {
                params,
                argon2,
                permits: Semaphore::new(max_concurrent.max(1)),
                dummy_hash: OnceCell::new(),
            }),
        })
    }

    /// The configured parameters.
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// Hashes a password with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.clone();
        self.run(move |inner| inner.hash_sync(password.expose()))
            .await
    }

    /// Verifies `password` against `stored`. With `stored == None` (unknown
    /// user) it verifies against a dummy hash of the same cost and reports
    /// `valid: false`, so the answer takes as long as for a real user.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification> {
        let password = password.clone();
        match stored {
            Some(stored) => {
                let stored = stored.to_owned();
                self.run(move |inner| Ok(inner.verify_sync(password.expose(), &stored)))
                    .await
            }
            None => {
                let dummy = self
                    .inner
                    .dummy_hash
                    .get_or_try_init(|| async {
                        let secret = Password::new(super::random_hex(16));
                        self.hash(&secret).await
                    })
                    .await?
                    .clone();
                self.run(move |inner| Ok(inner.verify_sync(password.expose(), &dummy)))
                    .await?;
                Ok(Verification {
                    valid: false,
                    needs_rehash: false,
                })
            }
        }
    }

    /// Whether a stored hash is weaker than the configured parameters.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        self.inner.needs_rehash(stored)
    }

    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(Error::internal)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(Error::internal)?
    }
}

impl Inner {
    fn hash_sync(&self, password: &str) -> Result<String> {
        self.argon2
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(e.to_string()))
    }

    fn verify_sync(&self, password: &str, stored: &str) -> Verification {
        let Ok(parsed) = PasswordHash::new(stored) else {
            tracing::error!("stored password hash is not a valid PHC string");
            return Verification {
                valid: false,
                needs_rehash: false,
            };
        };
        let valid = self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Verification {
            valid,
            needs_rehash: valid && self.needs_rehash(stored),
        }
    }

    fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() < self.params.m_cost
                    || p.t_cost() < self.params.t_cost
                    || p.p_cost() < self.params.p_cost
            }
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(HashParams::OWASP, 2).unwrap()
    }

    #[tokio::test]
    async fn hash_is_argon2id_with_owasp_parameters_and_a_unique_salt() {
        let h = hasher();
        let pw = Password::new("correct horse battery staple");
        let a = h.hash(&pw).await.unwrap();
        let b = h.hash(&pw).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
    }

    #[tokio::test]
    async fn verify_accepts_the_password_and_rejects_others() {
        let h = hasher();
        let stored = h.hash(&Password::new("correct horse")).await.unwrap();
        let ok = h
            .verify(&Password::new("correct horse"), Some(&stored))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                valid: true,
                needs_rehash: false
            }
        );
        let bad = h
            .verify(&Password::new("correct horsE"), Some(&stored))
            .await
            .unwrap();
        assert!(!bad.valid);
    }

    #[tokio::test]
    async fn unknown_user_verification_is_invalid_but_still_hashes() {
        let h = hasher();
        let v = h
            .verify(&Password::new("anything at all"), None)
            .await
            .unwrap();
        assert!(!v.valid);
        assert!(
            h.inner.dummy_hash.get().is_some(),
            "a dummy hash was computed and used"
        );
    }

    #[tokio::test]
    async fn weaker_stored_parameters_need_a_rehash() {
        let weak = PasswordHasher::new(
            HashParams {
                m_cost: 8_192,
                t_cost: 1,
                p_cost: 1,
            },
            1,
        )
        .unwrap();
        let stored = weak.hash(&Password::new("pw-pw-pw-pw")).await.unwrap();
        let h = hasher();
        assert!(h.needs_rehash(&stored));
        let v = h
            .verify(&Password::new("pw-pw-pw-pw"), Some(&stored))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verification {
                valid: true,
                needs_rehash: true
            }
        );
        let strong = h.hash(&Password::new("pw-pw-pw-pw")).await.unwrap();
        assert!(!h.needs_rehash(&strong));
    }

    #[tokio::test]
    async fn garbage_stored_hash_is_a_failed_verification_not_a_panic() {
        let v = hasher()
            .verify(&Password::new("x"), Some("not a phc string"))
            .await
            .unwrap();
        assert!(!v.valid);
    }
}
