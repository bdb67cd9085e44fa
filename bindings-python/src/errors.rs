//! [`agora_core::Error`] to Python exceptions.
//!
//! The exception classes are defined in Python (`agora/_errors.py`, the
//! class hierarchy and docstrings only). Everything an exception carries
//! comes from core through this module: its stable `code`, HTTP
//! `status_code`, `detail` and `headers`, and each class's defaults for
//! instances created in Python ([`set_error_defaults`]).

use agora_core::config::ConfigError;
use agora_core::error::ErrorCode;
use agora_core::{Error, ErrorKind};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

use crate::types::to_python;

static ERRORS_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS_MODULE
        .get_or_try_init(py, || Ok(py.import("agora._errors")?.unbind()))
        .map(|m| m.bind(py))
}

/// The Python class of an error code. Exhaustive on kinds (no `_` arm): a
/// new kind does not compile until it has a class here.
fn class_name(code: ErrorCode) -> &'static str {
    if code == ErrorCode::InvalidCredentials {
        return "InvalidCredentials";
    }
    match code.kind() {
        ErrorKind::Validation => "ValidationError",
        ErrorKind::BadRequest => "BadRequest",
        ErrorKind::Unauthorized => "Unauthorized",
        ErrorKind::Forbidden => "Forbidden",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::PayloadTooLarge => "PayloadTooLarge",
        ErrorKind::RateLimited => "RateLimited",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Internal | ErrorKind::MethodNotAllowed | ErrorKind::Timeout => "AgoraError",
    }
}

/// `www-authenticate` as HTTP documents spell it: `WWW-Authenticate`.
fn header_name(name: &str) -> String {
    name.split('-')
        .map(|word| match word {
            "www" => "WWW".to_owned(),
            _ => {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The keyword arguments every exception class takes: `code`,
/// `status_code`, `headers`, and `retry_after` for a rate limit.
fn fields<'py>(py: Python<'py>, err: &Error) -> PyResult<Bound<'py, PyDict>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("code", err.code().as_str())?;
    kwargs.set_item("status_code", err.status_code())?;
    let headers = PyDict::new(py);
    for (name, value) in err.headers() {
        headers.set_item(header_name(name), value)?;
    }
    kwargs.set_item("headers", headers)?;
    if let Error::RateLimited {
        retry_after_secs, ..
    } = err
    {
        kwargs.set_item("retry_after", retry_after_secs)?;
    }
    Ok(kwargs)
}

/// The one mapping from an Agora error to its Python exception.
///
/// The message is the client-safe [`Error::detail`] (for a validation error,
/// its field errors joined); `detail` is the HTTP body's. For 5xx errors the
/// cause is attached as `__cause__` (visible in tracebacks and logs, never
/// in `str(exc)` or `exc.detail`).
pub fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    build(py, &err).unwrap_or_else(|failure| failure)
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let kwargs = fields(py, err)?;
    kwargs.set_item("detail", to_python(py, &err.body()["detail"])?)?;
    let message = match err {
        Error::Validation(fields) => validation_message(fields),
        other => other.detail(),
    };
    let instance = errors_module(py)?
        .getattr(class_name(err.code()))?
        .call((message,), Some(&kwargs))?;
    let exception = PyErr::from_value(instance);
    if err.status_code() >= 500 {
        exception.set_cause(py, cause_chain(py, std::error::Error::source(err)));
    }
    Ok(exception)
}

/// `cause` and its own sources as a chain of Python exceptions (each the
/// `__cause__` of the one before): an I/O error becomes its `OSError`
/// subclass (`ConnectionRefusedError`, ...), anything else a
/// `RuntimeError` with its message. For tracebacks and logs.
fn cause_chain(py: Python<'_>, cause: Option<&(dyn std::error::Error + 'static)>) -> Option<PyErr> {
    let cause = cause?;
    let exception = match cause.downcast_ref::<std::io::Error>() {
        Some(io) => PyErr::from(std::io::Error::new(io.kind(), io.to_string())),
        None => PyRuntimeError::new_err(cause.to_string()),
    };
    exception.set_cause(py, cause_chain(py, cause.source()));
    Some(exception)
}

/// `"body.email: value is not a valid email address; body.password: ..."`.
fn validation_message(fields: &[agora_core::FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.loc.join("."), f.msg))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sets each exception class's `code`, `status_code` and `headers`: what an
/// instance created in Python (`agora.NotFound("...")`, in tests or fakes)
/// carries unless given others. Called once by `agora/_errors.py`.
#[pyfunction]
#[pyo3(name = "_set_error_defaults")]
pub fn set_error_defaults(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let typical = [
        Error::internal("unexpected"),
        Error::Validation(Vec::new()),
        Error::InvalidCredentials,
        Error::ResetPasswordBadToken,
        Error::Unauthorized,
        Error::NotOwner,
        Error::RouteNotFound,
        Error::EmailTaken(String::new()),
        Error::PayloadTooLarge,
        Error::RateLimited {
            retry_after_secs: 0,
            policy: None,
        },
        Error::unavailable("unreachable"),
    ];
    for err in &typical {
        let class = module.getattr(class_name(err.code()))?;
        for (name, value) in fields(module.py(), err)?.iter() {
            class.setattr(name.cast_into()?, value)?;
        }
    }
    Ok(())
}

/// `agora.Unavailable` with a descriptive message, for failures to open the
/// database at construction time (developer-facing, not a client answer),
/// with `err`'s sources chained as `__cause__` (the driver's error, down
/// to the `ConnectionRefusedError`).
pub(crate) fn unavailable(py: Python<'_>, message: String, err: &dyn std::error::Error) -> PyErr {
    let exception = errors_module(py)
        .and_then(|module| module.getattr("Unavailable")?.call1((message,)))
        .map_or_else(|failure| failure, PyErr::from_value);
    exception.set_cause(py, cause_chain(py, err.source()));
    exception
}

/// `agora.ForkedProcess`: `what` (`"Agora instance"`, `"server"`), created
/// in process `created`, used in process `current` (a child of `fork()`).
pub(crate) fn forked_process(py: Python<'_>, what: &str, created: u32, current: u32) -> PyErr {
    let message = format!(
        "this {what} was created in process {created} and cannot be used in process \
         {current}, a child of fork(): its database connections and Rust threads stay in the \
         parent. Create it after the fork, in each worker process: e.g. in FastAPI's \
         lifespan handler, not at module level of an app run with `gunicorn --preload`"
    );
    errors_module(py)
        .and_then(|module| module.getattr("ForkedProcess")?.call1((message,)))
        .map_or_else(|failure| failure, PyErr::from_value)
}

/// A configuration problem: `OSError` for the secret file, `ValueError`
/// otherwise, with core's message (which names the setting: the argument's
/// name when [`crate::settings`] gave it, else the field of `Config`).
pub(crate) fn config_err(err: ConfigError) -> PyErr {
    match err {
        ConfigError::SecretFile { .. } => PyOSError::new_err(err.to_string()),
        ConfigError::Invalid { .. } => PyValueError::new_err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_take_their_usual_spelling() {
        for (sent, spelled) in [
            ("www-authenticate", "WWW-Authenticate"),
            ("retry-after", "Retry-After"),
            ("allow", "Allow"),
        ] {
            assert_eq!(header_name(sent), spelled);
        }
    }
}
