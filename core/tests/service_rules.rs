//! Every service rule, proven on the in-memory store (no database):
//! visibility, ownership, votes, session rotation and reuse, logout, password
//! change, account deletion, hidden emails, throttling, and account mail
//! (password reset and address verification).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use agora_core::config::JwtSecret;
use agora_core::crypto::password::HashParams;
use agora_core::domain::{Caller, ClientInfo};
use agora_core::mail::{Mail, MailError, MailKind, Mailer};
use agora_core::schema::{
    AccountDeletion, CommentCreate, EmailRequest, ListQuery, LoginRequest, PasswordChange,
    PostCreate, ProfileUpdate, RefreshRequest, ResetPasswordRequest, Token, UserCreate,
    VerifyRequest, VoteRequest,
};
use agora_core::storage::memory::MemoryStore;
use agora_core::{Agora, Config, Error, Post, PostId, User, UserId};
use serde_json::json;

const PASSWORD: &str = "plum orchard at dusk";
const NEW_PASSWORD: &str = "lanterns over the harbour";

/// The configuration of these tests: a fresh secret, cheap hashing, and
/// `adjust` applied.
fn config_with(adjust: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    config.tokens.secret = Some(JwtSecret::generate());
    config.hashing.params = HashParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    adjust(&mut config);
    config
}

/// Agora on a fresh memory store, with cheap hashing and `adjust` applied
/// to the configuration.
fn agora_with(adjust: impl FnOnce(&mut Config)) -> Agora {
    Agora::new(Arc::new(MemoryStore::new()), &config_with(adjust)).expect("valid configuration")
}

fn agora() -> Agora {
    agora_with(|_| {})
}

fn email(name: &str) -> String {
    format!("{name}@example.com")
}

async fn register(agora: &Agora, name: &str) -> User {
    let request = UserCreate {
        email: email(name),
        password: PASSWORD.to_owned(),
        // Names of three characters or more double as usernames.
        username: Some(name.to_owned()).filter(|n| n.len() >= 3),
    };
    agora
        .register(request, &ClientInfo::default())
        .await
        .expect("registered")
}

async fn login_with(agora: &Agora, name: &str, password: &str) -> Result<Token, Error> {
    let request = LoginRequest {
        email: email(name),
        password: password.to_owned(),
    };
    agora.login(request, &ClientInfo::default()).await
}

async fn login(agora: &Agora, name: &str) -> Token {
    login_with(agora, name, PASSWORD).await.expect("logged in")
}

/// Registers `name`, logs in and authenticates with the access token.
async fn signed_up(agora: &Agora, name: &str) -> (Caller, Token) {
    register(agora, name).await;
    let token = login(agora, name).await;
    (caller(agora, &token).await, token)
}

async fn caller(agora: &Agora, token: &Token) -> Caller {
    agora
        .authenticate(&token.access_token)
        .await
        .expect("access token accepted")
}

async fn refresh(agora: &Agora, token: &Token) -> Result<Token, Error> {
    let request = RefreshRequest {
        refresh_token: token.refresh_token.clone(),
    };
    agora.refresh(request, &ClientInfo::default()).await
}

/// Whether the access token of `token` is refused as unauthenticated (401).
async fn refused(agora: &Agora, token: &Token) -> bool {
    matches!(
        agora.authenticate(&token.access_token).await,
        Err(Error::Unauthorized)
    )
}

fn post(title: &str, published: bool) -> PostCreate {
    PostCreate {
        title: title.to_owned(),
        content: format!("about {title}"),
        published,
        description: None,
        tags: None,
    }
}

async fn create(agora: &Agora, caller: &Caller, title: &str, published: bool) -> Post {
    agora
        .create_post(caller, post(title, published))
        .await
        .expect("post created")
}

async fn listed(agora: &Agora, caller: &Caller) -> Vec<PostId> {
    let query = ListQuery::new(100, 0, None, String::new()).expect("valid query");
    let posts = agora.list_posts(caller, query).await.expect("listed");
    posts.into_iter().map(|p| p.post.id).collect()
}

fn status<T: std::fmt::Debug>(result: Result<T, Error>) -> u16 {
    result.expect_err("an error").status_code()
}

fn vote(post: PostId, dir: i64) -> VoteRequest {
    VoteRequest {
        post_id: post.0,
        dir,
    }
}

#[tokio::test]
async fn unpublished_posts_are_seen_by_their_owner_only() {
    let agora = agora();
    let (alice, _) = signed_up(&agora, "alice").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let draft = create(&agora, &alice, "draft", false).await;
    let public = create(&agora, &alice, "public", true).await;

    assert_eq!(
        agora.get_post(&alice, draft.id).await.expect("seen").post,
        draft
    );
    assert_eq!(listed(&agora, &alice).await, vec![public.id, draft.id]);
    // To anyone else it does not exist: 404 like a missing post.
    assert_eq!(status(agora.get_post(&bob, draft.id).await), 404);
    assert_eq!(listed(&agora, &bob).await, vec![public.id]);
    assert_eq!(status(agora.vote(&bob, vote(draft.id, 1)).await), 404);
    assert_eq!(status(agora.get_post(&bob, PostId(i64::MAX)).await), 404);
}

#[tokio::test]
async fn only_the_owner_updates_or_deletes_a_post() {
    let agora = agora();
    let (alice, _) = signed_up(&agora, "alice").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let p = create(&agora, &alice, "mine", true).await;

    assert!(matches!(
        agora.update_post(&bob, p.id, post("stolen", true)).await,
        Err(Error::NotOwner)
    ));
    assert!(matches!(
        agora.delete_post(&bob, p.id).await,
        Err(Error::NotOwner)
    ));
    assert_eq!(agora.get_post(&bob, p.id).await.expect("kept").post, p);

    let updated = agora
        .update_post(&alice, p.id, post("edited", false))
        .await
        .expect("owner updates");
    assert_eq!(
        (updated.title.as_str(), updated.published),
        ("edited", false)
    );
    // Now unpublished: hidden from bob, so 404 rather than 403.
    assert_eq!(
        status(agora.update_post(&bob, p.id, post("x", true)).await),
        404
    );
    agora
        .delete_post(&alice, p.id)
        .await
        .expect("owner deletes");
    assert_eq!(status(agora.get_post(&alice, p.id).await), 404);
    assert_eq!(status(agora.delete_post(&alice, p.id).await), 404);
    assert_eq!(
        status(agora.update_post(&alice, p.id, post("x", true)).await),
        404
    );
}

#[tokio::test]
async fn a_vote_is_counted_once_and_removed_once() {
    let agora = agora();
    let (alice, _) = signed_up(&agora, "alice").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let p = create(&agora, &alice, "votable", true).await;
    let votes = |caller| {
        let agora = agora.clone();
        async move { agora.get_post(caller, p.id).await.expect("found").votes }
    };

    agora.vote(&bob, vote(p.id, 1)).await.expect("voted");
    assert!(matches!(
        agora.vote(&bob, vote(p.id, 1)).await,
        Err(Error::VoteExists { user, post }) if (user, post) == (bob.id(), p.id)
    ));
    assert_eq!(votes(&alice).await, 1);
    agora.vote(&alice, vote(p.id, 1)).await.expect("voted");
    assert_eq!(votes(&bob).await, 2);

    agora.vote(&bob, vote(p.id, 0)).await.expect("unvoted");
    assert!(matches!(
        agora.vote(&bob, vote(p.id, 0)).await,
        Err(Error::VoteNotFound)
    ));
    assert_eq!(votes(&bob).await, 1);
    assert_eq!(
        status(agora.vote(&bob, vote(PostId(i64::MAX), 1)).await),
        404
    );
    assert_eq!(status(agora.vote(&bob, vote(p.id, 2)).await), 422);
}

#[tokio::test]
async fn a_taken_email_cannot_register_again() {
    let agora = agora();
    register(&agora, "alice").await;
    let again = UserCreate {
        username: None,
        email: "ALICE@example.com".to_owned(),
        password: PASSWORD.to_owned(),
    };
    assert!(matches!(
        agora.register(again, &ClientInfo::default()).await,
        Err(Error::EmailTaken(_))
    ));
}

#[tokio::test]
async fn refreshing_rotates_the_tokens_and_a_reused_token_ends_the_session() {
    let agora = agora_with(|c| c.sessions.reuse_grace = Duration::ZERO);
    let (_, first) = signed_up(&agora, "alice").await;
    let second = refresh(&agora, &first).await.expect("rotated");
    assert_ne!(second.refresh_token, first.refresh_token);
    caller(&agora, &second).await;

    tokio::time::sleep(Duration::from_millis(5)).await;
    // The first token again, past the grace window: probably stolen.
    assert!(matches!(
        refresh(&agora, &first).await,
        Err(Error::Unauthorized)
    ));
    assert!(refused(&agora, &second).await, "the session ended");
    assert!(refused(&agora, &first).await);
    assert!(matches!(
        refresh(&agora, &second).await,
        Err(Error::Unauthorized)
    ));
    // Logging in again starts a new session.
    caller(&agora, &login(&agora, "alice").await).await;
}

#[tokio::test]
async fn a_retry_within_the_grace_window_continues_the_one_chain() {
    let agora = agora();
    let (_, first) = signed_up(&agora, "alice").await;
    let second = refresh(&agora, &first).await.expect("rotated");
    let retried = refresh(&agora, &first).await.expect("within the grace");
    assert_eq!(retried.refresh_token, second.refresh_token);
    caller(&agora, &retried).await;
    let third = refresh(&agora, &second).await.expect("the chain goes on");
    caller(&agora, &third).await;
}

#[tokio::test]
async fn unknown_refresh_tokens_and_access_tokens_are_refused() {
    let agora = agora();
    let (_, token) = signed_up(&agora, "alice").await;
    for bogus in ["", "nope", token.access_token.as_str()] {
        let request = RefreshRequest {
            refresh_token: bogus.to_owned(),
        };
        assert!(matches!(
            agora.refresh(request, &ClientInfo::default()).await,
            Err(Error::Unauthorized)
        ));
    }
    assert!(matches!(
        agora.authenticate("not.a.token").await,
        Err(Error::Unauthorized)
    ));
}

#[tokio::test]
async fn logout_ends_the_current_session_only() {
    let agora = agora();
    let (phone, phone_token) = signed_up(&agora, "alice").await;
    let laptop_token = login(&agora, "alice").await;

    let sessions = agora.sessions(&phone).await.expect("listed");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);

    agora.logout(&phone).await.expect("logged out");
    assert!(refused(&agora, &phone_token).await);
    assert!(matches!(
        refresh(&agora, &phone_token).await,
        Err(Error::Unauthorized)
    ));
    let laptop = caller(&agora, &laptop_token).await;
    assert_eq!(agora.sessions(&laptop).await.expect("listed").len(), 1);
    refresh(&agora, &laptop_token)
        .await
        .expect("still refreshes");
}

#[tokio::test]
async fn ending_another_session_works_for_its_owner_only() {
    let agora = agora();
    let (alice, _) = signed_up(&agora, "alice").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let laptop_token = login(&agora, "alice").await;
    let laptop = caller(&agora, &laptop_token).await;
    let laptop_id = laptop.session().expect("a session").id.clone();

    assert!(matches!(
        agora.end_session(&bob, &laptop_id).await,
        Err(Error::SessionNotFound)
    ));
    caller(&agora, &laptop_token).await;
    agora
        .end_session(&alice, &laptop_id)
        .await
        .expect("ended by its owner");
    assert!(refused(&agora, &laptop_token).await);
    assert!(matches!(
        agora.end_session(&alice, &laptop_id).await,
        Err(Error::SessionNotFound)
    ));
}

#[tokio::test]
async fn logout_everywhere_ends_every_session() {
    let agora = agora();
    let (phone, phone_token) = signed_up(&agora, "alice").await;
    let laptop_token = login(&agora, "alice").await;
    let (_, bob_token) = signed_up(&agora, "bob").await;

    assert_eq!(agora.logout_all(&phone).await.expect("ended"), 2);
    for token in [&phone_token, &laptop_token] {
        assert!(refused(&agora, token).await);
        assert!(matches!(
            refresh(&agora, token).await,
            Err(Error::Unauthorized)
        ));
    }
    caller(&agora, &bob_token).await;
}

#[tokio::test]
async fn a_caller_without_a_session_cannot_act_on_sessions() {
    let agora = agora();
    let user = register(&agora, "alice").await;
    let vouched = Caller::acting_for(user);
    create(&agora, &vouched, "allowed", true).await;
    assert!(matches!(
        agora.logout(&vouched).await,
        Err(Error::Unauthorized)
    ));
    assert!(matches!(
        agora.sessions(&vouched).await,
        Err(Error::Unauthorized)
    ));
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_this_one() {
    let agora = agora();
    let (phone, phone_token) = signed_up(&agora, "alice").await;
    let laptop_token = login(&agora, "alice").await;
    let change = |current: &str| PasswordChange {
        current_password: current.to_owned(),
        new_password: NEW_PASSWORD.to_owned(),
    };

    assert!(matches!(
        agora.change_password(&phone, change("wrong guess")).await,
        Err(Error::InvalidCredentials)
    ));
    caller(&agora, &laptop_token).await;

    agora
        .change_password(&phone, change(PASSWORD))
        .await
        .expect("changed");
    let phone = caller(&agora, &phone_token).await;
    assert_eq!(agora.sessions(&phone).await.expect("listed").len(), 1);
    refresh(&agora, &phone_token)
        .await
        .expect("the current session goes on");
    assert!(refused(&agora, &laptop_token).await);
    assert!(matches!(
        refresh(&agora, &laptop_token).await,
        Err(Error::Unauthorized)
    ));
    assert!(matches!(
        login_with(&agora, "alice", PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    login_with(&agora, "alice", NEW_PASSWORD)
        .await
        .expect("the new password works");
}

#[tokio::test]
async fn a_deleted_account_leaves_no_token_working() {
    let agora = agora();
    let (alice, token) = signed_up(&agora, "alice").await;
    let other_token = login(&agora, "alice").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let p = create(&agora, &alice, "soon gone", true).await;
    agora.vote(&bob, vote(p.id, 1)).await.expect("voted");
    let deletion = |password: &str| AccountDeletion {
        password: password.to_owned(),
    };

    assert!(matches!(
        agora.delete_account(&alice, deletion("wrong guess")).await,
        Err(Error::InvalidCredentials)
    ));
    caller(&agora, &token).await;

    agora
        .delete_account(&alice, deletion(PASSWORD))
        .await
        .expect("deleted");
    for t in [&token, &other_token] {
        assert!(refused(&agora, t).await);
        assert!(matches!(refresh(&agora, t).await, Err(Error::Unauthorized)));
    }
    assert!(matches!(
        login_with(&agora, "alice", PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    assert_eq!(status(agora.get_user(alice.id()).await), 404);
    assert_eq!(status(agora.get_post(&bob, p.id).await), 404);
    // The posts went with the account, and so did creating more as it.
    assert_eq!(
        status(agora.create_post(&alice, post("ghost", true)).await),
        401
    );
}

#[tokio::test]
async fn hidden_emails_are_shown_to_their_owner_only() {
    let agora = agora_with(|c| c.hide_emails = true);
    let (alice, _) = signed_up(&agora, "alice").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let p = create(&agora, &bob, "bob's", true).await;

    assert_eq!(agora.get_user(bob.id()).await.expect("found").email, None);
    let seen_by_alice = agora.get_post(&alice, p.id).await.expect("found").post;
    assert_eq!(seen_by_alice.owner.email, None);
    assert_eq!(seen_by_alice.owner_id, bob.id());
    let seen_by_bob = agora.get_post(&bob, p.id).await.expect("found").post;
    assert_eq!(
        seen_by_bob.owner.email.map(|e| e.as_str().to_owned()),
        Some(email("bob"))
    );
    let query = ListQuery::new(10, 0, None, String::new()).expect("valid query");
    let listed = agora.list_posts(&alice, query).await.expect("listed");
    assert!(listed.iter().all(|p| p.post.owner.email.is_none()));
}

#[tokio::test]
async fn emails_are_shown_when_not_hidden() {
    let agora = agora();
    let (alice, _) = signed_up(&agora, "alice").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let p = create(&agora, &bob, "bob's", true).await;
    let bob_email = Some(email("bob"));
    let shown = |user: User| user.email.map(|e| e.as_str().to_owned());
    assert_eq!(
        shown(agora.get_user(bob.id()).await.expect("found")),
        bob_email
    );
    let seen_by_alice = agora.get_post(&alice, p.id).await.expect("found").post;
    assert_eq!(shown(seen_by_alice.owner), bob_email);
    assert_eq!(status(agora.get_user(UserId(i64::MAX)).await), 404);
}

/// Throttling with small limits: 3 failed logins per account, then a 30 s
/// wait; 2 registrations per IP.
fn throttled() -> Agora {
    agora_with(|c| {
        c.throttle.enabled = true;
        c.throttle.login_account.max = 3;
        c.throttle.backoff_base = Duration::from_secs(30);
        c.throttle.register_ip.max = 2;
    })
}

fn retry_after<T: std::fmt::Debug>(result: Result<T, Error>) -> u64 {
    let error = result.expect_err("throttled");
    assert_eq!(error.status_code(), 429, "{error:?}");
    let header = error
        .headers()
        .into_iter()
        .find(|(name, _)| *name == "retry-after")
        .map(|(_, value)| value);
    match error {
        Error::RateLimited {
            retry_after_secs, ..
        } => {
            assert_eq!(header, Some(retry_after_secs.to_string()));
            retry_after_secs
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_current_passwords_count_against_the_login_limit() {
    let agora = throttled();
    let (alice, _) = signed_up(&agora, "alice").await;
    let change = |current: &str| PasswordChange {
        current_password: current.to_owned(),
        new_password: NEW_PASSWORD.to_owned(),
    };
    for _ in 0..3 {
        assert!(matches!(
            agora.change_password(&alice, change("wrong guess")).await,
            Err(Error::InvalidCredentials)
        ));
    }
    // A stolen token does not buy unlimited guesses, and the limit is the
    // account's: logging in is refused as well, with the login policy.
    let refused = agora.change_password(&alice, change(PASSWORD)).await;
    assert!(retry_after(refused) >= 1);
    match login_with(&agora, "alice", PASSWORD).await {
        Err(Error::RateLimited { policy, .. }) => {
            assert_eq!(policy.map(|p| p.name), Some("login"));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_wrong_current_passwords_get_no_more_than_the_limit() {
    let agora = throttled();
    let (alice, _) = signed_up(&agora, "alice").await;
    let guesses = (0..100).map(|i| {
        let (agora, alice) = (agora.clone(), alice.clone());
        tokio::spawn(async move {
            let guess = PasswordChange {
                current_password: format!("wrong guess {i}"),
                new_password: NEW_PASSWORD.to_owned(),
            };
            agora.change_password(&alice, guess).await
        })
    });
    let mut checked = 0;
    for guess in guesses {
        match guess.await.expect("joined") {
            Err(Error::InvalidCredentials) => checked += 1,
            Err(Error::RateLimited { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // The limit is reserved before each check: 100 at once cannot all pass it.
    assert_eq!(checked, 3, "guesses checked");
}

#[tokio::test]
async fn logins_are_throttled_after_repeated_failures() {
    let agora = throttled();
    register(&agora, "alice").await;
    register(&agora, "bob").await;
    for _ in 0..3 {
        assert!(matches!(
            login_with(&agora, "alice", "wrong guess").await,
            Err(Error::InvalidCredentials)
        ));
    }
    // Even the right password waits now: the answer must not tell.
    let wait = retry_after(login_with(&agora, "alice", PASSWORD).await);
    assert!((1..=30).contains(&wait), "{wait}");
    retry_after(login_with(&agora, "alice", "wrong guess").await);
    // Per account: another account is unaffected.
    login(&agora, "bob").await;
}

#[tokio::test]
async fn a_successful_login_clears_the_failures() {
    let agora = throttled();
    register(&agora, "alice").await;
    for _ in 0..2 {
        assert!(login_with(&agora, "alice", "wrong guess").await.is_err());
    }
    login(&agora, "alice").await;
    for _ in 0..2 {
        assert!(matches!(
            login_with(&agora, "alice", "wrong guess").await,
            Err(Error::InvalidCredentials)
        ));
    }
    login(&agora, "alice").await;
}

#[tokio::test]
async fn registrations_are_throttled_per_client_ip() {
    let agora = throttled();
    let client = |last| ClientInfo {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))),
        user_agent: None,
    };
    let register_from = |name: &str, last| {
        let agora = agora.clone();
        let request = UserCreate {
            username: None,
            email: email(name),
            password: PASSWORD.to_owned(),
        };
        async move { agora.register(request, &client(last)).await }
    };
    register_from("a", 7).await.expect("first");
    register_from("b", 7).await.expect("second");
    assert!(retry_after(register_from("c", 7).await) > 0);
    register_from("c", 8).await.expect("another address");
}

fn profile_update(json: serde_json::Value) -> ProfileUpdate {
    serde_json::from_value(json).expect("a valid body")
}

#[tokio::test]
async fn usernames_are_unique_in_any_case_and_settable_later() {
    let agora = agora();
    let (ada, _) = signed_up(&agora, "ada").await;
    assert_eq!(
        ada.user().username.as_ref().map(|u| u.as_str()),
        Some("ada")
    );
    let clash = UserCreate {
        email: email("other"),
        password: PASSWORD.to_owned(),
        username: Some("ADA".to_owned()),
    };
    let err = agora
        .register(clash, &ClientInfo::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status_code(), err.code().as_str()),
        (409, "USERNAME_TAKEN")
    );
    let (bob, _) = signed_up(&agora, "bob").await;
    let taken = agora
        .update_profile(&bob, profile_update(json!({"username": "Ada"})))
        .await;
    assert_eq!(status(taken), 409);
    let renamed = agora
        .update_profile(
            &bob,
            profile_update(json!({"username": "Robert", "bio": "hi"})),
        )
        .await
        .unwrap();
    assert_eq!(
        renamed.username.as_ref().map(|u| u.as_str()),
        Some("Robert")
    );
    let kept = agora
        .update_profile(
            &bob,
            profile_update(json!({"image": "https://example.com/b.png"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (kept.bio.as_deref(), kept.username),
        (Some("hi"), renamed.username)
    );
    let cleared = agora
        .update_profile(&bob, profile_update(json!({"bio": null, "image": ""})))
        .await
        .unwrap();
    assert_eq!((cleared.bio, cleared.image), (None, None));
    let bad = agora
        .update_profile(
            &bob,
            profile_update(json!({"username": "a b", "image": "javascript:alert(1)"})),
        )
        .await
        .unwrap_err();
    let locs: Vec<_> = bad.field_errors().iter().map(|e| e.loc.clone()).collect();
    assert_eq!(locs, vec![vec!["body", "username"], vec!["body", "image"]]);
}

#[tokio::test]
async fn follows_are_idempotent_and_never_of_yourself() {
    let agora = agora();
    let (fan, _) = signed_up(&agora, "fan").await;
    signed_up(&agora, "star").await;
    assert!(!agora.profile(&fan, "star").await.unwrap().following);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (agora, fan) = (agora.clone(), fan.clone());
            tokio::spawn(async move { agora.follow(&fan, "STAR").await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().unwrap().following);
    }
    assert!(agora.profile(&fan, "star").await.unwrap().following);
    assert!(
        !agora.profile(None, "star").await.unwrap().following,
        "anonymous"
    );
    assert!(!agora.unfollow(&fan, "star").await.unwrap().following);
    assert!(
        !agora.unfollow(&fan, "star").await.unwrap().following,
        "idempotent"
    );
    let own = agora.follow(&fan, "fan").await.unwrap_err();
    assert_eq!(
        (own.status_code(), own.field_errors()[0].kind.as_str()),
        (422, "follow_self")
    );
    for unknown in ["nobody", "x", "not a name"] {
        let err = agora.profile(&fan, unknown).await.unwrap_err();
        assert_eq!(err.code().as_str(), "PROFILE_NOT_FOUND", "{unknown}");
        assert_eq!(status(agora.follow(&fan, unknown).await), 404);
    }
}

#[tokio::test]
async fn the_feed_holds_the_published_posts_of_followed_users_only() {
    let agora = agora();
    let (reader, _) = signed_up(&agora, "reader").await;
    let (writer, _) = signed_up(&agora, "writer").await;
    let (other, _) = signed_up(&agora, "other").await;
    agora.follow(&reader, "writer").await.unwrap();
    let first = create(&agora, &writer, "first", true).await;
    create(&agora, &writer, "draft", false).await;
    create(&agora, &other, "unfollowed", true).await;
    let second = create(&agora, &writer, "second", true).await;
    let query = ListQuery::new(10, 0, None, String::new()).unwrap();
    let feed = agora.feed(&reader, query.clone()).await.unwrap();
    let ids: Vec<PostId> = feed.iter().map(|p| p.post.id).collect();
    assert_eq!(ids, vec![second.id, first.id]);
    let deeper = ListQuery::new(10, 0, Some(second.id.0), String::new()).unwrap();
    assert_eq!(agora.feed(&reader, deeper).await.unwrap().len(), 1);
    assert!(agora.feed(&other, query).await.unwrap().is_empty());
}

#[tokio::test]
async fn tags_are_normalised_filter_listings_and_are_counted() {
    let agora = agora();
    let (ada, _) = signed_up(&agora, "ada").await;
    let tagged = |title: &str, tags: &[&str]| PostCreate {
        tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
        ..post(title, true)
    };
    let p = agora
        .create_post(&ada, tagged("p", &[" Rust", "sql", "rust "]))
        .await
        .unwrap();
    let names: Vec<&str> = p.tags.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, ["rust", "sql"]);
    agora
        .create_post(&ada, tagged("q", &["rust"]))
        .await
        .unwrap();
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let too_many = PostCreate {
        tags: Some(eleven),
        ..post("r", true)
    };
    assert_eq!(status(agora.create_post(&ada, too_many).await), 422);
    let by_tag = ListQuery::default()
        .with_filters(Some("SQL"), None, None)
        .unwrap();
    let found = agora.list_posts(&ada, by_tag).await.unwrap();
    assert_eq!(
        found.iter().map(|f| f.post.id).collect::<Vec<_>>(),
        vec![p.id]
    );
    let counts = agora.tags(&ListQuery::default()).await.unwrap();
    let counts: Vec<(&str, i64)> = counts.iter().map(|c| (c.tag.as_str(), c.posts)).collect();
    assert_eq!(counts, [("rust", 2), ("sql", 1)]);
}

#[tokio::test]
async fn comments_follow_the_post_visibility_and_their_author_deletes_them() {
    let agora = agora();
    let (ada, _) = signed_up(&agora, "ada").await;
    let (bob, _) = signed_up(&agora, "bob").await;
    let public = create(&agora, &ada, "public", true).await;
    let private = create(&agora, &ada, "private", false).await;
    let body = |text: &str| CommentCreate {
        body: text.to_owned(),
    };
    let c = agora
        .add_comment(&bob, public.id, body("nice"))
        .await
        .unwrap();
    assert_eq!((c.body.as_str(), c.author.id), ("nice", bob.id()));
    assert_eq!(
        status(agora.add_comment(&bob, private.id, body("x")).await),
        404
    );
    assert_eq!(
        status(agora.add_comment(&bob, public.id, body("  ")).await),
        422
    );
    let query = ListQuery::default();
    assert_eq!(status(agora.comments(&bob, private.id, &query).await), 404);
    assert_eq!(status(agora.comments(None, private.id, &query).await), 404);
    let listed = agora.comments(None, public.id, &query).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c.id]);
    let err = agora
        .delete_comment(&ada, public.id, c.id)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status_code(), err.code().as_str()),
        (403, "NOT_COMMENT_AUTHOR")
    );
    let elsewhere = create(&agora, &ada, "elsewhere", true).await;
    let err = agora
        .delete_comment(&bob, elsewhere.id, c.id)
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "COMMENT_NOT_FOUND", "on another post");
    agora.delete_comment(&bob, public.id, c.id).await.unwrap();
    assert_eq!(
        status(agora.delete_comment(&bob, public.id, c.id).await),
        404
    );
}

#[tokio::test]
async fn anonymous_viewers_see_published_posts_only() {
    let agora = agora();
    let (ada, _) = signed_up(&agora, "ada").await;
    let public = create(&agora, &ada, "public", true).await;
    let private = create(&agora, &ada, "private", false).await;
    let all = agora.list_posts(None, ListQuery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.post.id).collect::<Vec<_>>(),
        vec![public.id]
    );
    assert_eq!(status(agora.get_post(None, private.id).await), 404);
    assert!(!agora.get_post(None, public.id).await.unwrap().voted);
}

/// A mailer that hands every mail to the test, failing the first
/// `failures` deliveries, or never answering with `hang`.
#[derive(Debug)]
struct Outbox {
    sent: tokio::sync::mpsc::UnboundedSender<Mail>,
    failures: std::sync::atomic::AtomicU32,
    attempts: std::sync::atomic::AtomicU32,
    hang: bool,
}

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        use std::sync::atomic::Ordering;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err("451 try again later".into());
        }
        self.sent
            .send(mail.clone())
            .map_err(|e| e.to_string().into())
    }
}

struct Mailing {
    agora: Agora,
    outbox: Arc<Outbox>,
    mails: tokio::sync::mpsc::UnboundedReceiver<Mail>,
}

const PUBLIC_URL: &str = "https://app.example.com/base";

/// Agora whose mail goes to the test, failing the first `failures`
/// deliveries, with short retries.
fn mailing(failures: u32, hang: bool, adjust: impl FnOnce(&mut Config)) -> Mailing {
    let (sent, mails) = tokio::sync::mpsc::unbounded_channel();
    let outbox = Arc::new(Outbox {
        sent,
        failures: failures.into(),
        attempts: 0.into(),
        hang,
    });
    let config = config_with(|config| {
        config.mail.public_url = Some(url::Url::parse(PUBLIC_URL).expect("url"));
        config.mail.retry_base = Duration::from_millis(20);
        config.mail.send_timeout = Duration::from_millis(500);
        adjust(config);
    });
    let agora = Agora::from_parts(
        Arc::new(MemoryStore::new()),
        Arc::new(agora_core::throttle::MemoryThrottleStore::default()),
        outbox.clone(),
        &config,
    )
    .expect("valid configuration");
    Mailing {
        agora,
        outbox,
        mails,
    }
}

impl Mailing {
    /// The next mail, waiting at most 5 s.
    async fn next(&mut self) -> Mail {
        tokio::time::timeout(Duration::from_secs(5), self.mails.recv())
            .await
            .expect("a mail within 5 s")
            .expect("mailer alive")
    }

    /// Whether no mail arrives within half a second.
    async fn quiet(&mut self) -> bool {
        tokio::time::timeout(Duration::from_millis(500), self.mails.recv())
            .await
            .is_err()
    }

    async fn forgot(&self, name: &str) {
        let request = EmailRequest { email: email(name) };
        self.agora
            .forgot_password(request, &ClientInfo::default())
            .await
            .expect("accepted");
    }

    async fn reset(&self, token: &str, password: &str) -> Result<(), Error> {
        let request = ResetPasswordRequest {
            token: token.to_owned(),
            new_password: password.to_owned(),
        };
        self.agora
            .reset_password(request, &ClientInfo::default())
            .await
    }
}

/// The token of a mailed link.
fn token_of(mail: &Mail) -> String {
    let link = url::Url::parse(&mail.link).expect("link");
    link.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("token in link")
}

#[tokio::test]
async fn a_reset_link_resets_once_and_ends_every_session() {
    let mut m = mailing(0, false, |_| {});
    let (_, token) = signed_up(&m.agora, "ada").await;
    m.forgot("ada").await;
    m.forgot("nobody").await;
    let mail = m.next().await;
    assert_eq!(mail.to.as_str(), "ada@example.com");
    assert_eq!(mail.kind, MailKind::PasswordReset);
    assert!(
        mail.link
            .starts_with("https://app.example.com/base/reset-password?token="),
        "{}",
        mail.link
    );
    assert!(mail.text.contains(&mail.link) && mail.html.contains("reset-password?token="));
    assert!(m.quiet().await, "an unknown address gets no mail");
    let reset = token_of(&mail);
    assert!(reset.len() >= 32, "at least 128 bits");
    // A weak password is refused and leaves the token usable.
    assert_eq!(status(m.reset(&reset, "short").await), 422);
    m.reset(&reset, NEW_PASSWORD).await.expect("reset");
    assert!(refused(&m.agora, &token).await);
    assert_eq!(status(refresh(&m.agora, &token).await), 401);
    assert!(matches!(
        login_with(&m.agora, "ada", PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    login_with(&m.agora, "ada", NEW_PASSWORD)
        .await
        .expect("the new password works");
    let again = m.reset(&reset, "yet another fine password").await;
    assert!(
        matches!(again, Err(Error::ResetPasswordBadToken)),
        "{again:?}"
    );
    assert_eq!(
        Error::ResetPasswordBadToken.body()["code"],
        "RESET_PASSWORD_BAD_TOKEN"
    );
    assert_eq!(Error::ResetPasswordBadToken.status_code(), 400);
    for bad in ["", "nonsense", &"f".repeat(300)] {
        assert!(matches!(
            m.reset(bad, NEW_PASSWORD).await,
            Err(Error::ResetPasswordBadToken)
        ));
    }
}

#[tokio::test]
async fn a_password_change_kills_outstanding_reset_links() {
    let mut m = mailing(0, false, |_| {});
    let (ada, _) = signed_up(&m.agora, "ada").await;
    m.forgot("ada").await;
    let first = token_of(&m.next().await);
    m.forgot("ada").await;
    let second = token_of(&m.next().await);
    m.reset(&first, NEW_PASSWORD)
        .await
        .expect("first link works");
    assert!(matches!(
        m.reset(&second, PASSWORD).await,
        Err(Error::ResetPasswordBadToken)
    ));
    // Changed through PUT /users/me/password: the link dies too.
    m.forgot("ada").await;
    let third = token_of(&m.next().await);
    let caller = caller(
        &m.agora,
        &login_with(&m.agora, "ada", NEW_PASSWORD).await.unwrap(),
    )
    .await;
    m.agora
        .change_password(
            &caller,
            PasswordChange {
                current_password: NEW_PASSWORD.to_owned(),
                new_password: PASSWORD.to_owned(),
            },
        )
        .await
        .expect("changed");
    assert!(matches!(
        m.reset(&third, NEW_PASSWORD).await,
        Err(Error::ResetPasswordBadToken)
    ));
    assert_eq!(ada.user().id, caller.user().id);
}

#[tokio::test]
async fn verification_links_verify_once_and_never_reset() {
    let mut m = mailing(0, false, |_| {});
    let user = register(&m.agora, "ada").await;
    assert!(!user.email_verified);
    assert_eq!(
        serde_json::to_value(&user).unwrap()["email_verified"],
        false
    );
    let request = EmailRequest {
        email: email("ada"),
    };
    m.agora
        .request_verify_token(request.clone(), &ClientInfo::default())
        .await
        .expect("accepted");
    let mail = m.next().await;
    assert_eq!(mail.kind, MailKind::VerifyEmail);
    assert!(
        mail.link
            .starts_with("https://app.example.com/base/verify?token=")
    );
    let token = token_of(&mail);
    assert!(matches!(
        m.reset(&token, NEW_PASSWORD).await,
        Err(Error::ResetPasswordBadToken)
    ));
    let verify = |token: &str| VerifyRequest {
        token: token.to_owned(),
    };
    let verified = m
        .agora
        .verify_email(verify(&token), &ClientInfo::default())
        .await
        .expect("verified");
    assert!(verified.email_verified);
    assert!(matches!(
        m.agora
            .verify_email(verify(&token), &ClientInfo::default())
            .await,
        Err(Error::VerifyBadToken)
    ));
    // Verified already: no further mail. A reset token never verifies.
    m.agora
        .request_verify_token(request, &ClientInfo::default())
        .await
        .expect("accepted");
    assert!(m.quiet().await);
    m.forgot("ada").await;
    let reset = token_of(&m.next().await);
    assert!(matches!(
        m.agora
            .verify_email(verify(&reset), &ClientInfo::default())
            .await,
        Err(Error::VerifyBadToken)
    ));
}

#[tokio::test]
async fn unverified_accounts_may_be_refused_at_login() {
    let mut m = mailing(0, false, |c| c.mail.require_verified_email = true);
    register(&m.agora, "ada").await;
    assert!(matches!(
        login_with(&m.agora, "ada", "not the password").await,
        Err(Error::InvalidCredentials)
    ));
    let refused = login_with(&m.agora, "ada", PASSWORD).await;
    assert!(
        matches!(refused, Err(Error::EmailNotVerified)),
        "{refused:?}"
    );
    assert_eq!(Error::EmailNotVerified.status_code(), 403);
    assert_eq!(
        Error::EmailNotVerified.body()["code"],
        "LOGIN_USER_NOT_VERIFIED"
    );
    m.agora
        .request_verify_token(
            EmailRequest {
                email: email("ada"),
            },
            &ClientInfo::default(),
        )
        .await
        .expect("accepted");
    let token = token_of(&m.next().await);
    m.agora
        .verify_email(VerifyRequest { token }, &ClientInfo::default())
        .await
        .expect("verified");
    login(&m.agora, "ada").await;
}

#[tokio::test]
async fn each_address_gets_at_most_three_mails_per_window() {
    let mut m = mailing(0, false, |_| {});
    register(&m.agora, "ada").await;
    for _ in 0..5 {
        m.forgot("ada").await;
    }
    for _ in 0..3 {
        m.next().await;
    }
    assert!(
        m.quiet().await,
        "the fourth and fifth requests send nothing"
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_link() {
    let mut m = mailing(2, false, |_| {});
    register(&m.agora, "ada").await;
    m.forgot("ada").await;
    let mail = m.next().await;
    assert_eq!(
        m.outbox.attempts.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    m.reset(&token_of(&mail), NEW_PASSWORD)
        .await
        .expect("the retried link works");
}

#[tokio::test]
async fn requests_never_wait_for_the_mailer() {
    let m = mailing(0, true, |_| {});
    register(&m.agora, "ada").await;
    // The mailer never answers; the request is answered regardless.
    tokio::time::timeout(Duration::from_secs(2), m.forgot("ada"))
        .await
        .expect("answered without waiting for the mail");
    assert!(
        harness_eventually(|| m.outbox.attempts.load(std::sync::atomic::Ordering::SeqCst) >= 1)
            .await
    );
}

/// Polls `f` for up to 5 s.
async fn harness_eventually(f: impl Fn() -> bool) -> bool {
    for _ in 0..50 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn addresses_with_header_content_are_refused_before_any_mail() {
    let mut m = mailing(0, false, |_| {});
    register(&m.agora, "ada").await;
    for bad in [
        "ada@example.com\r\nBcc: eve@evil.example",
        "ada@example.com\nX-Injected: 1",
        "ada@example.com, eve@evil.example",
        "Ada <ada@example.com>",
    ] {
        let result = m
            .agora
            .forgot_password(
                EmailRequest {
                    email: bad.to_owned(),
                },
                &ClientInfo::default(),
            )
            .await;
        assert_eq!(status(result), 422, "{bad:?}");
    }
    assert!(m.quiet().await);
}

#[tokio::test]
async fn mail_requests_are_throttled_per_client_ip() {
    let m = mailing(0, false, |c| c.throttle.enabled = true);
    let client = ClientInfo {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))),
        ..ClientInfo::default()
    };
    for _ in 0..10 {
        m.agora
            .forgot_password(EmailRequest { email: email("x") }, &client)
            .await
            .expect("within the limit");
    }
    let limited = m
        .agora
        .request_verify_token(EmailRequest { email: email("x") }, &client)
        .await;
    assert!(
        matches!(limited, Err(Error::RateLimited { .. })),
        "{limited:?}"
    );
}
