"""Type-checked (never run) use of the public API: mypy --strict must accept it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Dict, List

import agora


def sync_flow(app: agora.Agora) -> List[Dict[str, Any]]:
    user: agora.User = app.register("ada@example.com", "correct horse battery")
    token: agora.Token = app.login(user.email, "correct horse battery")
    me: agora.User = app.authenticate(token.access_token)
    created: datetime = me.created_at
    post: agora.Post = app.create_post(me, "Hello", "First", published=False)
    owner_email: str = post.owner.email
    found: agora.PostWithVotes = app.get_post(token, post.id)
    votes: int = found.votes
    result: agora.VoteResult = app.vote(token.access_token, post.id, 1)
    added: bool = result.added
    app.update_post(me, post.id, "Hi", "Second")
    app.delete_post(me, post.id)
    user_id: int = app.verify_token(token.access_token)
    ttl: timedelta = app.access_token_ttl
    del created, owner_email, votes, added, user_id, ttl
    return [p.to_dict() for p in app.list_posts(me, limit=10, skip=0, search="", after=None)]


async def async_flow(app: agora.AsyncAgora) -> agora.User:
    token = await app.login("ada@example.com", "correct horse battery")
    posts: List[agora.PostWithVotes] = await app.list_posts(token)
    del posts
    return await asyncio.wait_for(app.authenticate(token.access_token), timeout=1)


def errors_and_helpers() -> int:
    try:
        agora.Agora("sqlite://", jwt_secret=b"x" * 32, access_token_ttl=timedelta(minutes=5))
    except agora.ValidationError as e:
        return len(e.errors) + e.status_code
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
