//! [`agora_core::Error`] to Python exceptions.
//!
//! The exception classes are defined in Python (`agora/_errors.py`, with
//! docstrings and `status_code` class attributes); this module only picks the
//! class and fills in the message and extra attributes.

use agora_core::config::ConfigError;
use agora_core::{Error, ErrorKind};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule};

static ERRORS_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS_MODULE
        .get_or_try_init(py, || Ok(py.import("agora._errors")?.unbind()))
        .map(|m| m.bind(py))
}

/// The one mapping from an Agora error to its Python exception.
///
/// Exhaustive on purpose (no `_` arm): a new error variant does not compile
/// until it has a class here. Messages are the client-safe
/// [`Error::detail`]; for 5xx kinds the cause is attached as `__cause__`
/// (visible in tracebacks and logs, never in `str(exc)` or `exc.detail`).
pub fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    build(py, &err).unwrap_or_else(|failure| failure)
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let kwargs = PyDict::new(py);
    let mut cause = None;
    let class = match err.kind() {
        ErrorKind::Validation => {
            let list = PyList::empty(py);
            for field in err.field_errors() {
                let item = PyDict::new(py);
                item.set_item("loc", &field.loc)?;
                item.set_item("msg", &field.msg)?;
                item.set_item("type", &field.kind)?;
                list.append(item)?;
            }
            kwargs.set_item("errors", list)?;
            "ValidationError"
        }
        ErrorKind::Forbidden if matches!(err, Error::InvalidCredentials) => "InvalidCredentials",
        ErrorKind::Unauthorized => "Unauthorized",
        ErrorKind::Forbidden => "Forbidden",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::PayloadTooLarge => "PayloadTooLarge",
        ErrorKind::RateLimited => {
            if let Error::RateLimited { retry_after_secs } = err {
                kwargs.set_item("retry_after", retry_after_secs)?;
            }
            "RateLimited"
        }
        ErrorKind::Unavailable => {
            cause = std::error::Error::source(err).map(|c| c.to_string());
            "Unavailable"
        }
        ErrorKind::Internal | ErrorKind::MethodNotAllowed | ErrorKind::Timeout => {
            cause = std::error::Error::source(err).map(|c| c.to_string());
            "AgoraError"
        }
    };
    let message = match err {
        Error::Validation(fields) => validation_message(fields),
        other => other.detail(),
    };
    let instance = errors_module(py)?
        .getattr(class)?
        .call((message,), Some(&kwargs))?;
    instance.setattr("code", err.code().as_str())?;
    let exception = PyErr::from_value(instance);
    if let Some(cause) = cause {
        exception.set_cause(py, Some(PyRuntimeError::new_err(cause)));
    }
    Ok(exception)
}

/// `"body.email: value is not a valid email address; body.password: ..."`.
fn validation_message(fields: &[agora_core::FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.loc.join("."), f.msg))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `agora.Unavailable` with a descriptive message, for failures to open the
/// database at construction time (developer-facing, not a client answer).
pub(crate) fn unavailable(py: Python<'_>, message: String) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let instance = errors_module(py)?
            .getattr("Unavailable")?
            .call1((message.clone(),))?;
        Ok(PyErr::from_value(instance))
    };
    build().unwrap_or_else(|failure| failure)
}

/// A configuration problem: `OSError` for the secret file, `ValueError`
/// otherwise, naming the Python argument rather than the environment variable.
pub(crate) fn config_err(err: ConfigError) -> PyErr {
    match err {
        ConfigError::SecretFile { .. } => PyOSError::new_err(err.to_string()),
        ConfigError::Invalid { name, reason } => {
            let name = match name {
                "AGORA_JWT_SECRET" => "jwt_secret",
                "AGORA_ACCESS_TOKEN_TTL" => "access_token_ttl",
                "AGORA_DATABASE_URL" => "database_url",
                other => other,
            };
            PyValueError::new_err(format!("{name}: {reason}"))
        }
    }
}
