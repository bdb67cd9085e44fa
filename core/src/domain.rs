//! Domain types. Constructors validate ("parse, don't validate"), so a value of
//! these types is known to be well-formed wherever it appears.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use validator::ValidateEmail;

use crate::error::{Error, Result};
use crate::setting::{ConfigError, Reason};

mod social;

pub use social::{
    BIO_MAX_CHARS, COMMENT_MAX_CHARS, Comment, CommentId, DESCRIPTION_MAX_CHARS, IMAGE_URL_MAX_LEN,
    Profile, ProfileChange, TAG_MAX_CHARS, TAGS_MAX, Tag, TagCount, USERNAME_MAX_CHARS,
    USERNAME_MIN_CHARS, Username, parse_bio, parse_comment_body, parse_image_url,
};

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

/// The longest email address accepted (RFC 5321 path limit), in bytes of
/// its normalised form (and of its ASCII form, with the domain in Punycode).
pub const EMAIL_MAX_LEN: usize = 254;

/// The longest email input looked at before normalising, in bytes: four
/// UTF-8 bytes for each of the [`EMAIL_MAX_LEN`] characters.
const EMAIL_MAX_INPUT_BYTES: usize = 4 * EMAIL_MAX_LEN;

/// A syntactically valid email address in its normal form, the one key that
/// registration (uniqueness), login and throttling use for an account, so
/// that two spellings that look alike are the same account.
///
/// The normal form ([`Email::parse`]): Unicode NFKC; the local part in
/// ASCII, lower-cased (a local part that is not ASCII after NFKC, e.g. with
/// a soft hyphen, a zero-width space or a dotted capital I, is refused); the
/// domain through IDNA (UTS #46: case-folded, NFKC, default-ignorable code
/// points such as U+00AD and U+200B removed, `。` and `．` as dots) and kept
/// in its Unicode form (`bücher.de`, also for `xn--bcher-kva.de`); a domain
/// with a combining mark on an ASCII letter (`i` + U+0307, what `İ` becomes:
/// it looks like `i`) is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Email, example = "ada@example.com")]
pub struct Email(String);

impl Email {
    /// Validates an email address and returns its normal form (see
    /// [`Email`]); a 422 [`Error::Validation`] about the value itself
    /// (location `[]`: the request type that holds it says where it sits,
    /// see [`Error::within`]) when it is not a valid address or does not
    /// survive normalisation.
    ///
    /// ```
    /// let email = agora_core::Email::parse("Ada@Example.COM").unwrap();
    /// assert_eq!(email.as_str(), "ada@example.com");
    /// // Full-width letters and an ideographic full stop: the same address.
    /// let look_alike = agora_core::Email::parse("ada@ｅｘａｍｐｌｅ。com").unwrap();
    /// assert_eq!(look_alike, email);
    /// assert!(agora_core::Email::parse("not-an-email").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = || Error::invalid(&[], "value is not a valid email address", "value_error");
        if raw.len() > EMAIL_MAX_INPUT_BYTES {
            return Err(invalid());
        }
        let nfkc: String = raw.nfkc().collect();
        let (local, domain) = nfkc.rsplit_once('@').ok_or_else(invalid)?;
        // The validator below accepts ASCII local parts only.
        let local = local.to_ascii_lowercase();
        let (ascii_domain, domain) = normalise_domain(domain).ok_or_else(invalid)?;
        let ascii = format!("{local}@{ascii_domain}");
        if ascii.len() > EMAIL_MAX_LEN || !ascii.validate_email() {
            return Err(invalid());
        }
        let email = format!("{local}@{domain}");
        if email.len() > EMAIL_MAX_LEN {
            return Err(invalid());
        }
        Ok(Email(email))
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

/// A domain's ASCII form (for validation and length) and its normal form
/// (Unicode labels), or `None` when it is not a valid domain name or would
/// look like another one. An address literal (`[192.0.2.1]`) is written the
/// way Rust prints its IP address.
fn normalise_domain(domain: &str) -> Option<(String, String)> {
    use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
    if let Some(literal) = domain.strip_prefix('[') {
        let ip: std::net::IpAddr = literal.strip_suffix(']')?.parse().ok()?;
        let literal = format!("[{ip}]");
        return Some((literal.clone(), literal));
    }
    let uts46 = Uts46::new();
    let ascii = uts46
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .ok()?;
    let (unicode, checked) = uts46.to_unicode(
        ascii.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::CheckFirstLast,
    );
    checked.ok()?;
    let unicode = unicode.into_owned();
    // UTS #39 §5.4: a mark over an ASCII letter with no precomposed form
    // (UTS #46 keeps the result NFC) can hide in it: `i` + U+0307 is `i`.
    let mut previous_ascii = false;
    for c in unicode.chars() {
        if previous_ascii && unicode_normalization::char::is_combining_mark(c) {
            return None;
        }
        previous_ascii = c.is_ascii_alphanumeric();
    }
    Some((ascii.into_owned(), unicode))
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
                &[],
                format!("String should have at least {min} characters"),
                "string_too_short",
            ));
        }
        if chars > max {
            return Err(Error::invalid(
                &[],
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
/// ASVS 6.2.5). Configured as `config.passwords`.
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

impl PasswordPolicy {
    /// Refuses a minimum of 0 or above the maximum.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min_chars == 0 || self.min_chars > self.max_chars {
            return Err(ConfigError::invalid(
                "passwords.min_chars",
                Reason::from("must be between 1 and ")
                    .setting("passwords.max_chars")
                    .then(format!(" ({})", self.max_chars)),
            ));
        }
        Ok(())
    }

    /// Normalises `raw` and checks it against the rules: a 422
    /// [`Error::Validation`] about the value itself (location `[]`, see
    /// [`Error::within`]; `string_too_short`, `string_too_long` or
    /// `password_too_common`) when it fails them.
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
                &[],
                "This password is too common; choose another",
                "password_too_common",
            ));
        }
        Ok(())
    }
}

/// Checks a text value: no NUL (no SQL backend stores it reliably;
/// PostgreSQL rejects it), not blank unless `blank_ok`, at most `max`
/// characters. A 422 about the value (location `[]`) otherwise.
///
/// ```
/// use agora_core::domain::check_text;
/// assert!(check_text("hi", 10, false).is_ok());
/// assert!(check_text("  ", 10, false).is_err());
/// assert!(check_text("", 10, true).is_ok());
/// assert!(check_text("a\0", 10, true).is_err());
/// ```
pub fn check_text(value: &str, max: usize, blank_ok: bool) -> Result<()> {
    let (msg, kind) = if value.contains('\0') {
        (
            "String should not contain NUL characters".to_owned(),
            "string_nul",
        )
    } else if !blank_ok && value.trim().is_empty() {
        (
            "String should not be empty or blank".to_owned(),
            "string_too_short",
        )
    } else if value.chars().count() > max {
        (
            format!("String should have at most {max} characters"),
            "string_too_long",
        )
    } else {
        return Ok(());
    };
    Err(Error::invalid(&[], msg, kind))
}

/// How timestamps reach clients: the RFC 3339 text chrono's own `Serialize`
/// writes (`SecondsFormat::AutoSi`, `Z` for UTC), made as one string. chrono
/// writes it through `collect_str`, which serde_json escapes fragment by
/// fragment: a post's two timestamps cost as much as the rest of its JSON.
pub(crate) mod timestamp {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Serialize, Serializer};

    /// A timestamp, as clients see it.
    struct Rfc3339<'a>(&'a DateTime<Utc>);

    impl Serialize for Rfc3339<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
    }

    /// `#[serde(serialize_with)]` for a `DateTime<Utc>`.
    pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        Rfc3339(t).serialize(s)
    }

    /// `#[serde(serialize_with)]` for an `Option<DateTime<Utc>>`.
    pub(crate) fn serialize_option<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&Rfc3339(t)),
            None => s.serialize_none(),
        }
    }
}

/// The current time at the precision every backend stores (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A user as clients see it: `{id, email, created_at, username, bio,
/// image, email_verified}`. Never carries a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 1, "email": "ada@example.com", "created_at": "2026-01-01T12:00:00Z", "username": "ada", "bio": null, "image": null, "email_verified": false}))]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The user's normalised email; `None` where the privacy switch
    /// (`Config::hide_emails`) hides another user's address from the viewer.
    pub email: Option<Email>,
    /// When the user registered.
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// The user's public handle, if they chose one (their profile's address).
    pub username: Option<Username>,
    /// Free text about the user.
    pub bio: Option<String>,
    /// The URL of the user's picture.
    pub image: Option<String>,
    /// Whether the user proved the address is theirs (`POST /verify`);
    /// `false` at registration.
    pub email_verified: bool,
}

impl User {
    /// A user just registered, with no profile fields but `username`.
    pub fn new(
        id: UserId,
        email: Email,
        username: Option<Username>,
        created_at: DateTime<Utc>,
    ) -> User {
        User {
            id,
            email: Some(email),
            created_at,
            username,
            bio: None,
            image: None,
            email_verified: false,
        }
    }

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
#[schema(example = json!({"id": 7, "title": "Hello", "content": "First post", "published": true, "created_at": "2026-01-01T12:05:00Z", "owner_id": 1, "owner": {"id": 1, "email": "ada@example.com", "created_at": "2026-01-01T12:00:00Z", "username": "ada", "bio": null, "image": null}, "description": null, "tags": ["rust"], "updated_at": null}))]
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
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// The owner's id (same as `owner.id`; kept for clients of the original API).
    pub owner_id: UserId,
    /// The owner.
    pub owner: User,
    /// A short summary, if given.
    pub description: Option<String>,
    /// Its tags, in alphabetical order.
    pub tags: Vec<Tag>,
    /// When it was last edited (`null` until then).
    #[serde(serialize_with = "timestamp::serialize_option")]
    pub updated_at: Option<DateTime<Utc>>,
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
            description: draft.description.clone(),
            tags: draft.tags.clone().unwrap_or_default(),
            updated_at: None,
        }
    }

    /// Whether `viewer` (`None`: anonymous) may see this post.
    pub fn is_visible_to(&self, viewer: Option<UserId>) -> bool {
        self.published || Some(self.owner_id) == viewer
    }
}

/// A post with its vote count and whether the viewer voted for it:
/// serialises as `{"Post": {...}, "votes": n, "voted": bool}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"Post": {"id": 7, "title": "Hello", "content": "First post", "published": true, "created_at": "2026-01-01T12:05:00Z", "owner_id": 1, "owner": {"id": 1, "email": "ada@example.com", "created_at": "2026-01-01T12:00:00Z", "username": "ada", "bio": null, "image": null}, "description": null, "tags": ["rust"], "updated_at": null}, "votes": 3, "voted": false}))]
pub struct PostWithVotes {
    /// The post.
    #[serde(rename = "Post")]
    pub post: Post,
    /// How many users voted for it.
    pub votes: i64,
    /// Whether the viewer is one of them (`false` for anonymous viewers).
    pub voted: bool,
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
    /// A short summary; on an update, `None` keeps the post's.
    pub description: Option<String>,
    /// Its tags; on an update, `None` keeps the post's.
    pub tags: Option<Vec<Tag>>,
}

/// What a post listing asks for; built by [`crate::schema::ListQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFilter {
    /// Whose view: unpublished posts of other users are excluded (all
    /// unpublished posts for an anonymous viewer); `voted` is this viewer's.
    pub viewer: Option<UserId>,
    /// Only published posts of the users the viewer follows (the feed).
    pub feed: bool,
    /// Only posts carrying this tag.
    pub tag: Option<Tag>,
    /// Only posts of the user with this username (case-insensitively).
    pub author: Option<Username>,
    /// Only posts the user with this username voted for.
    pub voted_by: Option<Username>,
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
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it was last refreshed (or created).
    #[serde(serialize_with = "timestamp::serialize")]
    pub last_used_at: DateTime<Utc>,
    /// Its absolute end, however often it is refreshed.
    #[serde(serialize_with = "timestamp::serialize")]
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

/// How long sessions and their refresh tokens live (`config.sessions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// How long an unused refresh token stays valid (30 days).
    pub refresh_ttl: std::time::Duration,
    /// A session's absolute lifetime, however often it is refreshed (90 days).
    pub lifetime: std::time::Duration,
    /// How long after a refresh token was exchanged a client retrying
    /// concurrently may exchange it again without this counting as reuse
    /// (10 s). Reuse after it ends the whole session.
    pub reuse_grace: std::time::Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            refresh_ttl: std::time::Duration::from_secs(30 * 86_400),
            lifetime: std::time::Duration::from_secs(90 * 86_400),
            reuse_grace: std::time::Duration::from_secs(10),
        }
    }
}

/// Who makes an authenticated call: what [`crate::Agora::authenticate`]
/// produces from an access token (the user and the session the token was
/// issued for), or, for an app that authenticated the user by its own means,
/// [`Caller::acting_for`] (no session).
#[derive(Debug, Clone)]
pub struct Caller {
    user: User,
    session: Option<Session>,
}

impl Caller {
    /// A caller proven by an access token of `session`.
    pub(crate) fn with_session(user: User, session: Session) -> Self {
        Caller {
            user,
            session: Some(session),
        }
    }

    /// A caller the embedding app vouches for (e.g. a `User` it read
    /// earlier). It may act on posts and votes; the calls that act on a
    /// session (logout, sessions, password change, account deletion) refuse
    /// it with [`crate::Error::Unauthorized`], since only a token names a
    /// session.
    pub fn acting_for(user: User) -> Self {
        Caller {
            user,
            session: None,
        }
    }

    /// The authenticated user.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The user's id.
    pub fn id(&self) -> UserId {
        self.user.id
    }

    /// The session of the access token, if the caller came with one.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Consumes the caller, keeping the user.
    pub fn into_user(self) -> User {
        self.user
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
    /// The client's IP address, if known (see `Config::proxy`).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, truncated to 256 characters.
    pub user_agent: Option<String>,
}

/// The longest `User-Agent` kept, in characters.
const USER_AGENT_MAX_CHARS: usize = 256;

impl ClientInfo {
    /// The client as a request shows it: `peer` is the socket's address;
    /// `forwarded` the address a trusted proxy reported (see
    /// [`forwarded_client_ip`]; `None` when no proxy is trusted or its header
    /// is unusable, and the peer is used). IPv4-mapped IPv6 addresses
    /// (`::ffff:192.0.2.1`, what a dual-stack `[::]` listener sees for an
    /// IPv4 client) are mapped back to IPv4, so that each IPv4 client is
    /// throttled and recorded on its own rather than within one IPv6 /64.
    pub fn from_request(
        peer: Option<IpAddr>,
        forwarded: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Self {
        ClientInfo {
            ip: forwarded.or(peer).map(|ip| ip.to_canonical()),
            user_agent: user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect()),
        }
    }
}

/// The most trusted proxy hops [`TrustedProxy::hops`] accepts.
pub const MAX_TRUSTED_PROXY_HOPS: usize = 16;

/// Who may tell the client's address (`config.proxy`): unset, the client IP
/// is the socket's peer and forwarding headers are ignored, so clients
/// cannot pick their own IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxy {
    /// The header a trusted reverse proxy sets to the client's IP
    /// (`X-Forwarded-For`, entry chosen by [`TrustedProxy::hops`];
    /// `X-Real-IP`); `None` (the default): no proxy is trusted.
    pub header: Option<String>,
    /// How many trusted reverse proxies, in a chain in front of the server,
    /// each append the address they received the request from to
    /// [`TrustedProxy::header`] (1 by default, at most
    /// [`MAX_TRUSTED_PROXY_HOPS`]). The client IP is the entry this many
    /// places from the right, across every line of the header; with fewer
    /// entries, the rightmost (see [`forwarded_client_ip`]). Set it to
    /// exactly the number of proxies: one too many lets clients choose
    /// their IP.
    pub hops: usize,
}

impl Default for TrustedProxy {
    fn default() -> Self {
        TrustedProxy {
            header: None,
            hops: 1,
        }
    }
}

impl TrustedProxy {
    /// Refuses a number of hops outside 1..=[`MAX_TRUSTED_PROXY_HOPS`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_TRUSTED_PROXY_HOPS).contains(&self.hops) {
            return Err(ConfigError::invalid(
                "proxy.hops",
                format!("must be from 1 to {MAX_TRUSTED_PROXY_HOPS}"),
            ));
        }
        Ok(())
    }
}

/// The client's address according to a chain of `hops` trusted reverse
/// proxies, each of which appends the address it received the request from
/// to `values`: every value (header line) of the trusted header, in the
/// order received (`X-Forwarded-For: a, b` and two lines `a` and `b` are the
/// same list, RFC 9110 §5.3).
///
/// The entry chosen is the `hops`-th from the right: the rightmost is the
/// one the nearest proxy appended; entries further left may have been
/// written by the client itself and are never used. With fewer entries
/// than `hops`, the request did not pass through the chain as configured,
/// so only the rightmost entry (written by the nearest proxy) is trusted.
/// `None` (use the peer) when there is no entry, or the chosen one is not an
/// IP address (`1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`).
///
/// ```
/// use agora_core::domain::forwarded_client_ip;
/// // haproxy's `option forwardfor` adds a line after the client's own.
/// let lines = ["6.6.6.6", "203.0.113.5"];
/// assert_eq!(forwarded_client_ip(lines, 1), Some("203.0.113.5".parse().unwrap()));
/// assert_eq!(forwarded_client_ip(["6.6.6.6, 203.0.113.5, 10.0.0.2"], 2),
///            Some("203.0.113.5".parse().unwrap()));
/// ```
pub fn forwarded_client_ip<V: AsRef<str>>(
    values: impl IntoIterator<Item = V>,
    hops: usize,
) -> Option<IpAddr> {
    let values: Vec<V> = values.into_iter().collect();
    let entries: Vec<&str> = values
        .iter()
        .flat_map(|value| value.as_ref().split(','))
        .collect();
    let rightmost = entries.len().checked_sub(1)?;
    let index = rightmost.checked_sub(hops.max(1) - 1).unwrap_or(rightmost);
    parse_ip(entries.get(index)?.trim())
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_chrono_serialises_them() {
        #[derive(Serialize)]
        struct Ours {
            #[serde(serialize_with = "timestamp::serialize")]
            at: DateTime<Utc>,
            #[serde(serialize_with = "timestamp::serialize_option")]
            maybe: Option<DateTime<Utc>>,
        }
        #[derive(Serialize)]
        struct Chronos {
            at: DateTime<Utc>,
            maybe: Option<DateTime<Utc>>,
        }
        let base = DateTime::parse_from_rfc3339("2026-12-03T16:22:25Z")
            .unwrap()
            .to_utc();
        let mut instants = vec![
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::parse_from_rfc3339("0000-01-01T00:00:00Z")
                .unwrap()
                .to_utc(),
            DateTime::parse_from_rfc3339("9999-12-31T23:59:59.999999999Z")
                .unwrap()
                .to_utc(),
            // A leap second (chrono keeps it in the nanoseconds).
            DateTime::parse_from_rfc3339("2016-12-31T23:59:60.5Z")
                .unwrap()
                .to_utc(),
        ];
        // Whole seconds, milli-, micro- and nanosecond fractions, and a
        // fraction ending in zeros of each width.
        for nanos in [
            0,
            1,
            7,
            120_000_000,
            589_866_000,
            589_866_001,
            100_000,
            999_999_999,
        ] {
            instants.push(base + chrono::Duration::nanoseconds(nanos));
        }
        instants.push(now());
        for at in instants {
            for maybe in [None, Some(at)] {
                let ours = serde_json::to_string(&Ours { at, maybe }).unwrap();
                let theirs = serde_json::to_string(&Chronos { at, maybe }).unwrap();
                assert_eq!(ours, theirs);
            }
        }
    }

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
            assert!(errors[0].loc.is_empty(), "about the value: {common}");
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
        let via_proxy =
            ClientInfo::from_request(peer, forwarded_client_ip(["6.6.6.6, 203.0.113.5"], 1), None);
        assert_eq!(
            via_proxy.ip,
            Some("203.0.113.5".parse().unwrap()),
            "the proxy's own entry"
        );
        let v6 = forwarded_client_ip(["[2001:db8::7]:443"], 1);
        assert_eq!(v6, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(forwarded_client_ip(["garbage"], 1), None);
        assert_eq!(
            ClientInfo::from_request(peer, forwarded_client_ip(["garbage"], 1), None).ip,
            peer
        );
        let ua = ClientInfo::from_request(None, None, Some(&"x".repeat(1000)))
            .user_agent
            .unwrap();
        assert_eq!(ua.chars().count(), 256);
    }

    #[test]
    fn ipv4_mapped_addresses_become_ipv4_from_the_peer_and_the_header() {
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let v4: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            ClientInfo::from_request(Some(mapped), None, None).ip,
            Some(v4)
        );
        let forwarded = forwarded_client_ip(["::ffff:203.0.113.9"], 1);
        assert_eq!(
            ClientInfo::from_request(Some(mapped), forwarded, None).ip,
            Some("203.0.113.9".parse().unwrap())
        );
        let bracketed = forwarded_client_ip(["[::ffff:203.0.113.9]:4711"], 1);
        assert_eq!(
            ClientInfo::from_request(None, bracketed, None).ip,
            Some("203.0.113.9".parse().unwrap())
        );
        // Real IPv6 addresses are kept as they are.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ClientInfo::from_request(Some(v6), None, None).ip, Some(v6));
    }

    #[test]
    fn forwarded_entries_are_read_across_every_header_line_from_the_right() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // The client's own line first, the proxy's line after it (haproxy).
        assert_eq!(
            forwarded_client_ip(["6.6.6.6", "203.0.113.5"], 1),
            ip("203.0.113.5")
        );
        assert_eq!(
            forwarded_client_ip(["6.6.6.6, 7.7.7.7", " 203.0.113.5 "], 1),
            ip("203.0.113.5")
        );
        // Two proxies: the outer one's entry is second from the right.
        assert_eq!(
            forwarded_client_ip(["6.6.6.6", "203.0.113.5", "10.0.0.2"], 2),
            ip("203.0.113.5")
        );
        assert_eq!(
            forwarded_client_ip(["6.6.6.6, 203.0.113.5, 10.0.0.2"], 2),
            ip("203.0.113.5")
        );
        // Fewer entries than hops: only the nearest proxy's entry is trusted.
        assert_eq!(forwarded_client_ip(["10.0.0.2"], 2), ip("10.0.0.2"));
        assert_eq!(
            forwarded_client_ip(["6.6.6.6", "10.0.0.2"], 3),
            ip("10.0.0.2")
        );
        // An empty entry is an entry: positions from the right never move.
        assert_eq!(forwarded_client_ip(["6.6.6.6,", "10.0.0.2"], 2), None);
        assert_eq!(forwarded_client_ip(Vec::<String>::new(), 1), None);
        assert_eq!(forwarded_client_ip([""], 1), None);
        // Zero hops is read as one.
        assert_eq!(forwarded_client_ip(["1.1.1.1, 2.2.2.2"], 0), ip("2.2.2.2"));
    }

    /// The normal form of `raw`, or `None` when it is refused.
    fn normal(raw: &str) -> Option<String> {
        Email::parse(raw).ok().map(|e| e.0)
    }

    #[test]
    fn look_alike_emails_have_the_normal_form_of_the_address_they_imitate() {
        let canonical = Some("ada@example.com".to_owned());
        for look_alike in [
            "ada@ｅｘａｍｐｌｅ.com",    // full-width domain
            "ada@ＥＸＡＭＰＬＥ.ＣＯＭ", // full-width capitals
            "ada@exam\u{AD}ple.com",     // soft hyphen
            "ada@exam\u{200B}ple.com",   // zero-width space
            "ada@exam\u{2060}ple.com",   // word joiner
            "ada@example\u{FEFF}.com",   // zero-width no-break space
            "ada@example\u{3002}com",    // ideographic full stop
            "ada@example\u{FF0E}com",    // full-width full stop
            "ada@example\u{FF61}com",    // half-width ideographic full stop
            "ａｄａ@example.com",        // full-width local part
            "ADA@EXAMPLE.COM",
            "ada\u{FF20}example.com", // full-width commercial at
        ] {
            assert_eq!(normal(look_alike), canonical, "{look_alike:?}");
        }
    }

    #[test]
    fn look_alike_emails_that_do_not_survive_normalisation_are_refused() {
        for refused in [
            "ada@\u{130}nfo.com",      // dotted capital I: i + U+0307
            "ada@i\u{307}nfo.com",     // the same, decomposed
            "\u{130}da@example.com",   // in the local part
            "ad\u{AD}a@example.com",   // soft hyphen in the local part
            "ad\u{200B}a@example.com", // zero-width space in the local part
            "ad\u{200D}a@example.com", // zero-width joiner in the local part
            "ada@exam\u{200D}ple.com", // zero-width joiner in the domain
            "ada@example.com.",        // trailing dot
            "ada@-example.com",
            "ada@exa_mple.com",
            "ada@xn--a.com",    // invalid Punycode
            "ada@xn--abc-.com", // Punycode of ASCII only
        ] {
            assert_eq!(normal(refused), None, "{refused:?}");
            let err = Email::parse(refused).unwrap_err();
            assert!(err.field_errors()[0].loc.is_empty(), "about the value");
        }
    }

    #[test]
    fn plain_and_internationalised_addresses_still_work() {
        for (raw, expected) in [
            ("ada@example.com", "ada@example.com"),
            (
                "Ada.Lovelace+tag@Mail.Example.ORG",
                "ada.lovelace+tag@mail.example.org",
            ),
            ("o'brien@example.co.uk", "o'brien@example.co.uk"),
            ("ada@bücher.de", "ada@bücher.de"),
            ("ada@BÜCHER.de", "ada@bücher.de"),
            ("ada@xn--bcher-kva.de", "ada@bücher.de"),
            ("ada@bu\u{308}cher.de", "ada@bücher.de"), // decomposed ü
            ("ada@例え.jp", "ada@例え.jp"),
            ("ada@fuß.de", "ada@fuß.de"),
            ("ada@[127.0.0.1]", "ada@[127.0.0.1]"),
        ] {
            assert_eq!(normal(raw).as_deref(), Some(expected), "{raw:?}");
        }
        // The normal form is a fixed point.
        for raw in [
            "ada@ｅｘａｍｐｌｅ。com",
            "ada@BÜCHER.de",
            "x@xn--bcher-kva.de",
        ] {
            let once = normal(raw).unwrap();
            assert_eq!(normal(&once), Some(once.clone()), "{raw:?}");
        }
    }

    #[test]
    fn email_length_is_bounded_before_and_after_normalisation() {
        let at_limit = format!(
            "{}@{}.com",
            "a".repeat(64),
            "b".repeat(63) + "." + &"c".repeat(63) + "." + &"d".repeat(50)
        );
        assert!(at_limit.len() <= EMAIL_MAX_LEN);
        assert!(normal(&at_limit).is_some(), "{}", at_limit.len());
        // Full-width input is three bytes a character: judged once normalised.
        let wide: String = at_limit
            .chars()
            .map(|c| match c {
                'a'..='z' => char::from_u32(c as u32 - 'a' as u32 + 0xFF41).unwrap(),
                other => other,
            })
            .collect();
        assert!(wide.len() > EMAIL_MAX_LEN);
        assert_eq!(normal(&wide), normal(&at_limit));
        assert!(normal(&"\u{200B}".repeat(2000)).is_none());
        // An IDN whose Punycode form is too long is refused.
        let idn = format!("a@{}.de", "ü".repeat(60));
        assert_eq!(normal(&idn), None);
    }

    #[test]
    fn password_debug_never_shows_the_secret() {
        let p = Password::new("hunter2hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
