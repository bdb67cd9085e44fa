-- Login sessions and their refresh tokens.
--
-- A session lives from login until logout, revocation or its absolute expiry;
-- access tokens name it (`sid`), so ending it ends them at once. Refresh
-- tokens are stored only as SHA-256 hashes; `rotated_at` marks one that was
-- exchanged, so replaying it is detected (and ends the session).

CREATE TABLE sessions (
    id           TEXT        PRIMARY KEY,  -- 128 random bits, hex
    user_id      BIGINT      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    user_agent   TEXT,
    ip           TEXT,
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- A user's sessions (listing, logout everywhere, cascading deletes).
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT        PRIMARY KEY,  -- hex SHA-256 of the token
    session_id TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ,
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
);

-- Cascading deletes from sessions.
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
