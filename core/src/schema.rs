//! The JSON contract: request bodies, query strings and path values as clients
//! send them, and the parsers that turn raw bytes into them.
//!
//! Parsing lives here, not in the adapters, so every adapter (and the Python
//! binding) rejects bad input with the same FastAPI-shaped 422 errors:
//! `{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{
    CONTENT_MAX_CHARS, DESCRIPTION_MAX_CHARS, PostDraft, ProfileChange, TITLE_MAX_CHARS, Tag,
    Username, check_text, parse_bio, parse_comment_body, parse_image_url,
};
use crate::error::{Error, FieldError, Result};

/// `POST /users` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery"}))]
pub struct UserCreate {
    /// Email address; validated and lower-cased by the service.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Plaintext password; length-checked and hashed by the service (8 to
    /// 128 characters by default, not a common password).
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// Optional public handle (3 to 30 letters, digits, `_`, `-`, `.`;
    /// unique case-insensitively).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,30}$")]
    pub username: Option<String>,
}

/// Deserialises a field that is present (`null` included) as `Some`, so
/// that an absent field (`None`, by `#[serde(default)]`) differs from `null`.
fn present<'de, D, T>(deserializer: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// `PUT /users/me` body: each field given replaces the user's (`null` or
/// an empty string clears it); absent fields are kept.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"username": "ada", "bio": "Mathematician", "image": "https://example.com/ada.png"}))]
pub struct ProfileUpdate {
    /// Public handle (3 to 30 letters, digits, `_`, `-`, `.`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_.-]{3,30}$")]
    pub username: Option<Option<String>>,
    /// Free text, at most 1,000 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub bio: Option<Option<String>>,
    /// An `http` or `https` URL, at most 2,048 bytes.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub image: Option<Option<String>>,
}

impl ProfileUpdate {
    /// Checks every field given and returns all problems at once.
    pub fn into_change(self) -> Result<ProfileChange> {
        let mut errors = Vec::new();
        let username = self.username.map(|value| {
            value
                .filter(|v| !v.is_empty())
                .and_then(|v| collect(&mut errors, &["body", "username"], Username::parse(&v)))
        });
        let bio = self.bio.map(|value| {
            let bio = parse_bio(&value.unwrap_or_default());
            collect(&mut errors, &["body", "bio"], bio).flatten()
        });
        let image = self.image.map(|value| {
            let image = parse_image_url(&value.unwrap_or_default());
            collect(&mut errors, &["body", "image"], image).flatten()
        });
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(ProfileChange {
            username,
            bio,
            image,
        })
    }
}

/// The value of `result`, or `None` with its field errors, placed at
/// `loc`, added to `errors`.
fn collect<T>(errors: &mut Vec<FieldError>, loc: &[&str], result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            errors.extend(e.within(loc).field_errors().to_vec());
            None
        }
    }
}

/// `POST /posts/{id}/comments` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"body": "Nice post"}))]
pub struct CommentCreate {
    /// 1 to 10,000 characters, not blank.
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
}

impl CommentCreate {
    /// The checked text.
    pub fn into_body(self) -> Result<String> {
        parse_comment_body(&self.body).map_err(|e| e.within(&["body", "body"]))
    }
}

/// `POST /login` body: JSON `{email, password}` or the OAuth2 password form
/// (`username`, `password`).
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery"}))]
pub struct LoginRequest {
    /// The account's email (`username` in the OAuth2 form).
    #[serde(alias = "username")]
    pub email: String,
    /// Plaintext password.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `POST /posts` and `PUT /posts/{id}` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"title": "Hello", "content": "First post", "published": true}))]
pub struct PostCreate {
    /// Title, 1 to 300 characters, not blank.
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    /// Content, 1 to 10,000 characters, not blank.
    #[schema(min_length = 1, max_length = 10000)]
    pub content: String,
    /// Defaults to `true`.
    #[serde(default = "published_default")]
    #[schema(default = true)]
    pub published: bool,
    /// A short summary, at most 1,000 characters; on an update, absent or
    /// `null` keeps the post's.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// At most 10 tags of 1 to 32 characters (trimmed, lower-cased,
    /// deduplicated); on an update, absent or `null` keeps the post's.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub tags: Option<Vec<String>>,
}

fn published_default() -> bool {
    true
}

impl PostCreate {
    /// Checks every field and returns all problems at once.
    pub fn into_draft(self) -> Result<PostDraft> {
        let mut errors = Vec::new();
        check_field(&mut errors, "title", &self.title, TITLE_MAX_CHARS, false);
        check_field(
            &mut errors,
            "content",
            &self.content,
            CONTENT_MAX_CHARS,
            false,
        );
        if let Some(description) = &self.description {
            let max = DESCRIPTION_MAX_CHARS;
            check_field(&mut errors, "description", description, max, true);
        }
        let tags = match self.tags.as_deref().map(Tag::parse_list) {
            Some(parsed) => collect(&mut errors, &["body", "tags"], parsed),
            None => None,
        };
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(PostDraft {
            title: self.title,
            content: self.content,
            published: self.published,
            description: self.description,
            tags,
        })
    }
}

/// [`check_text`] of a body field, its problem added to `errors`.
fn check_field(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize, blank_ok: bool) {
    collect(errors, &["body", field], check_text(value, max, blank_ok));
}

/// `POST /vote` body: `dir` 1 adds the caller's vote, 0 removes it.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"post_id": 1, "dir": 1}))]
pub struct VoteRequest {
    /// The post voted on.
    pub post_id: i64,
    /// 1 to vote, 0 to take the vote back.
    #[schema(minimum = 0, maximum = 1)]
    pub dir: i64,
}

/// What a vote request does, once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteDirection {
    /// Add the caller's vote.
    Up,
    /// Remove the caller's vote.
    Remove,
}

impl VoteRequest {
    /// `dir` must be 0 or 1.
    pub fn direction(&self) -> Result<VoteDirection> {
        match self.dir {
            1 => Ok(VoteDirection::Up),
            0 => Ok(VoteDirection::Remove),
            _ => Err(Error::invalid(
                &["body", "dir"],
                "Input should be 0 or 1",
                "literal_error",
            )),
        }
    }
}

/// `GET /posts` query: `limit` (1..=100, default 10), `skip` (>= 0, default 0),
/// `search` (substring of the title, at most [`SEARCH_MAX_CHARS`] characters,
/// default empty = all), and `after` (a post
/// id: only older posts, for keyset pagination of deep pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub skip: u64,
    /// Keyset pagination: only posts with an id below this one. Pass the last
    /// id of a page to get the next page at the cost of the first.
    pub after: Option<i64>,
    /// Title substring; empty matches everything.
    pub search: String,
    /// Only posts with this tag.
    pub tag: Option<Tag>,
    /// Only posts of the user with this username.
    pub author: Option<Username>,
    /// Only posts the user with this username voted for.
    pub voted_by: Option<Username>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            limit: 10,
            skip: 0,
            after: None,
            search: String::new(),
            tag: None,
            author: None,
            voted_by: None,
        }
    }
}

/// The largest page size.
pub const LIST_LIMIT_MAX: u32 = 100;

/// The longest search term, in characters: a title is at most this long, so
/// a longer term could never match, and each one costs the database a scan.
pub const SEARCH_MAX_CHARS: usize = TITLE_MAX_CHARS;

impl ListQuery {
    /// The one constructor: checks every bound and reports every problem at
    /// once, at `["query", <name>]` (as `GET /posts` does). `limit` is
    /// 1..=[`LIST_LIMIT_MAX`], `skip` at least 0, `search` at most
    /// [`SEARCH_MAX_CHARS`] characters without NUL.
    ///
    /// ```
    /// use agora_core::schema::ListQuery;
    /// let q = ListQuery::new(5, 0, None, "rust".into()).unwrap();
    /// assert_eq!((q.limit, q.skip, q.search.as_str()), (5, 0, "rust"));
    /// assert!(ListQuery::new(0, 0, None, String::new()).is_err());
    /// ```
    pub fn new(limit: i64, skip: i64, after: Option<i64>, search: String) -> Result<Self> {
        let mut errors = Vec::new();
        let limit = u32::try_from(limit)
            .ok()
            .filter(|n| (1..=LIST_LIMIT_MAX).contains(n));
        if limit.is_none() {
            errors.push(FieldError::new(
                &["query", "limit"],
                format!("Input should be between 1 and {LIST_LIMIT_MAX}"),
                "range_error",
            ));
        }
        let skip = u64::try_from(skip).ok();
        if skip.is_none() {
            errors.push(FieldError::new(
                &["query", "skip"],
                "Input should be greater than or equal to 0",
                "greater_than_equal",
            ));
        }
        let checked = check_text(&search, SEARCH_MAX_CHARS, true);
        collect(&mut errors, &["query", "search"], checked);
        match (limit, skip) {
            (Some(limit), Some(skip)) if errors.is_empty() => Ok(ListQuery {
                limit,
                skip,
                after,
                search,
                ..ListQuery::default()
            }),
            _ => Err(Error::Validation(errors)),
        }
    }

    /// This query with the posts filtered by `tag`, `author` (username)
    /// and `voted_by` (username), each checked (errors at `["query",
    /// <name>]`, reported together); `None` leaves a filter off.
    ///
    /// ```
    /// use agora_core::schema::ListQuery;
    /// let q = ListQuery::default().with_filters(Some("Rust"), Some("ada"), None).unwrap();
    /// assert_eq!(q.tag.unwrap().as_str(), "rust");
    /// assert!(ListQuery::default().with_filters(None, Some("a b"), None).is_err());
    /// ```
    pub fn with_filters(
        self,
        tag: Option<&str>,
        author: Option<&str>,
        voted_by: Option<&str>,
    ) -> Result<Self> {
        let mut errors = Vec::new();
        let tag = tag.and_then(|t| collect(&mut errors, &["query", "tag"], Tag::parse(t)));
        let author =
            author.and_then(|a| collect(&mut errors, &["query", "author"], Username::parse(a)));
        let voted_by =
            voted_by.and_then(|v| collect(&mut errors, &["query", "voted_by"], Username::parse(v)));
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(ListQuery {
            tag,
            author,
            voted_by,
            ..self
        })
    }

    /// `page` (a [`ListQuery::new`] result) filtered as
    /// [`ListQuery::with_filters`] does, the problems of both reported
    /// together.
    ///
    /// ```
    /// use agora_core::schema::ListQuery;
    /// let page = ListQuery::new(0, 0, None, String::new());
    /// let err = ListQuery::filtered(page, None, Some("a b"), None).unwrap_err();
    /// assert_eq!(err.field_errors().len(), 2);
    /// ```
    pub fn filtered(
        page: Result<Self>,
        tag: Option<&str>,
        author: Option<&str>,
        voted_by: Option<&str>,
    ) -> Result<Self> {
        match (
            page,
            ListQuery::default().with_filters(tag, author, voted_by),
        ) {
            (Ok(page), Ok(filters)) => Ok(ListQuery {
                tag: filters.tag,
                author: filters.author,
                voted_by: filters.voted_by,
                ..page
            }),
            (page, filters) => Err(Error::Validation(
                [page.err(), filters.err()]
                    .iter()
                    .flatten()
                    .flat_map(|e| e.field_errors().to_vec())
                    .collect(),
            )),
        }
    }

    /// Parses a raw query string (without the `?`) into [`ListQuery::new`]'s
    /// arguments (absent ones take their defaults). Unknown keys are
    /// ignored; for a repeated key the last value wins.
    ///
    /// ```
    /// use agora_core::schema::ListQuery;
    /// let q = ListQuery::parse(Some("limit=5&search=rust")).unwrap();
    /// assert_eq!((q.limit, q.skip, q.search.as_str()), (5, 0, "rust"));
    /// assert!(ListQuery::parse(Some("limit=0")).is_err());
    /// ```
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        let defaults = ListQuery::default();
        let (mut limit, mut skip) = (i64::from(defaults.limit), 0);
        let (mut after, mut search) = (None, String::new());
        let (mut tag, mut author, mut voted_by) = (None, None, None);
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| Error::invalid(&["query"], "Malformed query string", "query_invalid"))?;
        let mut errors = Vec::new();
        let mut int = |name: &'static str, value: &str| match value.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(int_parsing(&["query", name]));
                None
            }
        };
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => limit = int("limit", &value).unwrap_or(limit),
                "skip" => skip = int("skip", &value).unwrap_or(skip),
                "after" => after = int("after", &value).or(after),
                "search" => search = value,
                "tag" => tag = Some(value),
                "author" => author = Some(value),
                "voted_by" => voted_by = Some(value),
                _ => {}
            }
        }
        let checked = ListQuery::filtered(
            ListQuery::new(limit, skip, after, search),
            tag.as_deref(),
            author.as_deref(),
            voted_by.as_deref(),
        );
        if errors.is_empty() {
            return checked;
        }
        // Unparsable values and out-of-range ones, reported together.
        errors.extend(checked.err().iter().flat_map(|e| e.field_errors().to_vec()));
        Err(Error::Validation(errors))
    }
}

fn int_parsing(loc: &[&str]) -> FieldError {
    FieldError::new(
        loc,
        "Input should be a valid integer, unable to parse string as an integer",
        "int_parsing",
    )
}

/// Parses an integer path segment such as the `{id}` of `/posts/{id}`.
pub fn parse_path_id(name: &str, raw: &str) -> Result<i64> {
    raw.parse::<i64>()
        .map_err(|_| Error::Validation(vec![int_parsing(&["path", name])]))
}

/// Extracts the token from an `Authorization: Bearer <token>` header value.
/// Anything else (missing header, other scheme, empty token) is
/// [`Error::Unauthorized`].
pub fn bearer_token(header: Option<&str>) -> Result<&str> {
    let value = header.ok_or(Error::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(Error::Unauthorized)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Error::Unauthorized);
    }
    Ok(token)
}

fn media_type(content_type: Option<&str>) -> Option<String> {
    content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

fn is_json(content_type: Option<&str>) -> bool {
    match media_type(content_type) {
        Some(mt) => {
            mt == "application/json" || (mt.starts_with("application/") && mt.ends_with("+json"))
        }
        None => false,
    }
}

fn is_form(content_type: Option<&str>) -> bool {
    media_type(content_type).as_deref() == Some("application/x-www-form-urlencoded")
}

/// Parses a JSON request body into `T`, answering every failure (wrong
/// content type, empty or malformed JSON, a missing field, a wrong type)
/// with a 422-kind [`Error::Validation`] that points at the field.
pub fn parse_json<T: DeserializeOwned>(content_type: Option<&str>, body: &[u8]) -> Result<T> {
    if !is_json(content_type) {
        return Err(Error::invalid(
            &["body"],
            "Expected a JSON body with Content-Type: application/json",
            "content_type",
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid(&["body"], "Field required", "missing"));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Error::invalid(&["body"], format!("JSON decode error: {e}"), "json_invalid")
    })?;
    if !value.is_object() {
        return Err(Error::invalid(
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
        ));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| Error::Validation(vec![serde_field_error(&e)]))
}

fn serde_field_error(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let message = e.inner().to_string();
    let mut loc = vec!["body".to_owned()];
    loc.extend(
        e.path()
            .iter()
            .map(|seg| seg.to_string())
            .filter(|s| s != "?" && s != "."),
    );
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        loc.push(field.to_owned());
        return FieldError {
            loc,
            msg: "Field required".to_owned(),
            kind: "missing".to_owned(),
        };
    }
    // serde says "invalid type: floating point `1e20`, expected i64"; the
    // client gets the same words as for a bad path or query value.
    let expected = message
        .rsplit_once(", expected ")
        .map_or("", |(_, expected)| expected);
    let (msg, kind) = if expected.starts_with('i') || expected.starts_with('u') {
        ("Input should be a valid integer", "int_type")
    } else if expected.contains("string") {
        ("Input should be a valid string", "string_type")
    } else if expected.contains("bool") {
        ("Input should be a valid boolean", "bool_type")
    } else {
        ("Input should be a valid value", "type_error")
    };
    FieldError {
        loc,
        msg: msg.to_owned(),
        kind: kind.to_owned(),
    }
}

/// Parses a `POST /login` body: the OAuth2 password form
/// (`application/x-www-form-urlencoded` with `username` and `password`) or
/// JSON `{email, password}`.
pub fn parse_login(content_type: Option<&str>, body: &[u8]) -> Result<LoginRequest> {
    if !is_form(content_type) {
        return parse_json(content_type, body);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Error::invalid(&["body"], "Malformed form body", "form_invalid"))?;
    let field = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (username, password) = (field("username"), field("password"));
    let mut errors = Vec::new();
    for (name, value) in [("username", &username), ("password", &password)] {
        if value.is_none() {
            errors.push(FieldError::new(
                &["body", name],
                "Field required",
                "missing",
            ));
        }
    }
    match (username, password) {
        (Some(email), Some(password)) => Ok(LoginRequest { email, password }),
        _ => Err(Error::Validation(errors)),
    }
}

/// `POST /login` and `POST /token/refresh` answer, as OAuth2 clients expect it.
#[derive(Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "token_type": "bearer", "expires_in": 900, "refresh_token": "9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", "refresh_expires_in": 1209600}))]
pub struct Token {
    /// The signed JWT.
    pub access_token: String,
    /// Always `"bearer"`.
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque token for `POST /token/refresh`; each one works once.
    pub refresh_token: String,
    /// Seconds until the refresh token expires if unused.
    pub refresh_expires_in: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"<redacted>")
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish()
    }
}

/// One entry of `GET /sessions`: a session, and whether it is the caller's.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// The session.
    #[serde(flatten)]
    pub session: crate::domain::Session,
    /// Whether the request came with this session's access token.
    pub current: bool,
}

/// `POST /token/refresh` body.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// `PUT /users/me/password` body.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The password in use, to prove it is the user.
    pub current_password: String,
    /// The new password (same rules as at registration).
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// `POST /forgot-password` and `POST /request-verify-token` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
pub struct EmailRequest {
    /// The account's email address.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

/// `POST /reset-password` body.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct ResetPasswordRequest {
    /// The token from the reset link.
    #[schema(max_length = 256)]
    pub token: String,
    /// The new password (same rules as at registration).
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// `POST /verify` body.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    /// The token from the verification link.
    #[schema(max_length = 256)]
    pub token: String,
}

/// `DELETE /users/me` body.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct AccountDeletion {
    /// The user's password, to prove it is them.
    pub password: String,
}

/// A `{"message": ...}` answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// Human-readable text.
    #[schema(example = "Hello World")]
    pub message: String,
}

impl Message {
    /// Builds a message answer.
    pub fn new(message: impl Into<String>) -> Self {
        Message {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locs(err: Error) -> Vec<Vec<String>> {
        err.field_errors().iter().map(|f| f.loc.clone()).collect()
    }

    const JSON: Option<&str> = Some("application/json");

    #[test]
    fn missing_json_field_points_at_the_field() {
        let err = parse_json::<UserCreate>(JSON, br#"{"email":"a@b.co"}"#).unwrap_err();
        assert_eq!(locs(err), vec![vec!["body", "password"]]);
    }

    #[test]
    fn wrong_json_type_points_at_the_field() {
        let err = parse_json::<PostCreate>(JSON, br#"{"title":5,"content":"x"}"#).unwrap_err();
        assert_eq!(locs(err), vec![vec!["body", "title"]]);
        let err =
            parse_json::<PostCreate>(JSON, br#"{"title":"t","content":"x","published":"yes"}"#)
                .unwrap_err();
        assert_eq!(locs(err), vec![vec!["body", "published"]]);
    }

    #[test]
    fn body_type_errors_use_the_same_words_as_query_and_path_errors() {
        let err = parse_json::<VoteRequest>(JSON, br#"{"post_id":1e20,"dir":1}"#).unwrap_err();
        assert_eq!(err.field_errors()[0].msg, "Input should be a valid integer");
        assert_eq!(err.field_errors()[0].kind, "int_type");
        let err = parse_json::<PostCreate>(JSON, br#"{"title":5,"content":"x"}"#).unwrap_err();
        assert_eq!(err.field_errors()[0].msg, "Input should be a valid string");
        let err =
            parse_json::<PostCreate>(JSON, br#"{"title":"t","content":"x","published":"yes"}"#)
                .unwrap_err();
        assert_eq!(err.field_errors()[0].kind, "bool_type");
    }

    #[test]
    fn malformed_json_wrong_content_type_and_non_objects_are_validation_errors() {
        for (ct, body) in [
            (JSON, &b"{not json"[..]),
            (JSON, b""),
            (JSON, b"[1,2]"),
            (
                Some("text/plain"),
                br#"{"email":"a@b.co","password":"12345678"}"#,
            ),
            (None, br#"{"email":"a@b.co","password":"12345678"}"#),
        ] {
            let err = parse_json::<UserCreate>(ct, body).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Validation, "{ct:?} {body:?}");
            assert_eq!(locs(err), vec![vec!["body"]]);
        }
    }

    #[test]
    fn json_content_type_accepts_charset_and_suffix_types() {
        let body = br#"{"email":"a@b.co","password":"12345678"}"#;
        assert!(parse_json::<UserCreate>(Some("application/json; charset=utf-8"), body).is_ok());
        assert!(parse_json::<UserCreate>(Some("Application/JSON"), body).is_ok());
        assert!(parse_json::<UserCreate>(Some("application/merge-patch+json"), body).is_ok());
    }

    #[test]
    fn published_defaults_to_true_and_unknown_fields_are_ignored() {
        let p: PostCreate =
            parse_json(JSON, br#"{"title":"t","content":"c","owner_id":99}"#).unwrap();
        assert!(p.published);
    }

    #[test]
    fn blank_and_oversized_post_fields_are_rejected_together() {
        let err = PostCreate {
            title: "   ".into(),
            content: "x".repeat(CONTENT_MAX_CHARS + 1),
            published: true,
            description: None,
            tags: None,
        }
        .into_draft()
        .unwrap_err();
        assert_eq!(
            locs(err),
            vec![vec!["body", "title"], vec!["body", "content"]]
        );
    }

    #[test]
    fn login_accepts_the_oauth2_form_and_json() {
        let form = Some("application/x-www-form-urlencoded");
        let req = parse_login(form, b"username=a%40b.co&password=p+w&grant_type=password").unwrap();
        assert_eq!(
            (req.email.as_str(), req.password.as_str()),
            ("a@b.co", "p w")
        );
        let req = parse_login(JSON, br#"{"email":"a@b.co","password":"pw"}"#).unwrap();
        assert_eq!(req.email, "a@b.co");
        let err = parse_login(form, b"username=a%40b.co").unwrap_err();
        assert_eq!(locs(err), vec![vec!["body", "password"]]);
    }

    #[test]
    fn list_query_bounds_are_enforced() {
        assert_eq!(ListQuery::parse(None).unwrap(), ListQuery::default());
        assert_eq!(ListQuery::parse(Some("limit=100&skip=7")).unwrap().skip, 7);
        assert_eq!(ListQuery::parse(Some("after=42")).unwrap().after, Some(42));
        assert!(ListQuery::parse(Some("after=x")).is_err());
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=abc",
            "skip=-1",
            "skip=1.5",
        ] {
            assert!(ListQuery::parse(Some(bad)).is_err(), "{bad}");
        }
        let err = ListQuery::parse(Some("limit=abc")).unwrap_err();
        assert_eq!(locs(err), vec![vec!["query", "limit"]]);
        assert_eq!(
            ListQuery::parse(Some("search=a+b%26c")).unwrap().search,
            "a b&c"
        );
    }

    #[test]
    fn filters_are_parsed_and_every_problem_is_reported_at_once() {
        let q = ListQuery::parse(Some("tag=+Rust&author=Ada&voted_by=bob")).unwrap();
        assert_eq!(q.tag.as_ref().map(Tag::as_str), Some("rust"));
        assert_eq!(q.author.as_ref().map(Username::as_str), Some("Ada"));
        assert_eq!(q.voted_by.as_ref().map(Username::as_str), Some("bob"));
        let err = ListQuery::parse(Some("limit=0&tag=%20&author=a%20b&voted_by=x")).unwrap_err();
        assert_eq!(
            locs(err),
            vec![
                vec!["query", "limit"],
                vec!["query", "tag"],
                vec!["query", "author"],
                vec!["query", "voted_by"]
            ]
        );
        let err = ListQuery::parse(Some("limit=x&author=a%20b")).unwrap_err();
        assert_eq!(
            locs(err),
            vec![vec!["query", "limit"], vec!["query", "author"]]
        );
    }

    #[test]
    fn nul_characters_are_rejected_where_they_would_reach_sql() {
        let post = |title: &str| PostCreate {
            title: title.into(),
            content: "c".into(),
            published: true,
            description: None,
            tags: None,
        };
        assert_eq!(
            locs(post("a\0b").into_draft().unwrap_err()),
            vec![vec!["body", "title"]]
        );
        let err = ListQuery::parse(Some("search=a%00b")).unwrap_err();
        assert_eq!(locs(err), vec![vec!["query", "search"]]);
    }

    #[test]
    fn search_terms_longer_than_any_title_are_rejected() {
        let longest = "é".repeat(SEARCH_MAX_CHARS);
        let q = ListQuery::parse(Some(&format!("search={longest}"))).unwrap();
        assert_eq!(
            q.search, longest,
            "a term as long as the longest title is fine"
        );
        let err = ListQuery::parse(Some(&format!("search={longest}x"))).unwrap_err();
        assert_eq!(err.field_errors()[0].kind, "string_too_long");
        assert_eq!(locs(err), vec![vec!["query", "search"]]);
    }

    #[test]
    fn vote_direction_must_be_zero_or_one() {
        let vote = |dir| VoteRequest { post_id: 1, dir }.direction();
        assert_eq!(vote(1).unwrap(), VoteDirection::Up);
        assert_eq!(vote(0).unwrap(), VoteDirection::Remove);
        assert!(vote(2).is_err() && vote(-1).is_err());
    }

    #[test]
    fn bearer_token_requires_the_bearer_scheme() {
        assert_eq!(bearer_token(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
        for bad in [
            None,
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer "),
            Some("abc"),
        ] {
            assert!(
                matches!(bearer_token(bad), Err(Error::Unauthorized)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn path_ids_must_be_integers() {
        assert_eq!(parse_path_id("id", "42").unwrap(), 42);
        let err = parse_path_id("id", "abc").unwrap_err();
        assert_eq!(locs(err), vec![vec!["path", "id"]]);
    }
}
