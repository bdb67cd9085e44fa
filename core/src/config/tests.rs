use super::*;
use crate::crypto::keys::{JwtAlgorithm, PemKey};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

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
    assert_eq!(c.server.database_url, "sqlite://agora.db");
    assert_eq!(c.server.bind.to_string(), "127.0.0.1:8000");
    assert_eq!(c.tokens.access_ttl, Duration::from_secs(1800));
    assert!(c.tokens.secret.is_none() && c.server.cors_origins.is_empty());
    assert_eq!(c.server.body_limit, 65_536);
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
            .tokens
            .secret
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
    let ttl = |v| from(&[("AGORA_ACCESS_TOKEN_TTL", v)]).map(|c| c.tokens.access_ttl.as_secs());
    assert_eq!(ttl("900").unwrap(), 900);
    assert_eq!(ttl("30m").unwrap(), 1800);
    assert_eq!(ttl("1h").unwrap(), 3600);
    assert!(ttl("0").is_err() && ttl("soon").is_err() && ttl("5y").is_err());
    let acquire = from(&[("AGORA_DB_ACQUIRE_TIMEOUT", "500ms")])
        .unwrap()
        .server
        .pool
        .acquire_timeout;
    assert_eq!(acquire, Duration::from_millis(500));
    let statement =
        |v| from(&[("AGORA_DB_STATEMENT_TIMEOUT", v)]).map(|c| c.server.pool.statement_timeout);
    assert_eq!(statement("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(
        from(&[]).unwrap().server.pool.statement_timeout,
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
    assert_eq!(c.server.redis.prefix, "agora:throttle:");
    assert_eq!(c.server.redis.timeout, Duration::from_millis(500));
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
    assert_eq!(c.server.redis.prefix, "staging:throttle:");
    assert_eq!(c.server.redis.timeout, Duration::from_millis(250));
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
fn the_migration_lock_timeout_defaults_to_a_minute_and_is_read() {
    let timeout =
        |v| from(&[("AGORA_MIGRATION_LOCK_TIMEOUT", v)]).map(|c| c.server.migration_lock_timeout);
    assert_eq!(
        from(&[]).unwrap().server.migration_lock_timeout,
        Duration::from_secs(60)
    );
    assert_eq!(timeout("5m").unwrap(), Duration::from_secs(300));
    assert_eq!(timeout("1500ms").unwrap(), Duration::from_millis(1500));
    assert_eq!(timeout("90").unwrap(), Duration::from_secs(90));
    for bad in ["0", "soon"] {
        let err = timeout(bad).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "AGORA_MIGRATION_LOCK_TIMEOUT: {bad:?} is not a positive duration like 60s or 5m"
            )
        );
    }
}

#[test]
fn password_rules_are_configurable() {
    let c = from(&[]).unwrap();
    assert_eq!((c.passwords.min_chars, c.passwords.max_chars), (8, 128));
    assert!(c.passwords.blocklist, "the blocklist is on by default");
    let c = from(&[
        ("AGORA_PASSWORD_MIN_CHARS", "15"),
        ("AGORA_PASSWORD_MAX_CHARS", "256"),
        ("AGORA_PASSWORD_BLOCKLIST", "false"),
    ])
    .unwrap();
    assert_eq!((c.passwords.min_chars, c.passwords.max_chars), (15, 256));
    assert!(!c.passwords.blocklist);
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
    assert_eq!(
        c.server.cors_origins,
        ["https://a.example", "https://b.example"]
    );
}

#[test]
fn secret_file_sits_beside_the_sqlite_database() {
    let c = |url: &str| {
        let mut config = Config::default();
        config.server.database_url = url.to_owned();
        config.secret_file()
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
        c("SQLite://Agora.db"),
        Some(PathBuf::from("Agora.db.jwt-secret"))
    );
    // Servers sharing a database never share a generated file: they need
    // `tokens.secret` (see the tests below).
    assert_eq!(c("postgres://localhost/x"), None);
    assert_eq!(c("mysql://localhost/x"), None);
}

#[test]
fn secret_files_of_different_databases_never_collide() {
    let file = |url: &str| {
        let mut config = Config::default();
        config.server.database_url = url.to_owned();
        config.secret_file()
    };
    let files: Vec<_> = [
        "sqlite://agora.db",
        "sqlite://data/agora.db",
        "sqlite:///srv/a/agora.db",
        "sqlite:///srv/b/agora.db",
    ]
    .iter()
    .map(|url| file(url).expect("a file"))
    .collect();
    let unique: std::collections::HashSet<_> = files.iter().collect();
    assert_eq!(unique.len(), files.len(), "{files:?}");
    // A PostgreSQL and a MySQL database both called `agora` (which used to
    // share `agora.jwt-secret`) have no file at all.
    for url in [
        "postgres://db/agora",
        "mysql://db/agora",
        "postgresql://db/agora",
        "mariadb://db/agora",
    ] {
        assert_eq!(file(url), None, "{url}");
    }
}

#[test]
fn a_shared_database_without_a_secret_is_refused_naming_the_variable_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "postgres://app:pw@db.internal:5432/agora",
        "POSTGRESQL://db/agora",
        "mysql://root@127.0.0.1:3306/agora",
        "mariadb://db/agora",
    ] {
        let mut c = from(&[("AGORA_DATABASE_URL", url)]).unwrap();
        let err = c.ensure_jwt_secret().unwrap_err();
        assert!(c.tokens.secret.is_none());
        // Code sees field paths; the example servers rename them.
        let shown = err.to_string();
        assert!(shown.starts_with("tokens.secret: not set"), "{shown}");
        assert!(shown.contains("(server.database_url)"), "{shown}");
        let shown = err.renamed(env::variable).to_string();
        assert!(shown.starts_with("AGORA_JWT_SECRET: not set"), "{shown}");
        assert!(shown.contains("database (AGORA_DATABASE_URL)"), "{shown}");
        assert!(shown.contains("openssl rand -hex 32"), "{shown}");
        assert!(shown.contains("every server the same value"), "{shown}");
        assert!(!shown.contains("pw"), "{shown}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Set, it is kept; with a signature key, none is needed.
    let secret = random_secret();
    let mut c = from(&[
        ("AGORA_DATABASE_URL", "postgres://db/agora"),
        ("AGORA_JWT_SECRET", &secret),
    ])
    .unwrap();
    c.ensure_jwt_secret().unwrap();
    assert_eq!(c.tokens.secret.unwrap().expose(), secret.as_bytes());
    let [(ed, _), _] = key_files(dir.path());
    let mut c = from(&[
        ("AGORA_DATABASE_URL", "mysql://db/agora"),
        ("AGORA_JWT_ALGORITHM", "EdDSA"),
        ("AGORA_JWT_PRIVATE_KEY_FILE", &ed),
    ])
    .unwrap();
    c.ensure_jwt_secret().unwrap();
    assert!(c.tokens.secret.is_none());
}

#[test]
fn a_missing_sqlite_directory_is_named_instead_of_the_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir");
    let url = format!("sqlite://{}/agora.db", missing.display());
    let mut c = from(&[("AGORA_DATABASE_URL", &url)]).unwrap();
    let err = c.ensure_jwt_secret().unwrap_err();
    let shown = err.renamed(env::variable).to_string();
    let expected = format!(
        "AGORA_DATABASE_URL: the directory {0} (of the SQLite database {0}/agora.db) does not \
         exist: create it (`mkdir -p {0}`) or fix the URL",
        missing.display()
    );
    assert_eq!(shown, expected);
    assert!(!shown.contains("jwt-secret"), "{shown}");
    // A file where the directory should be.
    let file = dir.path().join("plain");
    std::fs::write(&file, "").unwrap();
    let url = format!("sqlite://{}/agora.db", file.display());
    let mut c = from(&[("AGORA_DATABASE_URL", &url)]).unwrap();
    let shown = c.ensure_jwt_secret().unwrap_err().to_string();
    assert!(
        shown.starts_with(&format!("server.database_url: {} (", file.display())),
        "{shown}"
    );
    assert!(shown.contains("is not a directory"), "{shown}");
    // In memory: a secret for this process, no file.
    let mut c = Config::default();
    c.server.database_url = "sqlite::memory:".to_owned();
    c.ensure_jwt_secret().unwrap();
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
        assert!(c.tokens.secret.is_none());
        set_mode(&file, 0o600);
    }
    c.ensure_jwt_secret().unwrap();
    assert_eq!(
        c.tokens.secret.unwrap().expose(),
        std::fs::read_to_string(&file).unwrap().trim().as_bytes()
    );
}

#[test]
fn trusted_proxy_hops_default_to_one_and_need_a_header() {
    assert_eq!(from(&[]).unwrap().proxy.hops, 1);
    let c = from(&[
        ("AGORA_TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
        ("AGORA_TRUSTED_PROXY_HOPS", "2"),
    ])
    .unwrap();
    assert_eq!(c.proxy.hops, 2);
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
    let mut zero = Config::default();
    zero.proxy.hops = 0;
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
    assert_eq!(c.tokens.algorithm, JwtAlgorithm::HS256);
    assert_eq!(
        (c.tokens.issuer.as_str(), c.tokens.audience.as_str()),
        ("agora", "agora")
    );
    assert_eq!(c.tokens.leeway, Duration::from_secs(10));
    assert!(c.tokens.private_key.is_none() && c.tokens.verify_keys.is_empty());
    assert!(c.tokens.previous_secrets.is_empty());
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
    assert_eq!(c.tokens.algorithm, JwtAlgorithm::EdDSA);
    assert_eq!(c.tokens.private_key.as_ref().unwrap().origin(), ed);
    assert_eq!(c.tokens.verify_keys.len(), 2);
    assert_eq!(c.tokens.issuer, "https://auth.example");
    assert_eq!(c.tokens.audience, "https://api.example");
    let keys = KeySet::from_config(&c.tokens).unwrap();
    assert_eq!(keys.algorithm(), JwtAlgorithm::EdDSA);
    // The P-256 private and public files are the same key: published once.
    assert_eq!(keys.jwks().unwrap()["keys"].as_array().unwrap().len(), 2);
    let es = from(&[
        ("AGORA_JWT_ALGORITHM", "es256"),
        ("AGORA_JWT_PRIVATE_KEY_FILE", &ec),
    ])
    .unwrap();
    assert_eq!(
        KeySet::from_config(&es.tokens).unwrap().algorithm(),
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
    let mixed = TokenConfig {
        secret: Some(JwtSecret::new(secret.clone()).unwrap()),
        verify_keys: vec![PemKey::from_file(Path::new(&ed_pub), "test").unwrap()],
        ..TokenConfig::default()
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
    assert_eq!(ok.tokens.previous_secrets.len(), 2);
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
    let leeway = |v| from(&[("AGORA_JWT_LEEWAY", v)]).map(|c| c.tokens.leeway.as_secs());
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
            c.tokens.issuer = " ".to_owned();
        } else {
            c.tokens.audience = String::new();
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
    assert!(c.tokens.secret.is_none());
    assert!(!c.secret_file().unwrap().exists());
    c.validate().unwrap();
}

#[test]
fn errors_of_a_config_built_in_code_name_fields_and_from_the_environment_variables() {
    let short = || {
        TokenConfig {
            secret: Some(JwtSecret::new("too short")?),
            ..TokenConfig::default()
        }
        .validate()
    };
    let err = short().unwrap_err().to_string();
    assert!(err.starts_with("tokens.secret: "), "{err}");
    assert!(
        err.contains("at least 32 bytes") && !err.contains("AGORA_"),
        "{err}"
    );
    let env = from(&[("AGORA_JWT_SECRET", "too short")])
        .unwrap_err()
        .to_string();
    assert!(env.starts_with("AGORA_JWT_SECRET: "), "{env}");
    assert!(env.contains("at least 32 bytes"), "{env}");

    let mut config = Config::default();
    config.passwords.min_chars = 200;
    let err = config.validate().unwrap_err().to_string();
    assert_eq!(
        err,
        "passwords.min_chars: must be between 1 and passwords.max_chars (128)"
    );
    let env = from(&[("AGORA_PASSWORD_MIN_CHARS", "200")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        env,
        "AGORA_PASSWORD_MIN_CHARS: must be between 1 and AGORA_PASSWORD_MAX_CHARS (128)"
    );

    config = Config::default();
    config.tokens.algorithm = JwtAlgorithm::ES256;
    let err = crate::crypto::jwt::TokenKeys::from_config(&config.tokens)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("tokens.private_key: ES256 needs"), "{err}");
    assert!(!err.contains("AGORA_"), "{err}");
}

#[test]
fn every_variable_sets_one_field() {
    let mut variables: Vec<_> = env::VARIABLES.iter().map(|(v, _)| v).collect();
    let mut fields: Vec<_> = env::VARIABLES.iter().map(|(_, f)| f).collect();
    let n = variables.len();
    variables.sort_unstable();
    variables.dedup();
    fields.sort_unstable();
    fields.dedup();
    assert_eq!((variables.len(), fields.len()), (n, n));
    assert!(env::VARIABLES.iter().all(|(v, _)| v.starts_with("AGORA_")));
    assert_eq!(env::variable("tokens.secret"), "AGORA_JWT_SECRET");
    assert_eq!(env::variable("hashing.params"), "hashing.params");
}

#[test]
fn password_policy_comes_from_the_config() {
    let policy = PasswordPolicy {
        min_chars: 12,
        max_chars: 64,
        blocklist: false,
    };
    let config = Config {
        passwords: policy,
        ..Config::default()
    };
    assert_eq!(config.passwords, policy);
    assert_eq!(Config::default().passwords, PasswordPolicy::default());
}

#[test]
fn mail_settings_are_read_with_durations_and_checked_together() {
    let c = from(&[]).unwrap();
    assert_eq!(
        c.mail.public_url.as_ref().map(url::Url::as_str),
        Some("http://127.0.0.1:8000/"),
        "without SMTP, links point at the server itself"
    );
    assert_eq!(c.mail.reset_ttl, Duration::from_secs(3600));
    assert!(!c.mail.require_verified_email);
    let c = from(&[("AGORA_BIND", "0.0.0.0:9000")]).unwrap();
    assert_eq!(
        c.mail.public_url.as_ref().map(url::Url::as_str),
        Some("http://localhost:9000/")
    );
    let c = from(&[
        ("AGORA_PUBLIC_URL", "https://app.example.com/base"),
        ("AGORA_SMTP_URL", "smtps://u:p@mail.example.com:465"),
        ("AGORA_MAIL_FROM", "Agora <no-reply@example.com>"),
        ("AGORA_PASSWORD_RESET_TTL", "30m"),
        ("AGORA_VERIFY_TOKEN_TTL", "7200"),
        ("AGORA_REQUIRE_VERIFIED_EMAIL", "on"),
    ])
    .unwrap();
    assert_eq!(c.mail.reset_ttl, Duration::from_secs(1800));
    assert_eq!(c.mail.verify_ttl, Duration::from_secs(7200));
    assert!(c.mail.require_verified_email);
    assert!(
        !format!("{c:?}").contains("u:p@"),
        "the SMTP password stays hidden"
    );
    for (vars, variable) in [
        (
            &[
                ("AGORA_SMTP_URL", "smtp://localhost:25"),
                ("AGORA_MAIL_FROM", "a@b.co"),
            ][..],
            "AGORA_PUBLIC_URL",
        ),
        (
            &[
                ("AGORA_SMTP_URL", "smtp://localhost:25"),
                ("AGORA_PUBLIC_URL", "https://a.example"),
            ][..],
            "AGORA_MAIL_FROM",
        ),
        (&[("AGORA_PUBLIC_URL", "not a url")][..], "AGORA_PUBLIC_URL"),
        (
            &[("AGORA_PUBLIC_URL", "ftp://a.example")][..],
            "AGORA_PUBLIC_URL",
        ),
        (
            &[("AGORA_PUBLIC_URL", "https://a.example/?x=1")][..],
            "AGORA_PUBLIC_URL",
        ),
        (
            &[("AGORA_PASSWORD_RESET_TTL", "0")][..],
            "AGORA_PASSWORD_RESET_TTL",
        ),
        (
            &[("AGORA_REQUIRE_VERIFIED_EMAIL", "maybe")][..],
            "AGORA_REQUIRE_VERIFIED_EMAIL",
        ),
    ] {
        let err = from(vars).unwrap_err().to_string();
        assert!(err.contains(variable), "{vars:?}: {err}");
    }
}

#[test]
fn the_refresh_reuse_grace_may_be_zero_and_other_lifetimes_may_not() {
    let grace = |v| from(&[("AGORA_REFRESH_REUSE_GRACE", v)]).map(|c| c.sessions.reuse_grace);
    assert_eq!(grace("0").unwrap(), Duration::ZERO);
    assert_eq!(grace("250ms").unwrap(), Duration::from_millis(250));
    assert!(grace("-1").is_err());
    assert!(from(&[("AGORA_REFRESH_TOKEN_TTL", "0")]).is_err());
}

#[test]
fn every_variable_takes_a_value_of_the_kind_front_ends_are_told() {
    use env::{Kind, VARIABLES, kind};
    for (var, _) in VARIABLES {
        let (good, bad) = match kind(var) {
            Kind::Switch => ("off", "sometimes"),
            Kind::Number if *var == "AGORA_TRUSTED_PROXY_HOPS" => ("1", "one"),
            Kind::Number => ("12", "twelve"),
            Kind::Duration => ("5", "soon"),
            Kind::List | Kind::Text | Kind::Secret => continue,
        };
        let with = |value| {
            let mut vars = vec![(*var, value)];
            if *var == "AGORA_TRUSTED_PROXY_HOPS" {
                vars.push(("AGORA_TRUSTED_PROXY_HEADER", "X-Real-IP"));
            }
            from(&vars)
        };
        assert!(with(good).is_ok(), "{var}={good}: {:?}", with(good).err());
        let refused = with(bad).expect_err(var).to_string();
        assert!(refused.starts_with(var), "{var}={bad}: {refused}");
    }
    assert_eq!(kind("AGORA_SOME_NEW_NAME"), Kind::Text);
}
