//! What the revocation check costs per authenticated request, and what a
//! login costs: `cargo bench -p agora-sqlx --bench auth`.
//!
//! "before": a token check plus the user look-up of issue 2 (`get_user`);
//! "after": a token check plus the user-and-session look-up every request
//! now makes (`session_user`, one indexed join), so a logged-out or revoked
//! session is refused at once, on every server.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use agora_core::config::JwtSecret;
use agora_core::domain::{ClientInfo, UserId};
use agora_core::schema::{LoginRequest, UserCreate};
use agora_core::storage::Store;
use agora_core::{Agora, Config};
use criterion::{Criterion, criterion_group, criterion_main};

fn auth(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut config = Config::default();
    config.tokens.secret = Some(JwtSecret::generate());
    config.throttle.enabled = false;
    let (agora, store, user_id, access, session_id) = rt.block_on(async {
        let store: std::sync::Arc<dyn Store> = agora_sqlx::connect(&url, &config.server.pool)
            .await
            .unwrap();
        let agora = Agora::new(store.clone(), &config).unwrap();
        let client = ClientInfo::default();
        let (email, password) = (
            "bench@example.com".to_owned(),
            "a long enough password".to_owned(),
        );
        let user = agora
            .register(
                UserCreate {
                    email: email.clone(),
                    password: password.clone(),
                    username: None,
                },
                &client,
            )
            .await
            .unwrap();
        let token = agora
            .login(LoginRequest { email, password }, &client)
            .await
            .unwrap();
        let caller = agora.authenticate(&token.access_token).await.unwrap();
        let sessions = agora.sessions(&caller).await.unwrap();
        (
            agora,
            store,
            user.id,
            token.access_token,
            sessions[0].session.id.clone(),
        )
    });
    let keys = agora_core::crypto::jwt::TokenKeys::new(
        config.tokens.secret.as_ref().unwrap(),
        config.tokens.access_ttl,
        config.tokens.leeway,
    );
    let token = keys.issue(user_id, Some(&session_id)).unwrap().token;

    let mut group = c.benchmark_group("authenticated request (SQLite)");
    group.bench_function("before: verify token + user look-up", |b| {
        b.to_async(&rt).iter(|| async {
            let claims = keys.verify(black_box(&token)).unwrap();
            store
                .get_user(UserId(claims.user_id))
                .await
                .unwrap()
                .unwrap()
        })
    });
    group.bench_function("after: verify token + user and session look-up", |b| {
        b.to_async(&rt).iter(|| async {
            let claims = keys.verify(black_box(&token)).unwrap();
            store
                .session_user(UserId(claims.user_id), claims.sid.as_deref().unwrap())
                .await
                .unwrap()
                .unwrap()
        })
    });
    group.bench_function("Agora::authenticate", |b| {
        b.to_async(&rt)
            .iter(|| agora.authenticate(black_box(&access)))
    });
    group.finish();

    let anonymous = ClientInfo::default();
    let mut group = c.benchmark_group("login (SQLite)");
    group.sample_size(20);
    group.bench_function("Agora::login (argon2id verify + session)", |b| {
        b.to_async(&rt).iter(|| {
            agora.login(
                LoginRequest {
                    email: "bench@example.com".into(),
                    password: "a long enough password".into(),
                },
                &anonymous,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, auth);
criterion_main!(benches);
