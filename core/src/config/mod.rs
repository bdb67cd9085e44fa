//! Configuration: [`Config`] nests the settings each module owns, plus the
//! [`ServerConfig`] only servers read; [`Config::from_env`] reads them from
//! `AGORA_*` variables ([`mod@env`], the one module that knows those names).
//!
//! | field | type | owner |
//! |---|---|---|
//! | `tokens` | [`TokenConfig`] | [`crate::crypto::tokens`]: keys, issuer, audience, lifetime, leeway |
//! | `passwords` | [`PasswordPolicy`] | [`crate::domain`]: length and blocklist |
//! | `hashing` | [`HashConfig`] | [`crate::crypto::password`]: argon2 parameters, concurrency |
//! | `throttle` | [`ThrottleConfig`] | [`crate::throttle`] |
//! | `sessions` | [`SessionConfig`] | [`crate::domain`]: refresh token and session lifetimes |
//! | `proxy` | [`TrustedProxy`] | [`crate::domain`]: whose header names the client IP |
//! | `hide_emails` | `bool` | the services |
//! | `mail` | [`MailConfig`] | [`crate::mail`]: public URL, SMTP, link lifetimes, verified-address switch, templates |
//! | `server` | [`ServerConfig`] | servers only: database, pool, migration lock wait, Redis, bind, CORS, body limit, HTTP timeouts |
//!
//! Errors name the setting by its field path (`tokens.secret`); errors of
//! [`Config::from_env`] name the variable instead (`AGORA_JWT_SECRET`).
//!
//! Build an [`crate::Agora`] from a `Config` with `agora_sqlx::open(&config)`:
//! it honours every field, the server ones included (database, pool, Redis).
//! [`crate::Agora::new`] over a store you built yourself reads every field
//! but `server`'s database, pool and Redis settings.

pub mod env;
mod server;

use std::path::PathBuf;

pub use crate::crypto::password::HashConfig;
pub use crate::crypto::secret::{JwtSecret, MIN_SECRET_BYTES, MIN_SECRET_ENTROPY_BITS};
pub use crate::crypto::tokens::TokenConfig;
pub use crate::domain::{MAX_TRUSTED_PROXY_HOPS, PasswordPolicy, SessionConfig, TrustedProxy};
pub use crate::mail::MailConfig;
pub use crate::setting::{ConfigError, Reason};
pub use crate::throttle::ThrottleConfig;
pub use server::{PoolConfig, RedisConfig, ServerConfig};

/// Everything Agora can be configured with: each module's settings, and the
/// server's.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Access tokens: keys, issuer, audience, lifetime, leeway.
    pub tokens: TokenConfig,
    /// The rules new passwords must pass.
    pub passwords: PasswordPolicy,
    /// Password hashing: argon2id parameters and concurrency.
    pub hashing: HashConfig,
    /// Login and registration throttling.
    pub throttle: ThrottleConfig,
    /// Refresh token and session lifetimes.
    pub sessions: SessionConfig,
    /// The trusted reverse proxy that names the client's IP, if any.
    pub proxy: TrustedProxy,
    /// Hide other users' email addresses (`null`) in `GET /users/{id}` and
    /// post owners; users still see their own. Off by default, as the
    /// original API showed them to everyone.
    pub hide_emails: bool,
    /// Account recovery and address verification: public URL, SMTP
    /// server, link lifetimes, the verified-address switch, mail templates.
    pub mail: MailConfig,
    /// What only servers read: database, pool, Redis, bind address, CORS,
    /// body limit, HTTP timeouts.
    pub server: ServerConfig,
}

impl Config {
    /// Reads `AGORA_*` environment variables over the defaults (see [`mod@env`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], reading variables through `lookup` (tests,
    /// and front ends that take settings another way, such as Python keywords).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        env::read(lookup)
    }

    /// Checks every module's rules (also run by [`crate::Agora::new`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.tokens.validate()?;
        self.proxy.validate()?;
        self.mail.validate()?;
        self.passwords.validate()
    }

    /// Makes sure a JWT secret is set when tokens are signed with HS256:
    /// keeps a configured one; else, on a SQLite file, loads or creates the
    /// secret file beside it ([`Config::secret_file`]); on in-memory SQLite
    /// (or a URL no backend knows, which `agora_sqlx::open` refuses anyway)
    /// generates one for this process only. Does nothing with EdDSA or
    /// ES256, whose key is [`TokenConfig::private_key`].
    ///
    /// On PostgreSQL or MySQL, a database several servers may share, it
    /// refuses to generate one (the error names `tokens.secret` and the
    /// command to make one): each server would sign with its own secret and
    /// reject the others' tokens, and a file in the working directory of a
    /// container is lost, logging everyone out, at each deployment.
    ///
    /// Also refuses, naming `server.database_url`, a SQLite file whose
    /// directory does not exist (the secret file is written there before
    /// the database is opened).
    pub fn ensure_jwt_secret(&mut self) -> Result<(), ConfigError> {
        if self.tokens.secret.is_some() || self.tokens.algorithm.is_asymmetric() {
            return Ok(());
        }
        let url = &self.server.database_url;
        if let Some(kind) = shared_database(url) {
            return Err(ConfigError::invalid(
                "tokens.secret",
                Reason::from(format!("not set, and required with a {kind} database ("))
                    .setting("server.database_url")
                    .then(
                        "), which several servers may share: a secret generated by each server \
                     would make the others reject its tokens. Generate one with \
                     `openssl rand -hex 32` and give every server the same value",
                    ),
            ));
        }
        self.tokens.secret = Some(match self.secret_file() {
            Some(path) => {
                sqlite_directory_exists(&path)?;
                JwtSecret::load_or_create(&path)?
            }
            None => JwtSecret::generate(),
        });
        Ok(())
    }

    /// Where a server keeps a generated JWT secret: beside the SQLite file
    /// (`agora.db` → `agora.db.jwt-secret`), so each database has its own.
    /// `None` for in-memory SQLite, and for every other database: a
    /// PostgreSQL or MySQL server needs [`TokenConfig::secret`] set (see
    /// [`Config::ensure_jwt_secret`]).
    pub fn secret_file(&self) -> Option<PathBuf> {
        let url = &self.server.database_url;
        let rest = strip_prefix_ignore_case(url, "sqlite://")
            .or_else(|| strip_prefix_ignore_case(url, "sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
            return None;
        }
        let mut file = PathBuf::from(path).into_os_string();
        file.push(".jwt-secret");
        Some(PathBuf::from(file))
    }
}

/// `text` without `prefix`, compared ignoring ASCII case (URL schemes).
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The kind of a database that several servers may share (`PostgreSQL`,
/// `MySQL`), from the URL's scheme; `None` for SQLite and unknown schemes.
fn shared_database(url: &str) -> Option<&'static str> {
    let scheme = url.split(':').next()?.to_ascii_lowercase();
    match scheme.as_str() {
        "postgres" | "postgresql" => Some("PostgreSQL"),
        "mysql" | "mariadb" => Some("MySQL/MariaDB"),
        _ => None,
    }
}

/// Refuses, naming `server.database_url`, a secret file (beside a SQLite
/// database) whose directory is missing or not a directory.
fn sqlite_directory_exists(secret_file: &std::path::Path) -> Result<(), ConfigError> {
    let directory = match secret_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => return Ok(()),
    };
    if directory.is_dir() {
        return Ok(());
    }
    let database = secret_file.with_extension("");
    let (database, shown) = (database.display(), directory.display());
    let reason = if directory.exists() {
        format!(
            "{shown} (the directory of the SQLite database {database}) is not a directory: fix the URL"
        )
    } else {
        format!(
            "the directory {shown} (of the SQLite database {database}) does not exist: \
             create it (`mkdir -p {shown}`) or fix the URL"
        )
    };
    Err(ConfigError::invalid("server.database_url", reason))
}

#[cfg(test)]
mod tests;
