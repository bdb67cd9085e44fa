//! `agora.serve(...)`: the axum HTTP server (`agora_axum::serve`) running in
//! the background on the shared runtime, with a handle to stop it.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::runtime;
use crate::settings::{Front, Settings};

/// Starts Agora's HTTP API (the Rust axum server, the same contract as the
/// original FastAPI app) in the background and returns at once.
///
/// `port=0` picks a free port; `Server.url` shows the real one. The other
/// keyword arguments are the settings of `Agora` (`mailer` included) and
/// the HTTP server's own (`cors_origins`, `body_limit`, the timeouts, ...):
/// each `AGORA_*` variable of the servers but `AGORA_BIND`, named in lower
/// case without `AGORA_`.
/// The server runs until `Server.stop()` (or the end of a `with` block, or
/// the end of the process); dropping the handle does not stop it.
#[pyfunction]
#[pyo3(signature = (host = "127.0.0.1", port = 8000, database_url = None, **settings),
       text_signature = "(host='127.0.0.1', port=8000, database_url='sqlite:///agora.db', **settings)")]
pub fn serve(
    py: Python<'_>,
    host: &str,
    port: u16,
    database_url: Option<&Bound<'_, PyAny>>,
    settings: Option<&Bound<'_, PyDict>>,
) -> PyResult<Server> {
    let settings = Settings::new(Front::Serve, "serve()", database_url, settings)?;
    start(py, &settings, Some((host, port)))
}

/// Starts the HTTP server as `agora.serve` does, configured by the
/// `AGORA_*` environment variables exactly as the Rust servers read them
/// (`AGORA_BIND` for the address); keyword arguments (named as for
/// `serve`, `bind` included) take precedence.
#[pyfunction]
#[pyo3(signature = (**settings))]
pub fn serve_from_env(py: Python<'_>, settings: Option<&Bound<'_, PyDict>>) -> PyResult<Server> {
    let mut settings = Settings::new(Front::ServeFromEnv, "serve_from_env()", None, settings)?;
    settings.read_env();
    start(py, &settings, None)
}

/// Opens the database for `settings` and starts serving on `address`
/// (else the configured `bind`).
fn start(py: Python<'_>, settings: &Settings, address: Option<(&str, u16)>) -> PyResult<Server> {
    crate::logging::refresh(py);
    let config = settings.config()?;
    let agora = settings.open(py, &config)?;
    let bind = config.server.bind;
    let bind_host = bind.ip().to_string();
    let (host, port) = address.unwrap_or((&bind_host, bind.port()));
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
        pid: std::process::id(),
        state: Mutex::new(State {
            shutdown: Some(shutdown),
            task: Some(task),
        }),
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
    /// The process that started the server (`std::process::id()`).
    pid: u32,
    state: Mutex<State>,
}

impl Server {
    /// Refuses at once a call in a child of `fork()`: the server, its
    /// runtime and its task stay in the parent (`agora.ForkedProcess`).
    fn check_process(&self, py: Python<'_>) -> PyResult<()> {
        let current = std::process::id();
        if current == self.pid {
            return Ok(());
        }
        Err(crate::errors::forked_process(
            py,
            "agora.serve() server",
            self.pid,
            current,
        ))
    }

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
    fn running(&self, py: Python<'_>) -> PyResult<bool> {
        self.check_process(py)?;
        Ok(self.is_running())
    }

    /// Stops accepting connections, lets requests in flight finish for up to
    /// `timeout` seconds (then drops them), and waits for the server to end.
    /// Calling it again does nothing. Raises `OSError` if the server had failed.
    #[pyo3(signature = (timeout = 10.0))]
    fn stop(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        self.check_process(py)?;
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
        self.check_process(py)?;
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
