-- Agora schema for PostgreSQL.
--
-- Constraints are named so that violations map to core's errors by name, and
-- they, not the application, decide uniqueness under concurrency. Identity ids
-- only grow, so "newest first" is descending id, served by the primary key.

-- Trigram indexes serve case-insensitive substring search (ILIKE '%term%').
-- pg_trgm is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- One account per email, case-insensitively (core also lower-cases emails;
-- the index guards rows written by other tools). Login looks up lower(email).
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE posts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title      TEXT        NOT NULL,
    content    TEXT        NOT NULL,
    published  BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    owner_id   BIGINT      NOT NULL,
    CONSTRAINT posts_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Cascading deletes from users, and an owner's unpublished posts in listings.
CREATE INDEX posts_owner_id_idx ON posts (owner_id);
-- Search: title ILIKE '%term%'.
CREATE INDEX posts_title_trgm_idx ON posts USING gin (title gin_trgm_ops);

-- One vote per user and post: the primary key settles concurrent votes, and
-- its (post_id, ...) prefix serves the per-post vote count.
CREATE TABLE votes (
    post_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    CONSTRAINT votes_pkey PRIMARY KEY (post_id, user_id),
    CONSTRAINT votes_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT votes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Cascading deletes from users.
CREATE INDEX votes_user_id_idx ON votes (user_id);
