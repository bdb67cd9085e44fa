"""``AsyncAgora``: Agora's services for asyncio apps (FastAPI, Starlette)."""

from __future__ import annotations

from datetime import timedelta
from typing import List, Optional, Union

from . import _agora
from ._agora import Post, PostWithVotes, Session, Token, User, VoteResult

__all__ = ["AsyncAgora"]

#: Who performs a protected operation: a user from this library, or an
#: access token (``str`` or :class:`Token`) that is authenticated first.
Actor = Union[User, Token, str]

#: The access token a session call acts on (``str`` or :class:`Token`).
AccessToken = Union[Token, str]


class AsyncAgora:
    """Agora's services with awaitable methods, for asyncio apps.

    The arguments and the rules are those of :class:`agora.Agora`. The work
    runs on Agora's own Rust threads (hashing on a bounded pool), so awaiting
    never blocks the event loop: other tasks keep running during a hash or a
    database query. Cancelling an awaiting task abandons the operation.

    Creating an ``AsyncAgora`` opens (and on first use creates and migrates)
    the database synchronously; do it once at startup. One instance is safe
    to share across tasks, threads and event loops.
    """

    __slots__ = ("_native",)

    def __init__(
        self,
        database_url: str = "sqlite:///agora.db",
        *,
        jwt_secret: Union[str, bytes, None] = None,
        access_token_ttl: Union[int, timedelta, None] = None,
        refresh_reuse_grace: Union[int, timedelta, None] = None,
        throttle: bool = True,
        hide_emails: bool = False,
    ) -> None:
        """Opens the database; see :class:`agora.Agora` for the arguments."""
        self._native = _agora.AsyncAgora(
            database_url,
            jwt_secret=jwt_secret,
            access_token_ttl=access_token_ttl,
            refresh_reuse_grace=refresh_reuse_grace,
            throttle=throttle,
            hide_emails=hide_emails,
        )

    @property
    def database_url(self) -> str:
        """The database URL in use (as sqlx reads it, password redacted)."""
        return self._native.database_url

    @property
    def access_token_ttl(self) -> timedelta:
        """The access token lifetime."""
        return self._native.access_token_ttl

    async def register(
        self,
        email: str,
        password: str,
        *,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> User:
        """Registers a user; raises ``ValidationError``, ``Conflict`` or
        ``RateLimited`` (too many registrations from ``client_ip``)."""
        return await self._native.register(
            email, password, client_ip=client_ip, user_agent=user_agent
        )

    async def login(
        self,
        email: str,
        password: str,
        *,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> Token:
        """Starts a session and issues its tokens; raises
        ``InvalidCredentials``, or ``RateLimited`` after repeated failures for
        the account or ``client_ip`` (pass the caller's IP from a web app)."""
        return await self._native.login(
            email, password, client_ip=client_ip, user_agent=user_agent
        )

    async def refresh(
        self,
        refresh_token: str,
        *,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> Token:
        """Exchanges a refresh token for a new :class:`Token` (rotation);
        replaying an exchanged one after ``refresh_reuse_grace`` ends the
        session. Raises ``Unauthorized`` for an unknown, expired, replayed or
        ended refresh token, and for an access token."""
        return await self._native.refresh(
            refresh_token, client_ip=client_ip, user_agent=user_agent
        )

    async def logout(self, token: AccessToken) -> None:
        """Ends the session of ``token`` (its refresh token and every access
        token of the session); raises ``Unauthorized``."""
        await self._native.logout(token)

    async def logout_all(self, token: AccessToken) -> int:
        """Ends every session of ``token``'s user, this one included, and
        returns how many; raises ``Unauthorized``."""
        return await self._native.logout_all(token)

    async def sessions(self, token: AccessToken) -> List[Session]:
        """The active sessions of ``token``'s user, newest first, ``current``
        marking ``token``'s; raises ``Unauthorized``."""
        return await self._native.sessions(token)

    async def end_session(self, token: AccessToken, session_id: str) -> None:
        """Ends one of ``token``'s user's sessions; raises ``NotFound`` when
        it is not an active session of theirs, ``Unauthorized``."""
        await self._native.end_session(token, session_id)

    async def change_password(
        self, token: AccessToken, current_password: str, new_password: str
    ) -> None:
        """Changes the password after checking the current one, ending the
        user's other sessions; raises ``InvalidCredentials`` (wrong current
        password), ``ValidationError`` (refused new password), ``Unauthorized``."""
        await self._native.change_password(token, current_password, new_password)

    async def delete_account(self, token: AccessToken, password: str) -> None:
        """Deletes ``token``'s user with their posts, votes and sessions after
        checking ``password``; raises ``InvalidCredentials``, ``Unauthorized``."""
        await self._native.delete_account(token, password)

    async def authenticate(self, access_token: str) -> User:
        """The user an access token belongs to; raises ``Unauthorized``."""
        return await self._native.authenticate(access_token)

    def verify_token(self, access_token: str) -> int:
        """The user id of a valid token, without a database look-up (no I/O,
        so not awaitable); raises ``Unauthorized``. Prefer ``authenticate``."""
        return self._native.verify_token(access_token)

    async def get_user(self, id: int) -> User:
        """A user by id; raises ``NotFound``."""
        return await self._native.get_user(id)

    async def health(self) -> None:
        """Returns when the database answers; raises ``Unavailable`` otherwise."""
        await self._native.health()

    async def create_post(
        self, user: Actor, title: str, content: str, published: bool = True
    ) -> Post:
        """Creates a post owned by ``user``; raises ``ValidationError``."""
        return await self._native.create_post(user, title, content, published)

    async def get_post(self, user: Actor, id: int) -> PostWithVotes:
        """One post with its votes; raises ``NotFound`` (also for someone
        else's unpublished post)."""
        return await self._native.get_post(user, id)

    async def list_posts(
        self,
        user: Actor,
        limit: int = 10,
        skip: int = 0,
        search: str = "",
        *,
        after: Optional[int] = None,
    ) -> List[PostWithVotes]:
        """Posts visible to ``user``, newest first; ``limit`` 1..=100,
        ``skip`` >= 0, ``search`` a case-insensitive title substring;
        ``after=<id>`` keeps only posts with a smaller id (keyset paging)."""
        return await self._native.list_posts(user, limit, skip, search, after=after)

    async def update_post(
        self, user: Actor, id: int, title: str, content: str, published: bool = True
    ) -> Post:
        """Replaces a post's fields; raises ``NotFound``, ``Forbidden`` or
        ``ValidationError``."""
        return await self._native.update_post(user, id, title, content, published)

    async def delete_post(self, user: Actor, id: int) -> None:
        """Deletes a post and its votes; raises ``NotFound`` or ``Forbidden``."""
        await self._native.delete_post(user, id)

    async def vote(self, user: Actor, post_id: int, dir: int) -> VoteResult:
        """``dir=1`` adds ``user``'s vote (``Conflict`` if already there),
        ``dir=0`` removes it (``NotFound`` if none); raises ``NotFound`` for
        an unknown or invisible post, ``ValidationError`` for another ``dir``."""
        return await self._native.vote(user, post_id, dir)

    def __repr__(self) -> str:
        """``AsyncAgora(database_url='...')``."""
        return f"AsyncAgora(database_url={self.database_url!r})"
