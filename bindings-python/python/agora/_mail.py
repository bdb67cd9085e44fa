"""The mail a ``mailer=`` callable receives, and how an ``async def`` mailer
is run (on a private event loop in the worker thread that calls it)."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Literal, TypedDict

__all__ = ["Mail", "Mailer"]


class Mail(TypedDict):
    """One account mail, as a ``mailer=`` callable receives it.

    ``kind`` is ``"password_reset"`` or ``"verify_email"``; ``to`` the one
    recipient (a validated address); ``subject``, ``text`` and ``html`` the
    filled-in templates; ``link`` the link they carry
    (``{public_url}/reset-password?token=...`` or
    ``{public_url}/verify?token=...``). The link is secret: it carries a
    single-use token, so never log it.
    """

    kind: Literal["password_reset", "verify_email"]
    to: str
    subject: str
    text: str
    html: str
    link: str


#: A ``mailer=`` callable: takes a :class:`Mail`; returning is a delivery,
#: raising a failure (retried). An ``async def`` function works too.
Mailer = Callable[[Mail], Any]


def run_awaitable(awaitable: Awaitable[Any]) -> Any:
    """Runs what an ``async def`` mailer returned to completion on a fresh
    event loop (called by the native module, in a worker thread)."""

    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())
