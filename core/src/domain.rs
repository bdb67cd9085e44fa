//! Domain types. Constructors validate ("parse, don't validate"), so a value of
//! these types is known to be well-formed wherever it appears.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use validator::ValidateEmail;

use crate::error::{Error, Result};

/// The id of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(example = 1)]
pub struct UserId(pub i64);

/// The id of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(example = 1)]
pub struct PostId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest email address accepted (RFC 5321 path limit).
pub const EMAIL_MAX_LEN: usize = 254;

/// A syntactically valid email address, normalised to lower case so that
/// uniqueness and login are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Email, example = "ada@example.com")]
pub struct Email(String);

impl Email {
    /// Validates and normalises an email address.
    ///
    /// ```
    /// let email = agora_core::Email::parse("Ada@Example.COM").unwrap();
    /// assert_eq!(email.as_str(), "ada@example.com");
    /// assert!(agora_core::Email::parse("not-an-email").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.len() > EMAIL_MAX_LEN || !raw.validate_email() {
            return Err(Error::invalid(
                &["body", "email"],
                "value is not a valid email address",
                "value_error",
            ));
        }
        Ok(Email(raw.to_lowercase()))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an address read back from storage, where it was validated on the way in.
    pub fn from_trusted(stored: String) -> Self {
        Email(stored)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plaintext password, NFKC-normalised. `Debug` never shows it, and it is
/// not `Serialize`.
///
/// Every way of making one normalises (Unicode NFKC, NIST SP 800-63B), so a
/// password typed in another Unicode form (`"ﬁ"` or `"fi"`, composed `"é"` or
/// `"e"` + U+0301, a no-break space or a space) hashes and verifies the same
/// way at registration, login and password change. Nothing is ever
/// truncated, and case is kept.
#[derive(Clone)]
pub struct Password {
    /// The NFKC form: what is hashed and verified.
    normalized: String,
    /// The string as received, kept only when normalisation changed it: a
    /// hash made before passwords were normalised (imported from the
    /// original app) is of this form; see [`Password::as_received`].
    as_received: Option<String>,
}

impl Password {
    /// Normalises any string (NFKC). The rules for new passwords are checked
    /// by [`PasswordPolicy`] (or, length only, [`Password::new_checked`]); a
    /// login compares whatever was sent.
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        if unicode_normalization::is_nfkc_quick(raw.chars())
            == unicode_normalization::IsNormalized::Yes
        {
            return Password {
                normalized: raw,
                as_received: None,
            };
        }
        let normalized: String = raw.nfkc().collect();
        let as_received = (normalized != raw).then_some(raw);
        Password {
            normalized,
            as_received,
        }
    }

    /// A new password that is `min..=max` characters long (Unicode code
    /// points, counted after normalisation), of any composition, never
    /// truncated. Does not consult the blocklist: use [`PasswordPolicy`].
    pub fn new_checked(raw: impl Into<String>, min: usize, max: usize) -> Result<Self> {
        let password = Password::new(raw);
        password.check_length(min, max)?;
        Ok(password)
    }

    /// Checks that the normalised password is `min..=max` characters long.
    fn check_length(&self, min: usize, max: usize) -> Result<()> {
        let chars = self.normalized.chars().count();
        if chars < min {
            return Err(Error::invalid(
                &["body", "password"],
                format!("String should have at least {min} characters"),
                "string_too_short",
            ));
        }
        if chars > max {
            return Err(Error::invalid(
                &["body", "password"],
                format!("String should have at most {max} characters"),
                "string_too_long",
            ));
        }
        Ok(())
    }

    /// Whether the password is on the blocklist of common passwords (see
    /// [`PasswordPolicy::blocklist`]).
    pub fn is_common(&self) -> bool {
        let password = self.normalized.as_str();
        if passwords::analyzer::is_common_password(password) {
            return true;
        }
        let lower = password.to_lowercase();
        lower != password && passwords::analyzer::is_common_password(&lower)
    }

    /// The secret itself (NFKC), for hashing and verifying only.
    pub fn expose(&self) -> &str {
        &self.normalized
    }

    /// The password exactly as received, when NFKC normalisation changed it
    /// (`None` otherwise). Only for verifying hashes made before passwords
    /// were normalised; such a hash is then replaced on the next login.
    pub(crate) fn as_received(&self) -> Option<&str> {
        self.as_received.as_deref()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The rules a new password (registration, password change) must pass:
/// its length in characters after NFKC normalisation, and, unless disabled,
/// the blocklist of common passwords. No composition rules (NIST SP 800-63B,
/// ASVS 6.2.5). Built from [`Config`](crate::Config) with
/// `PasswordPolicy::from(&config)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Shortest accepted password, in characters (8).
    pub min_chars: usize,
    /// Longest accepted password, in characters (128).
    pub max_chars: usize,
    /// Reject common passwords (on by default). The list is the one the
    /// `passwords` crate ships (its `common-password` feature: about 100,000
    /// passwords from breach corpora). A password is common when its NFKC
    /// form, or that form in lower case, is on the list exactly; every entry
    /// but a few with capitals is lower case, so in effect the match ignores
    /// case ("Password1" is as common as "password1"). Matching is exact: a
    /// common password inside a longer passphrase is fine.
    pub blocklist: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_chars: 8,
            max_chars: 128,
            blocklist: true,
        }
    }
}

impl From<&crate::config::Config> for PasswordPolicy {
    fn from(config: &crate::config::Config) -> Self {
        PasswordPolicy {
            min_chars: config.password_min_chars,
            max_chars: config.password_max_chars,
            blocklist: config.password_blocklist,
        }
    }
}

impl PasswordPolicy {
    /// Normalises `raw` and checks it against the rules: a 422
    /// [`Error::Validation`] at `["body", "password"]` (`string_too_short`,
    /// `string_too_long` or `password_too_common`) when it fails them.
    ///
    /// ```
    /// use agora_core::domain::PasswordPolicy;
    /// let policy = PasswordPolicy::default();
    /// assert!(policy.check("correct horse battery").is_ok());
    /// assert!(policy.check("Password123").is_err());
    /// ```
    pub fn check(&self, raw: impl Into<String>) -> Result<Password> {
        let password = Password::new(raw);
        self.check_new_password(&password)?;
        Ok(password)
    }

    /// [`PasswordPolicy::check`] for a password already made.
    pub fn check_new_password(&self, password: &Password) -> Result<()> {
        password.check_length(self.min_chars, self.max_chars)?;
        if self.blocklist && password.is_common() {
            return Err(Error::invalid(
                &["body", "password"],
                "This password is too common; choose another",
                "password_too_common",
            ));
        }
        Ok(())
    }
}

/// The current time at the precision every backend stores (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A user as clients see it: `{id, email, created_at}`. Never carries a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 1, "email": "ada@example.com", "created_at": "2026-01-01T12:00:00Z"}))]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The user's normalised email; `None` where the privacy switch
    /// (`Config::hide_emails`) hides another user's address from the viewer.
    pub email: Option<Email>,
    /// When the user registered.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The same user without the email address (shown as `null`).
    pub fn without_email(self) -> User {
        User {
            email: None,
            ..self
        }
    }
}

/// A user together with their stored password hash (never serialised).
#[derive(Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The PHC string of the password hash.
    pub password_hash: String,
    /// Goes up whenever the user's credentials change or every session is
    /// ended (password change, logout everywhere): a session started from
    /// credentials read before that is refused.
    pub credential_generation: i64,
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"<redacted>")
            .field("credential_generation", &self.credential_generation)
            .finish()
    }
}

/// A post as clients see it (the `Post` schema of the original API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 7, "title": "Hello", "content": "First post", "published": true, "created_at": "2026-01-01T12:05:00Z", "owner_id": 1, "owner": {"id": 1, "email": "ada@example.com", "created_at": "2026-01-01T12:00:00Z"}}))]
pub struct Post {
    /// The post's id.
    pub id: PostId,
    /// Title, 1 to [`TITLE_MAX_CHARS`] characters.
    pub title: String,
    /// Body text, 1 to [`CONTENT_MAX_CHARS`] characters.
    pub content: String,
    /// Unpublished posts are visible to their owner only.
    pub published: bool,
    /// When the post was created.
    pub created_at: DateTime<Utc>,
    /// The owner's id (same as `owner.id`; kept for clients of the original API).
    pub owner_id: UserId,
    /// The owner.
    pub owner: User,
}

impl Post {
    /// A post as just created from `draft` by `owner`.
    pub fn new(id: PostId, draft: &PostDraft, created_at: DateTime<Utc>, owner: &User) -> Self {
        Post {
            id,
            title: draft.title.clone(),
            content: draft.content.clone(),
            published: draft.published,
            created_at,
            owner_id: owner.id,
            owner: owner.clone(),
        }
    }

    /// Whether `viewer` may see this post.
    pub fn is_visible_to(&self, viewer: UserId) -> bool {
        self.published || self.owner_id == viewer
    }
}

/// A post with its vote count: serialises as `{"Post": {...}, "votes": n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"Post": {"id": 7, "title": "Hello", "content": "First post", "published": true, "created_at": "2026-01-01T12:05:00Z", "owner_id": 1, "owner": {"id": 1, "email": "ada@example.com", "created_at": "2026-01-01T12:00:00Z"}}, "votes": 3}))]
pub struct PostWithVotes {
    /// The post.
    #[serde(rename = "Post")]
    pub post: Post,
    /// How many users voted for it.
    pub votes: i64,
}

/// The longest title accepted, in characters.
pub const TITLE_MAX_CHARS: usize = 300;
/// The longest post content accepted, in characters.
pub const CONTENT_MAX_CHARS: usize = 10_000;

/// Validated fields of a post to create or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostDraft {
    /// Non-blank title.
    pub title: String,
    /// Non-blank content.
    pub content: String,
    /// Visibility.
    pub published: bool,
}

/// What a post listing asks for; built by [`crate::schema::ListQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFilter {
    /// Whose view: unpublished posts of other users are excluded.
    pub viewer: UserId,
    /// Page size, 1 to 100.
    pub limit: u32,
    /// Rows to skip (after applying `before`).
    pub skip: u64,
    /// Only posts with an id strictly below this (keyset pagination);
    /// `i64::MAX` for the newest.
    pub before: i64,
    /// Case-insensitive substring of the title; `None` matches all.
    pub search: Option<String>,
}

/// A login session: created at login, extended by refreshing, ended by
/// logout, by a password change (the others), or by its absolute lifetime.
/// Its id appears in access tokens (`sid`) and in `GET /sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "3f2a9c0e5b7d41e8a6c4b2d0e9f87a61", "created_at": "2026-01-01T12:00:00Z", "last_used_at": "2026-01-01T12:30:00Z", "expires_at": "2026-01-31T12:00:00Z", "user_agent": "curl/8.5.0", "ip": "203.0.113.7"}))]
pub struct Session {
    /// Random 128-bit id (hex).
    pub id: String,
    /// The owner.
    #[serde(skip)]
    pub user_id: UserId,
    /// When the session began (login).
    pub created_at: DateTime<Utc>,
    /// When it was last refreshed (or created).
    pub last_used_at: DateTime<Utc>,
    /// Its absolute end, however often it is refreshed.
    pub expires_at: DateTime<Utc>,
    /// When it was ended, if it was.
    #[serde(skip)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client's `User-Agent` at login.
    pub user_agent: Option<String>,
    /// The client's IP address at login.
    pub ip: Option<String>,
}

impl Session {
    /// Not revoked and not past its absolute lifetime.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A stored refresh token: only its SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The session it extends.
    pub session_id: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A refresh token being exchanged, as storage found it. Times come from
/// the database's clock, so every server judges the reuse grace window alike.
#[derive(Clone)]
pub struct RefreshClaim {
    /// The session, with its owner id.
    pub session: Session,
    /// The session's secret key from which each refresh token's one
    /// successor is derived (empty for sessions older than the key).
    pub refresh_key: String,
    /// When the presented token stops working.
    pub expires_at: DateTime<Utc>,
    /// When the token had already been exchanged before this claim (`None`:
    /// this claim is the first, and the token is now marked as used).
    pub previously_rotated_at: Option<DateTime<Utc>>,
    /// The database's time when the claim was made.
    pub checked_at: DateTime<Utc>,
}

impl fmt::Debug for RefreshClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshClaim")
            .field("session", &self.session)
            .field("refresh_key", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("previously_rotated_at", &self.previously_rotated_at)
            .field("checked_at", &self.checked_at)
            .finish()
    }
}

/// Where a request comes from, for sessions, throttling and audit logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address, if known (see `Config::trusted_proxy_header`).
    pub ip: Option<std::net::IpAddr>,
    /// The `User-Agent` header, truncated to 256 characters.
    pub user_agent: Option<String>,
}

/// The longest `User-Agent` kept, in characters.
const USER_AGENT_MAX_CHARS: usize = 256;

impl ClientInfo {
    /// The client as a request shows it: `peer` is the socket's address;
    /// `forwarded` the value of the trusted proxy's header (`None` when no
    /// proxy is trusted), whose last entry is the address that proxy saw,
    /// the only one a client cannot forge. A malformed header falls back to
    /// the peer.
    pub fn from_request(
        peer: Option<std::net::IpAddr>,
        forwarded: Option<&str>,
        user_agent: Option<&str>,
    ) -> Self {
        let forwarded_ip = forwarded
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| parse_ip(last.trim()));
        ClientInfo {
            ip: forwarded_ip.or(peer),
            user_agent: user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect()),
        }
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_ip(text: &str) -> Option<std::net::IpAddr> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_validated() {
        assert_eq!(
            Email::parse("Foo.Bar@Example.COM").map(|e| e.0).ok(),
            Some("foo.bar@example.com".to_owned())
        );
        for bad in ["", "plain", "a@", "@b.com", "a b@c.com", "a@b@c.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert!(Password::new_checked("é".repeat(8), 8, 128).is_ok());
        assert!(Password::new_checked("1234567", 8, 128).is_err());
        assert!(Password::new_checked("x".repeat(128), 8, 128).is_ok());
        assert!(Password::new_checked("x".repeat(129), 8, 128).is_err());
    }

    #[test]
    fn password_is_nfkc_normalised_so_every_unicode_form_is_the_same_password() {
        let nfkc = |s: &str| Password::new(s).expose().to_owned();
        assert_eq!(nfkc("ﬁle cabinet"), "file cabinet", "ligature");
        assert_eq!(nfkc("caf\u{e9} au lait"), nfkc("cafe\u{301} au lait"), "é");
        assert_eq!(nfkc("no\u{a0}break"), "no break", "no-break space");
        assert_eq!(nfkc("ＦＵＬＬ"), "FULL", "full-width");
        // Already normalised: unchanged, and case is kept.
        assert_eq!(nfkc("Ünïcödé 🔐 PW"), "Ünïcödé 🔐 PW");
        assert_eq!(Password::new("plain ascii").as_received(), None);
        assert_eq!(
            Password::new("ﬁle").as_received(),
            Some("ﬁle"),
            "the string as received is kept for legacy hashes"
        );
    }

    #[test]
    fn password_length_is_counted_in_code_points_after_normalisation() {
        // 4 ligatures are 8 characters once normalised ("fi" x 4).
        assert!(Password::new_checked("ﬁ".repeat(4), 8, 128).is_ok());
        // 8 decomposed é (16 code points as sent) are 8 composed ones.
        assert!(Password::new_checked("e\u{301}".repeat(8), 1, 8).is_ok());
        assert!(Password::new_checked("e\u{301}".repeat(9), 1, 8).is_err());
        // Emoji and CJK count one per code point.
        assert!(Password::new_checked("🔐日本語🦀🔐日本", 8, 8).is_ok());
    }

    #[test]
    fn password_is_never_truncated() {
        let long = "x".repeat(200);
        assert_eq!(Password::new(long.clone()).expose(), long);
        assert_eq!(
            Password::new_checked("y".repeat(128), 8, 128)
                .unwrap()
                .expose()
                .len(),
            128
        );
    }

    #[test]
    fn common_password_rejected() {
        let policy = PasswordPolicy::default();
        for common in [
            "password",
            "12345678",
            "password123",
            "qwertyuiop",
            "iloveyou",
            "Password123",            // case is ignored
            "PASSWORD1",              // case is ignored
            "ｐａｓｓｗｏｒｄ１２３", // full-width: NFKC first
        ] {
            let err = policy.check(common).unwrap_err();
            let errors = err.field_errors();
            assert_eq!(errors.len(), 1, "{common}");
            assert_eq!(errors[0].loc, ["body", "password"], "{common}");
            assert_eq!(errors[0].kind, "password_too_common", "{common}");
            assert_eq!(
                errors[0].msg, "This password is too common; choose another",
                "{common}"
            );
            assert_eq!(err.kind(), crate::ErrorKind::Validation);
        }
        // Length is checked first; the blocklist can be turned off.
        let short = policy.check("123456").unwrap_err();
        assert_eq!(short.field_errors()[0].kind, "string_too_short");
        let off = PasswordPolicy {
            blocklist: false,
            ..policy
        };
        assert!(off.check("password123").is_ok());
        let via_password = policy.check_new_password(&Password::new("qwertyuiop"));
        assert!(via_password.is_err(), "same rule for a password change");
    }

    #[test]
    fn uncommon_passwords_and_passphrases_pass_the_blocklist() {
        let policy = PasswordPolicy::default();
        for fine in [
            "correct horse battery",
            "correct horse battery staple",
            "a long enough password",
            "another long password",
            "another password",
            "password123 is my passphrase", // exact match only
            "pässwörd with spaces 🔐🦀 日本語",
            &"a".repeat(128),
            &"é".repeat(128),
        ] {
            assert!(policy.check(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn password_policy_comes_from_the_config() {
        let config = crate::Config {
            password_min_chars: 12,
            password_max_chars: 64,
            password_blocklist: false,
            ..crate::Config::default()
        };
        assert_eq!(
            PasswordPolicy::from(&config),
            PasswordPolicy {
                min_chars: 12,
                max_chars: 64,
                blocklist: false
            }
        );
        assert_eq!(
            PasswordPolicy::from(&crate::Config::default()),
            PasswordPolicy::default()
        );
    }

    /// The `passwords` crate exposes a look-up, not its list, so this reads
    /// the list it ships (`data/common-passwords.json` in its package, found
    /// with `cargo metadata`) to check its size and that the look-up uses it.
    #[test]
    fn blocklist_has_at_least_10_000_common_passwords() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline"])
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .output()
            .expect("run cargo metadata");
        assert!(
            output.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let package = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "passwords")
            .expect("the passwords crate is a dependency");
        let manifest = std::path::Path::new(package["manifest_path"].as_str().unwrap());
        let file = manifest
            .with_file_name("data")
            .join("common-passwords.json");
        let list: Vec<String> =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert!(list.len() >= 10_000, "{} passwords in {file:?}", list.len());
        for entry in list.iter().step_by(997) {
            assert!(passwords::analyzer::is_common_password(entry), "{entry}");
        }
    }

    #[test]
    fn client_ip_comes_from_the_peer_unless_a_trusted_proxy_header_is_given() {
        let peer = Some("10.0.0.1".parse().unwrap());
        assert_eq!(ClientInfo::from_request(peer, None, None).ip, peer);
        let via_proxy = ClientInfo::from_request(peer, Some("6.6.6.6, 203.0.113.5"), None);
        assert_eq!(
            via_proxy.ip,
            Some("203.0.113.5".parse().unwrap()),
            "the proxy's own entry"
        );
        let v6 = ClientInfo::from_request(peer, Some("[2001:db8::7]:443"), None);
        assert_eq!(v6.ip, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(
            ClientInfo::from_request(peer, Some("garbage"), None).ip,
            peer
        );
        let ua = ClientInfo::from_request(None, None, Some(&"x".repeat(1000)))
            .user_agent
            .unwrap();
        assert_eq!(ua.chars().count(), 256);
    }

    #[test]
    fn password_debug_never_shows_the_secret() {
        let p = Password::new("hunter2hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
