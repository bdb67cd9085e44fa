-- Agora schema for MySQL 8 and MariaDB 10.5+.
--
-- Constraints are named so that violations map to core's errors by name, and
-- they, not the application, decide uniqueness under concurrency.
-- AUTO_INCREMENT ids only grow, so "newest first" is descending id.
-- MySQL has no time-zone-aware timestamp type: times are stored as UTC in
-- DATETIME(6) (the connection's time_zone is '+00:00'), which, unlike
-- TIMESTAMP, does not end in 2038.
-- Text is utf8mb4 with the binary collation: the *_ci collations are also
-- accent-insensitive ("jose" = "josé"), which would merge distinct emails.
-- Case-insensitivity is explicit instead: a unique index on LOWER(email), and
-- searches compare LOWER(title), as PostgreSQL does.

CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    email         VARCHAR(254) NOT NULL,
    email_lower   VARCHAR(254) AS (LOWER(email)) STORED,
    password_hash VARCHAR(255) NOT NULL,
    created_at    DATETIME(6)  NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email_lower)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE posts (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    title      TEXT        NOT NULL,
    content    TEXT        NOT NULL,
    published  BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at DATETIME(6) NOT NULL,
    owner_id   BIGINT      NOT NULL,
    CONSTRAINT posts_pkey PRIMARY KEY (id),
    -- Also the index for cascading deletes from users.
    CONSTRAINT posts_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One vote per user and post: the primary key settles concurrent votes, and
-- its (post_id, ...) prefix serves the per-post vote count.
CREATE TABLE votes (
    post_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    CONSTRAINT votes_pkey PRIMARY KEY (post_id, user_id),
    CONSTRAINT votes_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT votes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
