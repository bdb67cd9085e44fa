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
//! All async work runs on one shared multi-thread tokio runtime per process
//! (`runtime`; a child of `fork()` builds its own, and instances made
//! before the fork refuse to run there: `agora.ForkedProcess`), which
//! `pyo3-async-runtimes` also uses for asyncio (`ProcessRuntime`). The
//! synchronous API releases the GIL while it
//! waits for that work, so Python threads run in parallel; the asyncio API
//! hands out awaitables that the runtime resolves without blocking the event
//! loop. The runtime keeps running between calls, so the background tasks
//! core spawns (account mail delivery) make progress while Python code runs;
//! a Python `mailer=` callable is called on a thread of its own, outside the
//! runtime (`mailer.rs`).

mod errors;
mod hashing;
mod logging;
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
/// hashing helpers of this process: multi-threaded, IO and timers enabled,
/// created on first use.
///
/// One per process: a child of `fork()` inherits the parent's runtime
/// without its threads (nothing would ever run on it), so the first call in
/// a child builds a runtime of its own, and an instance created after the
/// fork works there. The parent's copy is leaked in the child (dropping it
/// would wait for threads that do not exist there).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    use std::sync::{Mutex, OnceLock, PoisonError};

    /// The first process's runtime (the common case: no lock).
    static FIRST: OnceLock<(u32, tokio::runtime::Runtime)> = OnceLock::new();
    /// The runtime of a forked child.
    static CHILD: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);

    let build = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("agora")
            .build()
            .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"))
    };
    let pid = std::process::id();
    let (first, runtime) = FIRST.get_or_init(|| (pid, build()));
    if *first == pid {
        return runtime;
    }
    let mut child = CHILD.lock().unwrap_or_else(PoisonError::into_inner);
    match *child {
        Some((owner, runtime)) if owner == pid => runtime,
        _ => {
            let runtime: &'static tokio::runtime::Runtime = Box::leak(Box::new(build()));
            *child = Some((pid, runtime));
            runtime
        }
    }
}

/// [`runtime`] for `pyo3_async_runtimes`' asyncio bridge (its own tokio
/// runtime is one per address space, not per process).
pub(crate) struct ProcessRuntime;

tokio::task_local! {
    static TASK_LOCALS: std::sync::OnceLock<pyo3_async_runtimes::TaskLocals>;
}

impl pyo3_async_runtimes::generic::Runtime for ProcessRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        runtime().spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        runtime().spawn_blocking(f)
    }
}

impl pyo3_async_runtimes::generic::ContextExt for ProcessRuntime {
    fn scope<F, R>(
        locals: pyo3_async_runtimes::TaskLocals,
        fut: F,
    ) -> std::pin::Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<pyo3_async_runtimes::TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
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

/// Every setting: `(argument, variable, field, taken by Agora)` for each
/// `AGORA_*` variable of the servers (`False`: only `serve` takes it), in
/// the order of `agora_core::config::env::VARIABLES`.
#[pyfunction]
#[pyo3(name = "_settings")]
fn settings_table() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    settings::table()
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
    m.add_function(wrap_pyfunction!(server::serve_from_env, m)?)?;
    m.add_function(wrap_pyfunction!(settings_table, m)?)?;
    logging::install(m.py());
    m.add_function(wrap_pyfunction!(errors::set_error_defaults, m)?)?;
    Ok(())
}
