//! # agora-python
//!
//! The native half of the `agora` Python package (`agora._agora`), built
//! with [pyo3](https://pyo3.rs) and [maturin](https://www.maturin.rs).
//!
//! It is a thin translation layer: Python arguments become `agora-core`
//! schema types (`UserCreate`, `LoginRequest`, `RefreshRequest`,
//! `PostCreate`, `VoteRequest`, `ListQuery`, `PasswordChange`,
//! `AccountDeletion`, `ProfileUpdate`, `CommentCreate`, `EmailRequest`,
//! `ResetPasswordRequest`, `VerifyRequest`), the calls go to
//! [`agora_core::Agora`], and results become frozen Python objects. `Agora` and `AsyncAgora` are generated from
//! one list of operations (`service.rs`). Every rule stays in `agora-core`;
//! every [`agora_core::Error`] becomes a Python exception carrying its code,
//! status, detail and headers in [`errors::to_py_err`].
//!
//! All async work runs on one shared multi-thread tokio runtime (the one
//! `pyo3-async-runtimes` owns). The synchronous API releases the GIL while it
//! waits for that work, so Python threads run in parallel; the asyncio API
//! hands out awaitables that the runtime resolves without blocking the event
//! loop. The runtime keeps running between calls, so the background tasks
//! core spawns (account mail delivery) make progress while Python code runs;
//! a Python `mailer=` callable is called on a thread of its own, outside the
//! runtime (`mailer.rs`).

mod errors;
mod hashing;
mod mailer;
mod server;
mod service;
mod settings;
mod types;

use std::future::Future;

use pyo3::prelude::*;

pub use errors::to_py_err;
pub use settings::sqlx_database_url;

/// The tokio runtime shared by every `Agora`, `AsyncAgora`, `Server` and the
/// hashing helpers: multi-threaded, IO and timers enabled, created on first use.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `future` to completion on the shared runtime with the GIL released,
/// turning an Agora error into its Python exception.
pub(crate) fn block_on<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = agora_core::error::Result<T>> + Send,
    T: Send,
{
    py.detach(|| runtime().block_on(future))
        .map_err(|e| to_py_err(py, e))
}

/// The native module `agora._agora`; the public API is re-exported by the
/// `agora` package.
#[pymodule]
fn _agora(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<types::User>()?;
    m.add_class::<types::Post>()?;
    m.add_class::<types::PostWithVotes>()?;
    m.add_class::<types::Token>()?;
    m.add_class::<types::VoteResult>()?;
    m.add_class::<types::Session>()?;
    m.add_class::<types::Profile>()?;
    m.add_class::<types::TagCount>()?;
    m.add_class::<types::Comment>()?;
    m.add_class::<service::Agora>()?;
    m.add_class::<service::AsyncAgora>()?;
    m.add_class::<server::Server>()?;
    m.add_function(wrap_pyfunction!(hashing::hash_password, m)?)?;
    m.add_function(wrap_pyfunction!(hashing::verify_password, m)?)?;
    m.add_function(wrap_pyfunction!(hashing::needs_rehash, m)?)?;
    m.add_function(wrap_pyfunction!(server::serve, m)?)?;
    m.add_function(wrap_pyfunction!(errors::set_error_defaults, m)?)?;
    Ok(())
}
