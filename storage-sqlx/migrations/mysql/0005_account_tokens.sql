-- Account recovery and address verification.
--
-- `email_verified` turns true when the user opens a verification link.
-- `account_tokens` holds the single-use tokens of those links, as hashes
-- only, bound to their purpose, to the address they were mailed to and, for
-- password resets, to the credential generation they were issued under (a
-- password change or the end of every session kills them). The index serves
-- the per-address mail cap (tokens of a user within a window), pruning and
-- the foreign key.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE account_tokens (
    token_hash            CHAR(64)     NOT NULL,  -- hex SHA-256 of the token
    purpose               VARCHAR(16)  NOT NULL,  -- password_reset | verify_email
    user_id               BIGINT       NOT NULL,
    email                 VARCHAR(254) NOT NULL,
    credential_generation BIGINT       NOT NULL,
    created_at            DATETIME(6)  NOT NULL,
    expires_at            DATETIME(6)  NOT NULL,
    used_at               DATETIME(6),
    CONSTRAINT account_tokens_pkey PRIMARY KEY (token_hash),
    INDEX account_tokens_user_id_idx (user_id, created_at),
    CONSTRAINT account_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
