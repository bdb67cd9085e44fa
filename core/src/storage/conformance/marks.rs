//! Conformance cases of the sessions mark ([`crate::storage::SessionsMark`]):
//! what a session found active at one read still rests on later, so it must
//! move with every early end of a session, in the same transaction, and
//! with nothing else.

use std::sync::Arc;

use super::{KEY, draft, refresh_for, session_for, user};
use crate::domain::{PostId, UserId, now};
use crate::storage::{SessionsMark, Store};

async fn mark_of(store: &dyn Store, user: UserId) -> Option<SessionsMark> {
    let post = PostId(i64::MAX);
    store
        .marked_post(user, post)
        .await
        .expect("marked post")
        .map(|(mark, _)| mark)
}

/// A post read with its viewer's mark is the post `get_post` reads, and the
/// mark is the one `active_session_post` reads. Logging out, ending every
/// session and changing the password each move the user's mark (and no one
/// else's); creating a session does not; a deleted user has none.
pub async fn the_sessions_mark_moves_with_every_early_end_of_a_session(store: Arc<dyn Store>) {
    let u = user(&*store, "marked").await;
    let other = user(&*store, "marked-other").await;
    let post = store
        .create_post(&other, &draft("marked", true), now())
        .await
        .unwrap();
    store.add_vote(u.id, post.id).await.unwrap();
    let (first, found) = store
        .marked_post(u.id, post.id)
        .await
        .unwrap()
        .expect("the user exists");
    assert_eq!(found, store.get_post(post.id, Some(u.id)).await.unwrap());
    assert_eq!(found.map(|p| (p.votes, p.voted)), Some((1, true)));
    let stored = store.get_user(u.id).await.unwrap().expect("stored user");
    assert_eq!(first.user_created_at, stored.created_at);
    let missing = PostId(post.id.0 + 1_000);
    assert_eq!(
        store.marked_post(u.id, missing).await.unwrap(),
        Some((first, None)),
        "no post: the mark alone"
    );
    let others = mark_of(&*store, other.id).await;

    let s = session_for(&u, "m00123456789abcdef0123456789abcd", 30);
    let kept = session_for(&u, "m10123456789abcdef0123456789abcd", 30);
    for (session, hash) in [(&s, "1"), (&kept, "2")] {
        assert!(
            store
                .create_session(session, KEY, 0, &refresh_for(session, &hash.repeat(64)))
                .await
                .unwrap()
        );
    }
    assert_eq!(mark_of(&*store, u.id).await, Some(first), "logins leave it");
    let read = store
        .active_session_post(u.id, &s.id, post.id, now())
        .await
        .unwrap()
        .expect("an active session");
    assert_eq!(read.mark, first);
    assert_eq!(read.session_expires_at, s.expires_at);

    assert!(store.revoke_session(u.id, &s.id, now()).await.unwrap());
    let after_logout = mark_of(&*store, u.id).await.expect("user");
    assert!(after_logout.epoch > first.epoch, "a logout moves it");
    store
        .end_sessions(u.id, Some(&kept.id), None, now())
        .await
        .unwrap();
    let after_end = mark_of(&*store, u.id).await.expect("user");
    assert!(
        after_end.epoch > after_logout.epoch,
        "ending every other session moves it"
    );
    let read = store
        .active_session_post(u.id, &kept.id, post.id, now())
        .await
        .unwrap()
        .expect("the kept session");
    assert_eq!(read.mark, after_end, "the kept session reads the new mark");
    store
        .end_sessions(u.id, Some(&kept.id), Some("$argon2id$new"), now())
        .await
        .unwrap();
    let after_password = mark_of(&*store, u.id).await.expect("user");
    assert!(
        after_password.epoch > after_end.epoch,
        "a password change moves it"
    );
    assert_eq!(mark_of(&*store, other.id).await, others, "only the user's");

    assert!(store.delete_user(u.id).await.unwrap());
    assert_eq!(
        store.marked_post(u.id, post.id).await.unwrap(),
        None,
        "a deleted user has no mark"
    );
}

/// Twenty logouts of one user's sessions at once each move the mark: none
/// is lost to another (each ends its session and bumps the mark in one
/// transaction).
pub async fn concurrent_logouts_each_move_the_sessions_mark(store: Arc<dyn Store>) {
    let u = user(&*store, "many-logouts").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let s = session_for(&u, &format!("c{i:02}0123456789abcdef0123456789abc"), 30);
        let hash = format!("{i:064}");
        assert!(
            store
                .create_session(&s, KEY, 0, &refresh_for(&s, &hash))
                .await
                .unwrap()
        );
        ids.push(s.id);
    }
    let before = mark_of(&*store, u.id).await.expect("user");
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.revoke_session(u.id, &id, now()).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task").expect("revoke"), "each ends one");
    }
    let after = mark_of(&*store, u.id).await.expect("user");
    assert_eq!(after.epoch, before.epoch + 20, "one step per logout");
    assert_eq!(after.user_created_at, before.user_created_at);
}
