//! Account mail over SMTP (feature `smtp`): [`SmtpMailer`], an
//! [`agora_core::mail::Mailer`] on [lettre](https://docs.rs/lettre), chosen
//! by [`crate::open`] when `config.mail.smtp_url` (`AGORA_SMTP_URL`) is set.
//!
//! The server is given as a URL, read by lettre:
//!
//! - `smtp://host:25`: plain SMTP (for a relay on the same host or network);
//! - `smtp://user:pass@host:587?tls=required`: STARTTLS, required;
//! - `smtps://user:pass@host:465`: implicit TLS.
//!
//! `user:pass@` (percent-encoded) logs in with AUTH PLAIN or LOGIN. TLS is
//! rustls on aws-lc-rs, with the Mozilla roots of `webpki-roots`. The
//! password never reaches an error message, a log line or `Debug`.

use std::fmt;

use agora_core::config::ConfigError;
use agora_core::mail::{Mail, MailConfig, MailError, Mailer};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The URL forms, for error messages.
const URL_FORMS: &str = "expected smtp://host:25, smtp://user:pass@host:587?tls=required \
                         (STARTTLS) or smtps://user:pass@host:465 (implicit TLS)";

/// Delivers account mail to an SMTP server (see the [module](self)). Each
/// mail opens its own connection (account mail is rare), so the mailer
/// holds no task and may be built and dropped outside a Tokio runtime.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server's URL, password hidden, for `Debug`.
    server: String,
}

impl SmtpMailer {
    /// The mailer of `config.smtp_url`, sending as `config.from`, each
    /// attempt within `config.send_timeout`; `None` when no SMTP server is
    /// configured. An unusable URL or sender is a [`ConfigError`] naming
    /// `mail.smtp_url` or `mail.from` (never with the password). Nothing is
    /// connected yet.
    pub fn from_config(config: &MailConfig) -> Result<Option<SmtpMailer>, ConfigError> {
        let Some(url) = config.smtp_url.as_deref() else {
            return Ok(None);
        };
        let parsed = url::Url::parse(url).map_err(|e| {
            ConfigError::invalid("mail.smtp_url", format!("is not a URL ({e}); {URL_FORMS}"))
        })?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| {
                ConfigError::invalid(
                    "mail.smtp_url",
                    format!("{}; {URL_FORMS}", scrub(&e.to_string(), &parsed)),
                )
            })?
            .timeout(Some(config.send_timeout))
            .build();
        let from = config.from.as_deref().ok_or_else(|| {
            ConfigError::invalid(
                "mail.from",
                "is required with an SMTP server (e.g. `Agora <no-reply@example.com>`)",
            )
        })?;
        let from = from.parse::<Mailbox>().map_err(|e| {
            ConfigError::invalid(
                "mail.from",
                format!(
                    "{from:?} is not a mail address ({e}); expected e.g. \
                     `no-reply@example.com` or `Agora <no-reply@example.com>`"
                ),
            )
        })?;
        let tls = parsed.scheme() == "smtps"
            || parsed
                .query_pairs()
                .any(|(k, v)| k == "tls" && v == "required");
        if !tls && parsed.password().is_some() && !is_loopback(&parsed) {
            tracing::warn!(target: "agora::mail", server = %redacted(&parsed),
                "mail.smtp_url sends the SMTP password unencrypted: \
                 use smtps:// or ?tls=required");
        }
        Ok(Some(SmtpMailer {
            transport,
            from,
            server: redacted(&parsed),
        }))
    }

    /// The sender, as given in `mail.from`.
    pub fn sender(&self) -> &Mailbox {
        &self.from
    }

    /// The message for `mail`: From, To, Subject, Date, a Message-ID under
    /// the sender's domain, and a multipart/alternative body, text/plain
    /// then text/html.
    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        let to = recipient(mail.to.as_str())?;
        let message_id = format!(
            "<{}@{}>",
            agora_core::crypto::random_hex(16),
            self.from.email.domain()
        );
        Ok(Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject.replace(['\r', '\n'], " "))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))?)
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport.send(message).await?;
        Ok(())
    }
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// The recipient's address, its domain in ASCII (IDNA) so that servers
/// without SMTPUTF8 take it.
fn recipient(email: &str) -> Result<Address, MailError> {
    let (user, domain) = email
        .rsplit_once('@')
        .ok_or("the recipient is not a mail address")?;
    let domain = if domain.is_ascii() {
        domain.to_owned()
    } else {
        idna::domain_to_ascii(domain).map_err(|_| "the recipient's domain is not valid IDNA")?
    };
    Ok(Address::new(user, domain)?)
}

/// The URL with its password replaced by `***`, safe to print.
fn redacted(url: &url::Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Only fails for URLs that cannot have a password, which this one has.
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// `message` with any occurrence of the URL's password (raw or
/// percent-decoded) replaced by `***`.
fn scrub(message: &str, url: &url::Url) -> String {
    let Some(password) = url.password().filter(|p| !p.is_empty()) else {
        return message.to_owned();
    };
    let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
    let mut message = message.replace(password, "***");
    if !decoded.is_empty() {
        message = message.replace(decoded.as_ref(), "***");
    }
    message
}

/// Whether the URL's host is this machine.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_scrubbed_raw_and_decoded() {
        let url = url::Url::parse("smtp://u:p%40ss@h:25").expect("a URL");
        assert_eq!(redacted(&url), "smtp://u:***@h:25");
        assert_eq!(scrub("x p%40ss y p@ss z", &url), "x *** y *** z");
    }

    #[test]
    fn international_recipients_are_sent_in_ascii() {
        let address = recipient("ada@bücher.de").expect("an address");
        assert_eq!(address.to_string(), "ada@xn--bcher-kva.de");
    }
}
