//! Argon2id password hashing with OWASP parameters, off the async runtime.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`). Every hash
//! and verify runs on the hasher's own pool of threads (one per core by
//! default), never on the async runtime's threads: a burst of logins queues
//! there instead of blocking request handling or spawning hundreds of threads.
//! The pool's threads run at a lower CPU priority (nice 10 on Unix), so while
//! hashing saturates the cores, cheap requests still get the CPU first; when
//! nothing else wants it, hashing gets all of it.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, oneshot};

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
    pool: rayon::ThreadPool,
    dummy_hash: OnceCell<String>,
}

/// The niceness hashing threads ask for: well below request handling, yet
/// not starved by it (CFS weight 110 against 1024 for nice 0).
const HASHING_NICENESS: u8 = 22; // thread-priority's 0..=99 scale: nice 10 on Linux

fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    let lowered = ThreadPriorityValue::try_from(HASHING_NICENESS)
        .map_err(|e| e.to_string())
        .and_then(|v| {
            set_current_thread_priority(ThreadPriority::Crossplatform(v)).map_err(|e| e.to_string())
        });
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "could not lower the priority of a hashing thread");
    }
}

impl PasswordHasher {
    /// A hasher with these parameters running at most `max_concurrent`
    /// hashes at once, on as many dedicated threads (use the number of cores).
    pub fn new(params: HashParams, max_concurrent: usize) -> Result<Self> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(max_concurrent.max(1))
            .thread_name(|i| format!("agora-hash-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .map_err(Error::internal)?;
        Ok(PasswordHasher {
            inner: Arc::new(Inner {
                params,
                argon2,
                pool,
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

    /// Runs `work` on the hashing pool (queued FIFO behind earlier work) and
    /// waits for it without blocking the async runtime.
    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let inner = Arc::clone(&self.inner);
        self.inner.pool.spawn(move || {
            // The caller may have gone away (request cancelled): nothing to tell.
            let _ = done.send(work(&inner));
        });
        result
            .await
            .map_err(|_| Error::internal("a hashing thread stopped before answering"))?
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
    async fn hashing_runs_on_the_pool_not_on_the_callers_thread() {
        let h = hasher();
        let caller = std::thread::current().id();
        let worker = h
            .run(|_| {
                Ok((
                    std::thread::current().id(),
                    std::thread::current().name().map(str::to_owned),
                ))
            })
            .await
            .unwrap();
        assert_ne!(worker.0, caller);
        assert!(worker.1.unwrap_or_default().starts_with("agora-hash-"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_cpu_priority() {
        // Field 19 of /proc/thread-self/stat is the thread's nice value.
        fn nice() -> i32 {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            after_name.split(' ').nth(16).unwrap().parse().unwrap()
        }
        let here = nice();
        let there = hasher().run(|_| Ok(nice())).await.unwrap();
        assert!(
            there > here,
            "hashing thread nice {there}, caller nice {here}"
        );
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
