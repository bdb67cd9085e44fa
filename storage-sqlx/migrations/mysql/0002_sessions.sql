-- Login sessions and their refresh tokens.
--
-- A session lives from login until logout, revocation or its absolute expiry;
-- access tokens name it (`sid`), so ending it ends them at once. Refresh
-- tokens are stored only as SHA-256 hashes; `rotated_at` marks one that was
-- exchanged, so replaying it is detected (and ends the session).

CREATE TABLE sessions (
    id           CHAR(32)     NOT NULL,  -- 128 random bits, hex
    user_id      BIGINT       NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    last_used_at DATETIME(6)  NOT NULL,
    expires_at   DATETIME(6)  NOT NULL,
    revoked_at   DATETIME(6),
    user_agent   VARCHAR(256),
    ip           VARCHAR(45),
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    -- Also the index for listing a user's sessions and cascading deletes.
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE refresh_tokens (
    token_hash CHAR(64)    NOT NULL,  -- hex SHA-256 of the token
    session_id CHAR(32)    NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    rotated_at DATETIME(6),
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (token_hash),
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
