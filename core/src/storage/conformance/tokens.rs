//! Conformance cases of account tokens: password reset and address
//! verification, their binding and single use, and the per-address cap,
//! under concurrency.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{email, user};
use crate::crypto::token_hash;
use crate::domain::{RefreshTokenRecord, Session, now};
use crate::mail::MailKind;
use crate::storage::{AccountToken, Store, TokenIssue};
use crate::throttle::Limit;

const CAP: Limit = Limit {
    max: 3,
    window: Duration::from_secs(900),
};

fn token(raw: &str, purpose: MailKind, at: DateTime<Utc>) -> AccountToken {
    AccountToken {
        token_hash: token_hash(raw),
        purpose,
        created_at: at,
        expires_at: at + chrono::Duration::hours(1),
    }
}

async fn issue(store: &dyn Store, tag: &str, raw: &str, purpose: MailKind) -> TokenIssue {
    store
        .issue_token(&email(tag), &token(raw, purpose, now()), CAP)
        .await
        .expect("issue")
}

/// Tokens are issued to existing accounts only, found case-insensitively,
/// and each works for its own purpose only.
pub async fn account_tokens_are_bound_to_their_purpose(store: Arc<dyn Store>) {
    let ada = user(&*store, "ada").await;
    let upper = crate::domain::Email::from_trusted("ADA@example.com".to_owned());
    let issued = store
        .issue_token(&upper, &token("r1", MailKind::PasswordReset, now()), CAP)
        .await
        .unwrap();
    assert!(
        matches!(issued, TokenIssue::Issued(ref u) if u.id == ada.id),
        "{issued:?}"
    );
    assert_eq!(
        issue(&*store, "nobody", "x", MailKind::PasswordReset).await,
        TokenIssue::NoAccount
    );
    issue(&*store, "ada", "v1", MailKind::VerifyEmail).await;
    let (reset, verify) = (token_hash("r1"), token_hash("v1"));
    let t = now();
    assert_eq!(
        store
            .live_token(&reset, MailKind::PasswordReset, t)
            .await
            .unwrap(),
        Some(ada.id)
    );
    assert_eq!(
        store
            .live_token(&reset, MailKind::VerifyEmail, t)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.verify_email(&reset, t).await.unwrap(), None);
    assert_eq!(
        store.reset_password(&verify, "$new", t).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .live_token(&token_hash("unknown"), MailKind::PasswordReset, t)
            .await
            .unwrap(),
        None
    );
    // Expired: not live.
    let later = t + chrono::Duration::hours(2);
    assert_eq!(
        store.reset_password(&reset, "$new", later).await.unwrap(),
        None
    );
    let verified = store
        .verify_email(&verify, t)
        .await
        .unwrap()
        .expect("verified");
    assert!(verified.email_verified);
    assert!(
        store
            .get_user(ada.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    // Verified: no new verification token, and the used one is spent.
    assert_eq!(
        issue(&*store, "ada", "v2", MailKind::VerifyEmail).await,
        TokenIssue::AlreadyVerified
    );
    assert_eq!(store.verify_email(&verify, t).await.unwrap(), None);
}

/// A reset sets the password, ends every session and kills every other
/// reset token of the user; a password change by another route kills them
/// too.
pub async fn a_reset_is_single_use_and_kills_other_tokens_and_sessions(store: Arc<dyn Store>) {
    let ada = user(&*store, "ada").await;
    let t = now();
    let session = Session {
        id: "s1".to_owned(),
        user_id: ada.id,
        created_at: t,
        last_used_at: t,
        expires_at: t + chrono::Duration::days(1),
        revoked_at: None,
        user_agent: None,
        ip: None,
    };
    let refresh = RefreshTokenRecord {
        token_hash: token_hash("refresh"),
        session_id: "s1".to_owned(),
        created_at: t,
        expires_at: t + chrono::Duration::days(1),
    };
    assert!(
        store
            .create_session(&session, "key", 0, &refresh)
            .await
            .unwrap()
    );
    issue(&*store, "ada", "first", MailKind::PasswordReset).await;
    issue(&*store, "ada", "second", MailKind::PasswordReset).await;
    let (first, second) = (token_hash("first"), token_hash("second"));
    assert_eq!(
        store.reset_password(&first, "$new", t).await.unwrap(),
        Some((ada.id, 1))
    );
    let credentials = store
        .find_credentials(&email("ada"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.password_hash, "$new");
    assert!(store.session_user(ada.id, "s1").await.unwrap().is_none());
    assert_eq!(
        store.reset_password(&first, "$again", t).await.unwrap(),
        None
    );
    assert_eq!(
        store.reset_password(&second, "$again", t).await.unwrap(),
        None
    );
    // A password change by another route kills outstanding tokens.
    issue(&*store, "ada", "third", MailKind::PasswordReset).await;
    store
        .end_sessions(ada.id, None, Some("$changed"), t)
        .await
        .unwrap();
    assert_eq!(
        store
            .reset_password(&token_hash("third"), "$x", t)
            .await
            .unwrap(),
        None
    );
    let credentials = store
        .find_credentials(&email("ada"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.password_hash, "$changed");
}

/// 100 concurrent uses of one reset token: exactly one succeeds; 100
/// concurrent uses of two tokens of one user: exactly one succeeds.
pub async fn concurrent_resets_succeed_exactly_once(store: Arc<dyn Store>) {
    let ada = user(&*store, "ada").await;
    issue(&*store, "ada", "a", MailKind::PasswordReset).await;
    issue(&*store, "ada", "b", MailKind::PasswordReset).await;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = Arc::clone(&store);
            let raw = if i % 2 == 0 { "a" } else { "b" };
            tokio::spawn(async move {
                store
                    .reset_password(&token_hash(raw), &format!("$hash{i}"), now())
                    .await
                    .expect("reset")
            })
        })
        .collect();
    let mut succeeded = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        if task.await.expect("task ran").is_some() {
            succeeded.push(i);
        }
    }
    assert_eq!(succeeded.len(), 1, "{succeeded:?}");
    let credentials = store
        .find_credentials(&email("ada"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.password_hash, format!("$hash{}", succeeded[0]));
    assert_eq!(credentials.user.id, ada.id);
}

/// 100 concurrent mail requests for one address issue exactly `cap.max`
/// tokens; the window moving on allows more.
pub async fn concurrent_mail_requests_issue_at_most_the_cap(store: Arc<dyn Store>) {
    user(&*store, "ada").await;
    let t = now();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = Arc::clone(&store);
            let purpose = if i % 2 == 0 {
                MailKind::PasswordReset
            } else {
                MailKind::VerifyEmail
            };
            tokio::spawn(async move {
                store
                    .issue_token(&email("ada"), &token(&format!("t{i}"), purpose, t), CAP)
                    .await
                    .expect("issue")
            })
        })
        .collect();
    let mut issued = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            TokenIssue::Issued(_) => issued += 1,
            TokenIssue::Capped => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(issued, 3);
    let later = t + chrono::Duration::minutes(16);
    let again = store
        .issue_token(
            &email("ada"),
            &token("after", MailKind::PasswordReset, later),
            CAP,
        )
        .await
        .unwrap();
    assert!(matches!(again, TokenIssue::Issued(_)), "{again:?}");
}

/// 100 concurrent uses of one verification token: exactly one succeeds.
pub async fn concurrent_verifications_succeed_exactly_once(store: Arc<dyn Store>) {
    user(&*store, "ada").await;
    issue(&*store, "ada", "v", MailKind::VerifyEmail).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .verify_email(&token_hash("v"), now())
                    .await
                    .expect("verify")
            })
        })
        .collect();
    let mut verified = 0;
    for task in tasks {
        if task.await.expect("task ran").is_some() {
            verified += 1;
        }
    }
    assert_eq!(verified, 1);
}

/// Deleting a user deletes their tokens.
pub async fn deleting_a_user_removes_their_tokens(store: Arc<dyn Store>) {
    let ada = user(&*store, "ada").await;
    issue(&*store, "ada", "r", MailKind::PasswordReset).await;
    assert!(store.delete_user(ada.id).await.unwrap());
    assert_eq!(
        store
            .live_token(&token_hash("r"), MailKind::PasswordReset, now())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reset_password(&token_hash("r"), "$x", now())
            .await
            .unwrap(),
        None
    );
}
