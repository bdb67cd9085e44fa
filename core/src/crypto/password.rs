//! Argon2id password hashing with OWASP parameters, off the async runtime.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`). Every hash
//! and verify runs on the hasher's own pool of threads (one per core by
//! default), never on the async runtime's threads: a burst of logins queues
//! there instead of blocking request handling or spawning hundreds of threads.
//! The pool's threads run at a lower CPU priority (nice 10 on Unix), so while
//! hashing saturates the cores, cheap requests still get the CPU first; when
//! nothing else wants it, hashing gets all of it.
//!
//! Memory is one argon2 block array per hashing thread (19 MiB with the
//! OWASP parameters), allocated on the thread's first hash and reused by
//! every later hash and verify there, so a login flood's peak memory is the
//! pool's size times that, however many hashes it runs. (Allocating one per
//! hash, as the argon2 crate does, leaves them in the allocator's per-thread
//! arenas.) A stored hash that needs more memory than the configured
//! parameters (made with stronger ones) is verified in a temporary array,
//! freed once done: the kept one never outgrows the configured parameters.
//! Only the memory is ours: the hash itself is the argon2 crate's, and a
//! verification does exactly what its `PasswordVerifier` does.
//!
//! Passwords arrive NFKC-normalised ([`Password`]) and are never truncated:
//! argon2id hashes every byte.
//!
//! Legacy hashes verify and are flagged for a rehash, so the next successful
//! login replaces them with argon2id at the configured parameters:
//! - argon2 hashes with weaker parameters (or argon2i/argon2d);
//! - bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) imported from the original
//!   FastAPI app (passlib). bcrypt only ever hashed the first 72 bytes of a
//!   password, so until that first login such a hash accepts any password
//!   that shares those 72 bytes, exactly as the original app did; argon2id
//!   has no such limit;
//! - hashes of a password as typed, made before passwords were normalised
//!   (the original app did not normalise): when the NFKC form fails, the
//!   form as received is tried too (see [`Password`]).

use std::cell::RefCell;
use std::sync::Arc;

use argon2::password_hash::{
    self,
    phc::{Output, ParamsString, PasswordHash, Salt},
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Password hashing settings (`config.hashing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashConfig {
    /// Argon2id parameters for new hashes (OWASP m=19 MiB, t=2, p=1 by default).
    pub params: HashParams,
    /// Hashes running at once, each on its own thread; the number of cores by default.
    pub concurrency: usize,
}

impl Default for HashConfig {
    fn default() -> Self {
        HashConfig {
            params: HashParams::OWASP,
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches.
    pub valid: bool,
    /// The stored hash uses weaker parameters or another algorithm (bcrypt)
    /// than the configured ones, or hashes the password as typed rather than
    /// normalised, and should be replaced after a successful login.
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
    /// The memory blocks the configured parameters need: the size of the
    /// array each hashing thread keeps.
    kept_blocks: usize,
    pool: rayon::ThreadPool,
    dummy_hash: OnceCell<String>,
}

/// The niceness hashing threads ask for: well below request handling, yet
/// not starved by it (CFS weight 110 against 1024 for nice 0).
const HASHING_NICENESS: u8 = 22; // thread-priority's 0..=99 scale: nice 10 on Linux

/// The algorithm and version of new hashes.
const ALGORITHM: Algorithm = Algorithm::Argon2id;
const VERSION: Version = Version::V0x13;

thread_local! {
    /// The argon2 memory of the hashing thread this runs on, reused by each
    /// of its hashes (see [`Inner::with_memory`]); empty on other threads.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

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
        let argon2 = Argon2::new(ALGORITHM, VERSION, params.to_argon2()?);
        let kept_blocks = argon2.params().block_count();
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
                kept_blocks,
                pool,
                dummy_hash: OnceCell::new(),
            }),
        })
    }

    /// The hasher `config` describes; refused when its parameters are unusable.
    pub fn from_config(config: &HashConfig) -> Result<Self, crate::setting::ConfigError> {
        Self::new(config.params, config.concurrency)
            .map_err(|e| crate::setting::ConfigError::invalid("hashing.params", e.to_string()))
    }

    /// The configured parameters.
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// Hashes a password with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.clone();
        self.run("hash", move |inner| inner.hash_sync(password.expose()))
            .await
    }

    /// Verifies `password` against `stored`: an argon2 PHC string or a bcrypt
    /// hash (anything else is a failed verification). With `stored == None`
    /// (unknown user) it verifies against a dummy hash of the same cost and
    /// reports `valid: false`, so the answer takes as long as for a real user.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification> {
        let password = password.clone();
        match stored {
            Some(stored) => {
                let stored = stored.to_owned();
                self.run("verify", move |inner| {
                    Ok(inner.verify_sync(&password, &stored))
                })
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
                self.run("verify", move |inner| {
                    Ok(inner.verify_sync(&password, &dummy))
                })
                .await?;
                Ok(Verification {
                    valid: false,
                    needs_rehash: false,
                })
            }
        }
    }

    /// Whether a stored hash is weaker than the configured parameters (a
    /// bcrypt hash always is).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        self.inner.needs_rehash(stored)
    }

    /// Runs `work` (an `operation`: `"hash"` or `"verify"`) on the hashing
    /// pool (queued FIFO behind earlier work) and waits for it without
    /// blocking the async runtime. Its wait counts in the queue-length
    /// metric and its run time in the hash-time one.
    async fn run<T, F>(&self, operation: &'static str, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let inner = Arc::clone(&self.inner);
        let queued = crate::metrics::hash_queued();
        self.inner.pool.spawn(move || {
            drop(queued);
            let started = std::time::Instant::now();
            let outcome = work(&inner);
            crate::metrics::record_hash_time(operation, started.elapsed());
            // The caller may have gone away (request cancelled): nothing to tell.
            let _ = done.send(outcome);
        });
        result
            .await
            .map_err(|_| Error::internal("a hashing thread stopped before answering"))?
    }
}

impl Inner {
    /// What the argon2 crate's `hash_password` does (a random salt from
    /// `password_hash`, the same PHC string), in this thread's kept memory.
    fn hash_sync(&self, password: &str) -> Result<String> {
        let hash = || -> password_hash::Result<PasswordHash> {
            let salt = Salt::new(&password_hash::try_generate_salt()?)?;
            let output = self.output(&self.argon2, password.as_bytes(), &salt)?;
            Ok(PasswordHash {
                algorithm: ALGORITHM.ident(),
                version: Some(VERSION.into()),
                params: ParamsString::try_from(self.argon2.params())?,
                salt: Some(salt),
                hash: Some(output),
            })
        };
        hash()
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(e.to_string()))
    }

    /// What the argon2 crate's `hash_password_with_salt` computes with
    /// `argon2`: the hash's output, of the length its parameters ask for
    /// (32 bytes by default), in this thread's kept memory when it is
    /// large enough (see [`Inner::with_memory`]).
    fn output(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
    ) -> password_hash::Result<Output> {
        let salt = Salt::new(salt)?;
        let params = argon2.params();
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer
            .get_mut(..output_len)
            .ok_or(password_hash::Error::OutputSize)?;
        self.with_memory(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, &salt, &mut *out, blocks)
        })?;
        Ok(Output::new(out)?)
    }

    /// Runs `hash` with `blocks` argon2 memory blocks. On one of this
    /// hasher's threads, when the configured parameters need at least that
    /// many, they are (the start of) the thread's kept array, allocated once
    /// at the configured size. Elsewhere, or for a stored hash that needs
    /// more, they are a temporary array, freed on return: the kept one never
    /// grows past the configured size. The blocks' previous contents do not
    /// matter: argon2's first pass writes every block before reading it.
    fn with_memory<T>(&self, blocks: usize, hash: impl FnOnce(&mut [Block]) -> T) -> T {
        let on_our_pool = self.pool.current_thread_index().is_some();
        if !on_our_pool || blocks > self.kept_blocks {
            return hash(&mut vec![Block::new(); blocks]);
        }
        BLOCKS.with(|kept| match kept.try_borrow_mut() {
            Ok(mut kept) => {
                if kept.len() != self.kept_blocks {
                    // Exactly the configured size (no spare capacity).
                    *kept = vec![Block::new(); self.kept_blocks];
                }
                hash(&mut kept[..blocks])
            }
            // Only a hash run from inside another on this thread (argon2 never
            // does): give it its own memory rather than panic.
            Err(_) => hash(&mut vec![Block::new(); blocks]),
        })
    }

    /// The argon2 crate's `PasswordVerifier::verify_password`, in this
    /// thread's kept memory: the algorithm, version, parameters and output
    /// length come from the stored PHC string (through the crate's own
    /// conversions), the password is hashed with its salt, and the outputs
    /// compared in constant time (`phc::Output`'s equality).
    fn verify_argon2(&self, password: &[u8], stored: &PasswordHash) -> bool {
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return false;
        };
        let argon2 = || -> password_hash::Result<Argon2<'static>> {
            let algorithm = Algorithm::try_from(stored.algorithm.as_str())?;
            let version = stored
                .version
                .map(Version::try_from)
                .transpose()?
                .unwrap_or_default();
            Ok(Argon2::new(algorithm, version, Params::try_from(stored)?))
        };
        argon2()
            .and_then(|argon2| self.output(&argon2, password, salt))
            .is_ok_and(|computed| computed == *expected)
    }

    /// Checks the normalised password, then, only if that fails and
    /// normalisation changed it, the password as received (a hash made before
    /// normalisation). Unknown users take the same path against the dummy
    /// hash, so timing does not tell them apart.
    fn verify_sync(&self, password: &Password, stored: &str) -> Verification {
        if self.matches(password.expose(), stored) {
            return Verification {
                valid: true,
                needs_rehash: self.needs_rehash(stored),
            };
        }
        let legacy = password
            .as_received()
            .is_some_and(|as_received| self.matches(as_received, stored));
        Verification {
            valid: legacy,
            needs_rehash: legacy,
        }
    }

    /// Whether `password` matches `stored`, a bcrypt hash or an argon2 PHC
    /// string; anything else never matches.
    fn matches(&self, password: &str, stored: &str) -> bool {
        if is_bcrypt(stored) {
            // Truncates to 72 bytes, as the hash was made (passlib's bcrypt).
            return bcrypt::verify(password, stored).unwrap_or_else(|e| {
                tracing::error!(error = %e, "stored bcrypt password hash is malformed");
                false
            });
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            tracing::error!("stored password hash is neither a PHC string nor a bcrypt hash");
            return false;
        };
        self.verify_argon2(password.as_bytes(), &parsed)
    }

    fn needs_rehash(&self, stored: &str) -> bool {
        if is_bcrypt(stored) {
            return true;
        }
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

/// A bcrypt hash in the modular crypt format: `$2a$`, `$2b$` or `$2y$`
/// (`$2x$` marks hashes from a buggy implementation and is refused).
fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
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
            .run("hash", |_| {
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
        let there = hasher().run("hash", |_| Ok(nice())).await.unwrap();
        assert!(
            there > here,
            "hashing thread nice {there}, caller nice {here}"
        );
    }

    #[tokio::test]
    async fn garbage_stored_hash_is_a_failed_verification_not_a_panic() {
        let h = hasher();
        let bcrypt_2x = bcrypt::hash_with_result("x", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoX);
        for garbage in [
            "not a phc string",
            "",
            "$",
            "$2b$",
            "$2b$12$tooshort",
            "$2b$99$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "$2b$12$€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            &bcrypt_2x,
        ] {
            let v = h.verify(&Password::new("x"), Some(garbage)).await.unwrap();
            assert!(!v.valid, "{garbage:?}");
        }
    }

    fn owasp_argon2id(stored: &str) -> bool {
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    }

    #[tokio::test]
    async fn bcrypt_hash_from_the_original_app_verifies_and_is_upgraded_on_login() {
        let h = hasher();
        // As passlib made them in the FastAPI app ($2b$, cost 12; 4 here for speed).
        let imported = bcrypt::hash("the old fastapi password", 4).unwrap();
        assert!(imported.starts_with("$2b$04$"), "{imported}");
        assert!(h.needs_rehash(&imported));
        let login = Password::new("the old fastapi password");
        let v = h.verify(&login, Some(&imported)).await.unwrap();
        assert_eq!(
            v,
            Verification {
                valid: true,
                needs_rehash: true
            }
        );
        let wrong = h
            .verify(&Password::new("the old fastapi passworD"), Some(&imported))
            .await
            .unwrap();
        assert_eq!(
            wrong,
            Verification {
                valid: false,
                needs_rehash: false
            }
        );
        // What login then does: rehash with argon2id, which needs no more rehashing.
        let upgraded = h.hash(&login).await.unwrap();
        assert!(owasp_argon2id(&upgraded), "{upgraded}");
        assert!(!h.needs_rehash(&upgraded));
        let again = h.verify(&login, Some(&upgraded)).await.unwrap();
        assert_eq!(
            again,
            Verification {
                valid: true,
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn bcrypt_2a_and_2y_hashes_verify_too() {
        let h = hasher();
        let parts = bcrypt::hash_with_result("from php or an older passlib", 4).unwrap();
        for version in [bcrypt::Version::TwoA, bcrypt::Version::TwoY] {
            let stored = parts.format_for_version(version);
            let v = h
                .verify(
                    &Password::new("from php or an older passlib"),
                    Some(&stored),
                )
                .await
                .unwrap();
            assert!(v.valid && v.needs_rehash, "{stored}");
        }
    }

    #[tokio::test]
    async fn bcrypt_compares_72_bytes_only_until_the_rehash_to_argon2id() {
        let h = hasher();
        let original = format!("{}{}", "p".repeat(72), "original tail....");
        let same_prefix = format!("{}{}", "p".repeat(72), "another tail");
        let imported = bcrypt::hash(&original, 4).unwrap();
        // The legacy hash only ever saw 72 bytes, as in the original app.
        let v = h
            .verify(&Password::new(same_prefix.as_str()), Some(&imported))
            .await
            .unwrap();
        assert!(v.valid, "bcrypt truncates at 72 bytes");
        // Once rehashed, every byte counts.
        let upgraded = h.hash(&Password::new(original.as_str())).await.unwrap();
        let v = h
            .verify(&Password::new(same_prefix), Some(&upgraded))
            .await
            .unwrap();
        assert!(!v.valid, "argon2id does not truncate");
    }

    #[tokio::test]
    async fn argon2id_never_truncates_the_password() {
        let h = hasher();
        // 128 characters that differ in the last one only.
        let a = format!("{}a", "x".repeat(127));
        let b = format!("{}b", "x".repeat(127));
        let stored = h.hash(&Password::new(a.as_str())).await.unwrap();
        assert!(
            h.verify(&Password::new(a), Some(&stored))
                .await
                .unwrap()
                .valid
        );
        assert!(
            !h.verify(&Password::new(b), Some(&stored))
                .await
                .unwrap()
                .valid
        );
        // 100 bytes that differ after byte 72 (where bcrypt would stop).
        let a = format!("{}{}", "y".repeat(80), "z".repeat(20));
        let b = format!("{}{}", "y".repeat(80), "Z".repeat(20));
        assert_eq!(a.len(), 100);
        let stored = h.hash(&Password::new(a)).await.unwrap();
        assert!(
            !h.verify(&Password::new(b), Some(&stored))
                .await
                .unwrap()
                .valid
        );
    }

    #[tokio::test]
    async fn a_password_typed_in_another_unicode_form_verifies() {
        let h = hasher();
        for (registered, typed) in [
            ("\u{fb01}le cabinet key", "file cabinet key"), // ligature "ﬁ"
            ("caf\u{e9} au lait!", "cafe\u{301} au lait!"), // composed / decomposed é
            ("no\u{a0}break space", "no break space"),      // no-break space
        ] {
            let stored = h.hash(&Password::new(registered)).await.unwrap();
            let v = h
                .verify(&Password::new(typed), Some(&stored))
                .await
                .unwrap();
            assert_eq!(
                v,
                Verification {
                    valid: true,
                    needs_rehash: false
                },
                "{typed:?}"
            );
            let stored = h.hash(&Password::new(typed)).await.unwrap();
            let v = h
                .verify(&Password::new(registered), Some(&stored))
                .await
                .unwrap();
            assert!(v.valid && !v.needs_rehash, "{registered:?}");
        }
    }

    #[tokio::test]
    async fn hash_of_the_password_as_typed_before_normalisation_verifies_and_needs_a_rehash() {
        let h = hasher();
        let typed = "\u{fb01}ve cafe\u{301}s\u{a0}ago"; // not NFKC
        // The original app hashed the bytes as typed.
        let imported = bcrypt::hash(typed, 4).unwrap();
        let v = h
            .verify(&Password::new(typed), Some(&imported))
            .await
            .unwrap();
        assert!(v.valid && v.needs_rehash);
        let old_argon2 = h.inner.hash_sync(typed).unwrap();
        let v = h
            .verify(&Password::new(typed), Some(&old_argon2))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verification {
                valid: true,
                needs_rehash: true
            },
            "rehashed in the normalised form"
        );
        let wrong = h
            .verify(
                &Password::new("\u{fb01}ve cafe\u{301}s ago!"),
                Some(&old_argon2),
            )
            .await
            .unwrap();
        assert!(!wrong.valid);
    }

    /// The argon2 crate with `algorithm` and `params` (version 0x13).
    fn crate_argon2(algorithm: Algorithm, m: u32, t: u32, p: u32) -> Argon2<'static> {
        Argon2::new(algorithm, VERSION, Params::new(m, t, p, None).unwrap())
    }

    /// The argon2 crate's own verification, as this module did before it
    /// reused memory.
    fn crate_verifies(password: &str, stored: &str) -> bool {
        use argon2::password_hash::PasswordVerifier as _;
        Argon2::default()
            .verify_password(password.as_bytes(), stored)
            .is_ok()
    }

    /// The start and capacity of the calling thread's kept argon2 memory.
    fn kept_memory() -> (usize, usize) {
        BLOCKS.with_borrow(|kept| (kept.as_ptr() as usize, kept.capacity()))
    }

    #[tokio::test]
    async fn hashes_made_here_verify_with_the_argon2_crate() {
        for params in [
            HashParams::OWASP,
            HashParams {
                m_cost: 8_192,
                t_cost: 3,
                p_cost: 2,
            },
        ] {
            let h = PasswordHasher::new(params, 2).unwrap();
            let expected_prefix = format!(
                "$argon2id$v=19$m={},t={},p={}$",
                params.m_cost, params.t_cost, params.p_cost
            );
            // More hashes than threads: most run in memory a hash already used.
            for _ in 0..4 {
                let stored = h.hash(&Password::new("correct horse")).await.unwrap();
                assert!(stored.starts_with(&expected_prefix), "{stored}");
                let parsed = PasswordHash::new(&stored).unwrap();
                assert_eq!(parsed.salt.unwrap().len(), 16, "{stored}");
                assert_eq!(parsed.hash.unwrap().len(), 32, "{stored}");
                assert!(crate_verifies("correct horse", &stored), "{stored}");
                assert!(!crate_verifies("correct horsE", &stored), "{stored}");
            }
        }
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_verify_here() {
        use argon2::password_hash::PasswordHasher as _;
        let h = hasher();
        // Warm the pool's memory with hashes of other passwords first.
        for _ in 0..2 {
            h.hash(&Password::new("something else")).await.unwrap();
        }
        let long_output = Argon2::new(
            ALGORITHM,
            VERSION,
            Params::new(19_456, 2, 1, Some(64)).unwrap(),
        );
        let old_version = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(8_192, 2, 1, None).unwrap(),
        );
        for argon2 in [
            crate_argon2(Algorithm::Argon2id, 19_456, 2, 1),
            crate_argon2(Algorithm::Argon2id, 8_192, 3, 2),
            crate_argon2(Algorithm::Argon2i, 19_456, 2, 1),
            crate_argon2(Algorithm::Argon2i, 8_192, 3, 2),
            crate_argon2(Algorithm::Argon2d, 8_192, 1, 1),
            long_output,
            old_version,
        ] {
            let stored = argon2.hash_password(b"correct horse").unwrap().to_string();
            let right = h
                .verify(&Password::new("correct horse"), Some(&stored))
                .await
                .unwrap();
            assert!(right.valid, "{stored}");
            let wrong = h
                .verify(&Password::new("correct horsE"), Some(&stored))
                .await
                .unwrap();
            assert!(!wrong.valid, "{stored}");
        }
    }

    #[tokio::test]
    async fn the_output_is_the_argon2_crates_for_the_same_salt() {
        use argon2::password_hash::PasswordHasher as _;
        let h = hasher();
        let salt = b"a fixed salt for the test";
        for argon2 in [
            crate_argon2(Algorithm::Argon2id, 19_456, 2, 1),
            crate_argon2(Algorithm::Argon2id, 8_192, 3, 2),
            crate_argon2(Algorithm::Argon2i, 8_192, 3, 2),
            crate_argon2(Algorithm::Argon2id, 19_456, 2, 1),
        ] {
            let expected = argon2
                .hash_password_with_salt(b"correct horse", salt)
                .unwrap()
                .hash
                .unwrap();
            let ours = h
                .run("hash", move |inner| {
                    inner
                        .output(&argon2, b"correct horse", salt)
                        .map_err(|e| Error::internal(e.to_string()))
                })
                .await
                .unwrap();
            assert_eq!(ours.as_bytes(), expected.as_bytes());
        }
    }

    #[tokio::test]
    async fn each_hashing_thread_reuses_one_array_of_the_configured_size() {
        let h = PasswordHasher::new(HashParams::OWASP, 1).unwrap();
        let configured = h.inner.argon2.params().block_count();
        assert_eq!(configured, 19_456);
        let stored = h.hash(&Password::new("correct horse")).await.unwrap();
        let first = h.run("hash", |_| Ok(kept_memory())).await.unwrap();
        assert_eq!(first.1, configured);
        for _ in 0..3 {
            assert!(
                h.verify(&Password::new("correct horse"), Some(&stored))
                    .await
                    .unwrap()
                    .valid
            );
            let now = h.run("hash", |_| Ok(kept_memory())).await.unwrap();
            assert_eq!(now, first, "the same array, not a new one");
        }
        // Off the pool (here, the test's thread), nothing is kept.
        h.inner.hash_sync("correct horse").unwrap();
        assert_eq!(kept_memory().1, 0);
    }

    #[tokio::test]
    async fn a_hash_needing_more_memory_verifies_without_growing_the_kept_array() {
        use argon2::password_hash::PasswordHasher as _;
        let configured = HashParams {
            m_cost: 8_192,
            t_cost: 1,
            p_cost: 1,
        };
        let h = PasswordHasher::new(configured, 1).unwrap();
        let own = h.hash(&Password::new("correct horse")).await.unwrap();
        let kept = h.run("hash", |_| Ok(kept_memory())).await.unwrap();
        assert_eq!(kept.1, 8_192);
        // Made with stronger parameters than this hasher's: 19 MiB, 64 MiB.
        for m_cost in [19_456, 65_536] {
            let stronger = crate_argon2(Algorithm::Argon2id, m_cost, 1, 1)
                .hash_password(b"correct horse")
                .unwrap()
                .to_string();
            let v = h
                .verify(&Password::new("correct horse"), Some(&stronger))
                .await
                .unwrap();
            assert_eq!(
                v,
                Verification {
                    valid: true,
                    needs_rehash: false
                },
                "{stronger}"
            );
            assert!(
                !h.verify(&Password::new("correct horsE"), Some(&stronger))
                    .await
                    .unwrap()
                    .valid
            );
            let after = h.run("hash", |_| Ok(kept_memory())).await.unwrap();
            assert_eq!(after, kept, "the kept array is the same, no larger");
        }
        // A weaker one uses the start of the kept array.
        let weaker = crate_argon2(Algorithm::Argon2id, 1_024, 1, 1)
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        let v = h
            .verify(&Password::new("correct horse"), Some(&weaker))
            .await
            .unwrap();
        assert!(v.valid && v.needs_rehash);
        assert_eq!(h.run("hash", |_| Ok(kept_memory())).await.unwrap(), kept);
        assert!(
            h.verify(&Password::new("correct horse"), Some(&own))
                .await
                .unwrap()
                .valid
        );
    }
}
