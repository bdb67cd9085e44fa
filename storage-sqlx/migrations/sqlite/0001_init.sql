-- Agora schema for SQLite.
--
-- Constraints are named so that violations map to core's errors by name, and
-- they, not the application, decide uniqueness under concurrency.
-- AUTOINCREMENT keeps ids strictly increasing (never reused), so "newest
-- first" is simply descending id.

-- Emails arrive lower-cased from agora-core; NOCASE keeps the constraint
-- case-insensitive for rows written by other tools too.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    published  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT    NOT NULL,
    owner_id   INTEGER NOT NULL,
    CONSTRAINT posts_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Cascading deletes from users, and "my posts" look-ups.
CREATE INDEX posts_owner_id_idx ON posts (owner_id);

-- One vote per user and post: the primary key settles concurrent votes.
-- (post_id, user_id) order also serves the per-post vote count.
CREATE TABLE votes (
    post_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    CONSTRAINT votes_pkey PRIMARY KEY (post_id, user_id),
    CONSTRAINT votes_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT votes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Cascading deletes from users.
CREATE INDEX votes_user_id_idx ON votes (user_id);
