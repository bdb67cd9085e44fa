"""The social graph, sync and async: usernames, profiles, follows, the feed,
tags and comments."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Callable, List

import pytest
from support import PASSWORD, SECRET, run_sql, sqlite_url, unique_email

import agora


def named(app: agora.Agora, username: str) -> agora.User:
    """A registered user with a username."""
    return app.register(unique_email(username), PASSWORD, username=username)


def edges(db_path: Path, follower: agora.User, followee: agora.User) -> int:
    [[count]] = run_sql(
        db_path,
        (
            "SELECT count(*) FROM follows WHERE follower_id = ? AND followee_id = ?",
            [follower.id, followee.id],
        ),
    )
    return int(count)


def ids(posts: List[agora.PostWithVotes]) -> List[int]:
    return [p.post.id for p in posts]


# --- usernames and profiles ------------------------------------------------------


def test_register_takes_an_optional_username_unique_whatever_its_case(app: agora.Agora) -> None:
    ada = app.register(unique_email(), PASSWORD, username="Ada_L")
    assert (ada.username, ada.bio, ada.image) == ("Ada_L", None, None)
    assert list(ada.to_dict())[3:] == ["username", "bio", "image", "email_verified"]
    assert "Ada_L" in repr(ada)
    assert app.register(unique_email(), PASSWORD).username is None
    with pytest.raises(agora.Conflict) as caught:
        app.register(unique_email(), PASSWORD, username="ada_l")
    err = caught.value
    assert (err.code, err.status_code) == ("USERNAME_TAKEN", 409)
    assert err.to_dict()["code"] == "USERNAME_TAKEN"
    with pytest.raises(agora.ValidationError) as invalid:
        app.register("bad", PASSWORD, username="a b")
    assert [e["loc"] for e in invalid.value.errors] == [["body", "email"], ["body", "username"]]


def test_update_profile_changes_given_fields_keeps_omitted_ones_and_none_clears(
    app: agora.Agora, user: agora.User
) -> None:
    set_all = app.update_profile(
        user, username="grace", bio="Admiral", image="https://example.com/g.png"
    )
    assert (set_all.id, set_all.username, set_all.bio, set_all.image) == (
        user.id,
        "grace",
        "Admiral",
        "https://example.com/g.png",
    )
    token = app.login(user.email, PASSWORD)
    bio_only = app.update_profile(token, bio="Rear admiral")
    assert (bio_only.username, bio_only.bio, bio_only.image) == (
        "grace",
        "Rear admiral",
        "https://example.com/g.png",
    )
    cleared = app.update_profile(user, bio=None, image=...)
    assert (cleared.username, cleared.bio, cleared.image) == ("grace", None, "https://example.com/g.png")
    assert app.update_profile(user) == cleared
    assert app.authenticate(token.access_token) == cleared
    with pytest.raises(agora.ValidationError) as invalid:
        app.update_profile(user, username="x", image="javascript:alert(1)")
    assert [e["loc"] for e in invalid.value.errors] == [["body", "username"], ["body", "image"]]
    named(app, "taken")
    with pytest.raises(agora.Conflict) as taken:
        app.update_profile(user, username="TAKEN")
    assert taken.value.code == "USERNAME_TAKEN"
    with pytest.raises(TypeError):
        app.update_profile(user, bio=5)  # type: ignore[arg-type]
    assert app.update_profile(user, username=None).username is None
    with pytest.raises(agora.NotFound):
        app.profile(None, "grace")


def test_profile_shows_whether_the_viewer_follows(app: agora.Agora) -> None:
    ada, bob = named(app, "ada"), named(app, "bob")
    app.update_profile(ada, bio="Mathematician")
    seen = app.profile(None, "ADA")
    assert isinstance(seen, agora.Profile)
    assert (seen.username, seen.bio, seen.image, seen.following) == (
        "ada",
        "Mathematician",
        None,
        False,
    )
    assert app.profile(bob, "ada").following is False
    app.follow(bob, "ada")
    assert app.profile(bob, "ada").to_dict() == {
        "username": "ada",
        "bio": "Mathematician",
        "image": None,
        "following": True,
    }
    assert app.profile(None, "ada").following is False
    assert app.profile(ada, "bob").following is False
    for missing in ["nobody", "a b"]:
        with pytest.raises(agora.NotFound) as caught:
            app.profile(bob, missing)
        assert (caught.value.code, caught.value.status_code) == ("PROFILE_NOT_FOUND", 404)


# --- follows and the feed --------------------------------------------------------


def test_follow_is_idempotent_yourself_is_invalid_and_unknown_users_are_not_found(
    app: agora.Agora, db_path: Path
) -> None:
    ada, bob = named(app, "ada"), named(app, "bob")
    anonymous = app.register(unique_email(), PASSWORD)  # a follower needs no username
    for _ in range(2):
        followed = app.follow(bob, "ada")
        assert (followed.username, followed.following) == ("ada", True)
    assert app.follow(anonymous, "Ada").following
    assert edges(db_path, bob, ada) == 1
    for _ in range(2):
        assert app.unfollow(bob, "ada").following is False
    assert edges(db_path, bob, ada) == 0
    with pytest.raises(agora.ValidationError) as yourself:
        app.follow(ada, "ADA")
    assert [e["loc"] for e in yourself.value.errors] == [["path", "username"]]
    for call in (app.follow, app.unfollow):
        with pytest.raises(agora.NotFound) as caught:
            call(ada, "ghost")
        assert caught.value.code == "PROFILE_NOT_FOUND"


def test_the_feed_lists_the_published_posts_of_followed_users(app: agora.Agora) -> None:
    ada, bob, cy = named(app, "ada"), named(app, "bob"), named(app, "cyd")
    by_bob = app.create_post(bob, "bob's", "c", tags=["rust"])
    app.create_post(bob, "bob's draft", "c", published=False)
    by_cy = app.create_post(cy, "cy's", "c")
    app.create_post(ada, "ada's own", "c")
    assert app.feed(ada) == []
    app.follow(ada, "bob")
    assert ids(app.feed(ada)) == [by_bob.id]
    app.follow(ada, "cyd")
    assert ids(app.feed(ada)) == [by_cy.id, by_bob.id]
    assert ids(app.feed(ada, limit=1, skip=1)) == [by_bob.id]
    assert ids(app.feed(ada, tag="Rust")) == [by_bob.id]
    assert ids(app.feed(ada, author="cyd")) == [by_cy.id]
    assert ids(app.feed(ada, after=by_cy.id)) == [by_bob.id]
    app.unfollow(ada, "bob")
    assert ids(app.feed(ada)) == [by_cy.id]
    with pytest.raises(agora.ValidationError):
        app.feed(ada, limit=0)
    with pytest.raises(agora.Unauthorized):
        app.feed("not a token")


def test_fifty_threads_following_at_once_leave_one_edge(app: agora.Agora, db_path: Path) -> None:
    ada, bob = named(app, "ada"), named(app, "bob")
    barrier = threading.Barrier(50)
    results: List[agora.Profile] = []
    errors: List[BaseException] = []

    def follow() -> None:
        try:
            barrier.wait()
            results.append(app.follow(bob, "ada"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=follow) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(results) == 50 and all(p.following for p in results)
    assert edges(db_path, bob, ada) == 1
    assert app.unfollow(bob, "ada").following is False
    assert edges(db_path, bob, ada) == 0


# --- tags and filters ------------------------------------------------------------


def test_post_tags_are_normalised_and_sorted_and_edits_keep_them(
    app: agora.Agora, user: agora.User
) -> None:
    post = app.create_post(user, "t", "c", tags=["SQL", " rust ", "sql"], description="short")
    assert (post.tags, post.description, post.updated_at) == (["rust", "sql"], "short", None)
    assert post.to_dict()["tags"] == ["rust", "sql"]
    kept = app.update_post(user, post.id, "t2", "c2")
    assert (kept.tags, kept.description) == (["rust", "sql"], "short")
    assert kept.updated_at is not None and kept.updated_at.tzinfo is not None
    assert app.update_post(user, post.id, "t2", "c2", tags=["Go"]).tags == ["go"]
    with pytest.raises(agora.ValidationError) as caught:
        app.create_post(user, "t", "c", tags=["ok", " "], description="x" * 1001)
    assert sorted(e["loc"] for e in caught.value.errors) == [
        ["body", "description"],
        ["body", "tags", "1"],
    ]
    with pytest.raises(agora.ValidationError):
        app.create_post(user, "t", "c", tags=[f"t{i}" for i in range(11)])
    with pytest.raises(TypeError):
        app.create_post(user, "t", "c", tags="rust")  # type: ignore[arg-type]


def test_list_posts_filters_by_tag_author_and_voter(app: agora.Agora) -> None:
    ada, bob = named(app, "ada"), named(app, "bob")
    rust = app.create_post(ada, "rust", "c", tags=["rust"])
    both = app.create_post(bob, "both", "c", tags=["rust", "sql"])
    plain = app.create_post(bob, "plain", "c")
    app.vote(ada, both.id, 1)
    app.vote(ada, plain.id, 1)
    assert ids(app.list_posts(ada, tag="RUST")) == [both.id, rust.id]
    assert ids(app.list_posts(ada, author="Bob")) == [plain.id, both.id]
    assert ids(app.list_posts(ada, voted_by="ada")) == [plain.id, both.id]
    assert ids(app.list_posts(bob, tag="sql", author="bob", voted_by="ada")) == [both.id]
    assert app.list_posts(ada, author="nobody") == []
    listed = {p.post.id: p.voted for p in app.list_posts(ada)}
    assert listed == {plain.id: True, both.id: True, rust.id: False}
    assert not any(p.voted for p in app.list_posts(None))
    assert app.get_post(ada, both.id).voted and not app.get_post(bob, both.id).voted
    assert app.get_post(None, both.id).votes == 1
    with pytest.raises(agora.ValidationError) as caught:
        app.list_posts(ada, limit=0, tag=" ", author="a b")
    # Every problem at once, in the order GET /posts reports them.
    assert [e["loc"] for e in caught.value.errors] == [
        ["query", "limit"],
        ["query", "tag"],
        ["query", "author"],
    ]


def test_tags_counts_published_posts_most_used_first(app: agora.Agora, user: agora.User) -> None:
    app.create_post(user, "a", "c", tags=["rust", "sql"])
    app.create_post(user, "b", "c", tags=["rust"])
    app.create_post(user, "draft", "c", tags=["rust", "secret"], published=False)
    counts = app.tags()
    assert [(t.tag, t.posts) for t in counts] == [("rust", 2), ("sql", 1)]
    assert isinstance(counts[0], agora.TagCount)
    assert counts[0].to_dict() == {"tag": "rust", "posts": 2}
    assert [t.tag for t in app.tags(limit=1)] == ["rust"]
    assert [t.tag for t in app.tags(limit=1, skip=1)] == ["sql"]
    with pytest.raises(agora.ValidationError):
        app.tags(limit=0)


# --- comments --------------------------------------------------------------------


def test_comments_are_added_listed_and_deleted_by_their_author_only(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    post = app.create_post(user, "Discuss", "c")
    first = app.add_comment(other, post.id, "First!")
    assert isinstance(first, agora.Comment)
    assert (first.post_id, first.body, first.author) == (post.id, "First!", other)
    assert first.created_at.tzinfo is not None
    assert list(first.to_dict()) == ["id", "post_id", "body", "created_at", "author"]
    second = app.add_comment(user, post.id, "Thanks")
    assert app.comments(None, post.id) == [first, second]
    assert app.comments(user, post.id, limit=1) == [first]
    assert app.comments(user, post.id, after=first.id) == [second]
    with pytest.raises(agora.ValidationError) as blank:
        app.add_comment(other, post.id, "  ")
    assert [e["loc"] for e in blank.value.errors] == [["body", "body"]]
    with pytest.raises(agora.Forbidden) as not_author:
        app.delete_comment(user, post.id, first.id)  # the post's owner, not the author
    assert (not_author.value.code, not_author.value.status_code) == ("NOT_COMMENT_AUTHOR", 403)
    elsewhere = app.create_post(user, "Elsewhere", "c")
    for post_id, comment_id in [(post.id, 999_999), (elsewhere.id, first.id)]:
        with pytest.raises(agora.NotFound) as missing:
            app.delete_comment(other, post_id, comment_id)
        assert (missing.value.code, missing.value.status_code) == ("COMMENT_NOT_FOUND", 404)
    assert app.delete_comment(other, post.id, first.id) is None
    assert app.comments(other, post.id) == [second]
    with pytest.raises(agora.NotFound) as again:
        app.delete_comment(other, post.id, first.id)
    assert again.value.code == "COMMENT_NOT_FOUND"


def test_comments_need_a_post_the_caller_can_see(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    draft = app.create_post(user, "Draft", "c", published=False)
    assert app.add_comment(user, draft.id, "note to self").body == "note to self"
    calls: List[Callable[[], object]] = [
        lambda: app.add_comment(other, draft.id, "hi"),
        lambda: app.comments(other, draft.id),
        lambda: app.comments(None, draft.id),
        lambda: app.comments(None, 999_999),
        lambda: app.delete_comment(other, draft.id, 1),
    ]
    for call in calls:
        with pytest.raises(agora.NotFound) as caught:
            call()
        assert caught.value.code == "POST_NOT_FOUND"


# --- asyncio ---------------------------------------------------------------------


@pytest.fixture
def aapp(db_path: Path) -> agora.AsyncAgora:
    return agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET)


def test_the_social_calls_work_with_await(aapp: agora.AsyncAgora) -> None:
    async def flow() -> None:
        ada = await aapp.register(unique_email(), PASSWORD, username="ada")
        bob = await aapp.register(unique_email(), PASSWORD)
        with pytest.raises(agora.Conflict) as taken:
            await aapp.register(unique_email(), PASSWORD, username="ADA")
        assert taken.value.code == "USERNAME_TAKEN"
        bob = await aapp.update_profile(bob, username="bob", bio="Builder")
        assert (await aapp.update_profile(bob, bio=None)).bio is None
        assert (await aapp.profile(None, "bob")).username == "bob"
        token = await aapp.login(ada.email, PASSWORD)
        assert (await aapp.follow(token, "bob")).following
        assert (await aapp.profile(token, "bob")).following
        with pytest.raises(agora.ValidationError):
            await aapp.follow(ada, "ada")
        with pytest.raises(agora.NotFound) as ghost:
            await aapp.follow(ada, "ghost")
        assert ghost.value.code == "PROFILE_NOT_FOUND"
        post = await aapp.create_post(bob, "Hello", "c", tags=["Async", "io"])
        assert post.tags == ["async", "io"]
        assert [p.post.id for p in await aapp.feed(ada)] == [post.id]
        assert [p.post.id for p in await aapp.list_posts(None, tag="async", author="bob")] == [
            post.id
        ]
        assert [(t.tag, t.posts) for t in await aapp.tags()] == [("async", 1), ("io", 1)]
        comment = await aapp.add_comment(ada, post.id, "Nice")
        assert await aapp.comments(None, post.id) == [comment]
        with pytest.raises(agora.Forbidden) as forbidden:
            await aapp.delete_comment(bob, post.id, comment.id)
        assert forbidden.value.code == "NOT_COMMENT_AUTHOR"
        assert await aapp.delete_comment(ada, post.id, comment.id) is None
        with pytest.raises(agora.NotFound) as gone:
            await aapp.delete_comment(ada, post.id, comment.id)
        assert gone.value.code == "COMMENT_NOT_FOUND"
        assert not (await aapp.unfollow(ada, "bob")).following
        assert await aapp.feed(ada) == []

    asyncio.run(flow())


def test_fifty_concurrent_awaited_follows_leave_one_edge(
    aapp: agora.AsyncAgora, db_path: Path
) -> None:
    async def flow() -> None:
        ada = await aapp.register(unique_email(), PASSWORD, username="ada")
        bob = await aapp.register(unique_email(), PASSWORD, username="bob")
        followed = await asyncio.gather(*(aapp.follow(bob, "ada") for _ in range(50)))
        assert all(p.following for p in followed)
        assert edges(db_path, bob, ada) == 1
        unfollowed = await asyncio.gather(*(aapp.unfollow(bob, "ada") for _ in range(10)))
        assert not any(p.following for p in unfollowed)
        assert edges(db_path, bob, ada) == 0

    asyncio.run(flow())
