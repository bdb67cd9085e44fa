"""``AsyncAgora``: Agora's services for asyncio apps (FastAPI, Starlette)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, Union

from . import _agora
from ._agora import Token, User

__all__ = ["Actor", "AsyncAgora"]

#: Who performs a protected operation: a user from this library, or an
#: access token (``str`` or :class:`Token`) that is authenticated first.
Actor = Union[User, Token, str]


def _coroutine(
    method: Callable[..., Awaitable[Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``method`` (which returns an awaitable) as a coroutine function, so
    that ``inspect``, FastAPI and ``asyncio.create_task`` treat it as one;
    its name, docstring and signature are the native method's."""

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await method(*args, **kwargs)

    return call


if TYPE_CHECKING:
    # The signatures are typed once, in _agora.pyi.
    from ._agora import AsyncAgora
else:
    #: The native class with each operation of Agora's one list made a
    #: coroutine function; the docstrings are the native ones.
    AsyncAgora = type(
        "AsyncAgora",
        (_agora.AsyncAgora,),
        {
            "__doc__": _agora.AsyncAgora.__doc__,
            "__module__": __name__,
            "__slots__": (),
            **{
                name: _coroutine(getattr(_agora.AsyncAgora, name))
                for name in _agora.AsyncAgora._operations
            },
        },
    )
