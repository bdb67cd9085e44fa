//! [`Config`] from `AGORA_*` environment variables: the one place that
//! knows their names. Values are trimmed and an empty one counts as unset
//! (except `AGORA_JWT_SECRET`, refused when set but blank). Every error
//! names the variable: parse errors directly, and the library's own
//! validation errors, which name fields, through [`VARIABLES`].

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::{Config, ConfigError, JwtSecret, MAX_TRUSTED_PROXY_HOPS, MIN_SECRET_BYTES, Reason};
use crate::crypto::keys::PemKey;

/// Every variable, and the field of [`Config`] it sets.
pub const VARIABLES: &[(&str, &str)] = &[
    ("AGORA_DATABASE_URL", "server.database_url"),
    ("AGORA_BIND", "server.bind"),
    ("AGORA_METRICS_BIND", "server.metrics_bind"),
    ("AGORA_JWT_SECRET", "tokens.secret"),
    ("AGORA_JWT_ALGORITHM", "tokens.algorithm"),
    ("AGORA_JWT_PRIVATE_KEY_FILE", "tokens.private_key"),
    ("AGORA_JWT_VERIFY_KEY_FILES", "tokens.verify_keys"),
    ("AGORA_JWT_PREVIOUS_SECRETS", "tokens.previous_secrets"),
    ("AGORA_JWT_ISSUER", "tokens.issuer"),
    ("AGORA_JWT_AUDIENCE", "tokens.audience"),
    ("AGORA_JWT_LEEWAY", "tokens.leeway"),
    ("AGORA_ACCESS_TOKEN_TTL", "tokens.access_ttl"),
    ("AGORA_REFRESH_TOKEN_TTL", "sessions.refresh_ttl"),
    ("AGORA_SESSION_LIFETIME", "sessions.lifetime"),
    ("AGORA_REFRESH_REUSE_GRACE", "sessions.reuse_grace"),
    ("AGORA_THROTTLE", "throttle.enabled"),
    ("AGORA_HIDE_EMAILS", "hide_emails"),
    ("AGORA_PUBLIC_URL", "mail.public_url"),
    ("AGORA_SMTP_URL", "mail.smtp_url"),
    ("AGORA_MAIL_FROM", "mail.from"),
    ("AGORA_PASSWORD_RESET_TTL", "mail.reset_ttl"),
    ("AGORA_VERIFY_TOKEN_TTL", "mail.verify_ttl"),
    (
        "AGORA_REQUIRE_VERIFIED_EMAIL",
        "mail.require_verified_email",
    ),
    ("AGORA_TRUSTED_PROXY_HEADER", "proxy.header"),
    ("AGORA_TRUSTED_PROXY_HOPS", "proxy.hops"),
    ("AGORA_REDIS_URL", "server.redis.url"),
    ("AGORA_REDIS_PREFIX", "server.redis.prefix"),
    ("AGORA_REDIS_TIMEOUT", "server.redis.timeout"),
    ("AGORA_HEADER_TIMEOUT", "server.header_timeout"),
    ("AGORA_BODY_TIMEOUT", "server.body_timeout"),
    ("AGORA_IDLE_TIMEOUT", "server.idle_timeout"),
    ("AGORA_MAX_CONNECTIONS", "server.max_connections"),
    ("AGORA_SHUTDOWN_TIMEOUT", "server.shutdown_timeout"),
    (
        "AGORA_MIGRATION_LOCK_TIMEOUT",
        "server.migration_lock_timeout",
    ),
    ("AGORA_CORS_ORIGINS", "server.cors_origins"),
    ("AGORA_BODY_LIMIT", "server.body_limit"),
    ("AGORA_DB_MAX_CONNECTIONS", "server.pool.max_connections"),
    ("AGORA_DB_ACQUIRE_TIMEOUT", "server.pool.acquire_timeout"),
    (
        "AGORA_DB_STATEMENT_TIMEOUT",
        "server.pool.statement_timeout",
    ),
    ("AGORA_DB_SCHEMA", "server.pool.schema"),
    ("AGORA_HASH_CONCURRENCY", "hashing.concurrency"),
    ("AGORA_PASSWORD_MIN_CHARS", "passwords.min_chars"),
    ("AGORA_PASSWORD_MAX_CHARS", "passwords.max_chars"),
    ("AGORA_PASSWORD_BLOCKLIST", "passwords.blocklist"),
];

/// The variable that sets `field`, or `field` itself when none does.
pub fn variable(field: &'static str) -> &'static str {
    VARIABLES
        .iter()
        .find(|(_, f)| *f == field)
        .map_or(field, |(variable, _)| variable)
}

/// The configuration the variables `lookup` gives describe, over the
/// defaults, validated; errors name variables.
pub(super) fn read(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let vars = Vars(lookup);
    let config = vars.config().map_err(|e| e.renamed(variable))?;
    config.validate().map_err(|e| e.renamed(variable))?;
    Ok(config)
}

/// The variables, read through a look-up.
struct Vars<L>(L);

impl<L: Fn(&str) -> Option<String>> Vars<L> {
    /// The trimmed value of `var`; `None` when unset or blank.
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Sets `field` from `var` when it is set, through `parse`; a value it
    /// refuses is an error saying it is not `expected`.
    fn set<T>(
        &self,
        field: &mut T,
        var: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
        expected: &str,
    ) -> Result<(), ConfigError> {
        if let Some(value) = self.get(var) {
            *field = parse(&value)
                .ok_or_else(|| ConfigError::invalid(var, format!("{value:?} is not {expected}")))?;
        }
        Ok(())
    }

    fn config(&self) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        self.server(&mut c)?;
        self.tokens(&mut c)?;
        let sessions = &mut c.sessions;
        for (var, field) in [
            ("AGORA_REFRESH_TOKEN_TTL", &mut sessions.refresh_ttl),
            ("AGORA_SESSION_LIFETIME", &mut sessions.lifetime),
        ] {
            self.set(
                field,
                var,
                duration,
                "a positive duration like 30d, 12h or 10s",
            )?;
        }
        self.set(
            &mut sessions.reuse_grace,
            "AGORA_REFRESH_REUSE_GRACE",
            duration_or_zero,
            "a duration like 10s or 500ms, or 0",
        )?;
        self.mail(&mut c)?;
        for (var, field) in [
            ("AGORA_THROTTLE", &mut c.throttle.enabled),
            ("AGORA_HIDE_EMAILS", &mut c.hide_emails),
            (
                "AGORA_REQUIRE_VERIFIED_EMAIL",
                &mut c.mail.require_verified_email,
            ),
            ("AGORA_PASSWORD_BLOCKLIST", &mut c.passwords.blocklist),
        ] {
            self.set(field, var, switch, "on or off")?;
        }
        c.proxy.header = self.get("AGORA_TRUSTED_PROXY_HEADER");
        if self.get("AGORA_TRUSTED_PROXY_HOPS").is_some() {
            self.set(
                &mut c.proxy.hops,
                "AGORA_TRUSTED_PROXY_HOPS",
                |n| {
                    n.parse()
                        .ok()
                        .filter(|n| (1..=MAX_TRUSTED_PROXY_HOPS).contains(n))
                },
                &format!("a number of proxies from 1 to {MAX_TRUSTED_PROXY_HOPS}"),
            )?;
            if c.proxy.header.is_none() {
                return Err(ConfigError::invalid(
                    "proxy.hops",
                    Reason::from("counts the proxies that append to ")
                        .setting("proxy.header")
                        .then(", which is not set"),
                ));
            }
        }
        self.set(
            &mut c.hashing.concurrency,
            "AGORA_HASH_CONCURRENCY",
            positive,
            "a positive integer",
        )?;
        for (var, field) in [
            ("AGORA_PASSWORD_MIN_CHARS", &mut c.passwords.min_chars),
            ("AGORA_PASSWORD_MAX_CHARS", &mut c.passwords.max_chars),
        ] {
            self.set(field, var, positive, "a positive number of characters")?;
        }
        Ok(c)
    }

    fn server(&self, c: &mut Config) -> Result<(), ConfigError> {
        let server = &mut c.server;
        if let Some(url) = self.get("AGORA_DATABASE_URL") {
            server.database_url = url;
        }
        if let Some(bind) = self.get("AGORA_BIND") {
            server.bind = bind.parse().map_err(|e| {
                ConfigError::invalid(
                    "AGORA_BIND",
                    format!("{bind:?} is not an address like 127.0.0.1:8000 ({e})"),
                )
            })?;
        }
        server.pool.schema = self.get("AGORA_DB_SCHEMA");
        if let Some(bind) = self.get("AGORA_METRICS_BIND") {
            server.metrics_bind = Some(bind.parse().map_err(|e| {
                ConfigError::invalid(
                    "AGORA_METRICS_BIND",
                    format!("{bind:?} is not an address like 127.0.0.1:9000 ({e})"),
                )
            })?);
        }
        server.redis.url = self.get("AGORA_REDIS_URL");
        if let Some(prefix) = self.get("AGORA_REDIS_PREFIX") {
            server.redis.prefix = prefix;
        }
        for (var, field, example) in [
            (
                "AGORA_REDIS_TIMEOUT",
                &mut server.redis.timeout,
                "500ms or 1s",
            ),
            (
                "AGORA_HEADER_TIMEOUT",
                &mut server.header_timeout,
                "10s or 500ms",
            ),
            (
                "AGORA_BODY_TIMEOUT",
                &mut server.body_timeout,
                "10s or 500ms",
            ),
            (
                "AGORA_IDLE_TIMEOUT",
                &mut server.idle_timeout,
                "10s or 500ms",
            ),
            (
                "AGORA_SHUTDOWN_TIMEOUT",
                &mut server.shutdown_timeout,
                "10s or 500ms",
            ),
            (
                "AGORA_MIGRATION_LOCK_TIMEOUT",
                &mut server.migration_lock_timeout,
                "60s or 5m",
            ),
            (
                "AGORA_DB_ACQUIRE_TIMEOUT",
                &mut server.pool.acquire_timeout,
                "3s or 500ms",
            ),
            (
                "AGORA_DB_STATEMENT_TIMEOUT",
                &mut server.pool.statement_timeout,
                "5s or 500ms",
            ),
        ] {
            self.set(
                field,
                var,
                duration,
                &format!("a positive duration like {example}"),
            )?;
        }
        self.set(
            &mut server.max_connections,
            "AGORA_MAX_CONNECTIONS",
            positive,
            "a positive integer",
        )?;
        self.set(
            &mut server.pool.max_connections,
            "AGORA_DB_MAX_CONNECTIONS",
            positive,
            "a positive integer",
        )?;
        if let Some(origins) = self.get("AGORA_CORS_ORIGINS") {
            server.cors_origins = comma_list(&origins).map(str::to_owned).collect();
        }
        self.set(
            &mut server.body_limit,
            "AGORA_BODY_LIMIT",
            positive,
            "a positive number of bytes",
        )
    }

    /// The mail settings. Without an SMTP server, the public URL defaults
    /// to the server's own address (links are then only logged, for local
    /// development); with one it must be set.
    fn mail(&self, c: &mut Config) -> Result<(), ConfigError> {
        let mail = &mut c.mail;
        self.set(
            &mut mail.public_url,
            "AGORA_PUBLIC_URL",
            |v| url::Url::parse(v).ok().map(Some),
            "an absolute URL like https://app.example.com",
        )?;
        mail.smtp_url = self.get("AGORA_SMTP_URL");
        mail.from = self.get("AGORA_MAIL_FROM");
        for (var, field) in [
            ("AGORA_PASSWORD_RESET_TTL", &mut mail.reset_ttl),
            ("AGORA_VERIFY_TOKEN_TTL", &mut mail.verify_ttl),
        ] {
            self.set(
                field,
                var,
                duration,
                "a positive duration like 3600, 30m or 1h",
            )?;
        }
        if mail.public_url.is_none() && mail.smtp_url.is_none() {
            let bind = c.server.bind;
            let host = if bind.ip().is_unspecified() {
                "localhost".to_owned()
            } else {
                match bind.ip() {
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                    ip => ip.to_string(),
                }
            };
            mail.public_url = url::Url::parse(&format!("http://{host}:{}", bind.port())).ok();
        }
        Ok(())
    }

    fn tokens(&self, c: &mut Config) -> Result<(), ConfigError> {
        let tokens = &mut c.tokens;
        // Set but empty or blank is refused, not taken for unset: a server
        // would otherwise quietly sign with a generated secret instead.
        if let Some(secret) = (self.0)("AGORA_JWT_SECRET") {
            if secret.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "AGORA_JWT_SECRET",
                    "is set but empty; set it to a secret (`openssl rand -hex 32`), \
                     or unset it to have one generated and kept in a file",
                ));
            }
            tokens.secret = Some(JwtSecret::new(secret.trim().as_bytes())?);
        }
        if let Some(algorithm) = self.get("AGORA_JWT_ALGORITHM") {
            tokens.algorithm = algorithm.parse()?;
        }
        if let Some(path) = self.get("AGORA_JWT_PRIVATE_KEY_FILE") {
            tokens.private_key = Some(PemKey::from_file(Path::new(&path), "tokens.private_key")?);
        }
        if let Some(paths) = self.get("AGORA_JWT_VERIFY_KEY_FILES") {
            tokens.verify_keys = comma_list(&paths)
                .map(|path| PemKey::from_file(Path::new(path), "tokens.verify_keys"))
                .collect::<Result<_, _>>()?;
        }
        if let Some(secrets) = self.get("AGORA_JWT_PREVIOUS_SECRETS") {
            tokens.previous_secrets = comma_list(&secrets)
                .enumerate()
                .map(|(i, s)| {
                    JwtSecret::new(s.as_bytes()).map_err(|e| {
                        ConfigError::invalid(
                            "AGORA_JWT_PREVIOUS_SECRETS",
                            format!(
                                "previous secret {}: {} (each previous secret must be at least \
                                 {MIN_SECRET_BYTES} bytes and look random)",
                                i + 1,
                                e.reason()
                            ),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(issuer) = self.get("AGORA_JWT_ISSUER") {
            tokens.issuer = issuer;
        }
        if let Some(audience) = self.get("AGORA_JWT_AUDIENCE") {
            tokens.audience = audience;
        }
        self.set(
            &mut tokens.leeway,
            "AGORA_JWT_LEEWAY",
            duration_or_zero,
            "a number of seconds from 0 to 60",
        )?;
        self.set(
            &mut tokens.access_ttl,
            "AGORA_ACCESS_TOKEN_TTL",
            // Tokens count time in whole seconds.
            |v| duration(v).filter(|ttl| ttl.as_secs() >= 1),
            "a duration of at least one second like 1800, 30m or 1h",
        )
    }
}

/// The non-empty, trimmed items of a comma-separated list.
pub fn comma_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// A positive duration: `1800` (seconds), `500ms`, `90s`, `30m`, `2h` or `1d`.
pub fn duration(text: &str) -> Option<Duration> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit.trim() {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// A [`duration`], or zero (`0`, `0s`, `0ms`).
pub fn duration_or_zero(text: &str) -> Option<Duration> {
    match text {
        "0" | "0s" | "0ms" => Some(Duration::ZERO),
        _ => duration(text),
    }
}

/// `on`, `true` or `1`; `off`, `false` or `0` (any case).
pub fn switch(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Some(true),
        "off" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// A positive whole number (of an unsigned type: `-5` does not parse).
pub fn positive<T: FromStr + Default + PartialEq>(text: &str) -> Option<T> {
    text.parse().ok().filter(|n| *n != T::default())
}

/// What a variable holds, for front ends that take typed values rather
/// than text (the Python binding's keyword arguments): how to write a
/// value as the variable's text, which [`Config::from_lookup`](super::Config::from_lookup) then parses as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text: a URL, a name, a path, an address.
    Text,
    /// A secret (text; a front end may also take bytes).
    Secret,
    /// `on` or `off`.
    Switch,
    /// A whole number.
    Number,
    /// A duration: whole seconds, or with a unit (`500ms`, `30m`).
    Duration,
    /// A comma-separated list.
    List,
}

/// The [`Kind`] of `variable`; [`Kind::Text`] for every variable not
/// listed here (so a new text variable needs no entry).
pub fn kind(variable: &str) -> Kind {
    match variable {
        "AGORA_JWT_SECRET" => Kind::Secret,
        "AGORA_JWT_VERIFY_KEY_FILES" | "AGORA_JWT_PREVIOUS_SECRETS" | "AGORA_CORS_ORIGINS" => {
            Kind::List
        }
        "AGORA_THROTTLE"
        | "AGORA_HIDE_EMAILS"
        | "AGORA_REQUIRE_VERIFIED_EMAIL"
        | "AGORA_PASSWORD_BLOCKLIST" => Kind::Switch,
        "AGORA_TRUSTED_PROXY_HOPS"
        | "AGORA_MAX_CONNECTIONS"
        | "AGORA_BODY_LIMIT"
        | "AGORA_DB_MAX_CONNECTIONS"
        | "AGORA_HASH_CONCURRENCY"
        | "AGORA_PASSWORD_MIN_CHARS"
        | "AGORA_PASSWORD_MAX_CHARS" => Kind::Number,
        "AGORA_JWT_LEEWAY" | "AGORA_SESSION_LIFETIME" | "AGORA_REFRESH_REUSE_GRACE" => {
            Kind::Duration
        }
        other if other.ends_with("_TTL") || other.ends_with("_TIMEOUT") => Kind::Duration,
        _ => Kind::Text,
    }
}
