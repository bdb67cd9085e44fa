//! `agora.serve(...)`: the axum HTTP server (`agora_axum::serve`) running in
//! the background on the shared runtime, with a handle to stop it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agora_core::Config;
use agora_core::mail::Mailer;
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::mailer::PyMailer;
use crate::runtime;
use crate::settings::{self, DEFAULT_DATABASE_URL};

/// Starts Agora's HTTP API (the Rust axum server, the same contract as the
/// original FastAPI app) in the background and returns at once.
///
/// `port=0` picks a free port; `Server.url` shows the real one. The database,
/// token, `throttle` and `hide_emails` arguments are those of `Agora`; the
/// other keyword arguments are the server's settings ([`set_server_setting`]),
/// the account mail settings of `Agora` and its `mailer`.
/// The server runs until `Server.stop()` (or the end of a `with` block, or
/// the end of the process); dropping the handle does not stop it.
#[pyfunction]
#[pyo3(signature = (host = "127.0.0.1", port = 8000, database_url = DEFAULT_DATABASE_URL, *, jwt_secret = None, access_token_ttl = None, refresh_reuse_grace = None, throttle = true, hide_emails = false, **server),
       text_signature = "(host='127.0.0.1', port=8000, database_url='sqlite:///agora.db', *, jwt_secret=None, access_token_ttl=None, refresh_reuse_grace=None, throttle=True, hide_emails=False, **server)")]
#[allow(clippy::too_many_arguments)] // one per argument of `agora.serve`
pub fn serve(
    py: Python<'_>,
    host: &str,
    port: u16,
    database_url: &str,
    jwt_secret: Option<&Bound<'_, PyAny>>,
    access_token_ttl: Option<&Bound<'_, PyAny>>,
    refresh_reuse_grace: Option<&Bound<'_, PyAny>>,
    throttle: bool,
    hide_emails: bool,
    server: Option<&Bound<'_, PyDict>>,
) -> PyResult<Server> {
    let mut config = settings::config(
        database_url,
        settings::secret_arg(jwt_secret)?,
        settings::ttl_arg(access_token_ttl)?,
        settings::grace_arg(refresh_reuse_grace)?,
        throttle,
        hide_emails,
    )?;
    let mut mailer = None;
    for (name, value) in server.into_iter().flatten() {
        let name = name.cast_into::<PyString>()?;
        let name = name.to_cow()?;
        if name == "mailer" {
            mailer = Some(value).filter(|m| !m.is_none());
            continue;
        }
        set_server_setting(&mut config, &name, &value)?;
    }
    settings::validate(&config)?;
    settings::check_mailer(&config, mailer.is_some())?;
    let mailer = mailer
        .map(|m| PyMailer::new(&m).map(|m| Arc::new(m) as Arc<dyn Mailer>))
        .transpose()?;
    let agora = settings::open(py, &config, mailer)?;
    let listener = py
        .detach(|| runtime().block_on(tokio::net::TcpListener::bind((host, port))))
        .map_err(|e| PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}")))?;
    let address = listener.local_addr()?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = runtime().spawn(async move {
        let signal = async {
            // A dropped sender also stops the server.
            let _ = stopped.await;
        };
        agora_axum::serve(listener, agora, &config, signal).await
    });
    Ok(Server {
        url: format!("http://{address}"),
        host: address.ip().to_string(),
        port: address.port(),
        state: Mutex::new(State {
            shutdown: Some(shutdown),
            task: Some(task),
        }),
    })
}

/// Sets one of the server settings `serve` takes as keyword arguments: the
/// server-only fields of [`Config`]. Durations are seconds (`int`) or a
/// `datetime.timedelta`.
///
/// | argument | sets |
/// |---|---|
/// | `body_limit` | the largest request body in bytes (64 KiB; larger: 413) |
/// | `cors_origins` | the allowed CORS origins (none: CORS off; `*` is refused) |
/// | `redis_url`, `redis_prefix`, `redis_timeout` | throttling counters in Redis |
/// | `header_timeout`, `body_timeout`, `idle_timeout` | the HTTP deadlines |
/// | `max_connections` | most client connections served at once |
/// | `shutdown_timeout` | how long requests in flight may finish on `stop()` |
/// | `pool_max_connections`, `pool_acquire_timeout`, `pool_statement_timeout` | the database pool |
/// | `trusted_proxy_header`, `trusted_proxy_hops` | the reverse proxy that names the client's IP |
fn set_server_setting(config: &mut Config, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let duration = || {
        settings::duration_arg(name, Some(value))?.ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{name} must be an int (seconds) or a datetime.timedelta"
            ))
        })
    };
    match name {
        "body_limit" => config.server.body_limit = extract(name, value)?,
        "cors_origins" => config.server.cors_origins = extract(name, value)?,
        "redis_url" => config.server.redis.url = extract(name, value)?,
        "redis_prefix" => config.server.redis.prefix = extract(name, value)?,
        "redis_timeout" => config.server.redis.timeout = duration()?,
        "header_timeout" => config.server.header_timeout = duration()?,
        "body_timeout" => config.server.body_timeout = duration()?,
        "idle_timeout" => config.server.idle_timeout = duration()?,
        "max_connections" => config.server.max_connections = extract(name, value)?,
        "shutdown_timeout" => config.server.shutdown_timeout = duration()?,
        "pool_max_connections" => config.server.pool.max_connections = extract(name, value)?,
        "pool_acquire_timeout" => config.server.pool.acquire_timeout = duration()?,
        "pool_statement_timeout" => config.server.pool.statement_timeout = duration()?,
        "trusted_proxy_header" => config.proxy.header = extract(name, value)?,
        "trusted_proxy_hops" => config.proxy.hops = extract(name, value)?,
        _ => {
            if !settings::set_mail_setting(config, name, value)? {
                return Err(PyTypeError::new_err(format!(
                    "serve() got an unexpected keyword argument '{name}'"
                )));
            }
        }
    }
    Ok(())
}

/// `value` as the setting `name` wants it; a refusal names the setting.
fn extract<'py, T: FromPyObjectOwned<'py>>(name: &str, value: &Bound<'py, PyAny>) -> PyResult<T> {
    value.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        let py = value.py();
        PyErr::from_type(e.get_type(py), format!("{name}: {}", e.value(py)))
    })
}

struct State {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// A running Agora HTTP server started by `agora.serve(...)`.
///
/// Use it as a context manager to stop it at the end of the block.
#[pyclass(frozen, module = "agora", name = "Server")]
pub struct Server {
    /// The base URL, e.g. `http://127.0.0.1:8000`, with the real port.
    #[pyo3(get)]
    url: String,
    /// The address the server listens on.
    #[pyo3(get)]
    host: String,
    /// The port the server listens on (the real one when started with `port=0`).
    #[pyo3(get)]
    port: u16,
    state: Mutex<State>,
}

impl Server {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave State inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_running(&self) -> bool {
        self.state()
            .task
            .as_ref()
            .is_some_and(|task| !task.is_finished())
    }
}

#[pymethods]
impl Server {
    /// Whether the server is still serving.
    #[getter]
    fn running(&self) -> bool {
        self.is_running()
    }

    /// Stops accepting connections, lets requests in flight finish for up to
    /// `timeout` seconds (then drops them), and waits for the server to end.
    /// Calling it again does nothing. Raises `OSError` if the server had failed.
    #[pyo3(signature = (timeout = 10.0))]
    fn stop(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let grace = Duration::try_from_secs_f64(timeout)
            .map_err(|_| PyValueError::new_err("timeout must be a non-negative number"))?;
        let (shutdown, task) = {
            let mut state = self.state();
            (state.shutdown.take(), state.task.take())
        };
        if let Some(shutdown) = shutdown {
            let _ = shutdown.send(());
        }
        let Some(mut task) = task else {
            return Ok(());
        };
        let outcome = py.detach(|| {
            runtime().block_on(async {
                match tokio::time::timeout(grace, &mut task).await {
                    Ok(joined) => Some(joined),
                    Err(_elapsed) => {
                        task.abort();
                        None
                    }
                }
            })
        });
        match outcome {
            Some(Ok(Ok(()))) | None => Ok(()),
            Some(Ok(Err(e))) => Err(PyOSError::new_err(format!("the server failed: {e}"))),
            Some(Err(e)) => Err(PyRuntimeError::new_err(format!("the server failed: {e}"))),
        }
    }

    /// Blocks until the server stops (another thread called `stop()`, or it
    /// failed). Ctrl-C raises `KeyboardInterrupt` here as usual.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        while self.is_running() {
            py.detach(|| std::thread::sleep(Duration::from_millis(100)));
            py.check_signals()?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.stop(py, 10.0)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Server(url='{}', running={})",
            self.url,
            if self.is_running() { "True" } else { "False" }
        )
    }
}
