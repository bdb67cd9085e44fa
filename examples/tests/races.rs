//! Issue 11's races (and the social graph's), fired concurrently over HTTP at the axum server on every
//! configured backend (SQLite always; PostgreSQL and MariaDB when their
//! `AGORA_TEST_*_URL` is set), and at several servers sharing Redis.
//!
//! Each test makes many requests arrive at once, then checks the invariant
//! the race used to break.

use agora_contract::harness as common;

use std::collections::HashSet;
use std::time::Duration;

use agora_core::Config;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

const PASSWORD: &str = "a long enough password";

/// A server over a fresh database of `backend`, a client, and the database.
struct Server {
    base: String,
    http: Client,
    db: TestDatabase,
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

async fn server(backend: Backend, tune: impl FnOnce(&mut Config)) -> Option<Server> {
    let db = TestDatabase::create(backend).await?;
    let mut config = common::config_for(&db);
    tune(&mut config);
    let base = common::spawn_axum(config).await;
    Some(Server {
        base,
        http: client(),
        db,
    })
}

/// What a login answered: its status and, on 200, the tokens.
struct Login {
    status: StatusCode,
    access: String,
    refresh: String,
}

async fn login(http: &Client, base: &str, email: &str, password: &str) -> Login {
    let r = http
        .post(format!("{base}/login"))
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .expect("login request");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    let token = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    Login {
        status,
        access: token("access_token"),
        refresh: token("refresh_token"),
    }
}

/// `n` axum servers of `config` (one database): their base URLs.
async fn servers(config: &Config, n: usize) -> Vec<String> {
    let mut bases = Vec::new();
    for _ in 0..n {
        bases.push(common::spawn_axum(config.clone()).await);
    }
    bases
}

/// Registers `email` with [`PASSWORD`] at the server `base`.
async fn register(http: &Client, base: &str, email: &str) {
    let r = http
        .post(format!("{base}/users"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED, "register {email}");
}

impl Server {
    async fn register(&self, email: &str) {
        register(&self.http, &self.base, email).await;
    }

    async fn login(&self, email: &str, password: &str) -> Login {
        login(&self.http, &self.base, email, password).await
    }

    /// `n` logins at once; their answers.
    fn logins(&self, n: usize, email: &str, password: &str) -> JoinSet<Login> {
        let mut set = JoinSet::new();
        for _ in 0..n {
            let (http, base) = (self.http.clone(), self.base.clone());
            let (email, password) = (email.to_owned(), password.to_owned());
            set.spawn(async move { login(&http, &base, &email, &password).await });
        }
        set
    }

    async fn me(&self, access: &str) -> StatusCode {
        self.http
            .get(format!("{}/users/me", self.base))
            .bearer_auth(access)
            .send()
            .await
            .expect("me")
            .status()
    }

    async fn refresh(&self, refresh: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/token/refresh", self.base))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .expect("refresh");
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn change_password(&self, access: &str, current: &str, new: &str) -> StatusCode {
        self.http
            .put(format!("{}/users/me/password", self.base))
            .bearer_auth(access)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .await
            .expect("password change")
            .status()
    }
}

async fn all(mut set: JoinSet<Login>) -> Vec<Login> {
    let mut out = Vec::new();
    while let Some(login) = set.join_next().await {
        out.push(login.expect("login task"));
    }
    out
}

/// 100 wrong guesses at one account from one address at once: no more than
/// the account's limit (5) may be evaluated, and after them even the right
/// password is refused (429), not evaluated. (Not sent among them: a
/// success clears the account's failures, so guesses that arrive after it
/// are evaluated again, by design, and how many do depends on timing.)
async fn concurrent_guesses_cannot_pass_the_account_limit(backend: Backend) {
    let Some(s) = server(backend, |c| c.throttle.enabled = true).await else {
        return;
    };
    s.register("victim@example.com").await;
    let mut set = JoinSet::new();
    for _ in 0..100 {
        let (http, base) = (s.http.clone(), s.base.clone());
        set.spawn(
            async move { login(&http, &base, "victim@example.com", "a wrong guess!!").await },
        );
    }
    let answers = all(set).await;
    let count = |status| answers.iter().filter(|l| l.status == status).count();
    let evaluated = count(StatusCode::FORBIDDEN);
    assert_eq!(
        evaluated + count(StatusCode::TOO_MANY_REQUESTS),
        100,
        "every answer is 403 or 429"
    );
    assert!(
        evaluated <= 5,
        "{backend:?}: {evaluated} guesses evaluated, at most 5 allowed"
    );
    let right = s.login("victim@example.com", PASSWORD).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{backend:?}: the right password after the limit"
    );
}

/// Three servers on one database sharing Redis counters: 100 guesses spread
/// over them evaluate no more than the account's limit.
async fn guesses_spread_over_servers_sharing_redis_cannot_pass_the_limit(backend: Backend) {
    let Ok(redis_url) = std::env::var("AGORA_TEST_REDIS_URL") else {
        eprintln!("skipped: multi-server throttling over Redis (set AGORA_TEST_REDIS_URL)");
        return;
    };
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let mut config = common::config_for(&db);
    config.throttle.enabled = true;
    config.server.redis.url = Some(redis_url);
    // Counters of its own: other tests and earlier runs share this Redis.
    config.server.redis.prefix = format!("agora:test:{}:", agora_core::crypto::random_hex(8));
    let bases = servers(&config, 3).await;
    let http = client();
    let email = "spread@example.com";
    register(&http, &bases[0], email).await;
    let mut set = JoinSet::new();
    for i in 0..100 {
        let (http, base) = (http.clone(), bases[i % 3].clone());
        set.spawn(async move { login(&http, &base, email, "a wrong guess!!").await });
    }
    let answers = all(set).await;
    let evaluated = answers
        .iter()
        .filter(|l| l.status == StatusCode::FORBIDDEN)
        .count();
    let throttled = answers
        .iter()
        .filter(|l| l.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(evaluated + throttled, 100, "every answer is 403 or 429");
    assert!(
        evaluated <= 5,
        "{backend:?}: {evaluated} guesses evaluated over 3 servers, at most 5 allowed"
    );
}

/// Logins with the old password racing a password change: afterwards no
/// session they started works, by access or refresh token.
async fn logins_racing_a_password_change_leave_no_working_session(backend: Backend) {
    let Some(s) = server(backend, |_| {}).await else {
        return;
    };
    s.register("race-change@example.com").await;
    let mut password = PASSWORD.to_owned();
    let owner = s.login("race-change@example.com", &password).await;
    assert_eq!(owner.status, StatusCode::OK);
    for round in 0..3 {
        let new_password = format!("{PASSWORD} round {round}");
        let racing = s.logins(30, "race-change@example.com", &password);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let changed = s
            .change_password(&owner.access, &password, &new_password)
            .await;
        assert_eq!(changed, StatusCode::NO_CONTENT);
        let mut survivors = 0;
        for l in all(racing).await {
            assert!(
                matches!(l.status, StatusCode::OK | StatusCode::FORBIDDEN),
                "{}",
                l.status
            );
            if l.status == StatusCode::OK
                && (s.me(&l.access).await != StatusCode::UNAUTHORIZED
                    || s.refresh(&l.refresh).await.0 != StatusCode::UNAUTHORIZED)
            {
                survivors += 1;
            }
        }
        assert_eq!(
            survivors, 0,
            "{backend:?} round {round}: sessions of the old password survived the change"
        );
        assert_eq!(
            s.me(&owner.access).await,
            StatusCode::OK,
            "the changer's session goes on"
        );
        password = new_password;
    }
}

/// The stored hash needs an upgrade (bcrypt, as imported from the original
/// app); logins with the old password rehash it while the password changes:
/// the change must stick.
async fn a_rehash_racing_a_password_change_cannot_undo_it(backend: Backend) {
    let Some(s) = server(backend, |_| {}).await else {
        return;
    };
    let store = agora_sqlx::connect(s.db.url(), &agora_sqlx::PoolConfig::default())
        .await
        .expect("same database");
    let email = agora_core::Email::parse("race-rehash@example.com").expect("email");
    s.register(email.as_str()).await;
    let mut password = PASSWORD.to_owned();
    for round in 0..4 {
        let owner = s.login(email.as_str(), &password).await;
        assert_eq!(owner.status, StatusCode::OK);
        let current = store
            .find_credentials(&email)
            .await
            .expect("query")
            .expect("user");
        let legacy = bcrypt::hash(&password, 4).expect("bcrypt");
        assert!(
            store
                .upgrade_password_hash(current.user.id, &current.password_hash, &legacy)
                .await
                .expect("plant a hash that needs upgrading")
        );
        let new_password = format!("{PASSWORD} round {round}");
        let racing = s.logins(12, email.as_str(), &password);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let changed = s
            .change_password(&owner.access, &password, &new_password)
            .await;
        assert_eq!(changed, StatusCode::NO_CONTENT);
        all(racing).await;
        assert_eq!(
            s.login(email.as_str(), &password).await.status,
            StatusCode::FORBIDDEN,
            "{backend:?} round {round}: the old password works again"
        );
        assert_eq!(
            s.login(email.as_str(), &new_password).await.status,
            StatusCode::OK,
            "{backend:?} round {round}: the new password does not work"
        );
        password = new_password;
    }
}

/// Logins racing the account's deletion answer 200 or 403, never 500, and
/// leave no working token.
async fn logins_racing_account_deletion_are_never_500(backend: Backend) {
    let Some(s) = server(backend, |_| {}).await else {
        return;
    };
    for round in 0..3 {
        let email = format!("race-delete-{round}@example.com");
        s.register(&email).await;
        let owner = s.login(&email, PASSWORD).await;
        let racing = s.logins(30, &email, PASSWORD);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let deleted = s
            .http
            .delete(format!("{}/users/me", s.base))
            .bearer_auth(&owner.access)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .expect("delete")
            .status();
        assert_eq!(deleted, StatusCode::NO_CONTENT);
        for l in all(racing).await {
            assert!(
                matches!(l.status, StatusCode::OK | StatusCode::FORBIDDEN),
                "{backend:?} round {round}: a login racing the deletion answered {}",
                l.status
            );
            if l.status == StatusCode::OK {
                assert_eq!(s.me(&l.access).await, StatusCode::UNAUTHORIZED);
            }
        }
    }
}

/// 100 exchanges of one refresh token at once, inside the grace window:
/// none fails, and all continue one chain (one successor token).
async fn concurrent_refreshes_continue_one_chain(backend: Backend) {
    let Some(s) = server(backend, |_| {}).await else {
        return;
    };
    s.register("race-refresh@example.com").await;
    let first = s.login("race-refresh@example.com", PASSWORD).await;
    let mut set = JoinSet::new();
    for _ in 0..100 {
        let (http, base, token) = (s.http.clone(), s.base.clone(), first.refresh.clone());
        set.spawn(async move {
            let r = http
                .post(format!("{base}/token/refresh"))
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .expect("refresh");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (
                status,
                body["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        });
    }
    let mut chains = HashSet::new();
    while let Some(answer) = set.join_next().await {
        let (status, refresh) = answer.expect("task");
        assert_eq!(
            status,
            StatusCode::OK,
            "{backend:?}: a concurrent retry failed"
        );
        chains.insert(refresh);
    }
    assert_eq!(
        chains.len(),
        1,
        "{backend:?}: {} refresh chains",
        chains.len()
    );
    let next = chains.into_iter().next().expect("one");
    let (status, body) = s.refresh(&next).await;
    assert_eq!(status, StatusCode::OK, "the one chain goes on");
    assert_ne!(body["refresh_token"], json!(next));
}

/// 100 registrations claiming one username (in different cases) at once:
/// exactly one gets it, the others a 409 `USERNAME_TAKEN`, none a 500.
async fn concurrent_claims_of_one_username_make_one_owner(backend: Backend) {
    let Some(s) = server(backend, |_| {}).await else {
        return;
    };
    let mut set = JoinSet::new();
    for i in 0..100 {
        let (http, base) = (s.http.clone(), s.base.clone());
        let name = if i % 2 == 0 { "Wanted" } else { "wANTED" };
        set.spawn(async move {
            let body = json!({"email": format!("claim{i}@example.com"), "password": PASSWORD,
                "username": name});
            let r = http.post(format!("{base}/users")).json(&body).send().await;
            let r = r.expect("register");
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let (mut owners, mut taken) = (0, 0);
    while let Some(answer) = set.join_next().await {
        let (status, body) = answer.expect("task");
        match status {
            StatusCode::CREATED => owners += 1,
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], json!("USERNAME_TAKEN"), "{backend:?}");
                taken += 1;
            }
            other => panic!("{backend:?}: {other} {body}"),
        }
    }
    assert_eq!((owners, taken), (1, 99), "{backend:?}");
}

/// 100 follows of one user and 100 comments on one post at once: one edge
/// (the feed shows the post once, one unfollow ends it) and 100 comments.
async fn concurrent_follows_and_comments_are_each_counted_right(backend: Backend) {
    let Some(s) = server(backend, |_| {}).await else {
        return;
    };
    let (fan, star) = ("race-fan@example.com", "race-star@example.com");
    s.register(fan).await;
    let body = json!({"email": star, "password": PASSWORD, "username": "star"});
    let r = s
        .http
        .post(format!("{}/users", s.base))
        .json(&body)
        .send()
        .await;
    assert_eq!(r.expect("register").status(), StatusCode::CREATED);
    let (fan, star) = (s.login(fan, PASSWORD).await, s.login(star, PASSWORD).await);
    let post: Value = s
        .http
        .post(format!("{}/posts", s.base))
        .bearer_auth(&star.access)
        .json(&json!({"title": "t", "content": "c"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let post = post["id"].as_i64().expect("id");
    let mut set = JoinSet::new();
    for i in 0..200 {
        let (http, base, token) = (s.http.clone(), s.base.clone(), fan.access.clone());
        set.spawn(async move {
            let request = if i % 2 == 0 {
                http.post(format!("{base}/profiles/star/follow"))
            } else {
                let url = format!("{base}/posts/{post}/comments");
                http.post(url)
                    .json(&json!({"body": format!("comment {i}")}))
            };
            request
                .bearer_auth(token)
                .send()
                .await
                .expect("request")
                .status()
        });
    }
    while let Some(status) = set.join_next().await {
        let status = status.expect("task");
        assert!(status.is_success(), "{backend:?}: {status}");
    }
    let get = |path: String| {
        let (http, token) = (s.http.clone(), fan.access.clone());
        async move {
            let r = http.get(path).bearer_auth(token).send().await.expect("get");
            r.json::<Value>().await.expect("json")
        }
    };
    let feed = get(format!("{}/feed?limit=100", s.base)).await;
    assert_eq!(
        feed.as_array().map(Vec::len),
        Some(1),
        "{backend:?}: {feed}"
    );
    let mut comments = std::collections::BTreeSet::new();
    let mut after = 0;
    loop {
        let url = format!("{}/posts/{post}/comments?limit=100&after={after}", s.base);
        let page = get(url).await;
        let page = page.as_array().expect("array").clone();
        let Some(last) = page.last() else { break };
        after = last["id"].as_i64().expect("id");
        comments.extend(page.iter().map(|c| c["id"].as_i64().expect("id")));
    }
    assert_eq!(comments.len(), 100, "{backend:?}");
    let unfollowed = s
        .http
        .delete(format!("{}/profiles/star/follow", s.base))
        .bearer_auth(&fan.access)
        .send()
        .await
        .expect("unfollow");
    assert_eq!(unfollowed.status(), StatusCode::OK);
    let feed = get(format!("{}/feed", s.base)).await;
    assert_eq!(
        feed,
        json!([]),
        "{backend:?}: one unfollow removes the one edge"
    );
}

/// How [`reads_end_on_every_server_at_once`] ends the reader's session.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// `POST /logout` with the session's own token.
    Logout,
    /// `POST /logout/all` from another session of the user.
    LogoutAll,
    /// `PUT /users/me/password` from another session of the user, which
    /// keeps that one and ends the rest.
    PasswordChange,
}

/// A session ended by one server (`ending`) ends its reads of posts (one
/// database round trip each, no session cache) on every server at once:
/// each of three servers has read with the session first; reads in flight
/// while it ends may go either way, and the 100 reads spread over the
/// servers after it answered are all 401 with `invalid_token`, for a post
/// that exists and one that does not.
async fn reads_end_on_every_server_at_once(backend: Backend, ending: Ending) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let bases = servers(&common::config_for(&db), 3).await;
    let http = client();
    let email = "reader@example.com";
    register(&http, &bases[0], email).await;
    let session = login(&http, &bases[1], email, PASSWORD).await;
    assert_eq!(session.status, StatusCode::OK);
    let other = login(&http, &bases[2], email, PASSWORD).await;
    assert_eq!(other.status, StatusCode::OK);
    let r = http
        .post(format!("{}/posts", bases[2]))
        .bearer_auth(&session.access)
        .json(&json!({"title": "draft", "content": "mine only", "published": false}))
        .send()
        .await
        .expect("create post");
    assert_eq!(r.status(), StatusCode::CREATED);
    let post = r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    let read = |base: String, id: i64, access: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(format!("{base}/posts/{id}"))
                .bearer_auth(access)
                .send()
                .await
                .expect("read");
            let challenge = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().expect("ascii").to_owned());
            (r.status(), challenge)
        }
    };
    for base in &bases {
        for _ in 0..2 {
            let (status, _) = read(base.clone(), post, session.access.clone()).await;
            assert_eq!(status, StatusCode::OK, "{backend:?}: own unpublished post");
            let (status, _) = read(base.clone(), post + 1, session.access.clone()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}: no such post");
        }
    }
    let mut in_flight = JoinSet::new();
    for i in 0..30 {
        in_flight.spawn(read(bases[i % 3].clone(), post, session.access.clone()));
    }
    let r = match ending {
        Ending::Logout => http
            .post(format!("{}/logout", bases[0]))
            .bearer_auth(&session.access),
        Ending::LogoutAll => http
            .post(format!("{}/logout/all", bases[0]))
            .bearer_auth(&other.access),
        Ending::PasswordChange => http
            .put(format!("{}/users/me/password", bases[0]))
            .bearer_auth(&other.access)
            .json(&json!({"current_password": PASSWORD, "new_password": "another long password"})),
    }
    .send()
    .await
    .expect("ending request");
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "{backend:?}: {ending:?}"
    );
    let mut set = JoinSet::new();
    for i in 0..100 {
        let id = if i % 2 == 0 { post } else { post + 1 };
        set.spawn(read(bases[i % 3].clone(), id, session.access.clone()));
    }
    let mut answers = Vec::new();
    while let Some(answer) = set.join_next().await {
        answers.push(answer.expect("read task"));
    }
    let refused = answers
        .iter()
        .filter(|(status, challenge)| {
            *status == StatusCode::UNAUTHORIZED
                && challenge
                    .as_deref()
                    .is_some_and(|c| c.contains("invalid_token"))
        })
        .count();
    assert_eq!(
        refused, 100,
        "{backend:?}: every read after the {ending:?} is refused: {answers:?}"
    );
    while let Some(answer) = in_flight.join_next().await {
        let (status, _) = answer.expect("read task");
        assert!(
            status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
            "{backend:?}: a read racing the {ending:?} is either: {status}"
        );
    }
}

async fn a_logout_ends_post_reads_on_every_server_at_once(backend: Backend) {
    reads_end_on_every_server_at_once(backend, Ending::Logout).await;
}

async fn a_logout_everywhere_ends_post_reads_on_every_server_at_once(backend: Backend) {
    reads_end_on_every_server_at_once(backend, Ending::LogoutAll).await;
}

async fn a_password_change_ends_post_reads_on_every_server_at_once(backend: Backend) {
    reads_end_on_every_server_at_once(backend, Ending::PasswordChange).await;
}

agora_contract::on_every_backend!(
    concurrent_guesses_cannot_pass_the_account_limit,
    guesses_spread_over_servers_sharing_redis_cannot_pass_the_limit,
    logins_racing_a_password_change_leave_no_working_session,
    a_rehash_racing_a_password_change_cannot_undo_it,
    logins_racing_account_deletion_are_never_500,
    concurrent_refreshes_continue_one_chain,
    concurrent_claims_of_one_username_make_one_owner,
    concurrent_follows_and_comments_are_each_counted_right,
    a_logout_ends_post_reads_on_every_server_at_once,
    a_logout_everywhere_ends_post_reads_on_every_server_at_once,
    a_password_change_ends_post_reads_on_every_server_at_once,
);
