-- Account recovery and address verification.
--
-- `email_verified` turns true when the user opens a verification link.
-- `account_tokens` holds the single-use tokens of those links, as hashes
-- only, bound to their purpose, to the address they were mailed to and, for
-- password resets, to the credential generation they were issued under (a
-- password change or the end of every session kills them). The index serves
-- the per-address mail cap (tokens of a user within a window) and pruning.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE account_tokens (
    token_hash            TEXT    PRIMARY KEY,  -- hex SHA-256 of the token
    purpose               TEXT    NOT NULL,     -- password_reset | verify_email
    user_id               INTEGER NOT NULL,
    email                 TEXT    NOT NULL COLLATE NOCASE,
    credential_generation BIGINT  NOT NULL,
    created_at            TEXT    NOT NULL,
    expires_at            TEXT    NOT NULL,
    used_at               TEXT,
    CONSTRAINT account_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX account_tokens_user_id_idx ON account_tokens (user_id, created_at);
