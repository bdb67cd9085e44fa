//! Constructor arguments (`database_url`, `jwt_secret`, `access_token_ttl`,
//! `refresh_reuse_grace`, `throttle`) to an [`agora_core::Config`] and an
//! open [`agora_core::Agora`].

use std::time::Duration;

use agora_core::Config;
use agora_core::config::JwtSecret;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDelta, PyString};

use crate::errors::{config_err, unavailable};

/// The default database: `agora.db` in the working directory.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite:///agora.db";

/// Turns a Python-style SQLite URL into the form sqlx understands.
///
/// SQLAlchemy, and so most Python code, writes `sqlite:///agora.db` for the
/// *relative* path `agora.db` and `sqlite:////srv/agora.db` for the absolute
/// `/srv/agora.db`, while sqlx reads `sqlite:///agora.db` as the absolute
/// `/agora.db`. This follows SQLAlchemy for three or more slashes and keeps
/// sqlx's `sqlite://agora.db` and `sqlite:agora.db` (both relative) working:
///
/// | given | opens |
/// |---|---|
/// | `sqlite:///agora.db` | `agora.db` (relative) |
/// | `sqlite:////srv/agora.db` | `/srv/agora.db` |
/// | `sqlite://agora.db`, `sqlite:agora.db` | `agora.db` (relative) |
/// | `sqlite://`, `sqlite:///:memory:`, `sqlite::memory:` | a private in-memory database |
///
/// A query string (`?mode=rwc`) is kept; other schemes pass through unchanged.
///
/// ```
/// use _agora::sqlx_database_url as url;
/// assert_eq!(url("sqlite:///agora.db"), "sqlite://agora.db");
/// assert_eq!(url("sqlite:////srv/agora.db"), "sqlite:///srv/agora.db");
/// assert_eq!(url("sqlite://data/agora.db?mode=rwc"), "sqlite://data/agora.db?mode=rwc");
/// assert_eq!(url("sqlite:///:memory:"), "sqlite::memory:");
/// ```
pub fn sqlx_database_url(url: &str) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_owned();
    };
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let path = match location.strip_prefix("//") {
        // `sqlite:///x` is the relative `x`, `sqlite:////x` the absolute `/x`.
        Some(after) => after.strip_prefix('/').unwrap_or(after),
        None => location,
    };
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        format!("sqlite::memory:{query}")
    } else {
        format!("sqlite://{path}{query}")
    }
}

/// `jwt_secret`: `str` (UTF-8 bytes) or `bytes`; `None` means "generate and keep one".
pub(crate) fn secret_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Some(text.to_cow()?.as_bytes().to_vec()));
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Some(bytes.as_bytes().to_vec()));
    }
    Err(PyTypeError::new_err(
        "jwt_secret must be str, bytes or None",
    ))
}

/// `access_token_ttl`: whole seconds as an `int`, or a `datetime.timedelta`;
/// at least one second.
pub(crate) fn ttl_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let ttl = duration_arg("access_token_ttl", value)?;
    if ttl.is_some_and(|ttl| ttl.as_secs() == 0) {
        return Err(PyValueError::new_err(
            "access_token_ttl must be at least one second",
        ));
    }
    Ok(ttl)
}

/// `refresh_reuse_grace`: whole seconds as an `int`, or a
/// `datetime.timedelta` (sub-second precision kept); zero or more.
pub(crate) fn grace_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    duration_arg("refresh_reuse_grace", value)
}

/// A duration argument named `name`: an `int` of seconds or a
/// `datetime.timedelta`, not negative; `None` means "the default".
pub(crate) fn duration_arg(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Duration>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let negative = || PyValueError::new_err(format!("{name} must not be negative"));
    if value.cast::<PyDelta>().is_ok() {
        let duration: Duration = value.extract().map_err(|_| negative())?;
        return Ok(Some(duration));
    }
    if value.cast::<PyBool>().is_err()
        && let Ok(secs) = value.extract::<i64>()
    {
        return u64::try_from(secs)
            .map(|secs| Some(Duration::from_secs(secs)))
            .map_err(|_| negative());
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be an int (seconds) or a datetime.timedelta"
    )))
}

/// The configuration for these arguments, with a JWT secret: the given one,
/// or the one kept beside the SQLite file (created on first use), or a fresh
/// one for an in-memory database. `throttle: false` turns off login and
/// registration throttling (for test suites that sign up many users);
/// `refresh_reuse_grace` replaces `config.sessions.reuse_grace`. A refused
/// argument's error names the argument.
pub(crate) fn config(
    database_url: &str,
    jwt_secret: Option<Vec<u8>>,
    access_token_ttl: Option<Duration>,
    refresh_reuse_grace: Option<Duration>,
    throttle: bool,
    hide_emails: bool,
) -> PyResult<Config> {
    let mut config = Config {
        hide_emails,
        ..Config::default()
    };
    config.server.database_url = sqlx_database_url(database_url);
    config.throttle.enabled = throttle;
    if let Some(secret) = jwt_secret {
        let secret = JwtSecret::new(secret).map_err(|e| config_err(e.for_setting("jwt_secret")))?;
        config.tokens.secret = Some(secret);
    }
    if let Some(ttl) = access_token_ttl {
        config.tokens.access_ttl = ttl;
    }
    if let Some(grace) = refresh_reuse_grace {
        config.sessions.reuse_grace = grace;
    }
    config.validate().map_err(config_err)?;
    config.ensure_jwt_secret().map_err(config_err)?;
    Ok(config)
}

/// Opens (creating and migrating if needed) the database and builds the
/// services through `agora_sqlx::open`, as the servers do (so every setting
/// of `config` is honoured), with the GIL released meanwhile.
pub(crate) fn open(py: Python<'_>, config: &Config) -> PyResult<agora_core::Agora> {
    py.detach(|| crate::runtime().block_on(agora_sqlx::open(config)))
        .map_err(|e| match e {
            agora_sqlx::ConnectError::UnsupportedUrl(_) => PyValueError::new_err(e.to_string()),
            agora_sqlx::ConnectError::Config(e) => config_err(e),
            other => unavailable(py, other.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::sqlx_database_url as url;

    #[test]
    fn sqlalchemy_style_urls_become_sqlx_urls() {
        assert_eq!(url("sqlite:///agora.db"), "sqlite://agora.db");
        assert_eq!(url("sqlite:///data/agora.db"), "sqlite://data/agora.db");
        assert_eq!(url("sqlite:////srv/agora.db"), "sqlite:///srv/agora.db");
    }

    #[test]
    fn sqlx_style_urls_keep_their_meaning() {
        assert_eq!(url("sqlite://agora.db"), "sqlite://agora.db");
        assert_eq!(url("sqlite:agora.db"), "sqlite://agora.db");
        assert_eq!(
            url("sqlite://agora.db?mode=rwc"),
            "sqlite://agora.db?mode=rwc"
        );
    }

    #[test]
    fn every_in_memory_spelling_is_in_memory() {
        for memory in [
            "sqlite://",
            "sqlite:///:memory:",
            "sqlite://:memory:",
            "sqlite::memory:",
        ] {
            assert_eq!(url(memory), "sqlite::memory:", "{memory}");
        }
    }

    #[test]
    fn other_schemes_pass_through() {
        assert_eq!(url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
