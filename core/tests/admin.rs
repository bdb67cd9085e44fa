//! The operator services (`Agora::admin_*`, behind `cargo run --example
//! admin`), on the in-memory store: registration rules without throttling,
//! a password set by address ending every session and killing reset links,
//! sessions revoked by address, and both run 100 at once.

use std::sync::Arc;
use std::time::Duration;

use agora_core::config::JwtSecret;
use agora_core::crypto::password::HashParams;
use agora_core::crypto::{random_hex, token_hash};
use agora_core::domain::ClientInfo;
use agora_core::mail::MailKind;
use agora_core::schema::{LoginRequest, RefreshRequest, ResetPasswordRequest, Token, UserCreate};
use agora_core::storage::memory::MemoryStore;
use agora_core::storage::{AccountToken, AccountTokenStore, TokenIssue};
use agora_core::throttle::Limit;
use agora_core::{Agora, Config, Email, Error};

const PASSWORD: &str = "plum orchard at dusk";
const NEW_PASSWORD: &str = "lanterns over the harbour";
const ADA: &str = "ada@example.com";

/// Agora on `store`, with cheap hashing and registrations throttled to 2
/// per client IP per hour.
fn agora_on(store: Arc<MemoryStore>) -> Agora {
    let mut config = Config::default();
    config.tokens.secret = Some(JwtSecret::generate());
    config.hashing.params = HashParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    config.throttle.register_ip = Limit {
        max: 2,
        window: Duration::from_secs(3600),
    };
    Agora::new(store, &config).expect("valid configuration")
}

fn agora() -> Agora {
    agora_on(Arc::new(MemoryStore::new()))
}

fn create(email: &str, password: &str, username: Option<&str>) -> UserCreate {
    UserCreate {
        email: email.to_owned(),
        password: password.to_owned(),
        username: username.map(str::to_owned),
    }
}

async fn login(agora: &Agora, email: &str, password: &str) -> Result<Token, Error> {
    let request = LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
    };
    agora.login(request, &ClientInfo::default()).await
}

async fn refresh(agora: &Agora, token: &Token) -> Result<Token, Error> {
    let request = RefreshRequest {
        refresh_token: token.refresh_token.clone(),
    };
    agora.refresh(request, &ClientInfo::default()).await
}

/// Whether both tokens of `token` are refused: the access token as
/// unauthenticated, the refresh token too.
async fn both_refused(agora: &Agora, token: &Token) -> bool {
    matches!(
        agora.authenticate(&token.access_token).await,
        Err(Error::Unauthorized)
    ) && matches!(refresh(agora, token).await, Err(Error::Unauthorized))
}

fn fields(error: &Error) -> Vec<String> {
    error
        .field_errors()
        .iter()
        .map(|f| f.loc.join("."))
        .collect()
}

#[tokio::test]
async fn create_user_follows_the_registration_rules_without_throttling() {
    let agora = agora();
    // Registrations from one IP are throttled after 2; an operator is not.
    let client = ClientInfo::from_request(Some([192, 0, 2, 1].into()), None, None);
    for n in 0..2 {
        let email = format!("web{n}@example.com");
        agora
            .register(create(&email, PASSWORD, None), &client)
            .await
            .expect("registered");
    }
    let third = agora
        .register(create("web2@example.com", PASSWORD, None), &client)
        .await;
    assert!(matches!(third, Err(Error::RateLimited { .. })), "{third:?}");
    for n in 0..5 {
        let email = format!("op{n}@example.com");
        agora
            .admin_create_user(create(&email, PASSWORD, None))
            .await
            .expect("created by the operator");
    }

    let ada = agora
        .admin_create_user(create("Ada@Example.COM", PASSWORD, Some("ada")))
        .await
        .expect("created");
    assert_eq!(ada.email.as_ref().map(Email::as_str), Some(ADA));
    assert_eq!(ada.username.map(|u| u.to_string()).as_deref(), Some("ada"));
    let token = login(&agora, ADA, PASSWORD).await.expect("logs in");
    assert_eq!(
        agora
            .authenticate(&token.access_token)
            .await
            .expect("token")
            .id(),
        ada.id
    );

    let taken = agora
        .admin_create_user(create("ADA@example.com", NEW_PASSWORD, None))
        .await;
    assert!(
        matches!(&taken, Err(Error::EmailTaken(email)) if email == ADA),
        "{taken:?}"
    );
    let taken = agora
        .admin_create_user(create("other@example.com", PASSWORD, Some("ADA")))
        .await;
    assert!(matches!(taken, Err(Error::UsernameTaken(_))), "{taken:?}");
    // Every broken rule at once: malformed address, common password, bad username.
    let refused = agora
        .admin_create_user(create("not an address", "password", Some("a b")))
        .await
        .expect_err("refused");
    assert_eq!(
        fields(&refused),
        ["body.email", "body.password", "body.username"]
    );
}

#[tokio::test]
async fn set_password_ends_every_session_and_kills_reset_links() {
    let store = Arc::new(MemoryStore::new());
    let agora = agora_on(store.clone());
    let ada = agora
        .admin_create_user(create(ADA, PASSWORD, None))
        .await
        .expect("created");
    let first = login(&agora, ADA, PASSWORD).await.expect("logs in");
    let second = login(&agora, ADA, PASSWORD).await.expect("logs in");
    let reset = random_hex(32);
    let created_at = agora_core::domain::now();
    let issued = store
        .issue_token(
            &Email::parse(ADA).expect("email"),
            &AccountToken {
                token_hash: token_hash(&reset),
                purpose: MailKind::PasswordReset,
                created_at,
                expires_at: created_at + chrono::Duration::hours(1),
            },
            Limit {
                max: 3,
                window: Duration::from_secs(900),
            },
        )
        .await
        .expect("issued");
    assert!(matches!(issued, TokenIssue::Issued(_)));

    // The password policy applies, and a refused password changes nothing.
    let weak = agora
        .admin_set_password(ADA, "password".to_owned())
        .await
        .expect_err("common password refused");
    assert_eq!(fields(&weak), ["password"]);
    agora
        .authenticate(&first.access_token)
        .await
        .expect("still logged in");

    let change = agora
        .admin_set_password("ADA@example.com", NEW_PASSWORD.to_owned())
        .await
        .expect("set")
        .expect("the account exists");
    assert_eq!(change.user, ada.id);
    assert_eq!(change.sessions_ended, 2);
    assert!(both_refused(&agora, &first).await);
    assert!(both_refused(&agora, &second).await);
    assert!(matches!(
        login(&agora, ADA, PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    let fresh = login(&agora, ADA, NEW_PASSWORD)
        .await
        .expect("new password");
    refresh(&agora, &fresh)
        .await
        .expect("new session refreshes");
    let used = agora
        .reset_password(
            ResetPasswordRequest {
                token: reset,
                new_password: "a third fine password".to_owned(),
            },
            &ClientInfo::default(),
        )
        .await;
    assert!(
        matches!(used, Err(Error::ResetPasswordBadToken)),
        "{used:?}"
    );

    assert_eq!(
        agora
            .admin_set_password("nobody@example.com", NEW_PASSWORD.to_owned())
            .await
            .expect("no error"),
        None
    );
    let malformed = agora
        .admin_set_password("nobody", NEW_PASSWORD.to_owned())
        .await
        .expect_err("malformed");
    assert_eq!(fields(&malformed), ["email"]);
}

#[tokio::test]
async fn revoke_sessions_ends_every_session_and_counts_them() {
    let agora = agora();
    let ada = agora
        .admin_create_user(create(ADA, PASSWORD, None))
        .await
        .expect("created");
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(login(&agora, ADA, PASSWORD).await.expect("logs in"));
    }
    let change = agora
        .admin_revoke_sessions(ADA)
        .await
        .expect("revoked")
        .expect("the account exists");
    assert_eq!(change.user, ada.id);
    assert_eq!(change.sessions_ended, 3);
    for token in &tokens {
        assert!(both_refused(&agora, token).await);
    }
    // The password is unchanged: the user logs in again.
    let token = login(&agora, ADA, PASSWORD).await.expect("logs in again");
    agora
        .authenticate(&token.access_token)
        .await
        .expect("new session works");
    let again = agora.admin_revoke_sessions(ADA).await.expect("revoked");
    assert_eq!(again.map(|c| c.sessions_ended), Some(1));
    assert_eq!(
        agora
            .admin_revoke_sessions("nobody@example.com")
            .await
            .expect("no error"),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_revocations_and_password_sets_end_each_session_once() {
    let agora = agora();
    agora
        .admin_create_user(create(ADA, PASSWORD, None))
        .await
        .expect("created");
    let mut before = Vec::new();
    for _ in 0..5 {
        before.push(login(&agora, ADA, PASSWORD).await.expect("logs in"));
    }
    let calls: Vec<_> = (0..100)
        .map(|n| {
            let agora = agora.clone();
            tokio::spawn(async move {
                if n % 2 == 0 {
                    agora.admin_revoke_sessions(ADA).await
                } else {
                    agora.admin_set_password(ADA, NEW_PASSWORD.to_owned()).await
                }
            })
        })
        .collect();
    let mut ended = 0;
    for call in calls {
        let change = call
            .await
            .expect("task")
            .expect("no error")
            .expect("the account exists");
        ended += change.sessions_ended;
    }
    // Each of the 5 sessions ended exactly once, whatever the interleaving.
    assert_eq!(ended, 5);
    for token in &before {
        assert!(both_refused(&agora, token).await);
    }
    assert!(matches!(
        login(&agora, ADA, PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    let token = login(&agora, ADA, NEW_PASSWORD)
        .await
        .expect("new password");
    refresh(&agora, &token).await.expect("the account works");
}
