//! `check-config`: the checks a server makes at start-up, without serving
//! and without writing a secret file, one line each (`ok` or `FAIL`, and
//! why): the `AGORA_*` variables, the token signing keys, the SMTP
//! settings, the database and, when `AGORA_REDIS_URL` is set, Redis (PING
//! within a deadline). Exits 0 only if every check passes. Never prints a
//! secret: URLs are shown with their password replaced.
//!
//! It changes nothing: the database is only read, within a deadline
//! (`agora_sqlx::inspect_schema`; no SQLite file created, no migration
//! applied, no migration lock taken), and reported as reachable with its
//! migrations applied and pending (`ok   database: reachable
//! (postgres://...; 6 migrations applied, 0 pending)`). Pending migrations
//! pass (`admin migrate` or a server start applies them); a missing SQLite
//! file fails (a server would create it), as does a database a newer
//! release marked as too new for this one (naming both releases' newest
//! migrations).

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use agora_core::Config;
use agora_core::config::env::variable;
use agora_core::config::{ConfigError, JwtSecret};
use agora_core::crypto::jwt::TokenKeys;
use agora_core::storage::StorageError;
use agora_core::throttle::ThrottleStore;
use agora_sqlx::redact_password;

/// Arguments of `check-config`.
#[derive(clap::Args)]
pub struct Args {
    /// The longest wait for each connection check (database, Redis):
    /// `500ms`, `10s`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    agora_core::config::env::duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration like 500ms or 10s"))
}

/// The checks' lines, and whether one failed.
#[derive(Default)]
struct Report {
    failed: usize,
}

impl Report {
    fn line(&mut self, check: &str, result: Result<String, String>) {
        match result {
            Ok(detail) => println!("ok   {check}: {detail}"),
            Err(why) => {
                self.failed += 1;
                println!("FAIL {check}: {why}");
            }
        }
    }
}

/// Runs `check-config`.
pub async fn run(args: Args) -> ExitCode {
    let mut report = Report::default();
    let config = match Config::from_env() {
        Ok(config) => {
            report.line(
                "configuration",
                Ok("the AGORA_* variables are valid".into()),
            );
            config
        }
        Err(e) => {
            report.line("configuration", Err(named(e).to_string()));
            println!("1 check failed (the others need a valid configuration)");
            return ExitCode::FAILURE;
        }
    };
    report.line("signing keys", signing_keys(&config));
    report.line("mail", mail(&config));
    report.line("database", database(&config, args.timeout).await);
    if let Some(url) = &config.server.redis.url {
        report.line("redis", redis(&config, url, args.timeout).await);
    }
    if report.failed == 0 {
        println!("all checks passed");
        ExitCode::SUCCESS
    } else {
        println!("{} check(s) failed", report.failed);
        ExitCode::FAILURE
    }
}

/// A configuration error naming the `AGORA_*` variable, as servers print it.
fn named(e: ConfigError) -> ConfigError {
    e.renamed(variable)
}

/// The keys access tokens are signed with, loaded as a server loads them;
/// a server's generated secret (SQLite) is read if its file exists, never
/// created.
fn signing_keys(config: &Config) -> Result<String, String> {
    let tokens = &config.tokens;
    let mut with_secret = tokens.clone();
    let origin = if tokens.algorithm.is_asymmetric() {
        "AGORA_JWT_PRIVATE_KEY_FILE".to_owned()
    } else if tokens.secret.is_some() {
        "AGORA_JWT_SECRET".to_owned()
    } else {
        match config.secret_file() {
            Some(file) if file.exists() => {
                with_secret.secret =
                    Some(JwtSecret::load_or_create(&file).map_err(|e| named(e).to_string())?);
                format!("{} (generated earlier)", file.display())
            }
            Some(file) => {
                return Ok(format!(
                    "HS256, no AGORA_JWT_SECRET: a server generates {} (0600) at first start",
                    file.display()
                ));
            }
            // No file to write: refused for PostgreSQL and MySQL, a secret
            // for this process only with in-memory SQLite.
            None => {
                config
                    .clone()
                    .ensure_jwt_secret()
                    .map_err(|e| named(e).to_string())?;
                return Ok(
                    "HS256, no AGORA_JWT_SECRET: in-memory SQLite, a secret per process".into(),
                );
            }
        }
    };
    let keys = TokenKeys::from_config(&with_secret).map_err(|e| named(e).to_string())?;
    let set = keys.keys();
    Ok(format!(
        "{} from {origin}, key id {}",
        set.algorithm(),
        set.signing_kid()
    ))
}

/// The SMTP settings, parsed as a server parses them (nothing is sent).
fn mail(config: &Config) -> Result<String, String> {
    let Some(url) = &config.mail.smtp_url else {
        return Ok("no AGORA_SMTP_URL: account mail links are logged, not mailed".into());
    };
    agora_sqlx::smtp::SmtpMailer::from_config(&config.mail).map_err(|e| named(e).to_string())?;
    Ok(format!(
        "SMTP server {} (settings valid; not contacted)",
        redact_password(url)
    ))
}

/// Inspects the database without changing it
/// (`agora_sqlx::inspect_schema`: no SQLite file created, no migration
/// applied, no table created, no migration lock taken), within `timeout`:
/// reachable, and how many migrations are applied and pending. Pending
/// migrations pass (`admin migrate` or a server start applies them); a
/// missing SQLite file, an unreachable database, or one whose
/// compatibility marker a newer release raised above this release (which
/// would refuse to start) fail.
async fn database(config: &Config, timeout: Duration) -> Result<String, String> {
    let url = redact_password(&config.server.database_url);
    let inspected = tokio::time::timeout(timeout, agora_sqlx::inspect_schema(config)).await;
    let state = match inspected {
        Ok(Ok(state)) => state,
        Ok(Err(e)) => return Err(e.renamed(variable).to_string()),
        Err(_) => {
            return Err(format!(
                "AGORA_DATABASE_URL: {url} did not answer within {timeout:?}"
            ));
        }
    };
    // Names both releases' migrations: the one it needs, this one's newest.
    state
        .compatible()
        .map_err(|e| format!("AGORA_DATABASE_URL: {url}: {e}"))?;
    // AGORA_DB_SCHEMA: where Agora's tables are, apart from an app's.
    let schema = match &config.server.pool.schema {
        Some(schema) => format!(", schema {schema}"),
        None => String::new(),
    };
    let mut detail = format!(
        "reachable ({url}{schema}; {} applied, {} pending",
        count(state.applied.len(), "migration"),
        state.pending.len()
    );
    if !state.unknown.is_empty() {
        let newer: Vec<String> = state
            .unknown
            .iter()
            .map(|m| format!("{:04}", m.version))
            .collect();
        detail.push_str(&format!(
            "; {} by a newer release, tolerated",
            newer.join(", ")
        ));
    }
    detail.push(')');
    if !state.pending.is_empty() {
        detail.push_str(": `admin migrate` or a server start applies them");
    }
    Ok(detail)
}

/// `n thing(s)`, in the singular for one.
fn count(n: usize, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    }
}

/// Connects to Redis as a server does and sends PING, within `timeout`.
async fn redis(config: &Config, url: &str, timeout: Duration) -> Result<String, String> {
    let redis = &config.server.redis;
    let shown_url = redact_password(url);
    let checked = tokio::time::timeout(timeout, async {
        let counters = agora_sqlx::redis::RedisThrottleStore::connect_with(
            url,
            &redis.prefix,
            redis.timeout.min(timeout),
        )
        .await?;
        counters.ping().await
    })
    .await;
    match checked {
        Ok(Ok(())) => Ok(format!("{shown_url} answers PING")),
        // Its cause says it all ("Redis does not answer: ...").
        Ok(Err(StorageError::Unavailable(cause))) => Err(format!(
            "AGORA_REDIS_URL: {shown_url}: {}",
            chain(cause.as_ref())
        )),
        Ok(Err(e)) => Err(format!("AGORA_REDIS_URL: {shown_url}: {}", chain(&e))),
        Err(_) => Err(format!(
            "AGORA_REDIS_URL: {shown_url} did not answer within {timeout:?}"
        )),
    }
}

/// An error and its causes, on one line (a cause that repeats the one
/// before it word for word is left out).
pub(crate) fn chain(e: &dyn Error) -> String {
    let mut shown = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if shown.last() != Some(&text) {
            shown.push(text);
        }
        cause = c.source();
    }
    shown.join(": ")
}
