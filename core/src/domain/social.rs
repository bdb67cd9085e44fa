//! The social graph's domain types: usernames and profiles, follows, tags
//! and comments.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{PostId, User, check_text};
use crate::error::{Error, Result};

/// The shortest username, in characters.
pub const USERNAME_MIN_CHARS: usize = 3;
/// The longest username, in characters.
pub const USERNAME_MAX_CHARS: usize = 30;
/// The longest bio, in characters.
pub const BIO_MAX_CHARS: usize = 1_000;
/// The longest image URL, in bytes.
pub const IMAGE_URL_MAX_LEN: usize = 2_048;
/// The most tags a post carries.
pub const TAGS_MAX: usize = 10;
/// The longest tag, in characters.
pub const TAG_MAX_CHARS: usize = 32;
/// The longest comment, in characters.
pub const COMMENT_MAX_CHARS: usize = 10_000;
/// The longest post description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 1_000;

/// A public handle: 3 to 30 ASCII letters, digits, `_`, `-` and `.`, kept as
/// typed and unique case-insensitively (`Ada` and `ada` are one username).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^[A-Za-z0-9_.-]{3,30}$", example = "ada")]
pub struct Username(String);

impl Username {
    /// Checks the rules; a 422 about the value (location `[]`) otherwise.
    ///
    /// ```
    /// use agora_core::domain::Username;
    /// assert_eq!(Username::parse("Ada_L").unwrap().as_str(), "Ada_L");
    /// assert!(Username::parse("ab").is_err());
    /// assert!(Username::parse("ada lovelace").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self> {
        let chars = raw.chars().count();
        if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&chars) {
            return Err(Error::invalid(
                &[],
                format!(
                    "String should have {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters"
                ),
                "string_length",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(Error::invalid(
                &[],
                "String should contain only letters, digits, '_', '-' and '.'",
                "string_pattern_mismatch",
            ));
        }
        Ok(Username(raw.to_owned()))
    }

    /// The username as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a username read back from storage, where it was validated on the way in.
    pub fn from_trusted(stored: String) -> Self {
        Username(stored)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A post's tag: trimmed, lower-cased, 1 to 32 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, min_length = 1, max_length = 32, example = "rust")]
pub struct Tag(String);

impl Tag {
    /// Trims and lower-cases `raw`, then checks it; a 422 about the value
    /// (location `[]`) when it is empty, too long or has a control character.
    ///
    /// ```
    /// use agora_core::domain::Tag;
    /// assert_eq!(Tag::parse("  Rust ").unwrap().as_str(), "rust");
    /// assert!(Tag::parse("   ").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self> {
        let tag = raw.trim().to_lowercase();
        let chars = tag.chars().count();
        if chars == 0 || chars > TAG_MAX_CHARS {
            return Err(Error::invalid(
                &[],
                format!("String should have 1 to {TAG_MAX_CHARS} characters once trimmed"),
                "string_length",
            ));
        }
        if tag.chars().any(char::is_control) {
            return Err(Error::invalid(
                &[],
                "String should not contain control characters",
                "string_control",
            ));
        }
        Ok(Tag(tag))
    }

    /// Parses a post's list of tags: each as [`Tag::parse`] (errors at
    /// `[index]`), duplicates dropped, at most [`TAGS_MAX`], in alphabetical
    /// order (the order every answer lists them in).
    ///
    /// ```
    /// use agora_core::domain::Tag;
    /// let tags = Tag::parse_list(&["SQL".into(), "rust".into(), "sql ".into()]).unwrap();
    /// assert_eq!(tags.iter().map(Tag::as_str).collect::<Vec<_>>(), ["rust", "sql"]);
    /// ```
    pub fn parse_list(raw: &[String]) -> Result<Vec<Tag>> {
        let mut errors = Vec::new();
        let mut tags = std::collections::BTreeSet::new();
        for (i, one) in raw.iter().enumerate() {
            match Tag::parse(one) {
                Ok(tag) => {
                    tags.insert(tag);
                }
                Err(e) => errors.extend(e.within(&[&i.to_string()]).field_errors().to_vec()),
            }
        }
        if errors.is_empty() && tags.len() > TAGS_MAX {
            return Err(Error::invalid(
                &[],
                format!("List should have at most {TAGS_MAX} distinct tags"),
                "too_long",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(tags.into_iter().collect())
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a tag read back from storage.
    pub fn from_trusted(stored: String) -> Self {
        Tag(stored)
    }
}

/// A tag with the number of published posts that carry it (`GET /tags`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"tag": "rust", "posts": 12}))]
pub struct TagCount {
    /// The tag.
    pub tag: Tag,
    /// How many published posts carry it.
    pub posts: i64,
}

/// A user's public face, as `viewer` sees it: `{username, bio, image, following}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"username": "ada", "bio": "Mathematician", "image": "https://example.com/ada.png", "following": false}))]
pub struct Profile {
    /// The username.
    pub username: Username,
    /// Free text, if set.
    pub bio: Option<String>,
    /// An image URL, if set.
    pub image: Option<String>,
    /// Whether the viewer follows this user (`false` for anonymous viewers).
    pub following: bool,
}

impl Profile {
    /// `user`'s profile (`None` when they have no username), with whether the viewer follows them.
    pub fn of(user: &User, following: bool) -> Option<Profile> {
        Some(Profile {
            username: user.username.clone()?,
            bio: user.bio.clone(),
            image: user.image.clone(),
            following,
        })
    }
}

/// Validated changes to a user's profile (`PUT /users/me`): `None` keeps a
/// field, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    /// The new username.
    pub username: Option<Option<Username>>,
    /// The new bio.
    pub bio: Option<Option<String>>,
    /// The new image URL.
    pub image: Option<Option<String>>,
}

/// Checks a bio: at most [`BIO_MAX_CHARS`] characters, no NUL; blank is no bio.
pub fn parse_bio(raw: &str) -> Result<Option<String>> {
    check_text(raw, BIO_MAX_CHARS, true)?;
    Ok(Some(raw.to_owned()).filter(|b| !b.trim().is_empty()))
}

/// Checks an image URL: an absolute `http` or `https` URL of at most
/// [`IMAGE_URL_MAX_LEN`] bytes, returned in its normal form; blank is no image.
///
/// ```
/// use agora_core::domain::parse_image_url;
/// assert_eq!(parse_image_url("https://example.com/a.png").unwrap().as_deref(),
///            Some("https://example.com/a.png"));
/// assert!(parse_image_url("javascript:alert(1)").is_err());
/// assert_eq!(parse_image_url("").unwrap(), None);
/// ```
pub fn parse_image_url(raw: &str) -> Result<Option<String>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let invalid = || Error::invalid(&[], "Input should be a valid http(s) URL", "url_parsing");
    if raw.len() > IMAGE_URL_MAX_LEN {
        return Err(invalid());
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid());
    }
    let url = String::from(url);
    if url.len() > IMAGE_URL_MAX_LEN {
        return Err(invalid());
    }
    Ok(Some(url))
}

/// The id of a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(example = 1)]
pub struct CommentId(pub i64);

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A comment on a post: `{id, post_id, body, created_at, author}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 3, "post_id": 7, "body": "Nice post", "created_at": "2026-01-01T12:10:00Z", "author": {"id": 2, "email": "bob@example.com", "created_at": "2026-01-01T12:00:00Z", "username": "bob", "bio": null, "image": null}}))]
pub struct Comment {
    /// The comment's id.
    pub id: CommentId,
    /// The post it is on.
    pub post_id: PostId,
    /// Its text, 1 to [`COMMENT_MAX_CHARS`] characters.
    pub body: String,
    /// When it was written.
    #[serde(serialize_with = "super::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub author: User,
}

/// Checks a comment's text: 1 to [`COMMENT_MAX_CHARS`] characters, not
/// blank, no NUL.
pub fn parse_comment_body(raw: &str) -> Result<String> {
    check_text(raw, COMMENT_MAX_CHARS, false)?;
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        for ok in ["ada", "Ada.Lovelace", "a-b_c", &"x".repeat(30)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            &"x".repeat(31),
            "ada lovelace",
            "ädä",
            "a/b",
            "a\0b",
        ] {
            let err = Username::parse(bad).unwrap_err();
            assert!(err.field_errors()[0].loc.is_empty(), "{bad}");
        }
    }

    #[test]
    fn tags_are_trimmed_lowercased_deduplicated_and_bounded() {
        let list = |raw: &[&str]| {
            Tag::parse_list(&raw.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        };
        let tags = list(&["Dragons", " training ", "dragons"]).unwrap();
        assert_eq!(
            tags.iter().map(Tag::as_str).collect::<Vec<_>>(),
            ["dragons", "training"]
        );
        assert_eq!(
            Tag::parse(&"é".repeat(32)).unwrap().as_str(),
            "é".repeat(32)
        );
        assert!(Tag::parse(&"é".repeat(33)).is_err());
        let err = list(&["ok", " ", "a\u{7}"]).unwrap_err();
        let locs: Vec<_> = err.field_errors().iter().map(|e| e.loc.clone()).collect();
        assert_eq!(locs, vec![vec!["1"], vec!["2"]]);
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(Tag::parse_list(&eleven).is_err());
        let ten_with_repeat: Vec<String> = (0..11).map(|i| format!("t{}", i % 10)).collect();
        assert_eq!(Tag::parse_list(&ten_with_repeat).unwrap().len(), 10);
    }

    #[test]
    fn image_urls_must_be_http_or_https() {
        assert!(
            parse_image_url("http://example.com/x.png")
                .unwrap()
                .is_some()
        );
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "/relative.png",
            "ftp://example.com/x",
            &format!("https://example.com/{}", "a".repeat(2100)),
        ] {
            assert!(parse_image_url(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_image_url("  ").unwrap(), None);
    }

    #[test]
    fn comment_bodies_are_bounded() {
        assert!(parse_comment_body("hi").is_ok());
        assert!(parse_comment_body(" \n").is_err());
        assert!(parse_comment_body("a\0").is_err());
        assert!(parse_comment_body(&"é".repeat(COMMENT_MAX_CHARS)).is_ok());
        assert!(parse_comment_body(&"é".repeat(COMMENT_MAX_CHARS + 1)).is_err());
    }
}
