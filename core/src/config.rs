//! Configuration: a typed struct for library users, and [`Config::from_env`]
//! for servers (`AGORA_*` variables, safe defaults).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crypto::keys::{JwtAlgorithm, PemKey};
use crate::crypto::password::HashParams;

/// The shortest JWT signing secret accepted, in bytes (RFC 8725 §3.5, HS256 key size).
pub const MIN_SECRET_BYTES: usize = 32;

/// The most trusted proxy hops [`Config::trusted_proxy_hops`] accepts.
pub const MAX_TRUSTED_PROXY_HOPS: usize = 16;

/// A configuration problem; the message names the variable and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is present but unusable.
    #[error("{name}: {reason}")]
    Invalid {
        /// The variable or field.
        name: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Reading or writing the secret file failed.
    #[error("JWT secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
}

/// The least estimated entropy of a JWT secret, in bits (see [`JwtSecret::new`]).
pub const MIN_SECRET_ENTROPY_BITS: f64 = 128.0;

/// The HMAC secret that signs access tokens: at least [`MIN_SECRET_BYTES`]
/// bytes that look random (see [`JwtSecret::new`]); `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    /// Accepts a secret that is at least [`MIN_SECRET_BYTES`] bytes long and
    /// looks random: refused when empty or blank, shorter than 32 bytes, one
    /// block repeated (`abcabc…`), or with an estimated entropy under
    /// [`MIN_SECRET_ENTROPY_BITS`] (128 bits), the estimate being its length
    /// times the Shannon entropy of its bytes' frequencies. The estimate
    /// catches repeated characters and small alphabets (32 × `a`: 0 bits;
    /// 32 hex digits, i.e. `openssl rand -hex 16`: about 115), and passes
    /// the output of `openssl rand -hex 32` (about 245 bits) or
    /// `openssl rand -base64 32` (about 215) and 32 random bytes (about
    /// 155); it cannot tell a passphrase from random text: generate secrets
    /// (RFC 8725 §3.5: never a human-memorable password).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = bytes.into();
        let refuse = |reason: String| {
            Err(ConfigError::Invalid {
                name: "jwt_secret",
                reason,
            })
        };
        const GENERATE: &str = "generate one with `openssl rand -hex 32`";
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return refuse(format!("the JWT secret is empty; {GENERATE}"));
        }
        if bytes.len() < MIN_SECRET_BYTES {
            return refuse(format!(
                "the JWT secret must be at least {MIN_SECRET_BYTES} bytes (it has {}); {GENERATE}",
                bytes.len()
            ));
        }
        let bits = estimated_entropy_bits(&bytes);
        if bits < MIN_SECRET_ENTROPY_BITS || is_repeated_block(&bytes) {
            return refuse(format!(
                "the JWT secret does not look random (estimated {bits:.0} bits of entropy, \
                 at least {MIN_SECRET_ENTROPY_BITS:.0} needed, and no repeated block); {GENERATE}"
            ));
        }
        Ok(JwtSecret(bytes))
    }

    /// 256 fresh bits from the OS CSPRNG (as 64 hex characters).
    pub fn generate() -> Self {
        JwtSecret(crate::crypto::random_hex(32).into_bytes())
    }

    /// Reads the secret kept in `path`, or creates that file (permissions
    /// 0600 on Unix) with a newly generated secret, so tokens survive a
    /// restart. An existing file is refused, with the fix in the message,
    /// when it is a symbolic link or not a regular file, when (on Unix) its
    /// group or other users have any permission on it (`chmod 600 FILE`),
    /// or when the secret in it is refused by [`JwtSecret::new`].
    pub fn load_or_create(path: &Path) -> Result<Self, ConfigError> {
        let file_err = |source| ConfigError::SecretFile {
            path: path.to_owned(),
            source,
        };
        let read = |path: &Path| {
            let secret = read_secret(path).map_err(file_err)?;
            JwtSecret::new(secret).map_err(|e| {
                file_err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}; or delete the file to have a new secret generated",
                        e.reason()
                    ),
                ))
            })
        };
        match std::fs::symlink_metadata(path) {
            Ok(_) => return read(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_err(e)),
        }
        let secret = JwtSecret::generate();
        match write_new_secret(path, &secret.0) {
            Ok(()) => Ok(secret),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
            Err(e) => Err(file_err(e)),
        }
    }

    /// The raw key bytes, for signing and verifying only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl ConfigError {
    /// What is wrong and how to fix it, without the variable's name.
    fn reason(&self) -> String {
        match self {
            ConfigError::Invalid { reason, .. } => reason.clone(),
            ConfigError::SecretFile { source, .. } => source.to_string(),
        }
    }

    /// The same problem, named after the environment variable it came from.
    fn for_variable(self, name: &'static str) -> ConfigError {
        ConfigError::Invalid {
            name,
            reason: self.reason(),
        }
    }
}

/// `bytes.len()` times the Shannon entropy (bits per byte) of the bytes'
/// frequencies in `bytes`: a rough upper bound on the entropy of a string
/// (a long human-chosen phrase scores high too) that is 0 for one repeated
/// byte and at most 4 bits per character for hex.
fn estimated_entropy_bits(bytes: &[u8]) -> f64 {
    let mut counts = [0usize; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    let per_byte: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_byte * n
}

/// Whether `bytes` is a shorter block repeated at least twice, the last
/// time possibly cut short (`0123…ef0123…ef01`); long inputs are checked on
/// their first 4 KiB.
fn is_repeated_block(bytes: &[u8]) -> bool {
    let bytes = &bytes[..bytes.len().min(4096)];
    (1..=bytes.len() / 2).any(|period| bytes.iter().zip(&bytes[period..]).all(|(a, b)| a == b))
}

/// The trimmed secret in `path`, after checking that the file is safe: a
/// regular file (not a symbolic link, checked on the file opened) that on
/// Unix only its owner may read or write.
fn read_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let unsafe_file = |reason: String| {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            reason,
        ))
    };
    let shown = path.display();
    let link = std::fs::symlink_metadata(path)?;
    if link.file_type().is_symlink() {
        return unsafe_file(format!(
            "is a symbolic link, which is refused (whoever can change the link chooses the \
             secret); replace it with the file itself: `cp --remove-destination \
             \"$(readlink -f {shown})\" {shown} && chmod 600 {shown}`"
        ));
    }
    if !link.file_type().is_file() {
        return unsafe_file("is not a regular file".to_owned());
    }
    let mut file = std::fs::File::open(path)?;
    let opened = file.metadata()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if (opened.dev(), opened.ino()) != (link.dev(), link.ino()) {
            return unsafe_file("was replaced while being opened".to_owned());
        }
        let mode = opened.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return unsafe_file(format!(
                "is readable or writable by group or others (mode {mode:03o}); \
                 run `chmod 600 {shown}`"
            ));
        }
    }
    if !opened.is_file() {
        return unsafe_file("is not a regular file".to_owned());
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text.trim().as_bytes().to_vec())
}

fn write_new_secret(path: &Path, secret: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(secret)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// Everything Agora can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// `AGORA_DATABASE_URL`: `sqlite://agora.db` by default (created on first start).
    pub database_url: String,
    /// `AGORA_BIND`: where the example servers listen, `127.0.0.1:8000` by default.
    pub bind: SocketAddr,
    /// `AGORA_JWT_SECRET`: at least 32 bytes that look random (see
    /// [`JwtSecret::new`]; set but empty is refused, not taken for unset).
    /// `None` lets a server generate and keep one (see
    /// [`Config::secret_file`]); [`crate::Agora::new`] requires it.
    pub jwt_secret: Option<JwtSecret>,
    /// `AGORA_ACCESS_TOKEN_TTL`: access token lifetime (`1800`, `30m`, `1h`); 30 minutes by default.
    pub access_token_ttl: Duration,
    /// `AGORA_JWT_LEEWAY`: clock skew tolerated when checking `exp`/`nbf`
    /// (`10`, `10s`, `0`): 10 s by default, at most 60 s.
    pub token_leeway: Duration,
    /// `AGORA_JWT_ALGORITHM`: how access tokens are signed: `HS256` (the
    /// default, with [`Config::jwt_secret`]), `EdDSA` (Ed25519) or `ES256`
    /// (P-256), with [`Config::jwt_private_key`]; the public keys of the
    /// latter two are published as a JWK Set ([`crate::Agora::jwks`]).
    pub jwt_algorithm: JwtAlgorithm,
    /// `AGORA_JWT_PRIVATE_KEY_FILE`: the PKCS#8 PEM private key that signs
    /// access tokens with EdDSA or ES256 (`openssl genpkey -algorithm ed25519`,
    /// or `-algorithm EC -pkeyopt ec_paramgen_curve:P-256`). Required for
    /// those algorithms, refused with HS256.
    pub jwt_private_key: Option<PemKey>,
    /// `AGORA_JWT_VERIFY_KEY_FILES`: comma-separated PEM files of previous
    /// EdDSA/ES256 keys (private or public) that still verify the tokens they
    /// signed but sign none, so the signing key rotates without logging
    /// anyone out; drop one once the access token TTL has passed since it
    /// stopped signing. Refused with HS256.
    pub jwt_verify_keys: Vec<PemKey>,
    /// `AGORA_JWT_PREVIOUS_SECRETS`: comma-separated previous HS256 secrets
    /// (each at least 32 bytes), verify-only, for rotating
    /// [`Config::jwt_secret`] the same way. Refused with EdDSA/ES256.
    pub jwt_previous_secrets: Vec<JwtSecret>,
    /// `AGORA_JWT_ISSUER`: the `iss` of access tokens, required to match
    /// when verifying (`agora`).
    pub jwt_issuer: String,
    /// `AGORA_JWT_AUDIENCE`: the `aud` of access tokens, required to match
    /// when verifying (`agora`).
    pub jwt_audience: String,
    /// `AGORA_REFRESH_TOKEN_TTL`: how long an unused refresh token stays valid (30 days).
    pub refresh_token_ttl: Duration,
    /// `AGORA_SESSION_LIFETIME`: a session's absolute lifetime, however often
    /// it is refreshed (90 days).
    pub session_lifetime: Duration,
    /// `AGORA_REFRESH_REUSE_GRACE`: how long after a refresh token was
    /// exchanged a client retrying concurrently may exchange it again without
    /// this counting as reuse (10 s). Reuse after it ends the whole session.
    pub refresh_reuse_grace: Duration,
    /// Login and registration throttling (`AGORA_THROTTLE=off` disables it).
    pub throttle: crate::throttle::ThrottleConfig,
    /// `AGORA_TRUSTED_PROXY_HEADER`: the header a trusted reverse proxy sets to
    /// the client's IP (`X-Forwarded-For`, entry chosen by
    /// [`Config::trusted_proxy_hops`]; `X-Real-IP`). Unset
    /// (the default), the client IP is the socket's peer and such headers are
    /// ignored, so clients cannot pick their own IP.
    pub trusted_proxy_header: Option<String>,
    /// `AGORA_TRUSTED_PROXY_HOPS`: how many trusted reverse proxies, in a
    /// chain in front of the server, each append the address they received
    /// the request from to [`Config::trusted_proxy_header`] (1 by default,
    /// at most 16). The client IP is the entry this many places from the
    /// right, across every line of the header; with fewer entries, the
    /// rightmost (see [`crate::domain::forwarded_client_ip`]). Set it to
    /// exactly the number of proxies: one too many lets clients choose
    /// their IP.
    pub trusted_proxy_hops: usize,
    /// `AGORA_REDIS_URL`: keep throttling counters in Redis, shared by every
    /// server (read by servers built with `agora-sqlx`'s `redis` feature).
    /// A server starts while Redis is down; logins and registrations answer
    /// 503 and `/health` names Redis until it is back.
    pub redis_url: Option<String>,
    /// `AGORA_REDIS_PREFIX`: the start of every Redis key Agora writes
    /// (`agora:throttle:`), so that deployments sharing one Redis keep
    /// separate counters.
    pub redis_prefix: String,
    /// `AGORA_REDIS_TIMEOUT`: the longest wait for Redis to connect or to
    /// answer one command (`500ms`); past it the request answers 503 and the
    /// connection is replaced.
    pub redis_timeout: Duration,
    /// Timeouts and limits of the HTTP servers Agora runs
    /// (`agora_axum::serve`, the rocket app), see [`ServerConfig`].
    pub server: ServerConfig,
    /// `AGORA_HIDE_EMAILS`: hide other users' email addresses (`null`) in
    /// `GET /users/{id}` and post owners; users still see their own. Off by
    /// default, as the original API showed them to everyone.
    pub hide_emails: bool,
    /// `AGORA_CORS_ORIGINS`: comma-separated allowed origins; empty (the default) disables CORS.
    pub cors_origins: Vec<String>,
    /// `AGORA_BODY_LIMIT`: the largest request body in bytes, 64 KiB by default.
    pub body_limit: usize,
    /// Argon2id parameters for new hashes (OWASP m=19 MiB, t=2, p=1 by default).
    pub hash_params: HashParams,
    /// `AGORA_HASH_CONCURRENCY`: hashes running at once; the number of cores by default.
    pub hash_concurrency: usize,
    /// `AGORA_DB_MAX_CONNECTIONS`: the database pool's size per server (10).
    pub db_max_connections: u32,
    /// `AGORA_DB_ACQUIRE_TIMEOUT`: how long a request waits for a database
    /// connection before failing with 503 (`3s`; accepts `500ms`).
    pub db_acquire_timeout: Duration,
    /// `AGORA_DB_STATEMENT_TIMEOUT`: the longest one database statement may
    /// run (`5s`). The database cancels it (PostgreSQL `statement_timeout`,
    /// MariaDB `max_statement_time`, MySQL `max_execution_time`), and a
    /// storage call that has no answer after `AGORA_DB_ACQUIRE_TIMEOUT` plus
    /// this is abandoned with a 503 and its connection closed, so a database
    /// host that goes silent cannot hold requests or connections.
    pub db_statement_timeout: Duration,
    /// `AGORA_PASSWORD_MIN_CHARS`: shortest accepted password, in characters
    /// (Unicode code points after NFKC normalisation) (8).
    pub password_min_chars: usize,
    /// `AGORA_PASSWORD_MAX_CHARS`: longest accepted password, in characters (128).
    pub password_max_chars: usize,
    /// `AGORA_PASSWORD_BLOCKLIST`: reject common passwords at registration and
    /// password change (on by default; `false` or `off` disables it). See
    /// [`crate::domain::PasswordPolicy`].
    pub password_blocklist: bool,
}

/// Timeouts and limits of the HTTP servers Agora runs (`agora_axum::serve`
/// and the rocket app), so that slow or silent clients cannot hold
/// connections, and a shutdown cannot be held up, for ever. Apps that mount
/// Agora's router in their own server set their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `AGORA_HEADER_TIMEOUT`: how long a client may take to send a
    /// request's line and headers, counted from the connection's start or
    /// from the first byte of a later request on a kept-alive connection
    /// (`10s`). Past it the connection is closed.
    pub header_timeout: Duration,
    /// `AGORA_BODY_TIMEOUT`: how long a client may take to send a request's
    /// whole body once its headers are in (`30s`). Past it: 408.
    pub body_timeout: Duration,
    /// `AGORA_IDLE_TIMEOUT`: how long a kept-alive connection may wait for
    /// its next request (`75s`; keep it above a load balancer's own idle
    /// timeout, 60 s on AWS ALB). Past it the connection is closed.
    pub idle_timeout: Duration,
    /// `AGORA_MAX_CONNECTIONS`: most client connections served at once
    /// (`512`); further clients wait in the listen backlog until one ends.
    /// Keep it under the open-file limit (`ulimit -n`) minus the database
    /// pool, so the server never runs out of descriptors.
    pub max_connections: usize,
    /// `AGORA_SHUTDOWN_TIMEOUT`: on SIGINT/SIGTERM, how long requests in
    /// flight may still run (`10s`); then the remaining connections are
    /// dropped and the server exits.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl ServerConfig {
    /// Reads the `AGORA_*` server variables through `get` over `self`.
    fn read(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for (name, field) in [
            ("AGORA_HEADER_TIMEOUT", &mut self.header_timeout),
            ("AGORA_BODY_TIMEOUT", &mut self.body_timeout),
            ("AGORA_IDLE_TIMEOUT", &mut self.idle_timeout),
            ("AGORA_SHUTDOWN_TIMEOUT", &mut self.shutdown_timeout),
        ] {
            if let Some(value) = get(name) {
                *field = parse_duration(&value).ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("{value:?} is not a positive duration like 10s or 500ms"),
                })?;
            }
        }
        if let Some(n) = get("AGORA_MAX_CONNECTIONS") {
            self.max_connections =
                n.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "AGORA_MAX_CONNECTIONS",
                        reason: format!("{n:?} is not a positive integer"),
                    })?;
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://agora.db".to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(30 * 60),
            token_leeway: Duration::from_secs(10),
            jwt_algorithm: JwtAlgorithm::HS256,
            jwt_private_key: None,
            jwt_verify_keys: Vec::new(),
            jwt_previous_secrets: Vec::new(),
            jwt_issuer: crate::crypto::jwt::DEFAULT_ISSUER.to_owned(),
            jwt_audience: crate::crypto::jwt::DEFAULT_ISSUER.to_owned(),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            session_lifetime: Duration::from_secs(90 * 86_400),
            refresh_reuse_grace: Duration::from_secs(10),
            throttle: crate::throttle::ThrottleConfig::default(),
            trusted_proxy_header: None,
            trusted_proxy_hops: 1,
            redis_url: None,
            redis_prefix: "agora:throttle:".to_owned(),
            redis_timeout: Duration::from_millis(500),
            server: ServerConfig::default(),
            hide_emails: false,
            cors_origins: Vec::new(),
            body_limit: 64 * 1024,
            hash_params: HashParams::OWASP,
            hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            db_max_connections: 10,
            db_acquire_timeout: Duration::from_secs(3),
            db_statement_timeout: Duration::from_secs(5),
            password_min_chars: 8,
            password_max_chars: 128,
            password_blocklist: true,
        }
    }
}

impl Config {
    /// Reads `AGORA_*` environment variables over the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], reading variables through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(url) = get("AGORA_DATABASE_URL") {
            config.database_url = url;
        }
        if let Some(bind) = get("AGORA_BIND") {
            config.bind = bind.parse().map_err(|e| ConfigError::Invalid {
                name: "AGORA_BIND",
                reason: format!("{bind:?} is not an address like 127.0.0.1:8000 ({e})"),
            })?;
        }
        // Set but empty or blank is refused, not taken for unset: a server
        // would otherwise quietly sign with a generated secret instead.
        if let Some(secret) = lookup("AGORA_JWT_SECRET") {
            if secret.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    name: "AGORA_JWT_SECRET",
                    reason: "is set but empty; set it to a secret (`openssl rand -hex 32`), \
                             or unset it to have one generated and kept in a file"
                        .to_owned(),
                });
            }
            config.jwt_secret = Some(
                JwtSecret::new(secret.trim().as_bytes())
                    .map_err(|e| e.for_variable("AGORA_JWT_SECRET"))?,
            );
        }
        if let Some(algorithm) = get("AGORA_JWT_ALGORITHM") {
            config.jwt_algorithm = algorithm.parse()?;
        }
        if let Some(path) = get("AGORA_JWT_PRIVATE_KEY_FILE") {
            config.jwt_private_key = Some(PemKey::from_file(
                Path::new(&path),
                "AGORA_JWT_PRIVATE_KEY_FILE",
            )?);
        }
        if let Some(paths) = get("AGORA_JWT_VERIFY_KEY_FILES") {
            config.jwt_verify_keys = comma_list(&paths)
                .map(|path| PemKey::from_file(Path::new(path), "AGORA_JWT_VERIFY_KEY_FILES"))
                .collect::<Result<_, _>>()?;
        }
        if let Some(secrets) = get("AGORA_JWT_PREVIOUS_SECRETS") {
            config.jwt_previous_secrets = comma_list(&secrets)
                .enumerate()
                .map(|(i, s)| {
                    JwtSecret::new(s.as_bytes()).map_err(|e| ConfigError::Invalid {
                        name: "AGORA_JWT_PREVIOUS_SECRETS",
                        reason: format!(
                            "previous secret {}: {} (each previous secret must be at least \
                             {MIN_SECRET_BYTES} bytes and look random)",
                            i + 1,
                            e.reason()
                        ),
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(issuer) = get("AGORA_JWT_ISSUER") {
            config.jwt_issuer = issuer;
        }
        if let Some(audience) = get("AGORA_JWT_AUDIENCE") {
            config.jwt_audience = audience;
        }
        if let Some(leeway) = get("AGORA_JWT_LEEWAY") {
            config.token_leeway = match leeway.as_str() {
                "0" | "0s" => Duration::ZERO,
                _ => parse_duration(&leeway).ok_or_else(|| ConfigError::Invalid {
                    name: "AGORA_JWT_LEEWAY",
                    reason: format!("{leeway:?} is not a number of seconds from 0 to 60"),
                })?,
            };
        }
        if let Some(ttl) = get("AGORA_ACCESS_TOKEN_TTL") {
            config.access_token_ttl = parse_duration(&ttl).ok_or_else(|| ConfigError::Invalid {
                name: "AGORA_ACCESS_TOKEN_TTL",
                reason: format!("{ttl:?} is not a positive duration like 1800, 30m or 1h"),
            })?;
        }
        for (name, field) in [
            ("AGORA_REFRESH_TOKEN_TTL", &mut config.refresh_token_ttl),
            ("AGORA_SESSION_LIFETIME", &mut config.session_lifetime),
            ("AGORA_REFRESH_REUSE_GRACE", &mut config.refresh_reuse_grace),
        ] {
            if let Some(value) = get(name) {
                *field = parse_duration(&value).ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("{value:?} is not a positive duration like 30d, 12h or 10s"),
                })?;
            }
        }
        if let Some(throttle) = get("AGORA_THROTTLE") {
            config.throttle.enabled = match throttle.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "AGORA_THROTTLE",
                        reason: format!("{throttle:?} is not on or off"),
                    });
                }
            };
        }
        if let Some(hide) = get("AGORA_HIDE_EMAILS") {
            config.hide_emails = match hide.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "AGORA_HIDE_EMAILS",
                        reason: format!("{hide:?} is not on or off"),
                    });
                }
            };
        }
        config.trusted_proxy_header = get("AGORA_TRUSTED_PROXY_HEADER");
        if let Some(hops) = get("AGORA_TRUSTED_PROXY_HOPS") {
            config.trusted_proxy_hops = hops
                .parse()
                .ok()
                .filter(|n| (1..=MAX_TRUSTED_PROXY_HOPS).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "AGORA_TRUSTED_PROXY_HOPS",
                    reason: format!(
                        "{hops:?} is not a number of proxies from 1 to {MAX_TRUSTED_PROXY_HOPS}"
                    ),
                })?;
            if config.trusted_proxy_header.is_none() {
                return Err(ConfigError::Invalid {
                    name: "AGORA_TRUSTED_PROXY_HOPS",
                    reason: "counts the proxies that append to AGORA_TRUSTED_PROXY_HEADER, \
                             which is not set"
                        .to_owned(),
                });
            }
        }
        config.redis_url = get("AGORA_REDIS_URL");
        if let Some(prefix) = get("AGORA_REDIS_PREFIX") {
            config.redis_prefix = prefix;
        }
        if let Some(t) = get("AGORA_REDIS_TIMEOUT") {
            config.redis_timeout = parse_duration(&t).ok_or_else(|| ConfigError::Invalid {
                name: "AGORA_REDIS_TIMEOUT",
                reason: format!("{t:?} is not a positive duration like 500ms or 1s"),
            })?;
        }
        config.server.read(get)?;
        if let Some(origins) = get("AGORA_CORS_ORIGINS") {
            config.cors_origins = origins
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(limit) = get("AGORA_BODY_LIMIT") {
            config.body_limit =
                limit
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "AGORA_BODY_LIMIT",
                        reason: format!("{limit:?} is not a positive number of bytes"),
                    })?;
        }
        if let Some(n) = get("AGORA_DB_MAX_CONNECTIONS") {
            config.db_max_connections =
                n.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "AGORA_DB_MAX_CONNECTIONS",
                        reason: format!("{n:?} is not a positive integer"),
                    })?;
        }
        if let Some(t) = get("AGORA_DB_ACQUIRE_TIMEOUT") {
            config.db_acquire_timeout = parse_duration(&t).ok_or_else(|| ConfigError::Invalid {
                name: "AGORA_DB_ACQUIRE_TIMEOUT",
                reason: format!("{t:?} is not a positive duration like 3s or 500ms"),
            })?;
        }
        if let Some(t) = get("AGORA_DB_STATEMENT_TIMEOUT") {
            config.db_statement_timeout =
                parse_duration(&t).ok_or_else(|| ConfigError::Invalid {
                    name: "AGORA_DB_STATEMENT_TIMEOUT",
                    reason: format!("{t:?} is not a positive duration like 5s or 500ms"),
                })?;
        }
        if let Some(n) = get("AGORA_HASH_CONCURRENCY") {
            config.hash_concurrency =
                n.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "AGORA_HASH_CONCURRENCY",
                        reason: format!("{n:?} is not a positive integer"),
                    })?;
        }
        for (name, field) in [
            ("AGORA_PASSWORD_MIN_CHARS", &mut config.password_min_chars),
            ("AGORA_PASSWORD_MAX_CHARS", &mut config.password_max_chars),
        ] {
            if let Some(n) = get(name) {
                *field = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        reason: format!("{n:?} is not a positive number of characters"),
                    })?;
            }
        }
        if let Some(blocklist) = get("AGORA_PASSWORD_BLOCKLIST") {
            config.password_blocklist = match blocklist.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "AGORA_PASSWORD_BLOCKLIST",
                        reason: format!("{blocklist:?} is not on or off"),
                    });
                }
            };
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks cross-field rules (also run by [`crate::Agora::new`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cors_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::Invalid {
                name: "AGORA_CORS_ORIGINS",
                reason: "list explicit origins; `*` is not allowed".to_owned(),
            });
        }
        if self.token_leeway > crate::crypto::jwt::MAX_LEEWAY {
            return Err(ConfigError::Invalid {
                name: "AGORA_JWT_LEEWAY",
                reason: "at most 60 seconds".to_owned(),
            });
        }
        self.validate_jwt_keys()?;
        if self.access_token_ttl.is_zero() {
            return Err(ConfigError::Invalid {
                name: "AGORA_ACCESS_TOKEN_TTL",
                reason: "must be positive".to_owned(),
            });
        }
        if !(1..=MAX_TRUSTED_PROXY_HOPS).contains(&self.trusted_proxy_hops) {
            return Err(ConfigError::Invalid {
                name: "AGORA_TRUSTED_PROXY_HOPS",
                reason: format!("must be from 1 to {MAX_TRUSTED_PROXY_HOPS}"),
            });
        }
        if self.password_min_chars == 0 || self.password_min_chars > self.password_max_chars {
            return Err(ConfigError::Invalid {
                name: "AGORA_PASSWORD_MIN_CHARS",
                reason: format!(
                    "must be between 1 and AGORA_PASSWORD_MAX_CHARS ({})",
                    self.password_max_chars
                ),
            });
        }
        Ok(())
    }

    /// Which keys may go together: HMAC secrets and signature keys are never
    /// mixed (RFC 8725 §3.1, OWASP JWT cheat sheet), so a configuration that
    /// asks for both is refused rather than half-applied.
    fn validate_jwt_keys(&self) -> Result<(), ConfigError> {
        let mixed = |name, reason: String| Err(ConfigError::Invalid { name, reason });
        let algorithm = self.jwt_algorithm;
        if algorithm.is_asymmetric() {
            if self.jwt_secret.is_some() {
                return mixed(
                    "AGORA_JWT_SECRET",
                    format!(
                        "AGORA_JWT_ALGORITHM is {algorithm}, which signs with a private key; \
                         HMAC secrets and signature keys are not mixed: unset AGORA_JWT_SECRET"
                    ),
                );
            }
            if !self.jwt_previous_secrets.is_empty() {
                return mixed(
                    "AGORA_JWT_PREVIOUS_SECRETS",
                    format!(
                        "AGORA_JWT_ALGORITHM is {algorithm}; HS256 secrets and signature keys \
                         are not mixed in one key set: unset AGORA_JWT_PREVIOUS_SECRETS \
                         (moving from HS256 ends access tokens early: clients refresh)"
                    ),
                );
            }
            if self.jwt_private_key.is_none() {
                return mixed(
                    "AGORA_JWT_PRIVATE_KEY_FILE",
                    format!(
                        "{algorithm} needs a private key: set AGORA_JWT_PRIVATE_KEY_FILE to a \
                         PKCS#8 PEM file"
                    ),
                );
            }
        } else {
            if self.jwt_private_key.is_some() {
                return mixed(
                    "AGORA_JWT_PRIVATE_KEY_FILE",
                    "a private key signs with EdDSA or ES256: set AGORA_JWT_ALGORITHM, \
                     or unset AGORA_JWT_PRIVATE_KEY_FILE for HS256"
                        .to_owned(),
                );
            }
            if !self.jwt_verify_keys.is_empty() {
                return mixed(
                    "AGORA_JWT_VERIFY_KEY_FILES",
                    "AGORA_JWT_ALGORITHM is HS256; HS256 secrets and signature keys are not \
                     mixed in one key set: use AGORA_JWT_PREVIOUS_SECRETS for old secrets"
                        .to_owned(),
                );
            }
        }
        for (name, value) in [
            ("AGORA_JWT_ISSUER", &self.jwt_issuer),
            ("AGORA_JWT_AUDIENCE", &self.jwt_audience),
        ] {
            if value.trim().is_empty() {
                return mixed(name, "must not be empty".to_owned());
            }
        }
        Ok(())
    }

    /// Makes sure a JWT secret is set when tokens are signed with HS256:
    /// keeps a configured one, else loads or creates the secret file from
    /// [`Config::secret_file`], else (in-memory database) generates one for
    /// this process only. Does nothing with EdDSA or ES256, whose key is
    /// [`Config::jwt_private_key`].
    pub fn ensure_jwt_secret(&mut self) -> Result<(), ConfigError> {
        if self.jwt_secret.is_none() && !self.jwt_algorithm.is_asymmetric() {
            self.jwt_secret = Some(match self.secret_file() {
                Some(path) => JwtSecret::load_or_create(&path)?,
                None => JwtSecret::generate(),
            });
        }
        Ok(())
    }

    /// Where a server keeps a generated JWT secret: beside the SQLite file
    /// (`agora.db` → `agora.db.jwt-secret`), or `agora.jwt-secret` in the
    /// working directory for other databases. `None` for in-memory SQLite.
    pub fn secret_file(&self) -> Option<PathBuf> {
        let url = &self.database_url;
        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Some(PathBuf::from("agora.jwt-secret"));
        };
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
            return None;
        }
        let mut file = PathBuf::from(path).into_os_string();
        file.push(".jwt-secret");
        Some(PathBuf::from(file))
    }
}

/// The non-empty, trimmed items of a comma-separated list.
fn comma_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// `1800` (seconds), `500ms`, `90s`, `30m`, `2h` or `1d`.
fn parse_duration(text: &str) -> Option<Duration> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_safe() {
        let c = from(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://agora.db");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(c.access_token_ttl, Duration::from_secs(1800));
        assert!(c.jwt_secret.is_none() && c.cors_origins.is_empty());
        assert_eq!(c.body_limit, 65_536);
    }

    #[test]
    fn short_jwt_secret_is_refused_with_a_clear_message() {
        let err = from(&[("AGORA_JWT_SECRET", "secret")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 32 bytes"), "{err}");
        assert!(
            from(&[("AGORA_JWT_SECRET", &random_secret())])
                .unwrap()
                .jwt_secret
                .is_some()
        );
    }

    /// A secret as `openssl rand -hex 32` makes it.
    fn random_secret() -> String {
        crate::crypto::random_hex(32)
    }

    #[test]
    fn empty_or_blank_jwt_secret_in_the_environment_is_refused_not_replaced() {
        for blank in ["", " ", "\t\n  "] {
            let err = from(&[("AGORA_JWT_SECRET", blank)])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("AGORA_JWT_SECRET:"), "{err}");
            assert!(err.contains("empty"), "{err}");
        }
        // Given in code: the message names no environment variable.
        for blank in ["", "   "] {
            let err = JwtSecret::new(blank).unwrap_err().to_string();
            assert!(!err.contains("AGORA_"), "{err}");
            assert!(err.contains("empty"), "{err}");
        }
    }

    #[test]
    fn low_entropy_jwt_secrets_are_refused() {
        for weak in [
            "a".repeat(32),
            "k".repeat(64),
            "ab".repeat(16),
            "0123456789abcdef".repeat(2),
            "0123456789abcdef".repeat(2) + "0123",
            "0123456789abcdef".repeat(8),
            // 128 random bits in hex are only 32 bytes of 16 symbols.
            crate::crypto::random_hex(16),
        ] {
            let err = JwtSecret::new(weak.clone()).unwrap_err().to_string();
            assert!(err.contains("does not look random"), "{weak}: {err}");
            assert!(err.contains("openssl rand -hex 32"), "{err}");
            let env = from(&[("AGORA_JWT_SECRET", &weak)])
                .unwrap_err()
                .to_string();
            assert!(env.starts_with("AGORA_JWT_SECRET:"), "{env}");
        }
        assert!(JwtSecret::new(vec![0u8; 32]).is_err());
    }

    #[test]
    fn random_secrets_in_every_usual_encoding_are_accepted() {
        use base64::Engine as _;
        for _ in 0..200 {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).unwrap();
            let hex = hex::encode(bytes);
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            // `openssl rand -hex 32`, `openssl rand -base64 32`, raw bytes.
            JwtSecret::new(hex.clone()).expect(&hex);
            JwtSecret::new(b64.clone()).expect(&b64);
            JwtSecret::new(bytes.to_vec()).expect("32 random bytes");
            assert!(from(&[("AGORA_JWT_SECRET", &format!(" {b64}\n"))]).is_ok());
        }
    }

    #[test]
    fn ttl_accepts_seconds_and_units() {
        let ttl = |v| from(&[("AGORA_ACCESS_TOKEN_TTL", v)]).map(|c| c.access_token_ttl.as_secs());
        assert_eq!(ttl("900").unwrap(), 900);
        assert_eq!(ttl("30m").unwrap(), 1800);
        assert_eq!(ttl("1h").unwrap(), 3600);
        assert!(ttl("0").is_err() && ttl("soon").is_err() && ttl("5y").is_err());
        let acquire = from(&[("AGORA_DB_ACQUIRE_TIMEOUT", "500ms")])
            .unwrap()
            .db_acquire_timeout;
        assert_eq!(acquire, Duration::from_millis(500));
        let statement =
            |v| from(&[("AGORA_DB_STATEMENT_TIMEOUT", v)]).map(|c| c.db_statement_timeout);
        assert_eq!(statement("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            from(&[]).unwrap().db_statement_timeout,
            Duration::from_secs(5)
        );
        assert!(statement("0").is_err() && statement("soon").is_err());
    }

    #[test]
    fn server_limits_and_redis_settings_have_defaults_and_are_read() {
        let c = from(&[]).unwrap();
        assert_eq!(c.server, ServerConfig::default());
        assert_eq!(c.server.header_timeout, Duration::from_secs(10));
        assert_eq!(c.server.body_timeout, Duration::from_secs(30));
        assert_eq!(c.server.idle_timeout, Duration::from_secs(75));
        assert_eq!(c.server.max_connections, 512);
        assert_eq!(c.server.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(c.redis_prefix, "agora:throttle:");
        assert_eq!(c.redis_timeout, Duration::from_millis(500));
        let c = from(&[
            ("AGORA_HEADER_TIMEOUT", "2s"),
            ("AGORA_BODY_TIMEOUT", "1500ms"),
            ("AGORA_IDLE_TIMEOUT", "1m"),
            ("AGORA_MAX_CONNECTIONS", "200"),
            ("AGORA_SHUTDOWN_TIMEOUT", "3"),
            ("AGORA_REDIS_PREFIX", "staging:throttle:"),
            ("AGORA_REDIS_TIMEOUT", "250ms"),
        ])
        .unwrap();
        assert_eq!(c.server.header_timeout, Duration::from_secs(2));
        assert_eq!(c.server.body_timeout, Duration::from_millis(1500));
        assert_eq!(c.server.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.server.max_connections, 200);
        assert_eq!(c.server.shutdown_timeout, Duration::from_secs(3));
        assert_eq!(c.redis_prefix, "staging:throttle:");
        assert_eq!(c.redis_timeout, Duration::from_millis(250));
        for (name, bad) in [
            ("AGORA_HEADER_TIMEOUT", "0"),
            ("AGORA_IDLE_TIMEOUT", "soon"),
            ("AGORA_MAX_CONNECTIONS", "0"),
            ("AGORA_MAX_CONNECTIONS", "-5"),
            ("AGORA_REDIS_TIMEOUT", "fast"),
        ] {
            let err = from(&[(name, bad)]).unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
        }
    }

    #[test]
    fn password_rules_are_configurable() {
        let c = from(&[]).unwrap();
        assert_eq!((c.password_min_chars, c.password_max_chars), (8, 128));
        assert!(c.password_blocklist, "the blocklist is on by default");
        let c = from(&[
            ("AGORA_PASSWORD_MIN_CHARS", "15"),
            ("AGORA_PASSWORD_MAX_CHARS", "256"),
            ("AGORA_PASSWORD_BLOCKLIST", "false"),
        ])
        .unwrap();
        assert_eq!((c.password_min_chars, c.password_max_chars), (15, 256));
        assert!(!c.password_blocklist);
        assert!(from(&[("AGORA_PASSWORD_BLOCKLIST", "OFF")]).is_ok());
        assert!(from(&[("AGORA_PASSWORD_BLOCKLIST", "maybe")]).is_err());
        assert!(from(&[("AGORA_PASSWORD_MIN_CHARS", "0")]).is_err());
        assert!(from(&[("AGORA_PASSWORD_MAX_CHARS", "many")]).is_err());
        let err = from(&[("AGORA_PASSWORD_MIN_CHARS", "200")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("AGORA_PASSWORD_MAX_CHARS (128)"), "{err}");
    }

    #[test]
    fn wildcard_cors_origin_is_refused() {
        assert!(from(&[("AGORA_CORS_ORIGINS", "*")]).is_err());
        let c = from(&[("AGORA_CORS_ORIGINS", "https://a.example, https://b.example")]).unwrap();
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
    }

    #[test]
    fn secret_file_sits_beside_the_sqlite_database() {
        let c = |url: &str| {
            Config {
                database_url: url.to_owned(),
                ..Config::default()
            }
            .secret_file()
        };
        assert_eq!(
            c("sqlite://data/agora.db"),
            Some(PathBuf::from("data/agora.db.jwt-secret"))
        );
        assert_eq!(
            c("sqlite:agora.db?mode=rwc"),
            Some(PathBuf::from("agora.db.jwt-secret"))
        );
        assert_eq!(c("sqlite::memory:"), None);
        assert_eq!(
            c("postgres://localhost/x"),
            Some(PathBuf::from("agora.jwt-secret"))
        );
    }

    #[test]
    fn generated_secret_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jwt-secret");
        let first = JwtSecret::load_or_create(&path).unwrap();
        let second = JwtSecret::load_or_create(&path).unwrap();
        assert_eq!(first, second);
        assert!(first.expose().len() >= MIN_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_readable_or_writable_by_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jwt-secret");
        std::fs::write(&path, format!("{}\n", random_secret())).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o666, 0o660, 0o610] {
            set_mode(&path, mode);
            let err = JwtSecret::load_or_create(&path).unwrap_err().to_string();
            assert!(err.contains(&format!("mode {mode:03o}")), "{err}");
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
        }
        set_mode(&path, 0o600);
        assert!(JwtSecret::load_or_create(&path).is_ok());
        set_mode(&path, 0o400);
        assert!(
            JwtSecret::load_or_create(&path).is_ok(),
            "read-only is fine"
        );
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_that_is_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real-secret");
        std::fs::write(&target, random_secret()).unwrap();
        set_mode(&target, 0o600);
        let link = dir.path().join("s.jwt-secret");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = JwtSecret::load_or_create(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        // A dangling link is not followed to create a file either.
        let dangling = dir.path().join("dangling.jwt-secret");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = JwtSecret::load_or_create(&dangling)
            .unwrap_err()
            .to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn secret_file_with_a_weak_or_empty_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jwt-secret");
        for weak in ["", "\n", &"a".repeat(40)] {
            std::fs::write(&path, weak).unwrap();
            #[cfg(unix)]
            set_mode(&path, 0o600);
            let err = JwtSecret::load_or_create(&path).unwrap_err().to_string();
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains("delete the file"), "{err}");
            assert!(!err.contains("AGORA_"), "{err}");
        }
    }

    #[test]
    fn ensure_jwt_secret_refuses_an_unsafe_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agora.db");
        let mut c = from(&[("AGORA_DATABASE_URL", &format!("sqlite://{}", db.display()))]).unwrap();
        let file = c.secret_file().unwrap();
        std::fs::write(&file, random_secret()).unwrap();
        #[cfg(unix)]
        {
            set_mode(&file, 0o644);
            assert!(c.ensure_jwt_secret().is_err());
            assert!(c.jwt_secret.is_none());
            set_mode(&file, 0o600);
        }
        c.ensure_jwt_secret().unwrap();
        assert_eq!(
            c.jwt_secret.unwrap().expose(),
            std::fs::read_to_string(&file).unwrap().trim().as_bytes()
        );
    }

    #[test]
    fn trusted_proxy_hops_default_to_one_and_need_a_header() {
        assert_eq!(from(&[]).unwrap().trusted_proxy_hops, 1);
        let c = from(&[
            ("AGORA_TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
            ("AGORA_TRUSTED_PROXY_HOPS", "2"),
        ])
        .unwrap();
        assert_eq!(c.trusted_proxy_hops, 2);
        for bad in ["0", "17", "-1", "two"] {
            let err = from(&[
                ("AGORA_TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
                ("AGORA_TRUSTED_PROXY_HOPS", bad),
            ])
            .unwrap_err()
            .to_string();
            assert!(err.starts_with("AGORA_TRUSTED_PROXY_HOPS"), "{err}");
        }
        let err = from(&[("AGORA_TRUSTED_PROXY_HOPS", "2")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("AGORA_TRUSTED_PROXY_HEADER"), "{err}");
        let zero = Config {
            trusted_proxy_hops: 0,
            ..Config::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = JwtSecret::new(b"super-secret-value-that-is-32-bytes!".to_vec()).unwrap();
        assert!(!format!("{s:?}").contains("super"));
    }

    /// Writes fresh test keys (generated at test time) to PEM files.
    fn key_files(dir: &Path) -> [(String, String); 2] {
        use crate::crypto::keys::test_keys::{ed25519, p256};
        let write = |name: &str, pem: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, pem).unwrap();
            path.display().to_string()
        };
        let (ed, ec) = (ed25519(), p256());
        [
            (
                write("ed.pem", ed.private.pem_bytes()),
                write("ed.pub.pem", ed.public.pem_bytes()),
            ),
            (
                write("ec.pem", ec.private.pem_bytes()),
                write("ec.pub.pem", ec.public.pem_bytes()),
            ),
        ]
    }

    #[test]
    fn jwt_defaults_are_hs256_named_agora_with_ten_seconds_of_leeway() {
        let c = from(&[]).unwrap();
        assert_eq!(c.jwt_algorithm, JwtAlgorithm::HS256);
        assert_eq!(
            (c.jwt_issuer.as_str(), c.jwt_audience.as_str()),
            ("agora", "agora")
        );
        assert_eq!(c.token_leeway, Duration::from_secs(10));
        assert!(c.jwt_private_key.is_none() && c.jwt_verify_keys.is_empty());
        assert!(c.jwt_previous_secrets.is_empty());
    }

    #[test]
    fn eddsa_keys_are_read_from_the_files_named_in_the_environment() {
        use crate::crypto::keys::KeySet;
        let dir = tempfile::tempdir().unwrap();
        let [(ed, _), (ec, ec_pub)] = key_files(dir.path());
        let c = from(&[
            ("AGORA_JWT_ALGORITHM", "EdDSA"),
            ("AGORA_JWT_PRIVATE_KEY_FILE", &ed),
            ("AGORA_JWT_VERIFY_KEY_FILES", &format!("{ec}, {ec_pub},")),
            ("AGORA_JWT_ISSUER", "https://auth.example"),
            ("AGORA_JWT_AUDIENCE", "https://api.example"),
        ])
        .unwrap();
        assert_eq!(c.jwt_algorithm, JwtAlgorithm::EdDSA);
        assert_eq!(c.jwt_private_key.as_ref().unwrap().origin(), ed);
        assert_eq!(c.jwt_verify_keys.len(), 2);
        assert_eq!(c.jwt_issuer, "https://auth.example");
        assert_eq!(c.jwt_audience, "https://api.example");
        let keys = KeySet::from_config(&c).unwrap();
        assert_eq!(keys.algorithm(), JwtAlgorithm::EdDSA);
        // The P-256 private and public files are the same key: published once.
        assert_eq!(keys.jwks().unwrap()["keys"].as_array().unwrap().len(), 2);
        let es = from(&[
            ("AGORA_JWT_ALGORITHM", "es256"),
            ("AGORA_JWT_PRIVATE_KEY_FILE", &ec),
        ])
        .unwrap();
        assert_eq!(
            KeySet::from_config(&es).unwrap().algorithm(),
            JwtAlgorithm::ES256
        );
    }

    #[test]
    fn unknown_jwt_algorithm_is_refused() {
        for alg in ["none", "RS256", "HS512"] {
            let err = from(&[("AGORA_JWT_ALGORITHM", alg)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("HS256, EdDSA, ES256"), "{err}");
        }
    }

    #[test]
    fn missing_key_file_is_refused_with_its_path() {
        let err = from(&[
            ("AGORA_JWT_ALGORITHM", "EdDSA"),
            ("AGORA_JWT_PRIVATE_KEY_FILE", "/nonexistent/agora-key.pem"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("AGORA_JWT_PRIVATE_KEY_FILE"), "{err}");
        assert!(err.contains("/nonexistent/agora-key.pem"), "{err}");
        let err = from(&[("AGORA_JWT_VERIFY_KEY_FILES", "/nonexistent/old.pem")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("AGORA_JWT_VERIFY_KEY_FILES"), "{err}");
    }

    #[test]
    fn asymmetric_algorithm_without_a_private_key_is_refused() {
        for alg in ["EdDSA", "ES256"] {
            let err = from(&[("AGORA_JWT_ALGORITHM", alg)])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("AGORA_JWT_PRIVATE_KEY_FILE"), "{err}");
        }
    }

    #[test]
    fn mixing_hmac_secrets_and_signature_keys_is_refused() {
        use crate::crypto::keys::KeySet;
        let dir = tempfile::tempdir().unwrap();
        let [(ed, ed_pub), _] = key_files(dir.path());
        let secret = random_secret();
        let cases: [&[(&str, &str)]; 4] = [
            &[
                ("AGORA_JWT_ALGORITHM", "EdDSA"),
                ("AGORA_JWT_PRIVATE_KEY_FILE", &ed),
                ("AGORA_JWT_SECRET", &secret),
            ],
            &[
                ("AGORA_JWT_ALGORITHM", "EdDSA"),
                ("AGORA_JWT_PRIVATE_KEY_FILE", &ed),
                ("AGORA_JWT_PREVIOUS_SECRETS", &secret),
            ],
            &[
                ("AGORA_JWT_SECRET", &secret),
                ("AGORA_JWT_VERIFY_KEY_FILES", &ed_pub),
            ],
            &[
                ("AGORA_JWT_SECRET", &secret),
                ("AGORA_JWT_PRIVATE_KEY_FILE", &ed),
            ],
        ];
        for vars in cases {
            let err = from(vars).unwrap_err().to_string();
            assert!(err.contains("AGORA_JWT_"), "{err}");
        }
        // The same rule holds for configurations built in code.
        let mixed = Config {
            jwt_secret: Some(JwtSecret::new(secret.clone()).unwrap()),
            jwt_verify_keys: vec![PemKey::from_file(Path::new(&ed_pub), "test").unwrap()],
            ..Config::default()
        };
        assert!(KeySet::from_config(&mixed).is_err());
        assert!(crate::crypto::jwt::TokenKeys::from_config(&mixed).is_err());
    }

    #[test]
    fn hs256_previous_secrets_must_each_be_long_enough() {
        let ok = from(&[(
            "AGORA_JWT_PREVIOUS_SECRETS",
            &format!("{}, {}", random_secret(), random_secret()),
        )])
        .unwrap();
        assert_eq!(ok.jwt_previous_secrets.len(), 2);
        let err = from(&[(
            "AGORA_JWT_PREVIOUS_SECRETS",
            &format!("{},{}", random_secret(), "b".repeat(40)),
        )])
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("AGORA_JWT_PREVIOUS_SECRETS: previous secret 2")
                && err.contains("does not look random"),
            "{err}"
        );
        let err = from(&[(
            "AGORA_JWT_PREVIOUS_SECRETS",
            &format!("{},short", random_secret()),
        )])
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("AGORA_JWT_PREVIOUS_SECRETS") && err.contains("32 bytes"),
            "{err}"
        );
    }

    #[test]
    fn jwt_leeway_is_configurable_up_to_sixty_seconds() {
        let leeway = |v| from(&[("AGORA_JWT_LEEWAY", v)]).map(|c| c.token_leeway.as_secs());
        assert_eq!(leeway("0").unwrap(), 0);
        assert_eq!(leeway("30").unwrap(), 30);
        assert_eq!(leeway("60s").unwrap(), 60);
        assert!(leeway("61").is_err() && leeway("2m").is_err() && leeway("soon").is_err());
    }

    #[test]
    fn empty_issuer_or_audience_is_refused() {
        for field in ["issuer", "audience"] {
            let mut c = Config::default();
            if field == "issuer" {
                c.jwt_issuer = " ".to_owned();
            } else {
                c.jwt_audience = String::new();
            }
            assert!(c.validate().is_err(), "{field}");
        }
    }

    #[test]
    fn no_secret_file_is_made_for_signature_keys() {
        let dir = tempfile::tempdir().unwrap();
        let [(ed, _), _] = key_files(dir.path());
        let db = dir.path().join("agora.db");
        let mut c = from(&[
            ("AGORA_DATABASE_URL", &format!("sqlite://{}", db.display())),
            ("AGORA_JWT_ALGORITHM", "EdDSA"),
            ("AGORA_JWT_PRIVATE_KEY_FILE", &ed),
        ])
        .unwrap();
        c.ensure_jwt_secret().unwrap();
        assert!(c.jwt_secret.is_none());
        assert!(!c.secret_file().unwrap().exists());
        c.validate().unwrap();
    }
}
