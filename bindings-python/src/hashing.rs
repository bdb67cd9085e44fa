//! `agora.hash_password`, `agora.verify_password`, `agora.needs_rehash`: the
//! core's argon2id hasher (OWASP parameters m = 19 MiB, t = 2, p = 1) for
//! apps that want only the primitive.

use std::sync::{Mutex, PoisonError};

use agora_core::crypto::password::{HashParams, PasswordHasher};
use agora_core::domain::Password;
use pyo3::prelude::*;

use crate::block_on;

/// One hasher for the process, allowing one hash per core at a time. One
/// per process: a child of `fork()` does not have the parent's hashing
/// threads, so it makes its own (the parent's is leaked there).
fn hasher() -> agora_core::error::Result<&'static PasswordHasher> {
    static HASHER: Mutex<Option<(u32, &'static PasswordHasher)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = HASHER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, hasher)) = *slot
        && owner == pid
    {
        return Ok(hasher);
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hasher: &'static PasswordHasher =
        Box::leak(Box::new(PasswordHasher::new(HashParams::OWASP, cores)?));
    *slot = Some((pid, hasher));
    Ok(hasher)
}

/// Hashes `password` with argon2id (m=19456 KiB, t=2, p=1) and a fresh random
/// salt; returns the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
/// Releases the GIL while it hashes.
#[pyfunction]
pub fn hash_password(py: Python<'_>, password: String) -> PyResult<String> {
    let password = Password::new(password);
    block_on(py, async move { hasher()?.hash(&password).await })
}

/// Whether `password` matches the PHC string `hash`. A malformed hash is
/// `False`, not an exception. Releases the GIL while it hashes.
#[pyfunction]
pub fn verify_password(py: Python<'_>, password: String, hash: String) -> PyResult<bool> {
    let password = Password::new(password);
    block_on(py, async move {
        let verification = hasher()?.verify(&password, Some(&hash)).await?;
        Ok(verification.valid)
    })
}

/// Whether `hash` uses weaker parameters than the current ones (or another
/// algorithm, or is malformed) and should be replaced by a new
/// `hash_password` after the next successful `verify_password`.
#[pyfunction]
pub fn needs_rehash(py: Python<'_>, hash: &str) -> PyResult<bool> {
    hasher()
        .map(|h| h.needs_rehash(hash))
        .map_err(|e| crate::to_py_err(py, e))
}
