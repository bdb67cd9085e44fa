"""Type-checked (never run) use of the public API: mypy --strict must accept it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

import agora


def sync_flow(app: agora.Agora) -> List[Dict[str, Any]]:
    user: agora.User = app.register("ada@example.com", "correct horse battery")
    token: agora.Token = app.login("ada@example.com", "correct horse battery")
    me: agora.User = app.authenticate(token.access_token)
    created: datetime = me.created_at
    post: agora.Post = app.create_post(me, "Hello", "First", published=False)
    owner_email: Optional[str] = post.owner.email
    found: agora.PostWithVotes = app.get_post(token, post.id)
    votes: int = found.votes
    result: agora.VoteResult = app.vote(token.access_token, post.id, 1)
    added: bool = result.added
    app.update_post(me, post.id, "Hi", "Second")
    app.delete_post(me, post.id)
    user_id: int = app.verify_token(token.access_token)
    assert app.authenticate(token) == me and app.verify_token(token) == user_id
    ttl: timedelta = app.access_token_ttl
    del created, owner_email, votes, added, user_id, ttl
    return [p.to_dict() for p in app.list_posts(me, limit=10, skip=0, search="", after=None)]


def session_flow(app: agora.Agora) -> Dict[str, Any]:
    token = app.login("ada@example.com", "correct horse battery", client_ip="192.0.2.1")
    token = app.refresh(token.refresh_token, client_ip=None, user_agent="mypy")
    sessions: List[agora.Session] = app.sessions(token)
    current: agora.Session = sessions[0]
    started: datetime = current.created_at
    ip: Optional[str] = current.ip
    for other in sessions:
        if not other.current:
            app.end_session(token.access_token, other.id)
    app.change_password(token, "correct horse battery", "a brand new passphrase")
    ended: int = app.logout_all(token.access_token)
    app.logout(token)
    app.delete_account(token, "a brand new passphrase")
    agora.Agora("sqlite://", refresh_reuse_grace=timedelta(milliseconds=50))
    del started, ip, ended
    return current.to_dict()


async def async_session_flow(app: agora.AsyncAgora) -> int:
    token = await app.refresh("refresh-token")
    sessions: List[agora.Session] = await app.sessions(token)
    await app.end_session(token, sessions[0].id)
    await app.change_password(token.access_token, "old password", "new password")
    await app.logout(token)
    await app.delete_account(token, "new password")
    return await app.logout_all(token)


def social_flow(app: agora.Agora) -> List[Dict[str, Any]]:
    ada: agora.User = app.register("ada@example.com", "pw", username="ada")
    name: Optional[str] = ada.username
    ada = app.update_profile(ada, bio=None, image="https://example.com/a.png")
    profile: agora.Profile = app.follow(ada, "bob")
    following: bool = app.profile(None, "bob").following and not app.unfollow(ada, "bob").following
    post = app.create_post(ada, "t", "c", tags=["rust"], description=None)
    tags: List[str] = post.tags
    edited: Optional[datetime] = post.updated_at
    feed: List[agora.PostWithVotes] = app.feed(ada, tag="rust", author="bob", voted_by="ada")
    voted: bool = app.list_posts(None, tag="rust")[0].voted
    counts: List[agora.TagCount] = app.tags(limit=5)
    comment: agora.Comment = app.add_comment(ada, post.id, "Nice")
    comments: List[agora.Comment] = app.comments(None, post.id, after=comment.id)
    app.delete_comment(ada, post.id, comment.id)
    del name, profile, following, tags, edited, feed, voted, comments
    return [c.to_dict() for c in counts]


async def async_social_flow(app: agora.AsyncAgora) -> agora.Profile:
    await app.update_profile("token", username="ada")
    posts: List[agora.PostWithVotes] = await app.feed("token")
    comment: agora.Comment = await app.add_comment("token", posts[0].post.id, "Nice")
    await app.delete_comment("token", comment.post_id, comment.id)
    del posts
    return await app.follow("token", "bob")


async def async_flow(app: agora.AsyncAgora) -> agora.User:
    token = await app.login("ada@example.com", "correct horse battery")
    posts: List[agora.PostWithVotes] = await app.list_posts(token)
    del posts
    await app.authenticate(token)
    return await asyncio.wait_for(app.authenticate(token.access_token), timeout=1)


def errors_and_helpers() -> int:
    try:
        agora.Agora("sqlite://", jwt_secret=b"x" * 32, access_token_ttl=timedelta(minutes=5))
    except agora.ValidationError as e:
        return len(e.errors) + e.status_code
    except agora.ForkedProcess as e:
        message: str = e.message
        return len(message)
    except agora.AgoraError as e:
        detail: Any = e.detail
        headers: Dict[str, str] = e.headers
        del detail, headers
        return e.status_code
    phc: str = agora.hash_password("pw")
    ok: bool = agora.verify_password("pw", phc) and not agora.needs_rehash(phc)
    with agora.serve(port=0, database_url="sqlite://") as server:
        url: str = server.url
        del url
    return int(ok)


def recovery_flow(outbox: List[agora.Mail]) -> bool:
    def mailer(mail: agora.Mail) -> None:
        outbox.append(mail)

    async def async_mailer(mail: agora.Mail) -> None:
        outbox.append(mail)

    app = agora.Agora(
        "sqlite://",
        public_url="https://app.example.com",
        password_reset_ttl=timedelta(minutes=30),
        verify_token_ttl=3600,
        require_verified_email=True,
        mail_templates={"password_reset": {"subject": "Reset ({expires})"}},
        mailer=mailer,
    )
    agora.AsyncAgora("sqlite://", public_url="https://app.example.com", mailer=async_mailer)
    agora.Agora(
        "sqlite://",
        public_url="https://app.example.com",
        smtp_url="smtp://127.0.0.1:2525",
        mail_from="Agora <no-reply@example.com>",
    )
    app.forgot_password("ada@example.com", client_ip="192.0.2.1")
    app.request_verify_token("ada@example.com")
    link: str = outbox[0]["link"]
    try:
        app.reset_password(link.split("token=")[1], "a brand new passphrase")
    except agora.BadRequest as e:
        return e.code == "RESET_PASSWORD_BAD_TOKEN"
    user: agora.User = app.verify("token")
    return user.email_verified


async def async_recovery_flow(app: agora.AsyncAgora) -> bool:
    await app.forgot_password("ada@example.com")
    await app.request_verify_token("ada@example.com", client_ip=None)
    await app.reset_password("token", "a brand new passphrase")
    return (await app.verify("token")).email_verified
