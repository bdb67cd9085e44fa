//! Constructor arguments (`database_url`, `jwt_secret`, `access_token_ttl`,
//! `refresh_reuse_grace`, `throttle`, the account mail settings and
//! `mailer`) to an [`agora_core::Config`] and an open [`agora_core::Agora`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agora_core::Config;
use agora_core::config::{ConfigError, JwtSecret};
use agora_core::mail::{MailTemplate, MailTemplates, Mailer};
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
    config
        .ensure_jwt_secret()
        .map_err(|e| config_err(e.renamed(argument_name)))?;
    Ok(config)
}

/// The account mail settings, by argument name: what each sets in
/// `config.mail`.
pub(crate) const MAIL_SETTINGS: [&str; 7] = [
    "public_url",
    "smtp_url",
    "mail_from",
    "password_reset_ttl",
    "verify_token_ttl",
    "require_verified_email",
    "mail_templates",
];

/// The argument that sets a `config.mail` field (for error messages naming
/// the argument rather than the field); other fields keep their path.
pub(crate) fn argument_name(field: &'static str) -> &'static str {
    match field {
        "mail.public_url" => "public_url",
        "mail.smtp_url" => "smtp_url",
        "mail.from" => "mail_from",
        "mail.reset_ttl" => "password_reset_ttl",
        "mail.verify_ttl" => "verify_token_ttl",
        "mail.require_verified_email" => "require_verified_email",
        "mail.templates" => "mail_templates",
        "tokens.secret" => "jwt_secret",
        "server.database_url" => "database_url",
        other => other,
    }
}

/// Checks `config` as core does, naming the arguments at fault.
pub(crate) fn validate(config: &Config) -> PyResult<()> {
    config
        .validate()
        .map_err(|e| config_err(e.renamed(argument_name)))
}

/// Sets the account mail setting `name` (one of [`MAIL_SETTINGS`]) from
/// `value`; `None` keeps the default. Returns `false` for another name.
///
/// `public_url`, `smtp_url` and `mail_from` are `str`;
/// `password_reset_ttl` and `verify_token_ttl` seconds or a `timedelta`;
/// `require_verified_email` a `bool`; `mail_templates` a dict
/// `{"password_reset": {"subject": ..., "text": ..., "html": ...},
/// "verify_email": {...}}` where an omitted kind or part keeps the default.
pub(crate) fn set_mail_setting(
    config: &mut Config,
    name: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if !MAIL_SETTINGS.contains(&name) {
        return Ok(false);
    }
    if value.is_none() {
        return Ok(true);
    }
    let text = || -> PyResult<String> {
        value
            .extract::<String>()
            .map_err(|_| PyTypeError::new_err(format!("{name} must be a str or None")))
    };
    let lifetime = || -> PyResult<Duration> {
        let ttl = duration_arg(name, Some(value))?.unwrap_or_default();
        if ttl.as_secs() == 0 {
            return Err(PyValueError::new_err(format!(
                "{name} must be at least one second"
            )));
        }
        Ok(ttl)
    };
    let mail = &mut config.mail;
    match name {
        "public_url" => {
            let raw = text()?;
            let url = url::Url::parse(&raw).map_err(|e| {
                PyValueError::new_err(format!(
                    "public_url: {raw:?} is not an absolute URL ({e}); expected e.g. https://app.example.com"
                ))
            })?;
            mail.public_url = Some(url);
        }
        "smtp_url" => mail.smtp_url = Some(text()?),
        "mail_from" => mail.from = Some(text()?),
        "password_reset_ttl" => mail.reset_ttl = lifetime()?,
        "verify_token_ttl" => mail.verify_ttl = lifetime()?,
        "require_verified_email" => {
            mail.require_verified_email = value
                .cast::<PyBool>()
                .map(|b| b.is_true())
                .map_err(|_| PyTypeError::new_err("require_verified_email must be a bool"))?;
        }
        _ => mail.templates = templates_arg(value)?,
    }
    Ok(true)
}

/// `mail_templates`: the default templates with the given parts replaced.
fn templates_arg(value: &Bound<'_, PyAny>) -> PyResult<MailTemplates> {
    let shape = || {
        PyTypeError::new_err(
            "mail_templates must be a dict like {\"password_reset\": {\"subject\": str, \
             \"text\": str, \"html\": str}, \"verify_email\": {...}}",
        )
    };
    let given: HashMap<String, HashMap<String, String>> = value.extract().map_err(|_| shape())?;
    let mut templates = MailTemplates::default();
    for (kind, parts) in given {
        let template: &mut MailTemplate = match kind.as_str() {
            "password_reset" => &mut templates.password_reset,
            "verify_email" => &mut templates.verify_email,
            other => {
                return Err(PyValueError::new_err(format!(
                    "mail_templates: unknown mail {other:?}; expected \"password_reset\" or \"verify_email\""
                )));
            }
        };
        for (part, text) in parts {
            match part.as_str() {
                "subject" => template.subject = text,
                "text" => template.text = text,
                "html" => template.html = text,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "mail_templates[{kind:?}]: unknown part {other:?}; expected \"subject\", \"text\" or \"html\""
                    )));
                }
            }
        }
    }
    Ok(templates)
}

/// Opens (creating and migrating if needed) the database and builds the
/// services, with the GIL released meanwhile. Without `mailer`, through
/// `agora_sqlx::open`, as the servers do (so every setting of `config` is
/// honoured: SMTP from `smtp_url`, else links logged); with one, the same
/// with mail delivered by `mailer` (`agora_sqlx::open_with_mailer`).
pub(crate) fn open(
    py: Python<'_>,
    config: &Config,
    mailer: Option<Arc<dyn Mailer>>,
) -> PyResult<agora_core::Agora> {
    let opened = py.detach(|| {
        crate::runtime().block_on(async {
            match mailer {
                Some(mailer) => agora_sqlx::open_with_mailer(config, mailer).await,
                None => agora_sqlx::open(config).await,
            }
        })
    });
    opened.map_err(|e| match e.renamed(argument_name) {
        e @ agora_sqlx::ConnectError::UnsupportedUrl(_) => PyValueError::new_err(e.to_string()),
        agora_sqlx::ConnectError::Config(e) => config_err(e),
        other => unavailable(py, other.to_string(), &other),
    })
}

/// Checks the rules between `mailer` and the mail settings: a mailer
/// replaces the SMTP server (not both), and needs `public_url`, the only
/// source of links.
pub(crate) fn check_mailer(config: &Config, mailer: bool) -> PyResult<()> {
    if !mailer {
        return Ok(());
    }
    if config.mail.smtp_url.is_some() {
        return Err(config_err(ConfigError::invalid(
            "mailer",
            "and smtp_url are exclusive: give one of them",
        )));
    }
    if config.mail.public_url.is_none() {
        return Err(config_err(ConfigError::invalid(
            "mailer",
            "needs public_url: the links in mails are built only from it",
        )));
    }
    Ok(())
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
