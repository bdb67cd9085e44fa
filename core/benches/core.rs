//! Micro-benchmarks of core's hot paths, so regressions show:
//! `cargo bench -p agora-core`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use agora_core::config::JwtSecret;
use agora_core::crypto::jwt::TokenKeys;
use agora_core::crypto::password::{HashParams, PasswordHasher};
use agora_core::domain::{Email, Password, UserId};
use agora_core::schema::{ListQuery, PostCreate, UserCreate, parse_json};
use criterion::{Criterion, criterion_group, criterion_main};

fn tokens(c: &mut Criterion) {
    let keys = TokenKeys::new(
        &JwtSecret::generate(),
        Duration::from_secs(1800),
        Duration::from_secs(10),
    );
    let token = keys.issue(UserId(42), Some("a-session-id")).unwrap().token;
    c.bench_function("token issue", |b| {
        b.iter(|| {
            keys.issue(black_box(UserId(42)), Some("a-session-id"))
                .unwrap()
        })
    });
    c.bench_function("token verify", |b| {
        b.iter(|| keys.verify(black_box(&token)).unwrap())
    });
}

fn passwords(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hasher = PasswordHasher::new(HashParams::OWASP, 1).unwrap();
    let password = Password::new("correct horse battery staple");
    let stored = rt.block_on(hasher.hash(&password)).unwrap();
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.to_async(&rt).iter(|| hasher.hash(black_box(&password)))
    });
    group.bench_function("verify", |b| {
        b.to_async(&rt)
            .iter(|| hasher.verify(black_box(&password), Some(&stored)))
    });
    group.finish();
}

fn validation(c: &mut Criterion) {
    let register = br#"{"email": "Ada.Lovelace@Example.com", "password": "correct horse battery"}"#;
    let post = br#"{"title": "Hello", "content": "A first post with some words in it", "published": true}"#;
    c.bench_function("validate register body", |b| {
        b.iter(|| {
            let body: UserCreate =
                parse_json(Some("application/json"), black_box(register)).unwrap();
            let email = Email::parse(&body.email).unwrap();
            let password = Password::new_checked(body.password, 8, 128).unwrap();
            (email, password)
        })
    });
    c.bench_function("validate post body", |b| {
        b.iter(|| {
            let body: PostCreate = parse_json(Some("application/json"), black_box(post)).unwrap();
            body.into_draft().unwrap()
        })
    });
    c.bench_function("parse list query", |b| {
        b.iter(|| ListQuery::parse(black_box(Some("limit=10&skip=20&search=rust+async"))).unwrap())
    });
}

criterion_group!(benches, tokens, passwords, validation);
criterion_main!(benches);
