//! The storage conformance suite (feature `testing`): every backend-independent
//! rule of the storage traits' contract, as one async function per case
//! taking a fresh, empty store. [`crate::storage_conformance_tests!`] turns
//! the whole list into one test per case for a backend; `agora-core` runs it
//! against [`super::memory::MemoryStore`], `agora-sqlx` against SQLite,
//! PostgreSQL and MySQL.
//!
//! The cases panic on failure, like tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::domain::{
    Email, PostDraft, PostFilter, PostId, RefreshTokenRecord, Session, User, UserId, now,
};
use crate::storage::{StorageError, Store};

mod social;
mod tokens;

pub use social::*;
pub use tokens::*;

fn email(tag: &str) -> Email {
    Email::parse(&format!("{tag}@example.com")).expect("valid email")
}

fn draft(title: &str, published: bool) -> PostDraft {
    PostDraft {
        title: title.to_owned(),
        content: format!("content of {title}"),
        published,
        description: None,
        tags: None,
    }
}

async fn user(store: &dyn Store, tag: &str) -> User {
    store
        .create_user(&email(tag), None, "$argon2id$fake", now())
        .await
        .expect("user created")
}

fn filter(viewer: &User) -> PostFilter {
    PostFilter {
        viewer: Some(viewer.id),
        feed: false,
        tag: None,
        author: None,
        voted_by: None,
        limit: 100,
        skip: 0,
        before: i64::MAX,
        search: None,
    }
}

/// Duplicate email is a conflict naming the constraint.
pub async fn duplicate_email_is_a_conflict_naming_the_constraint(store: Arc<dyn Store>) {
    let first = user(&*store, "dup").await;
    assert_eq!(
        first.email.as_ref().map(Email::as_str),
        Some("dup@example.com")
    );
    match store.create_user(&email("dup"), None, "$h", now()).await {
        Err(StorageError::Conflict { constraint }) => assert_eq!(constraint, "users_email_key"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Concurrent registrations of one email insert exactly once.
pub async fn concurrent_registrations_of_one_email_insert_exactly_once(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.create_user(&email("race"), None, "$h", now()).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(_) => created += 1,
            Err(StorageError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(created, 1);
}

/// Users are found by id and email with their hash.
pub async fn users_are_found_by_id_and_email_with_their_hash(store: Arc<dyn Store>) {
    let u = user(&*store, "find").await;
    assert_eq!(store.get_user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(store.get_user(UserId(i64::MAX)).await.unwrap(), None);
    let creds = store
        .find_credentials(&email("find"))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(
        (creds.user, creds.password_hash.as_str()),
        (u.clone(), "$argon2id$fake")
    );
    assert!(
        store
            .upgrade_password_hash(u.id, "$argon2id$fake", "$argon2id$new")
            .await
            .unwrap()
    );
    assert!(
        !store
            .upgrade_password_hash(u.id, "$argon2id$fake", "$argon2id$stale")
            .await
            .unwrap(),
        "only the hash that was verified is replaced"
    );
    let creds = store
        .find_credentials(&email("find"))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(creds.password_hash, "$argon2id$new");
    assert!(
        store
            .find_credentials(&email("nobody"))
            .await
            .unwrap()
            .is_none()
    );
}

/// Posts round trip with owner and zero votes.
pub async fn posts_round_trip_with_owner_and_zero_votes(store: Arc<dyn Store>) {
    let u = user(&*store, "owner").await;
    let created = store
        .create_post(&u, &draft("Hello", true), now())
        .await
        .unwrap();
    assert_eq!((created.owner_id, &created.owner), (u.id, &u));
    let got = store
        .get_post(created.id, None)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(got.post, created);
    assert_eq!(got.votes, 0);
    assert!(
        store
            .get_post(PostId(i64::MAX), None)
            .await
            .unwrap()
            .is_none()
    );
}

/// List is newest first paged by skip or keyset and hides others unpublished.
pub async fn list_is_newest_first_paged_by_skip_or_keyset_and_hides_others_unpublished(
    store: Arc<dyn Store>,
) {
    let a = user(&*store, "a").await;
    let b = user(&*store, "b").await;
    let p1 = store
        .create_post(&a, &draft("one", true), now())
        .await
        .unwrap();
    let p2 = store
        .create_post(&b, &draft("two (draft)", false), now())
        .await
        .unwrap();
    let p3 = store
        .create_post(&a, &draft("three", true), now())
        .await
        .unwrap();
    let ids =
        |v: Vec<crate::domain::PostWithVotes>| v.into_iter().map(|p| p.post.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_posts(&filter(&a)).await.unwrap()),
        vec![p3.id, p1.id]
    );
    assert_eq!(
        ids(store.list_posts(&filter(&b)).await.unwrap()),
        vec![p3.id, p2.id, p1.id]
    );
    let page = PostFilter {
        limit: 1,
        skip: 1,
        ..filter(&b)
    };
    assert_eq!(ids(store.list_posts(&page).await.unwrap()), vec![p2.id]);
    let older = PostFilter {
        before: p3.id.0,
        ..filter(&b)
    };
    assert_eq!(
        ids(store.list_posts(&older).await.unwrap()),
        vec![p2.id, p1.id]
    );
    let older_searched = PostFilter {
        before: p2.id.0,
        search: Some("ONE".to_owned()),
        ..filter(&b)
    };
    assert_eq!(
        ids(store.list_posts(&older_searched).await.unwrap()),
        vec![p1.id]
    );
    let beyond = PostFilter {
        skip: u64::MAX,
        ..filter(&b)
    };
    assert!(store.list_posts(&beyond).await.unwrap().is_empty());
}

/// Search is a case insensitive title substring with literal wildcards.
pub async fn search_is_a_case_insensitive_title_substring_with_literal_wildcards(
    store: Arc<dyn Store>,
) {
    let u = user(&*store, "s").await;
    let hit = store
        .create_post(&u, &draft("Learning RUST fast", true), now())
        .await
        .unwrap();
    store
        .create_post(&u, &draft("Python tips", true), now())
        .await
        .unwrap();
    let pct = store
        .create_post(&u, &draft("50% off", true), now())
        .await
        .unwrap();
    store
        .create_post(&u, &draft("500 offers", true), now())
        .await
        .unwrap();
    let search = |s: &str| PostFilter {
        search: Some(s.to_owned()),
        ..filter(&u)
    };
    let found = store.list_posts(&search("rust")).await.unwrap();
    assert_eq!(
        found.iter().map(|p| p.post.id).collect::<Vec<_>>(),
        vec![hit.id]
    );
    let found = store.list_posts(&search("0% o")).await.unwrap();
    assert_eq!(
        found.iter().map(|p| p.post.id).collect::<Vec<_>>(),
        vec![pct.id]
    );
    assert!(store.list_posts(&search("_")).await.unwrap().is_empty());
}

/// Search ignores case beyond ASCII, as PostgreSQL's `ILIKE` and MariaDB's
/// `LOWER` do (accented Latin, Greek, Cyrillic); accents still count, and
/// the characters of any backend's pattern syntax match only themselves.
pub async fn search_ignores_case_in_unicode_titles(store: Arc<dyn Store>) {
    let u = user(&*store, "unicode").await;
    let mut titles = Vec::new();
    for title in [
        "Café crème",
        "cafe plain",
        "L'ÉCOLE normale",
        "ΑΘΗΝΑ by night",
        "Москва river",
        "C++ (ça va?)",
    ] {
        let post = store
            .create_post(&u, &draft(title, true), now())
            .await
            .unwrap();
        titles.push((post.id, title));
    }
    let search = |s: &str| PostFilter {
        search: Some(s.to_owned()),
        ..filter(&u)
    };
    for (term, expected) in [
        ("CAFÉ", &["Café crème"][..]),
        ("CRÈME", &["Café crème"]),
        ("cafe", &["cafe plain"]),
        ("école", &["L'ÉCOLE normale"]),
        ("é", &["L'ÉCOLE normale", "Café crème"]),
        ("αθηνα", &["ΑΘΗΝΑ by night"]),
        ("МОСКВА", &["Москва river"]),
        ("'é", &["L'ÉCOLE normale"]),
        // Pattern syntax of any backend is literal.
        ("(ÇA VA?)", &["C++ (ça va?)"]),
        (".", &[]),
        ("\\", &[]),
        ("^c", &[]),
    ] {
        let found: Vec<&str> = store
            .list_posts(&search(term))
            .await
            .unwrap()
            .iter()
            .map(|p| {
                titles
                    .iter()
                    .find(|(id, _)| *id == p.post.id)
                    .expect("a post of this case")
                    .1
            })
            .collect();
        assert_eq!(found, expected, "search {term:?}");
    }
}

/// Update replaces fields and delete removes.
pub async fn update_replaces_fields_and_delete_removes(store: Arc<dyn Store>) {
    let u = user(&*store, "upd").await;
    let p = store
        .create_post(&u, &draft("before", true), now())
        .await
        .unwrap();
    let updated = store
        .update_post(p.id, &draft("after", false), now())
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(
        (
            updated.title.as_str(),
            updated.published,
            updated.created_at
        ),
        ("after", false, p.created_at)
    );
    assert!(
        store
            .update_post(PostId(i64::MAX), &draft("x", true), now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.delete_post(p.id).await.unwrap());
    assert!(!store.delete_post(p.id).await.unwrap());
    assert!(store.get_post(p.id, None).await.unwrap().is_none());
}

/// Votes are unique per user and post and counted.
pub async fn votes_are_unique_per_user_and_post_and_counted(store: Arc<dyn Store>) {
    let a = user(&*store, "va").await;
    let b = user(&*store, "vb").await;
    let p = store
        .create_post(&a, &draft("votable", true), now())
        .await
        .unwrap();
    store.add_vote(a.id, p.id).await.unwrap();
    store.add_vote(b.id, p.id).await.unwrap();
    match store.add_vote(a.id, p.id).await {
        Err(StorageError::Conflict { constraint }) => assert_eq!(constraint, "votes_pkey"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store
            .get_post(p.id, None)
            .await
            .unwrap()
            .expect("found")
            .votes,
        2
    );
    assert!(store.remove_vote(a.id, p.id).await.unwrap());
    assert!(!store.remove_vote(a.id, p.id).await.unwrap());
    assert_eq!(store.list_posts(&filter(&a)).await.unwrap()[0].votes, 1);
}

/// Vote on a missing post is a missing reference.
pub async fn vote_on_a_missing_post_is_a_missing_reference(store: Arc<dyn Store>) {
    let a = user(&*store, "vm").await;
    assert!(matches!(
        store.add_vote(a.id, PostId(i64::MAX)).await,
        Err(StorageError::MissingReference { .. })
    ));
}

/// A vote by a user who does not exist is a missing reference.
pub async fn vote_by_a_missing_user_is_a_missing_reference(store: Arc<dyn Store>) {
    let a = user(&*store, "vu").await;
    let p = store
        .create_post(&a, &draft("orphan vote", true), now())
        .await
        .unwrap();
    assert!(matches!(
        store.add_vote(UserId(i64::MAX), p.id).await,
        Err(StorageError::MissingReference { .. })
    ));
    assert_eq!(
        store
            .get_post(p.id, None)
            .await
            .unwrap()
            .expect("found")
            .votes,
        0
    );
}

/// Concurrent identical votes insert exactly once.
pub async fn concurrent_identical_votes_insert_exactly_once(store: Arc<dyn Store>) {
    let a = user(&*store, "vr").await;
    let p = store
        .create_post(&a, &draft("race", true), now())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.add_vote(a.id, p.id).await })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(()) => added += 1,
            Err(StorageError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(added, 1);
    assert_eq!(
        store
            .get_post(p.id, None)
            .await
            .unwrap()
            .expect("found")
            .votes,
        1
    );
}

/// Deleting a user cascades to posts and votes.
pub async fn deleting_a_user_cascades_to_posts_and_votes(store: Arc<dyn Store>) {
    let a = user(&*store, "ca").await;
    let b = user(&*store, "cb").await;
    let pa = store
        .create_post(&a, &draft("a's", true), now())
        .await
        .unwrap();
    let pb = store
        .create_post(&b, &draft("b's", true), now())
        .await
        .unwrap();
    store.add_vote(a.id, pb.id).await.unwrap();
    store.add_vote(b.id, pa.id).await.unwrap();
    assert!(store.delete_user(a.id).await.unwrap());
    assert!(!store.delete_user(a.id).await.unwrap());
    assert!(store.get_post(pa.id, None).await.unwrap().is_none());
    assert_eq!(
        store
            .get_post(pb.id, None)
            .await
            .unwrap()
            .expect("b's post stays")
            .votes,
        0
    );
    assert!(matches!(
        store.create_post(&a, &draft("ghost", true), now()).await,
        Err(StorageError::MissingReference { .. })
    ));
}

/// Deleting a post cascades to its votes.
pub async fn deleting_a_post_cascades_to_its_votes(store: Arc<dyn Store>) {
    let a = user(&*store, "dp").await;
    let p = store
        .create_post(&a, &draft("gone", true), now())
        .await
        .unwrap();
    store.add_vote(a.id, p.id).await.unwrap();
    assert!(store.delete_post(p.id).await.unwrap());
    // The vote went with the post: removing it finds nothing.
    assert!(!store.remove_vote(a.id, p.id).await.unwrap());
}

fn session_for(user: &User, id: &str, expires_in_days: i64) -> Session {
    let now = now();
    Session {
        id: id.to_owned(),
        user_id: user.id,
        created_at: now,
        last_used_at: now,
        expires_at: now + chrono::Duration::days(expires_in_days),
        revoked_at: None,
        user_agent: Some("curl/8.0".to_owned()),
        ip: Some("203.0.113.7".to_owned()),
    }
}

/// A session's refresh key (any non-empty text for storage).
const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn refresh_for(session: &Session, hash: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: hash.to_owned(),
        session_id: session.id.clone(),
        created_at: session.created_at,
        expires_at: session.expires_at,
    }
}

/// Sessions round trip and join their user.
pub async fn sessions_round_trip_and_join_their_user(store: Arc<dyn Store>) {
    let u = user(&*store, "sess").await;
    let other = user(&*store, "sess-other").await;
    let s = session_for(&u, "s10123456789abcdef0123456789abcd", 30);
    store
        .create_session(&s, KEY, 0, &refresh_for(&s, &"a".repeat(64)))
        .await
        .unwrap();
    let (found_user, found) = store
        .session_user(u.id, &s.id)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found_user, u);
    assert_eq!(found, s);
    assert!(
        store.session_user(other.id, &s.id).await.unwrap().is_none(),
        "not another user's"
    );
    assert!(store.session_user(u.id, "nope").await.unwrap().is_none());
    assert_eq!(
        store.list_sessions(u.id, now()).await.unwrap(),
        vec![s.clone()]
    );
}

/// A session and a post read together are what `session_user` and
/// `get_post` read apart: the post's owner, tags, votes and the session
/// user's `voted`; no post is `None` beside an active session; a session
/// that is someone else's, unknown, revoked, expired or of old credentials
/// finds nothing.
pub async fn a_session_and_a_post_read_together_match_reading_them_apart(store: Arc<dyn Store>) {
    let u = user(&*store, "together").await;
    let other = user(&*store, "together-other").await;
    let s = session_for(&u, "t10123456789abcdef0123456789abcd", 30);
    store
        .create_session(&s, KEY, 0, &refresh_for(&s, &"t".repeat(64)))
        .await
        .unwrap();
    let mine = store
        .create_post(&u, &draft("mine", false), now())
        .await
        .unwrap();
    let mut tagged = draft("theirs", true);
    tagged.tags = Some(vec![
        crate::domain::Tag::parse("rust").unwrap(),
        crate::domain::Tag::parse("sql").unwrap(),
    ]);
    let theirs = store.create_post(&other, &tagged, now()).await.unwrap();
    store.add_vote(u.id, theirs.id).await.unwrap();
    store.add_vote(other.id, theirs.id).await.unwrap();
    let missing = PostId(theirs.id.0 + 1_000);
    for post in [mine.id, theirs.id, missing] {
        let together = store
            .active_session_post(u.id, &s.id, post, now())
            .await
            .unwrap()
            .expect("the session is found");
        assert_eq!(
            together,
            store.get_post(post, Some(u.id)).await.unwrap(),
            "post {post:?}"
        );
    }
    let read = store
        .active_session_post(u.id, &s.id, theirs.id, now())
        .await
        .unwrap()
        .unwrap()
        .expect("the post is found");
    assert_eq!((read.votes, read.voted), (2, true));
    assert_eq!(read.post.owner, other);
    assert_eq!(read.post.tags.len(), 2);
    let refused = |user: UserId, session: String, at: DateTime<Utc>| {
        let store = store.clone();
        async move {
            store
                .active_session_post(user, &session, theirs.id, at)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        refused(other.id, s.id.clone(), now()).await,
        None,
        "not another user's session"
    );
    assert_eq!(refused(u.id, "nope".to_owned(), now()).await, None);
    assert_eq!(
        refused(u.id, s.id.clone(), s.expires_at).await,
        None,
        "not a session at its expiry"
    );
    assert!(
        refused(
            u.id,
            s.id.clone(),
            s.expires_at - chrono::Duration::seconds(1)
        )
        .await
        .is_some(),
        "a session a second before its expiry"
    );
    assert!(store.revoke_session(u.id, &s.id, now()).await.unwrap());
    assert_eq!(
        refused(u.id, s.id.clone(), now()).await,
        None,
        "not a revoked session"
    );
    let fresh = session_for(&u, "t20123456789abcdef0123456789abcd", 30);
    store
        .create_session(&fresh, KEY, 0, &refresh_for(&fresh, &"f".repeat(64)))
        .await
        .unwrap();
    assert!(refused(u.id, fresh.id.clone(), now()).await.is_some());
    store.end_sessions(u.id, None, None, now()).await.unwrap();
    assert_eq!(
        refused(u.id, fresh.id.clone(), now()).await,
        None,
        "not a session of old credentials"
    );
}

/// A refresh token is claimed first exactly once.
pub async fn a_refresh_token_is_claimed_first_exactly_once(store: Arc<dyn Store>) {
    let u = user(&*store, "claim").await;
    let s = session_for(&u, "s20123456789abcdef0123456789abcd", 30);
    let hash = "b".repeat(64);
    store
        .create_session(&s, KEY, 0, &refresh_for(&s, &hash))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = Arc::clone(&store);
            let hash = hash.clone();
            tokio::spawn(async move { store.claim_refresh_token(&hash).await })
        })
        .collect();
    let mut first = 0;
    for task in tasks {
        let claim = task.await.expect("task ran").unwrap().expect("token found");
        assert_eq!(claim.session.id, s.id);
        if claim.previously_rotated_at.is_none() {
            first += 1;
        }
    }
    assert_eq!(first, 1, "exactly one claim is the first");
    assert!(
        store
            .claim_refresh_token(&"c".repeat(64))
            .await
            .unwrap()
            .is_none()
    );
}

/// Adding a refresh token marks the session used.
pub async fn adding_a_refresh_token_marks_the_session_used(store: Arc<dyn Store>) {
    let u = user(&*store, "add").await;
    let s = session_for(&u, "s30123456789abcdef0123456789abcd", 30);
    store
        .create_session(&s, KEY, 0, &refresh_for(&s, &"d".repeat(64)))
        .await
        .unwrap();
    let later = s.created_at + chrono::Duration::minutes(5);
    let next = RefreshTokenRecord {
        created_at: later,
        ..refresh_for(&s, &"e".repeat(64))
    };
    store.add_refresh_token(&next).await.unwrap();
    let claim = store
        .claim_refresh_token(&next.token_hash)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(claim.session.last_used_at, later);
    assert_eq!(claim.expires_at, next.expires_at);
}

/// Revoking sessions ends them for their owner only.
pub async fn revoking_sessions_ends_them_for_their_owner_only(store: Arc<dyn Store>) {
    let u = user(&*store, "rev").await;
    let other = user(&*store, "rev-other").await;
    let ids = [
        "r10123456789abcdef0123456789abcd",
        "r20123456789abcdef0123456789abcd",
        "r30123456789abcdef0123456789abcd",
    ];
    for (i, id) in ids.iter().enumerate() {
        let s = session_for(&u, id, 30);
        store
            .create_session(&s, KEY, 0, &refresh_for(&s, &format!("{i}").repeat(64)))
            .await
            .unwrap();
    }
    assert!(
        !store.revoke_session(other.id, ids[0], now()).await.unwrap(),
        "not someone else's"
    );
    assert!(store.revoke_session(u.id, ids[0], now()).await.unwrap());
    assert!(
        !store.revoke_session(u.id, ids[0], now()).await.unwrap(),
        "already ended"
    );
    let (_, ended) = store
        .session_user(u.id, ids[0])
        .await
        .unwrap()
        .expect("still stored");
    assert!(ended.revoked_at.is_some() && !ended.is_active(now()));
    assert_eq!(
        store
            .end_sessions(u.id, Some(ids[1]), None, now())
            .await
            .unwrap(),
        1
    );
    let left: Vec<String> = store
        .list_sessions(u.id, now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![ids[1].to_owned()]);
    assert_eq!(
        store.end_sessions(u.id, None, None, now()).await.unwrap(),
        1
    );
    assert!(store.list_sessions(u.id, now()).await.unwrap().is_empty());
}

/// Expired sessions are not listed.
pub async fn expired_sessions_are_not_listed(store: Arc<dyn Store>) {
    let u = user(&*store, "exp").await;
    let mut s = session_for(&u, "x10123456789abcdef0123456789abcd", 30);
    s.created_at -= chrono::Duration::days(60);
    s.last_used_at = s.created_at;
    s.expires_at = now() - chrono::Duration::days(1);
    store
        .create_session(&s, KEY, 0, &refresh_for(&s, &"f".repeat(64)))
        .await
        .unwrap();
    assert!(store.list_sessions(u.id, now()).await.unwrap().is_empty());
}

/// Deleting a user deletes their sessions.
pub async fn deleting_a_user_deletes_their_sessions(store: Arc<dyn Store>) {
    let u = user(&*store, "del-sess").await;
    let s = session_for(&u, "d10123456789abcdef0123456789abcd", 30);
    store
        .create_session(&s, KEY, 0, &refresh_for(&s, &"9".repeat(64)))
        .await
        .unwrap();
    assert!(store.delete_user(u.id).await.unwrap());
    assert!(store.session_user(u.id, &s.id).await.unwrap().is_none());
    assert!(
        store
            .claim_refresh_token(&"9".repeat(64))
            .await
            .unwrap()
            .is_none()
    );
}

/// A password change ends every session of the old credentials.
pub async fn a_password_change_ends_every_session_of_the_old_credentials(store: Arc<dyn Store>) {
    let u = user(&*store, "gen").await;
    let creds = store
        .find_credentials(&email("gen"))
        .await
        .unwrap()
        .unwrap();
    let kept = session_for(&u, "g10123456789abcdef0123456789abcd", 30);
    let other = session_for(&u, "g20123456789abcdef0123456789abcd", 30);
    for (s, hash) in [(&kept, "1"), (&other, "2")] {
        assert!(
            store
                .create_session(
                    s,
                    KEY,
                    creds.credential_generation,
                    &refresh_for(s, &hash.repeat(64))
                )
                .await
                .unwrap()
        );
    }
    let ended = store
        .end_sessions(u.id, Some(&kept.id), Some("$argon2id$changed"), now())
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(
        store.session_user(u.id, &kept.id).await.unwrap().is_some(),
        "kept"
    );
    assert!(store.session_user(u.id, &other.id).await.unwrap().is_none());
    assert!(
        store
            .claim_refresh_token(&"2".repeat(64))
            .await
            .unwrap()
            .is_none()
    );
    // A login that read the credentials before the change cannot start a session.
    let late = session_for(&u, "g30123456789abcdef0123456789abcd", 30);
    assert!(
        !store
            .create_session(
                &late,
                KEY,
                creds.credential_generation,
                &refresh_for(&late, &"3".repeat(64))
            )
            .await
            .unwrap()
    );
    assert!(store.session_user(u.id, &late.id).await.unwrap().is_none());
    let fresh = store
        .find_credentials(&email("gen"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.password_hash, "$argon2id$changed");
    assert!(fresh.credential_generation > creds.credential_generation);
    assert!(
        store
            .create_session(
                &late,
                KEY,
                fresh.credential_generation,
                &refresh_for(&late, &"3".repeat(64))
            )
            .await
            .unwrap()
    );
    assert_eq!(store.list_sessions(u.id, now()).await.unwrap().len(), 2);
    // Ending everything keeps nothing, and a dead session is never carried over.
    store.end_sessions(u.id, None, None, now()).await.unwrap();
    store
        .end_sessions(u.id, Some(&kept.id), None, now())
        .await
        .unwrap();
    assert!(store.session_user(u.id, &kept.id).await.unwrap().is_none());
    assert!(store.list_sessions(u.id, now()).await.unwrap().is_empty());
}

/// A session for a deleted user is refused not an error.
pub async fn a_session_for_a_deleted_user_is_refused_not_an_error(store: Arc<dyn Store>) {
    let u = user(&*store, "gone").await;
    assert!(store.delete_user(u.id).await.unwrap());
    let s = session_for(&u, "n10123456789abcdef0123456789abcd", 30);
    assert!(
        !store
            .create_session(&s, KEY, 0, &refresh_for(&s, &"4".repeat(64)))
            .await
            .unwrap()
    );
}

/// Claims are timed by the database and successors added once.
pub async fn claims_are_timed_by_the_database_and_successors_added_once(store: Arc<dyn Store>) {
    let u = user(&*store, "clock").await;
    let s = session_for(&u, "c10123456789abcdef0123456789abcd", 30);
    assert!(
        store
            .create_session(&s, KEY, 0, &refresh_for(&s, &"5".repeat(64)))
            .await
            .unwrap()
    );
    let first = store
        .claim_refresh_token(&"5".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.refresh_key, KEY);
    assert!(first.previously_rotated_at.is_none());
    let again = store
        .claim_refresh_token(&"5".repeat(64))
        .await
        .unwrap()
        .unwrap();
    let rotated_at = again
        .previously_rotated_at
        .expect("marked by the first claim");
    assert!(rotated_at <= again.checked_at && first.checked_at <= again.checked_at);
    // The database is on this machine: its clock agrees with ours.
    assert!(
        (again.checked_at - now()).num_seconds().abs() < 5,
        "{again:?}"
    );
    // Concurrent retries add the same successor: one row, no error.
    let next = refresh_for(&s, &"6".repeat(64));
    for _ in 0..2 {
        store.add_refresh_token(&next).await.unwrap();
    }
    assert!(
        store
            .claim_refresh_token(&next.token_hash)
            .await
            .unwrap()
            .is_some()
    );
}

/// Logins racing a logout everywhere leave no working session: each one
/// either lands before it (and is ended) or after it (and is refused).
pub async fn logins_racing_a_logout_everywhere_leave_no_working_session(store: Arc<dyn Store>) {
    let u = user(&*store, "race-out").await;
    let generation = store
        .find_credentials(&email("race-out"))
        .await
        .unwrap()
        .expect("found")
        .credential_generation;
    let logins: Vec<_> = (0..10)
        .map(|i| {
            let store = Arc::clone(&store);
            let s = session_for(&u, &format!("l{i:02}0123456789abcdef0123456789abc"), 30);
            tokio::spawn(async move {
                let refresh = refresh_for(&s, &format!("{i:02}").repeat(32));
                let created = store.create_session(&s, KEY, generation, &refresh).await;
                (s.id, created.unwrap())
            })
        })
        .collect();
    let logout = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.end_sessions(u.id, None, None, now()).await })
    };
    logout.await.expect("task ran").unwrap();
    for login in logins {
        let (id, _) = login.await.expect("task ran");
        let working = store
            .session_user(u.id, &id)
            .await
            .unwrap()
            .is_some_and(|(_, s)| s.is_active(now()));
        assert!(!working, "session {id} survived the logout everywhere");
    }
    assert!(store.list_sessions(u.id, now()).await.unwrap().is_empty());
}

/// Ping answers.
pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

/// Defines one `#[tokio::test]` per case of
/// [`agora_core::storage::conformance`](crate::storage::conformance), in a
/// module `$name`, each on the store that `$open` gives: an expression (it
/// runs once per test, in the module, which sees the caller's items) whose
/// `.await` yields `Option<(Arc<dyn Store>, G)>`; the guard `G` lives until
/// the case ends, and `None` skips the case (a backend not configured).
/// Needs `tokio` (with `macros` and `rt-multi-thread`) where it is used.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use agora_core::storage::Store;
/// use agora_core::storage::memory::MemoryStore;
///
/// agora_core::storage_conformance_tests!(memory, async {
///     let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
///     Some((store, ()))
/// });
/// ```
#[macro_export]
macro_rules! storage_conformance_tests {
    ($name:ident, $open:expr) => {
        $crate::storage_conformance_tests!(
            @cases $name,
            $open,
            [
                duplicate_email_is_a_conflict_naming_the_constraint,
                concurrent_registrations_of_one_email_insert_exactly_once,
                users_are_found_by_id_and_email_with_their_hash,
                posts_round_trip_with_owner_and_zero_votes,
                list_is_newest_first_paged_by_skip_or_keyset_and_hides_others_unpublished,
                search_is_a_case_insensitive_title_substring_with_literal_wildcards,
                search_ignores_case_in_unicode_titles,
                update_replaces_fields_and_delete_removes,
                votes_are_unique_per_user_and_post_and_counted,
                vote_on_a_missing_post_is_a_missing_reference,
                vote_by_a_missing_user_is_a_missing_reference,
                concurrent_identical_votes_insert_exactly_once,
                deleting_a_user_cascades_to_posts_and_votes,
                deleting_a_post_cascades_to_its_votes,
                sessions_round_trip_and_join_their_user,
                a_session_and_a_post_read_together_match_reading_them_apart,
                a_refresh_token_is_claimed_first_exactly_once,
                adding_a_refresh_token_marks_the_session_used,
                revoking_sessions_ends_them_for_their_owner_only,
                expired_sessions_are_not_listed,
                deleting_a_user_deletes_their_sessions,
                a_password_change_ends_every_session_of_the_old_credentials,
                a_session_for_a_deleted_user_is_refused_not_an_error,
                claims_are_timed_by_the_database_and_successors_added_once,
                logins_racing_a_logout_everywhere_leave_no_working_session,
                ping_answers,
                usernames_are_unique_case_insensitively_and_found_in_any_case,
                concurrent_claims_of_one_username_succeed_exactly_once,
                profile_updates_change_only_the_fields_given,
                concurrent_follows_make_one_edge,
                the_feed_lists_published_posts_of_followed_users,
                tags_round_trip_filter_listings_and_are_counted,
                author_and_voter_filters_combine_with_search,
                the_voted_flag_is_the_viewers_own_vote,
                comments_are_oldest_first_and_go_with_their_post_and_author,
                deleting_a_user_removes_their_follows,
                tag_counts_follow_every_write_exactly,
                account_tokens_are_bound_to_their_purpose,
                a_reset_is_single_use_and_kills_other_tokens_and_sessions,
                concurrent_resets_succeed_exactly_once,
                concurrent_mail_requests_issue_at_most_the_cap,
                concurrent_verifications_succeed_exactly_once,
                deleting_a_user_removes_their_tokens,
            ]
        );
    };
    (@cases $name:ident, $open:expr, [$($case:ident),* $(,)?]) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some((store, _guard)) = $open.await else { return };
                    $crate::storage::conformance::$case(store).await;
                }
            )*
        }
    };
}
