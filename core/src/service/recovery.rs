//! Account recovery and address verification: mail requests answered the
//! same for every address, mail delivered off the request path, and the
//! single-use tokens the mails carry.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Agora;
use super::audit::Audit;
use crate::crypto::{random_hex, token_hash};
use crate::domain::{ClientInfo, Email, User, UserId, now};
use crate::error::{Error, Result};
use crate::mail::{Mail, MailKind};
use crate::schema::{EmailRequest, ResetPasswordRequest, VerifyRequest};
use crate::storage::{AccountToken, TokenIssue};

/// Mails queued or being sent at most; a request beyond it is answered the
/// same and its mail dropped (logged).
pub(super) const MAX_PENDING_MAILS: usize = 1024;
/// Mails prepared or sent at once.
pub(super) const CONCURRENT_MAILS: usize = 4;
/// Tokens longer than this are not looked up.
const MAX_TOKEN_LEN: usize = 256;
/// Random bytes in a token (256 bits), sent hex-encoded.
const TOKEN_BYTES: usize = 32;

/// The stored hash of a presented token; `None` for one that cannot be ours.
fn presented(token: &str) -> Option<String> {
    (!token.is_empty() && token.len() <= MAX_TOKEN_LEN).then(|| token_hash(token))
}

/// Counts a queued mail until dropped, even if its task is cancelled.
struct Pending<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Agora {
    /// `POST /forgot-password`: queues a mail with a password reset link
    /// for the account with this address, if there is one, and returns at
    /// once: the answer, and its time, are the same for every address. A
    /// malformed address is [`Error::Validation`]; requests are throttled
    /// per client IP ([`Error::RateLimited`]) and each address gets at most
    /// `MailConfig::per_address` mails.
    pub async fn forgot_password(&self, request: EmailRequest, client: &ClientInfo) -> Result<()> {
        self.request_mail(MailKind::PasswordReset, request, client)
            .await
    }

    /// `POST /request-verify-token`: like [`Agora::forgot_password`], with
    /// an address verification link; an address verified already gets
    /// nothing.
    pub async fn request_verify_token(
        &self,
        request: EmailRequest,
        client: &ClientInfo,
    ) -> Result<()> {
        self.request_mail(MailKind::VerifyEmail, request, client)
            .await
    }

    async fn request_mail(
        &self,
        kind: MailKind,
        request: EmailRequest,
        client: &ClientInfo,
    ) -> Result<()> {
        // A validated address: no CR, LF or other header content goes further.
        let email = Email::parse(&request.email).map_err(|e| e.within(&["body", "email"]))?;
        self.inner.throttle.check_mail_request(client.ip).await?;
        self.queue_mail(kind, email);
        Ok(())
    }

    /// Hands the mail to a background task; never waits for it.
    fn queue_mail(&self, kind: MailKind, email: Email) {
        let inner = &self.inner;
        if inner.mail.public_url.is_none() {
            return; // said at start-up
        }
        if inner.pending_mails.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_MAILS {
            inner.pending_mails.fetch_sub(1, Ordering::AcqRel);
            // Said at the 1st, 2nd, 4th, 8th... drop: a flood of requests
            // does not become a flood of log lines.
            let dropped = inner.dropped_mails.fetch_add(1, Ordering::Relaxed) + 1;
            crate::metrics::record_mail(kind, crate::metrics::MailOutcome::Dropped);
            if dropped.is_power_of_two() {
                tracing::warn!(target: "agora::mail", kind = kind.as_str(), dropped,
                    "too many mails queued ({MAX_PENDING_MAILS}): mails are dropped");
            }
            return;
        }
        let agora = self.clone();
        tokio::spawn(async move {
            let _pending = Pending(&agora.inner.pending_mails);
            let Ok(_turn) = agora.inner.mail_turns.acquire().await else {
                return;
            };
            agora.deliver(kind, email).await;
        });
    }

    /// Issues a token for the address and mails its link, retrying with
    /// back-off; failures are logged (without the token) and go no further.
    async fn deliver(&self, kind: MailKind, email: Email) {
        let config = &self.inner.mail;
        let token = random_hex(TOKEN_BYTES);
        let created_at = now();
        let ttl = chrono::Duration::from_std(config.ttl(kind)).unwrap_or(chrono::Duration::MAX);
        let record = AccountToken {
            token_hash: token_hash(&token),
            purpose: kind,
            created_at,
            expires_at: created_at + ttl,
        };
        let issued = self
            .with_retries(kind, None, || {
                self.inner
                    .store
                    .issue_token(&email, &record, config.per_address)
            })
            .await;
        let user = match issued {
            Some(TokenIssue::Issued(user)) => user,
            Some(other) => {
                let outcome = match other {
                    TokenIssue::NoAccount => "no_account",
                    TokenIssue::AlreadyVerified => "already_verified",
                    _ => "capped",
                };
                Audit::new("mail_request")
                    .outcome(outcome)
                    .kind(kind.as_str())
                    .info();
                return;
            }
            None => {
                crate::metrics::record_mail(kind, crate::metrics::MailOutcome::Failed);
                return;
            }
        };
        let Some(link) = config.link(kind, &token) else {
            return;
        };
        let (subject, text, html) = config.templates.of(kind).render(&link, config.ttl(kind));
        let mail = Mail {
            kind,
            to: email,
            subject,
            text,
            html,
            link,
        };
        let sent = self
            .with_retries(kind, Some(user.id), || async {
                match tokio::time::timeout(config.send_timeout, self.inner.mailer.send(&mail)).await
                {
                    Ok(result) => result,
                    Err(_) => Err("timed out".into()),
                }
            })
            .await;
        let outcome = match sent {
            Some(()) => crate::metrics::MailOutcome::Sent,
            None => crate::metrics::MailOutcome::Failed,
        };
        crate::metrics::record_mail(kind, outcome);
        if sent.is_some() {
            Audit::new("mail_sent")
                .kind(kind.as_str())
                .user(user.id)
                .info();
        }
    }

    /// Runs `step` up to `MailConfig::attempts` times, waiting
    /// `retry_base` and then twice as long each time between failures,
    /// which are logged; `None` when every attempt failed.
    async fn with_retries<T, E, F, Fut>(
        &self,
        kind: MailKind,
        user: Option<UserId>,
        mut step: F,
    ) -> Option<T>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, E>>,
    {
        let config = &self.inner.mail;
        let mut wait = config.retry_base;
        for attempt in 1..=config.attempts {
            match step().await {
                Ok(value) => return Some(value),
                Err(e) if attempt < config.attempts => {
                    tracing::warn!(target: "agora::mail", kind = kind.as_str(), user_id = user.map(|u| u.0),
                        attempt, error = %e, retry_in = ?wait, "mail delivery failed; retrying");
                }
                Err(e) => {
                    tracing::error!(target: "agora::mail", kind = kind.as_str(), user_id = user.map(|u| u.0),
                        attempts = attempt, error = %e, "mail delivery failed; giving up");
                }
            }
            if attempt < config.attempts {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2).min(Duration::from_secs(3600));
            }
        }
        None
    }

    /// `POST /reset-password`: sets a new password with the token of a
    /// reset link. The password follows the registration rules (a weak one
    /// is [`Error::Validation`] and the token stays usable); success uses
    /// the token up, kills every other reset token of the user and ends
    /// every session (their access and refresh tokens are refused at once).
    /// A token that is unknown, used, expired, of the other purpose, or
    /// older than the last password change is
    /// [`Error::ResetPasswordBadToken`], also when two uses race.
    pub async fn reset_password(
        &self,
        request: ResetPasswordRequest,
        client: &ClientInfo,
    ) -> Result<()> {
        let bad = || {
            Audit::new("password_reset")
                .outcome("bad_token")
                .client(client)
                .info();
            Error::ResetPasswordBadToken
        };
        let hash = presented(&request.token).ok_or_else(bad)?;
        let store = &self.inner.store;
        if store
            .live_token(&hash, MailKind::PasswordReset, now())
            .await?
            .is_none()
        {
            return Err(bad());
        }
        let password = self.new_password(request.new_password, "new_password")?;
        let new_hash = self.inner.hasher.hash(&password).await?;
        let (user, ended) = store
            .reset_password(&hash, &new_hash, now())
            .await?
            .ok_or_else(bad)?;
        Audit::new("password_reset")
            .outcome("success")
            .user(user)
            .sessions_ended(ended)
            .client(client)
            .info();
        Ok(())
    }

    /// `POST /verify`: marks the address of the token's user verified and
    /// returns the user. A token that is unknown, used, expired or of the
    /// other purpose, or whose address is verified already, is
    /// [`Error::VerifyBadToken`].
    pub async fn verify_email(&self, request: VerifyRequest, client: &ClientInfo) -> Result<User> {
        let verified = match presented(&request.token) {
            Some(hash) => self.inner.store.verify_email(&hash, now()).await?,
            None => None,
        };
        let Some(user) = verified else {
            Audit::new("verify_email")
                .outcome("bad_token")
                .client(client)
                .info();
            return Err(Error::VerifyBadToken);
        };
        Audit::new("verify_email")
            .outcome("success")
            .user(user.id)
            .client(client)
            .info();
        Ok(user)
    }
}
