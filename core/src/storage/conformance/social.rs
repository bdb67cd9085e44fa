//! Conformance cases of the social graph: usernames and profiles, follows
//! and the feed, tags, author and voter filters, comments.

use std::sync::Arc;

use super::{draft, email, filter, user};
use crate::domain::{
    CommentId, PostDraft, PostId, ProfileChange, Tag, User, UserId, Username, now,
};
use crate::storage::{StorageError, Store, USERNAME_KEY};

fn name(raw: &str) -> Username {
    Username::parse(raw).expect("valid username")
}

fn tags(raw: &[&str]) -> Option<Vec<Tag>> {
    Some(
        raw.iter()
            .map(|t| Tag::parse(t).expect("valid tag"))
            .collect(),
    )
}

async fn named(store: &dyn Store, tag: &str, username: &str) -> User {
    store
        .create_user(&email(tag), Some(&name(username)), "$h", now())
        .await
        .expect("user created")
}

fn rename(username: &str) -> ProfileChange {
    ProfileChange {
        username: Some(Some(name(username))),
        ..ProfileChange::default()
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> i64) -> Vec<i64> {
    items.iter().map(id).collect()
}

/// Usernames are unique case-insensitively, kept as typed and found in any case.
pub async fn usernames_are_unique_case_insensitively_and_found_in_any_case(store: Arc<dyn Store>) {
    let ada = named(&*store, "ada", "Ada.L").await;
    assert_eq!(ada.username, Some(name("Ada.L")));
    assert_eq!(store.get_user(ada.id).await.unwrap(), Some(ada.clone()));
    match store
        .create_user(&email("other"), Some(&name("ada.l")), "$h", now())
        .await
    {
        Err(StorageError::Conflict { constraint }) => assert_eq!(constraint, USERNAME_KEY),
        other => panic!("expected a username conflict, got {other:?}"),
    }
    let (found, following) = store
        .find_by_username(&name("ADA.l"), None)
        .await
        .unwrap()
        .expect("found in any case");
    assert_eq!((found, following), (ada, false));
    assert!(
        store
            .find_by_username(&name("nobody"), None)
            .await
            .unwrap()
            .is_none()
    );
    // Users without a username do not collide with each other.
    user(&*store, "anon1").await;
    user(&*store, "anon2").await;
}

/// Concurrent claims of one username succeed exactly once.
pub async fn concurrent_claims_of_one_username_succeed_exactly_once(store: Arc<dyn Store>) {
    let mut users = Vec::new();
    for i in 0..100 {
        users.push(user(&*store, &format!("claim{i}")).await);
    }
    let tasks: Vec<_> = users
        .iter()
        .map(|u| {
            let (store, id) = (Arc::clone(&store), u.id);
            tokio::spawn(async move { store.update_profile(id, &rename("Wanted")).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(Some(_)) => won += 1,
            Err(StorageError::Conflict { constraint }) => assert_eq!(constraint, USERNAME_KEY),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
}

/// Profile updates change only the fields given.
pub async fn profile_updates_change_only_the_fields_given(store: Arc<dyn Store>) {
    let u = named(&*store, "prof", "prof").await;
    named(&*store, "taken", "taken").await;
    let with_bio = ProfileChange {
        bio: Some(Some("Hello".to_owned())),
        image: Some(Some("https://example.com/a.png".to_owned())),
        ..ProfileChange::default()
    };
    let updated = store
        .update_profile(u.id, &with_bio)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.bio.as_deref(), Some("Hello"));
    assert_eq!(updated.username, Some(name("prof")), "kept");
    let renamed = store
        .update_profile(u.id, &rename("PROF"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        renamed.username,
        Some(name("PROF")),
        "own name in another case"
    );
    assert_eq!(renamed.bio.as_deref(), Some("Hello"), "kept");
    let cleared = ProfileChange {
        bio: Some(None),
        ..ProfileChange::default()
    };
    let cleared = store.update_profile(u.id, &cleared).await.unwrap().unwrap();
    assert_eq!(cleared.bio, None);
    assert_eq!(cleared.image.as_deref(), Some("https://example.com/a.png"));
    assert_eq!(store.get_user(u.id).await.unwrap(), Some(cleared));
    match store.update_profile(u.id, &rename("Taken")).await {
        Err(StorageError::Conflict { constraint }) => assert_eq!(constraint, USERNAME_KEY),
        other => panic!("expected a username conflict, got {other:?}"),
    }
    assert_eq!(
        store
            .update_profile(UserId(i64::MAX), &rename("ghost"))
            .await
            .unwrap(),
        None
    );
}

/// Concurrent follows make one edge, and unfollows report whether there was one.
pub async fn concurrent_follows_make_one_edge(store: Arc<dyn Store>) {
    let a = named(&*store, "fa", "fan").await;
    let b = named(&*store, "fb", "star").await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.follow(a.id, b.id).await })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("task ran")
            .expect("a follow is idempotent");
    }
    let seen = |viewer| {
        let store = Arc::clone(&store);
        async move {
            store
                .find_by_username(&name("star"), viewer)
                .await
                .unwrap()
                .unwrap()
                .1
        }
    };
    assert!(seen(Some(a.id)).await);
    assert!(!seen(Some(b.id)).await);
    assert!(!seen(None).await);
    assert!(
        store.unfollow(a.id, b.id).await.unwrap(),
        "one edge to remove"
    );
    assert!(!store.unfollow(a.id, b.id).await.unwrap(), "no edge left");
    assert!(!seen(Some(a.id)).await);
    match store.follow(a.id, UserId(i64::MAX)).await {
        Err(StorageError::MissingReference { .. }) => {}
        other => panic!("expected a missing reference, got {other:?}"),
    }
}

/// The feed lists the published posts of followed users, newest first, paged.
pub async fn the_feed_lists_published_posts_of_followed_users(store: Arc<dyn Store>) {
    let reader = named(&*store, "reader", "reader").await;
    let followed = named(&*store, "followed", "followed").await;
    let other = named(&*store, "other", "other").await;
    store.follow(reader.id, followed.id).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..3 {
        let p = store
            .create_post(&followed, &draft(&format!("f{i}"), true), now())
            .await
            .unwrap();
        expected.push(p.id.0);
        store
            .create_post(&other, &draft(&format!("o{i}"), true), now())
            .await
            .unwrap();
    }
    store
        .create_post(&followed, &draft("draft", false), now())
        .await
        .unwrap();
    store
        .create_post(&reader, &draft("mine", true), now())
        .await
        .unwrap();
    expected.reverse();
    let mut feed = filter(&reader);
    feed.feed = true;
    let page = store.list_posts(&feed).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), expected);
    feed.limit = 1;
    feed.skip = 1;
    let page = store.list_posts(&feed).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![expected[1]]);
    feed.skip = 0;
    feed.before = expected[1];
    let page = store.list_posts(&feed).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![expected[2]]);
    let mut lonely = filter(&other);
    lonely.feed = true;
    assert!(store.list_posts(&lonely).await.unwrap().is_empty());
    // With a filter too: an older post of a followed user, deeper than the
    // newest few, is found.
    let tagged = PostDraft {
        tags: tags(&["deep"]),
        ..draft("tagged", true)
    };
    let deep = store.create_post(&followed, &tagged, now()).await.unwrap();
    for i in 0..3 {
        let newer = draft(&format!("newer {i}"), true);
        store.create_post(&followed, &newer, now()).await.unwrap();
    }
    let mut feed = filter(&reader);
    feed.feed = true;
    feed.limit = 1;
    feed.tag = Tag::parse("deep").ok();
    let page = store.list_posts(&feed).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![deep.id.0]);
}

/// Tags round trip sorted, filter listings, survive updates that omit them, and are counted.
pub async fn tags_round_trip_filter_listings_and_are_counted(store: Arc<dyn Store>) {
    let u = named(&*store, "tagger", "tagger").await;
    let with = |title: &str, published, t: &[&str]| PostDraft {
        tags: tags(t),
        description: Some(format!("about {title}")),
        ..draft(title, published)
    };
    let rust = store
        .create_post(&u, &with("r", true, &["rust", "sql"]), now())
        .await
        .unwrap();
    assert_eq!(rust.tags, tags(&["rust", "sql"]).unwrap());
    let both = store
        .create_post(&u, &with("b", true, &["rust"]), now())
        .await
        .unwrap();
    let hidden = store
        .create_post(&u, &with("hidden", false, &["secret", "rust"]), now())
        .await
        .unwrap();
    let got = store.get_post(rust.id, None).await.unwrap().unwrap().post;
    assert_eq!(got.tags, tags(&["rust", "sql"]).unwrap());
    let mine = store.get_post(hidden.id, Some(u.id)).await.unwrap();
    assert_eq!(
        mine.map(|p| p.post.tags),
        Some(tags(&["rust", "secret"]).unwrap()),
        "sorted, whatever order they were given or aggregated in"
    );
    assert_eq!(got.description.as_deref(), Some("about r"));
    assert_eq!(got.updated_at, None);
    let mut tagged = filter(&u);
    tagged.tag = Tag::parse("sql").ok();
    let page = store.list_posts(&tagged).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![rust.id.0]);
    let counts = store.tags(10, 0).await.unwrap();
    let counted: Vec<(&str, i64)> = counts.iter().map(|c| (c.tag.as_str(), c.posts)).collect();
    assert_eq!(
        counted,
        vec![("rust", 2), ("sql", 1)],
        "published posts only"
    );
    assert_eq!(store.tags(1, 1).await.unwrap().len(), 1);
    // An update without tags or description keeps them; with, replaces them.
    let at = now();
    let kept = store
        .update_post(rust.id, &draft("r2", true), at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.tags, tags(&["rust", "sql"]).unwrap());
    assert_eq!(kept.description.as_deref(), Some("about r"));
    assert_eq!(kept.updated_at, Some(at));
    let replaced = store
        .update_post(both.id, &with("b", true, &["go"]), now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.tags, tags(&["go"]).unwrap());
    tagged.tag = Tag::parse("rust").ok();
    let page = store.list_posts(&tagged).await.unwrap();
    assert_eq!(
        ids(&page, |p| p.post.id.0),
        vec![hidden.id.0, rust.id.0],
        "the owner sees their unpublished post"
    );
    assert!(store.delete_post(rust.id).await.unwrap());
    let counted: Vec<String> = store
        .tags(10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.tag.as_str().to_owned())
        .collect();
    assert_eq!(
        counted,
        vec!["go".to_owned()],
        "a deleted post's tags go with it"
    );
}

/// Author and voter filters match usernames in any case and combine with search.
pub async fn author_and_voter_filters_combine_with_search(store: Arc<dyn Store>) {
    let ada = named(&*store, "ada", "Ada").await;
    let bob = named(&*store, "bob", "bob").await;
    let a1 = store
        .create_post(&ada, &draft("Rust one", true), now())
        .await
        .unwrap();
    let a2 = store
        .create_post(&ada, &draft("Go two", true), now())
        .await
        .unwrap();
    let b1 = store
        .create_post(&bob, &draft("Rust three", true), now())
        .await
        .unwrap();
    store.add_vote(bob.id, a1.id).await.unwrap();
    store.add_vote(bob.id, b1.id).await.unwrap();
    let mut by_ada = filter(&bob);
    by_ada.author = Some(name("ADA"));
    let page = store.list_posts(&by_ada).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![a2.id.0, a1.id.0]);
    by_ada.search = Some("rust".to_owned());
    let page = store.list_posts(&by_ada).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![a1.id.0]);
    assert!(page[0].voted, "bob voted for it");
    let mut liked = filter(&ada);
    liked.voted_by = Some(name("Bob"));
    let page = store.list_posts(&liked).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![b1.id.0, a1.id.0]);
    assert!(
        page.iter().all(|p| !p.voted),
        "voted is the viewer's (ada's)"
    );
    liked.author = Some(name("ada"));
    let page = store.list_posts(&liked).await.unwrap();
    assert_eq!(ids(&page, |p| p.post.id.0), vec![a1.id.0]);
    let mut nobody = filter(&ada);
    nobody.author = Some(name("nobody"));
    assert!(store.list_posts(&nobody).await.unwrap().is_empty());
    let mut anonymous = filter(&ada);
    anonymous.viewer = None;
    let page = store.list_posts(&anonymous).await.unwrap();
    assert_eq!(page.len(), 3);
    assert!(page.iter().all(|p| !p.voted));
}

/// The voted flag is the viewer's own vote.
pub async fn the_voted_flag_is_the_viewers_own_vote(store: Arc<dyn Store>) {
    let a = user(&*store, "va").await;
    let b = user(&*store, "vb").await;
    let p = store
        .create_post(&a, &draft("p", true), now())
        .await
        .unwrap();
    store.add_vote(b.id, p.id).await.unwrap();
    let seen = |viewer| {
        let store = Arc::clone(&store);
        async move { store.get_post(p.id, viewer).await.unwrap().unwrap() }
    };
    let by_b = seen(Some(b.id)).await;
    assert_eq!((by_b.votes, by_b.voted), (1, true));
    assert!(!seen(Some(a.id)).await.voted);
    assert!(!seen(None).await.voted);
    let page = store.list_posts(&filter(&b)).await.unwrap();
    assert!(page[0].voted);
}

/// Comments are listed oldest first, paged, and go with their post and author.
pub async fn comments_are_oldest_first_and_go_with_their_post_and_author(store: Arc<dyn Store>) {
    let a = named(&*store, "ca", "writer").await;
    let b = named(&*store, "cb", "critic").await;
    let p = store
        .create_post(&a, &draft("p", true), now())
        .await
        .unwrap();
    let other = store
        .create_post(&a, &draft("o", true), now())
        .await
        .unwrap();
    let mut written = Vec::new();
    for (i, author) in [&a, &b, &a].into_iter().enumerate() {
        let c = store
            .add_comment(p.id, author, &format!("comment {i}"), now())
            .await
            .unwrap();
        assert_eq!((c.post_id, &c.author), (p.id, author));
        written.push(c);
    }
    store
        .add_comment(other.id, &b, "elsewhere", now())
        .await
        .unwrap();
    let all = store.list_comments(p.id, 0, 100, 0).await.unwrap();
    assert_eq!(all, written, "oldest first, with authors");
    let after = store
        .list_comments(p.id, written[0].id.0, 1, 0)
        .await
        .unwrap();
    assert_eq!(ids(&after, |c| c.id.0), vec![written[1].id.0]);
    let skipped = store.list_comments(p.id, 0, 10, 2).await.unwrap();
    assert_eq!(ids(&skipped, |c| c.id.0), vec![written[2].id.0]);
    assert_eq!(
        store.get_comment(written[1].id).await.unwrap(),
        Some(written[1].clone())
    );
    assert!(store.delete_comment(written[1].id).await.unwrap());
    assert!(!store.delete_comment(written[1].id).await.unwrap());
    assert_eq!(store.get_comment(CommentId(i64::MAX)).await.unwrap(), None);
    match store.add_comment(PostId(i64::MAX), &a, "x", now()).await {
        Err(StorageError::MissingReference { .. }) => {}
        other => panic!("expected a missing reference, got {other:?}"),
    }
    // The critic's account goes with their comments; the post with the rest.
    assert!(store.delete_user(b.id).await.unwrap());
    assert_eq!(
        store.list_comments(other.id, 0, 10, 0).await.unwrap(),
        vec![]
    );
    assert!(store.delete_post(p.id).await.unwrap());
    assert_eq!(store.get_comment(written[0].id).await.unwrap(), None);
}

/// Deleting a user removes the follows from and to them.
pub async fn deleting_a_user_removes_their_follows(store: Arc<dyn Store>) {
    let a = named(&*store, "da", "leaving").await;
    let b = named(&*store, "db", "staying").await;
    store.follow(a.id, b.id).await.unwrap();
    store.follow(b.id, a.id).await.unwrap();
    assert!(store.delete_user(a.id).await.unwrap());
    assert!(!store.unfollow(b.id, a.id).await.unwrap());
    assert!(!store.unfollow(a.id, b.id).await.unwrap());
    let mut feed = filter(&b);
    feed.feed = true;
    assert!(store.list_posts(&feed).await.unwrap().is_empty());
}

/// Tag counts follow every write, exactly, under concurrency: creations,
/// edits that publish, unpublish or retag, deletions of posts and of their
/// owner.
pub async fn tag_counts_follow_every_write_exactly(store: Arc<dyn Store>) {
    let owner = named(&*store, "counted", "counted").await;
    let other = named(&*store, "other", "other").await;
    let hot = |published| PostDraft {
        tags: tags(&["hot", "warm"]),
        ..draft("hot", published)
    };
    // 100 at once, a quarter of them drafts.
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (store, owner) = (Arc::clone(&store), owner.clone());
            tokio::spawn(async move { store.create_post(&owner, &hot(i % 4 != 0), now()).await })
        })
        .collect();
    let mut posts = Vec::new();
    for task in tasks {
        posts.push(task.await.expect("task ran").expect("created"));
    }
    let count = |tag: &'static str| {
        let store = Arc::clone(&store);
        async move {
            let all = store.tags(100, 0).await.unwrap();
            all.iter()
                .find(|c| c.tag.as_str() == tag)
                .map_or(0, |c| c.posts)
        }
    };
    assert_eq!(
        (count("hot").await, count("warm").await),
        (75, 75),
        "published only"
    );
    // Edits at once: the 25 drafts published, 5 published posts retagged.
    let (drafts, published): (Vec<_>, Vec<_>) = posts.iter().partition(|p| !p.published);
    let mut edits = Vec::new();
    for p in drafts
        .iter()
        .copied()
        .chain(published.iter().copied().take(5))
    {
        let (store, id, was_draft) = (Arc::clone(&store), p.id, !p.published);
        edits.push(tokio::spawn(async move {
            let change = if was_draft {
                draft("now public", true)
            } else {
                PostDraft {
                    tags: tags(&["cold"]),
                    ..draft("retagged", true)
                }
            };
            store.update_post(id, &change, now()).await
        }));
    }
    for edit in edits {
        edit.await
            .expect("task ran")
            .expect("updated")
            .expect("exists");
    }
    assert_eq!((count("hot").await, count("cold").await), (95, 5));
    let unpublish = draft("hidden", false);
    store
        .update_post(published[6].id, &unpublish, now())
        .await
        .unwrap();
    assert_eq!(count("hot").await, 94);
    assert!(store.delete_post(published[7].id).await.unwrap());
    assert_eq!(count("hot").await, 93);
    store.create_post(&other, &hot(true), now()).await.unwrap();
    assert!(store.delete_user(owner.id).await.unwrap());
    assert_eq!((count("hot").await, count("cold").await), (1, 0));
    let listed: Vec<String> = store
        .tags(100, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.tag.as_str().to_owned())
        .collect();
    assert!(
        !listed.contains(&"cold".to_owned()),
        "a count of 0 is not listed"
    );
}
