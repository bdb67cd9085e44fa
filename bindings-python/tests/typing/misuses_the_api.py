"""Type-checked (never run) misuse: mypy must report every marked line."""

from __future__ import annotations

import agora


def misuse(app: agora.Agora) -> None:
    user = app.register("ada@example.com", "pw")
    user.id + "1"  # E: int + str
    app.create_post(user.id, "t", "c")  # E: an int is not an actor
    app.list_posts(user, limit="10")  # E: limit is an int
    token: int = app.login("a", "b")  # E: a Token, not an int
    agora.Agora(jwt_secret=32)  # E: the secret is str or bytes
    app.logout(user)  # E: session calls take a token, not a User
    app.refresh(app.login("a", "b"))  # E: refresh takes the refresh token string
    count: str = app.logout_all("t")  # E: an int, not a str
    agora.Agora(refresh_reuse_grace="10s")  # E: seconds or a timedelta
    app.update_profile(user, bio=5)  # E: a bio is a str or None
    app.feed(user, tag=["rust"])  # E: one tag, a str
    follows: bool = app.follow(user, "ada")  # E: a Profile, not a bool
    app.forgot_password(["ada@example.com"])  # E: one address, a str
    verified: str = app.verify("t").email_verified  # E: a bool, not a str
    agora.Agora(mailer="smtp://localhost")  # E: the mailer is a callable
    agora.Agora(require_verified_email="yes")  # E: a bool
    app.authenticate(user)  # E: a token (str or Token), not a User
    del token, count, follows, verified
