//! Account mail: the [`Mailer`] trait that delivers it, the [`Mail`]s
//! Agora sends (a password reset link, an address verification link), their
//! replaceable [`MailTemplates`], and [`MailConfig`] (`config.mail`).
//!
//! Mail never goes out on the request path: the services queue it and a
//! background task looks the address up, issues the token and sends,
//! retrying with back-off. A failure is logged (never with the token) and
//! never reaches the requester, whose answer is the same whether or not
//! the address has an account.
//!
//! Delivery is pluggable: `agora-sqlx` has an SMTP mailer (on lettre),
//! chosen by `AGORA_SMTP_URL`; without one, [`LogMailer`] writes each
//! link to the log, for local development.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::Email;
use crate::throttle::Limit;

/// Why a mail was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// A link to `{public_url}/reset-password?token=...`.
    PasswordReset,
    /// A link to `{public_url}/verify?token=...`.
    VerifyEmail,
}

impl MailKind {
    /// The kind's name in logs and in the Python binding
    /// (`password_reset`, `verify_email`).
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::PasswordReset => "password_reset",
            MailKind::VerifyEmail => "verify_email",
        }
    }

    /// The path of the link, under the public URL.
    pub fn link_path(self) -> &'static str {
        match self {
            MailKind::PasswordReset => "reset-password",
            MailKind::VerifyEmail => "verify",
        }
    }
}

/// A mail to deliver: its recipient (a validated address, which cannot
/// carry header content such as CR or LF), subject, plain text and HTML
/// alternative, and the link they carry.
///
/// `Debug` leaves the bodies and the link out: they carry a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// Why it is sent.
    pub kind: MailKind,
    /// The one recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The plain text body.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
    /// The link in the bodies (secret: it carries a single-use token).
    pub link: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a delivery failed (logged, and the delivery retried).
pub type MailError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Delivers [`Mail`]. Called off the request path, with retries on
/// failure; an implementation should fail rather than wait forever (each
/// attempt also has [`MailConfig::send_timeout`]).
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends one mail.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;

    /// Whether links reach the log instead of a mailbox ([`LogMailer`]),
    /// said once at start-up.
    fn logs_links(&self) -> bool {
        false
    }
}

/// The mailer of local development: writes each mail's recipient and link
/// to the log at INFO (`agora::mail`) and sends nothing. The only place a
/// link reaches a log; used when no SMTP server is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        tracing::info!(target: "agora::mail", kind = mail.kind.as_str(), to = %mail.to,
            link = %mail.link, "mail not sent (no SMTP server configured); its link");
        Ok(())
    }

    fn logs_links(&self) -> bool {
        true
    }
}

/// A mail's words: `subject`, `text` and `html`, where `{link}` becomes the
/// link and `{expires}` how long it works (e.g. `1 hour`). In `html` both
/// are HTML-escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplate {
    /// The subject line (one line: line breaks are replaced by spaces).
    pub subject: String,
    /// The plain text body.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
}

impl MailTemplate {
    /// The template filled in: `(subject, text, html)`.
    pub fn render(&self, link: &str, expires: Duration) -> (String, String, String) {
        let expires = human_duration(expires);
        let fill = |template: &str, link: &str, expires: &str| {
            template
                .replace("{link}", link)
                .replace("{expires}", expires)
        };
        let subject = fill(&self.subject, link, &expires).replace(['\r', '\n'], " ");
        let text = fill(&self.text, link, &expires);
        let html = fill(
            &self.html,
            &html_escape::encode_double_quoted_attribute(link),
            &html_escape::encode_text(&expires),
        );
        (subject, text, html)
    }
}

/// The templates of the mails Agora sends; replace them to change the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplates {
    /// The password reset mail.
    pub password_reset: MailTemplate,
    /// The address verification mail.
    pub verify_email: MailTemplate,
}

impl MailTemplates {
    /// The template of `kind`.
    pub fn of(&self, kind: MailKind) -> &MailTemplate {
        match kind {
            MailKind::PasswordReset => &self.password_reset,
            MailKind::VerifyEmail => &self.verify_email,
        }
    }
}

impl Default for MailTemplates {
    fn default() -> Self {
        MailTemplates {
            password_reset: MailTemplate {
                subject: "Reset your password".to_owned(),
                text: "Someone asked to reset the password of the account with this address.\n\n\
                       To choose a new password, open this link (it works once, for {expires}):\n\n\
                       {link}\n\n\
                       If it was not you, ignore this mail: your password stays as it is.\n"
                    .to_owned(),
                html: "<p>Someone asked to reset the password of the account with this address.</p>\
                       <p><a href=\"{link}\">Choose a new password</a> (the link works once, for {expires}).</p>\
                       <p>If it was not you, ignore this mail: your password stays as it is.</p>"
                    .to_owned(),
            },
            verify_email: MailTemplate {
                subject: "Confirm your email address".to_owned(),
                text: "To confirm that this address is yours, open this link (it works once, for {expires}):\n\n\
                       {link}\n\n\
                       If you did not sign up, ignore this mail.\n"
                    .to_owned(),
                html: "<p><a href=\"{link}\">Confirm that this address is yours</a> \
                       (the link works once, for {expires}).</p>\
                       <p>If you did not sign up, ignore this mail.</p>"
                    .to_owned(),
            },
        }
    }
}

/// `1 hour`, `30 minutes`, `2 days`, `45 seconds`.
fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Account recovery and address verification settings (`config.mail`).
#[derive(Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// Where the app is reached (`AGORA_PUBLIC_URL`, e.g.
    /// `https://app.example.com`): links are built only from it, never from
    /// a request's `Host` or `X-Forwarded-Host`. Without it no mail is sent
    /// (the example servers default it to their own address when no SMTP
    /// server is configured).
    pub public_url: Option<url::Url>,
    /// The SMTP server (`AGORA_SMTP_URL`): `smtp://host:port` (plain, or
    /// STARTTLS with `?tls=required`), `smtps://user:pass@host:465`
    /// (implicit TLS). Read by `agora_sqlx::open`; secret (it may carry a
    /// password), so `Debug` hides it.
    pub smtp_url: Option<String>,
    /// The sender (`AGORA_MAIL_FROM`, e.g. `Agora <no-reply@example.com>`);
    /// required with an SMTP server.
    pub from: Option<String>,
    /// How long a password reset link works (`AGORA_PASSWORD_RESET_TTL`, 1 hour).
    pub reset_ttl: Duration,
    /// How long an address verification link works (`AGORA_VERIFY_TOKEN_TTL`, 1 day).
    pub verify_ttl: Duration,
    /// Refuse the login of an account whose address is not verified, after
    /// a correct password (`AGORA_REQUIRE_VERIFIED_EMAIL`, off).
    pub require_verified_email: bool,
    /// Mails per address: at most 3 per 15 minutes; further requests are
    /// answered the same and send nothing.
    pub per_address: Limit,
    /// Attempts per mail (4), the first at once, then after `retry_base`,
    /// doubling.
    pub attempts: u32,
    /// The first wait before a retry (2 s).
    pub retry_base: Duration,
    /// The deadline of one delivery attempt (30 s).
    pub send_timeout: Duration,
    /// The words of the mails.
    pub templates: MailTemplates,
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field(
                "public_url",
                &self.public_url.as_ref().map(url::Url::as_str),
            )
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<hidden>"))
            .field("from", &self.from)
            .field("reset_ttl", &self.reset_ttl)
            .field("verify_ttl", &self.verify_ttl)
            .field("require_verified_email", &self.require_verified_email)
            .field("per_address", &self.per_address)
            .finish_non_exhaustive()
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            public_url: None,
            smtp_url: None,
            from: None,
            reset_ttl: Duration::from_secs(3600),
            verify_ttl: Duration::from_secs(86_400),
            require_verified_email: false,
            per_address: Limit {
                max: 3,
                window: Duration::from_secs(15 * 60),
            },
            attempts: 4,
            retry_base: Duration::from_secs(2),
            send_timeout: Duration::from_secs(30),
            templates: MailTemplates::default(),
        }
    }
}

impl MailConfig {
    /// Checks the rules between these settings: an SMTP server needs a
    /// sender and a public URL; the public URL is absolute http(s) without
    /// query or fragment; lifetimes, attempts and the per-address limit are
    /// positive.
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        use crate::config::ConfigError;
        if let Some(url) = &self.public_url
            && (!matches!(url.scheme(), "http" | "https")
                || url.cannot_be_a_base()
                || url.query().is_some()
                || url.fragment().is_some())
        {
            return Err(ConfigError::invalid(
                "mail.public_url",
                "must be an http(s) URL without query or fragment, like https://app.example.com",
            ));
        }
        if self.smtp_url.is_some() {
            if self.public_url.is_none() {
                return Err(ConfigError::invalid(
                    "mail.public_url",
                    "is required with an SMTP server: links in mails are built only from it",
                ));
            }
            if self.from.is_none() {
                return Err(ConfigError::invalid(
                    "mail.from",
                    "is required with an SMTP server (e.g. `Agora <no-reply@example.com>`)",
                ));
            }
        }
        for (field, value) in [
            ("mail.reset_ttl", self.reset_ttl),
            ("mail.verify_ttl", self.verify_ttl),
            ("mail.send_timeout", self.send_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(field, "must be positive"));
            }
        }
        if self.attempts == 0 || self.per_address.max == 0 || self.per_address.window.is_zero() {
            return Err(ConfigError::invalid(
                "mail.per_address",
                "attempts and the per-address limit must be positive",
            ));
        }
        Ok(())
    }

    /// The link of `kind` carrying `token`, under the public URL (`None`
    /// without one): `{public_url}/reset-password?token=...`.
    pub fn link(&self, kind: MailKind, token: &str) -> Option<String> {
        let mut link = self.public_url.clone()?;
        link.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .push(kind.link_path());
        link.query_pairs_mut().append_pair("token", token);
        Some(link.into())
    }

    /// How long a link of `kind` works.
    pub fn ttl(&self, kind: MailKind) -> Duration {
        match kind {
            MailKind::PasswordReset => self.reset_ttl,
            MailKind::VerifyEmail => self.verify_ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(public_url: &str) -> MailConfig {
        MailConfig {
            public_url: Some(url::Url::parse(public_url).unwrap()),
            ..MailConfig::default()
        }
    }

    #[test]
    fn links_are_built_under_the_public_url_only() {
        assert_eq!(
            config("https://app.example.com").link(MailKind::PasswordReset, "ab12"),
            Some("https://app.example.com/reset-password?token=ab12".to_owned())
        );
        assert_eq!(
            config("https://example.com/api/").link(MailKind::VerifyEmail, "ab12"),
            Some("https://example.com/api/verify?token=ab12".to_owned())
        );
        assert_eq!(
            MailConfig::default().link(MailKind::VerifyEmail, "ab12"),
            None
        );
    }

    #[test]
    fn templates_escape_html_and_keep_subjects_on_one_line() {
        let template = MailTemplate {
            subject: "Reset\r\nBcc: x@evil.example".to_owned(),
            text: "{link} ({expires})".to_owned(),
            html: "<a href=\"{link}\">go</a> {expires}".to_owned(),
        };
        let (subject, text, html) = template.render(
            "https://a.example/r?x=1&token=\"t\"",
            Duration::from_secs(1800),
        );
        assert_eq!(subject, "Reset  Bcc: x@evil.example");
        assert_eq!(text, "https://a.example/r?x=1&token=\"t\" (30 minutes)");
        assert_eq!(
            html,
            "<a href=\"https://a.example/r?x=1&amp;token=&quot;t&quot;\">go</a> 30 minutes"
        );
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(86_400 * 2)), "2 days");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 seconds");
    }

    #[test]
    fn smtp_needs_a_public_url_and_a_sender() {
        let smtp = MailConfig {
            smtp_url: Some("smtp://localhost:25".to_owned()),
            ..MailConfig::default()
        };
        let err = smtp.validate().unwrap_err().to_string();
        assert!(err.contains("public_url"), "{err}");
        let err = MailConfig {
            public_url: Some(url::Url::parse("https://a.example").unwrap()),
            ..smtp
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("mail.from"), "{err}");
        assert!(
            format!(
                "{:?}",
                MailConfig {
                    smtp_url: Some("smtps://u:secret@h:465".to_owned()),
                    ..MailConfig::default()
                }
            )
            .contains("<hidden>")
        );
    }
}
