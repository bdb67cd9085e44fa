//! The settings of `Agora`, `AsyncAgora` and `agora.serve` to an
//! [`agora_core::Config`] and an open [`agora_core::Agora`].
//!
//! Every setting the servers read from an `AGORA_*` variable (the one list,
//! [`agora_core::config::env::VARIABLES`]) is a keyword argument named after
//! it: the variable's name lower-cased without `AGORA_` (`AGORA_REDIS_URL`
//! is `redis_url`). Each value is written once as the variable's text, as
//! its [`Kind`] says (`True` as `on`, a `timedelta` as `1500ms`, a list
//! comma-separated), and core's own parser ([`Config::from_lookup`]) reads
//! it, so the rules and messages are the servers'; errors name the
//! argument. `from_env` reads the variables themselves, as the servers do,
//! with keyword arguments taking precedence. Only `mailer` and
//! `mail_templates` have no variable.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agora_core::Config;
use agora_core::config::env::{self, Kind, VARIABLES};
use agora_core::config::{ConfigError, JwtSecret};
use agora_core::mail::{MailTemplate, MailTemplates, Mailer};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDelta, PyDict, PyFloat, PyInt, PyString};

use crate::errors::{config_err, unavailable};
use crate::mailer::PyMailer;

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

/// The private keyword `from_env` passes to the constructor: read the
/// `AGORA_*` variables under the arguments.
pub(crate) const FROM_ENV: &str = "_from_env";

/// Which front end takes the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Front {
    /// `Agora` and `AsyncAgora`: no HTTP settings.
    Service,
    /// `agora.serve(host, port, ...)`: every setting but `bind`.
    Serve,
    /// `agora.serve_from_env(...)`: every setting, `bind` included.
    ServeFromEnv,
}

/// The variables only the HTTP server reads: `Agora` and `AsyncAgora`
/// refuse them as arguments.
const HTTP_ONLY: &[&str] = &[
    "AGORA_BIND",
    "AGORA_METRICS_BIND",
    "AGORA_HEADER_TIMEOUT",
    "AGORA_BODY_TIMEOUT",
    "AGORA_IDLE_TIMEOUT",
    "AGORA_MAX_CONNECTIONS",
    "AGORA_SHUTDOWN_TIMEOUT",
    "AGORA_CORS_ORIGINS",
    "AGORA_BODY_LIMIT",
];

/// Earlier names of arguments, still taken: `serve`'s pool settings.
const ALIASES: &[(&str, &str)] = &[
    ("pool_max_connections", "AGORA_DB_MAX_CONNECTIONS"),
    ("pool_acquire_timeout", "AGORA_DB_ACQUIRE_TIMEOUT"),
    ("pool_statement_timeout", "AGORA_DB_STATEMENT_TIMEOUT"),
];

/// The keyword argument of `variable`: its name lower-cased without
/// `AGORA_` (`AGORA_JWT_LEEWAY` is `jwt_leeway`); `variable` itself when it
/// is none of [`VARIABLES`].
pub(crate) fn argument(variable: &'static str) -> &'static str {
    static NAMES: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
        VARIABLES
            .iter()
            .map(|(var, _)| (*var, var.trim_start_matches("AGORA_").to_ascii_lowercase()))
            .collect()
    });
    NAMES.get(variable).map_or(variable, String::as_str)
}

/// The variable a keyword argument sets, and the argument's name.
fn variable_of(name: &str) -> Option<(&'static str, &'static str)> {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(alias, var)| (*var, *alias))
        .or_else(|| {
            VARIABLES
                .iter()
                .map(|(var, _)| *var)
                .find(|var| argument(var) == name)
                .map(|var| (var, argument(var)))
        })
}

/// Every setting, for documentation and tests: `(argument, variable,
/// field of Config, taken by Agora)`, in the order of [`VARIABLES`].
pub(crate) fn table() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    VARIABLES
        .iter()
        .map(|(var, field)| (argument(var), *var, *field, !HTTP_ONLY.contains(var)))
        .collect()
}

/// The settings of one call, as the variables' text.
pub(crate) struct Settings {
    front: Front,
    from_env: bool,
    /// Variable → its text and the argument that gave it.
    given: HashMap<&'static str, (String, &'static str)>,
    /// `jwt_secret` given as `bytes`: used as they are, not as text.
    secret: Option<Vec<u8>>,
    templates: Option<MailTemplates>,
    mailer: Option<Py<PyAny>>,
}

impl Settings {
    /// Reads the arguments of `caller` (for messages, e.g. `Agora()`):
    /// `database_url` when given apart, and the keyword arguments. An
    /// unknown argument, or one `front` does not take, raises `TypeError`;
    /// a value of the wrong type `TypeError`, naming the argument. `None`
    /// keeps the default.
    pub(crate) fn new(
        front: Front,
        caller: &str,
        database_url: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut settings = Settings {
            front,
            from_env: false,
            given: HashMap::new(),
            secret: None,
            templates: None,
            mailer: None,
        };
        if let Some(url) = database_url {
            settings.set(caller, "database_url", url)?;
        }
        for (name, value) in kwargs.into_iter().flatten() {
            let name = name.cast_into::<PyString>()?;
            settings.set(caller, &name.to_cow()?, &value)?;
        }
        Ok(settings)
    }

    fn set(&mut self, caller: &str, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        match name {
            FROM_ENV => {
                self.from_env = value.is_truthy()?;
                return Ok(());
            }
            "mailer" => {
                self.mailer = Some(value)
                    .filter(|m| !m.is_none())
                    .map(|m| m.clone().unbind());
                return Ok(());
            }
            "mail_templates" => {
                if !value.is_none() {
                    self.templates = Some(templates_arg(value)?);
                }
                return Ok(());
            }
            _ => {}
        }
        let unexpected = || {
            PyTypeError::new_err(format!(
                "{caller} got an unexpected keyword argument '{name}'"
            ))
        };
        let (var, arg) = variable_of(name).ok_or_else(unexpected)?;
        match self.front {
            Front::Service if HTTP_ONLY.contains(&var) => {
                return Err(PyTypeError::new_err(format!(
                    "{caller} got an unexpected keyword argument '{name}': it is a setting of \
                     the HTTP server, agora.serve()"
                )));
            }
            Front::Serve if var == "AGORA_BIND" => {
                return Err(PyTypeError::new_err(format!(
                    "{caller} got an unexpected keyword argument '{name}': give host and port"
                )));
            }
            _ => {}
        }
        if self.given.contains_key(var) {
            return Err(PyTypeError::new_err(format!(
                "{caller} got the setting {var} twice (as '{name}' and another name)"
            )));
        }
        if value.is_none() {
            return Ok(());
        }
        let text = match env::kind(var) {
            Kind::Secret if value.is_instance_of::<PyBytes>() => {
                self.secret = Some(value.cast::<PyBytes>()?.as_bytes().to_vec());
                String::new()
            }
            _ if var == "AGORA_DATABASE_URL" => sqlx_database_url(&text(arg, value)?),
            kind => to_text(arg, kind, value)?,
        };
        self.given.insert(var, (text, arg));
        Ok(())
    }

    /// The value of `var`: an argument's, else (with `from_env`) the
    /// environment's, else the default (none, but Python's default
    /// database).
    fn lookup(&self, var: &str) -> Option<String> {
        if var == "AGORA_JWT_SECRET" && self.secret.is_some() {
            return None;
        }
        if let Some((text, _)) = self.given.get(var) {
            return Some(text.clone());
        }
        if self.from_env {
            return std::env::var(var).ok();
        }
        (var == "AGORA_DATABASE_URL").then(|| sqlx_database_url(DEFAULT_DATABASE_URL))
    }

    /// The name an error shows for `setting` (a variable or a field of
    /// `Config`): the argument that set it; with `from_env`, the variable
    /// when the environment set it.
    fn name(&self, setting: &'static str) -> &'static str {
        if setting == "mail.templates" {
            return "mail_templates";
        }
        let var = if setting.starts_with("AGORA_") {
            setting
        } else {
            env::variable(setting)
        };
        match self.given.get(var) {
            Some((_, arg)) => arg,
            None if self.from_env => var,
            None => argument(var),
        }
    }

    fn err(&self, err: ConfigError) -> PyErr {
        config_err(err.renamed(|setting| self.name(setting)))
    }

    /// Reads the `AGORA_*` environment variables under the arguments.
    pub(crate) fn read_env(&mut self) {
        self.from_env = true;
    }

    /// The configuration, checked as the servers check theirs, with a JWT
    /// secret: the given one, or the one kept beside the SQLite file
    /// (created on first use), or a fresh one for an in-memory database.
    /// Without `public_url` no mail is sent, unless read from the
    /// environment (where the servers' default, their own address, holds).
    pub(crate) fn config(&self) -> PyResult<Config> {
        let mut config = Config::from_lookup(|var| self.lookup(var)).map_err(|e| self.err(e))?;
        if let Some(secret) = &self.secret {
            let secret = JwtSecret::new(secret.clone())
                .map_err(|e| config_err(e.for_setting(self.name("tokens.secret"))))?;
            config.tokens.secret = Some(secret);
        }
        if let Some(templates) = &self.templates {
            config.mail.templates = templates.clone();
        }
        if !self.from_env && !self.given.contains_key("AGORA_PUBLIC_URL") {
            config.mail.public_url = None;
        }
        config.validate().map_err(|e| self.err(e))?;
        check_mailer(&config, self.mailer.is_some())?;
        config.ensure_jwt_secret().map_err(|e| self.err(e))?;
        Ok(config)
    }

    /// The `mailer` callable as core's mailer.
    pub(crate) fn mailer(&self, py: Python<'_>) -> PyResult<Option<Arc<dyn Mailer>>> {
        self.mailer
            .as_ref()
            .map(|m| PyMailer::new(m.bind(py)).map(|m| Arc::new(m) as Arc<dyn Mailer>))
            .transpose()
    }

    /// Opens (creating and migrating if needed) the database and builds the
    /// services, with the GIL released meanwhile: through
    /// `agora_sqlx::open`, as the servers do (so every setting of `config`
    /// is honoured: SMTP from `smtp_url`, else links logged), or with mail
    /// delivered by `mailer` (`agora_sqlx::open_with_mailer`).
    pub(crate) fn open(&self, py: Python<'_>, config: &Config) -> PyResult<agora_core::Agora> {
        let mailer = self.mailer(py)?;
        let opened = py.detach(|| {
            crate::runtime().block_on(async {
                match mailer {
                    Some(mailer) => agora_sqlx::open_with_mailer(config, mailer).await,
                    None => agora_sqlx::open(config).await,
                }
            })
        });
        opened.map_err(|e| match e.renamed(|setting| self.name(setting)) {
            e @ agora_sqlx::ConnectError::UnsupportedUrl(_) => PyValueError::new_err(e.to_string()),
            agora_sqlx::ConnectError::Config(e) => config_err(e),
            other => unavailable(py, other.to_string(), &other),
        })
    }
}

/// `value` as the text of a variable of `kind`, for the argument `name`.
fn to_text(name: &str, kind: Kind, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match kind {
        Kind::Text | Kind::Secret => text(name, value),
        Kind::Switch => value
            .cast::<PyBool>()
            .map(|b| if b.is_true() { "on" } else { "off" }.to_owned())
            .map_err(|_| PyTypeError::new_err(format!("{name} must be a bool"))),
        Kind::Number if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() => {
            Ok(value.str()?.to_cow()?.into_owned())
        }
        Kind::Number => Err(PyTypeError::new_err(format!("{name} must be an int"))),
        Kind::Duration => Ok(duration_text(
            duration_arg(name, Some(value))?.unwrap_or_default(),
        )),
        Kind::List if value.is_instance_of::<PyString>() => text(name, value),
        Kind::List => {
            let shape = || PyTypeError::new_err(format!("{name} must be a list of str"));
            let items = value.try_iter().map_err(|_| shape())?;
            let mut texts = Vec::new();
            for (i, item) in items.enumerate() {
                let item = item?;
                let item = match item.cast::<PyBytes>() {
                    Ok(bytes) => String::from_utf8(bytes.as_bytes().to_vec()).map_err(|_| {
                        PyValueError::new_err(format!("{name}: item {} is not UTF-8", i + 1))
                    })?,
                    Err(_) => text(name, &item).map_err(|_| shape())?,
                };
                if item.contains(',') {
                    return Err(PyValueError::new_err(format!(
                        "{name}: item {} contains a comma, which separates items",
                        i + 1
                    )));
                }
                texts.push(item);
            }
            Ok(texts.join(","))
        }
    }
}

/// A `str` or an `os.PathLike` (a path), as text.
fn text(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let value = if value.hasattr("__fspath__")? {
        value.call_method0("__fspath__")?
    } else {
        value.clone()
    };
    let text = value
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a str")))?;
    text.to_cow()
        .map(|text| text.into_owned())
        .map_err(|_| PyValueError::new_err(format!("{name} is not valid text (a lone surrogate)")))
}

/// A duration as a variable's text: `0`, whole seconds (`90`), or
/// milliseconds (`1500ms`, rounded up).
fn duration_text(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        duration.as_secs().to_string()
    } else {
        format!("{}ms", duration.as_nanos().div_ceil(1_000_000))
    }
}

/// A duration argument named `name`: seconds (`int` or `float`) or a
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
    if let Ok(secs) = value.cast::<PyFloat>() {
        return Duration::try_from_secs_f64(secs.value())
            .map(Some)
            .map_err(|_| negative());
    }
    if value.cast::<PyBool>().is_err()
        && let Ok(secs) = value.extract::<i64>()
    {
        return u64::try_from(secs)
            .map(|secs| Some(Duration::from_secs(secs)))
            .map_err(|_| negative());
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be an int (seconds), a float (seconds) or a datetime.timedelta"
    )))
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

/// Checks the rules between `mailer` and the mail settings: a mailer
/// replaces the SMTP server (not both), and needs `public_url`, the only
/// source of links.
fn check_mailer(config: &Config, mailer: bool) -> PyResult<()> {
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
