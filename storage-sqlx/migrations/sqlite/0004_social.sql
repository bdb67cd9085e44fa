-- The social graph: profiles, follows, tags and comments.
--
-- Constraints are named like the others, so violations map to core's errors
-- by name, and they, not the application, decide uniqueness.

-- Usernames are optional and unique case-insensitively: the column is
-- `COLLATE NOCASE` (usernames are ASCII, which NOCASE folds), so the unique
-- index and every `username = ?` look-up compare the same way and the
-- look-ups use the index. SQLite reports a violation as
-- `UNIQUE constraint failed: users.username`, which the store maps to this
-- index's name. NULLs never collide.
ALTER TABLE users ADD COLUMN username TEXT COLLATE NOCASE;
ALTER TABLE users ADD COLUMN bio TEXT;
ALTER TABLE users ADD COLUMN image TEXT;
CREATE UNIQUE INDEX users_username_key ON users (username);

-- Optional summary, and when the post was last edited (TEXT like created_at).
ALTER TABLE posts ADD COLUMN description TEXT;
ALTER TABLE posts ADD COLUMN updated_at TEXT;

-- posts_owner_id_idx (owner_id) already serves the author filter and the
-- feed newest first: a SQLite index entry ends with the rowid, which is the
-- post's id, so it is ordered by (owner_id, id).

-- The voted_by filter walks a voter's votes newest post first: votes has a
-- composite primary key (its rowid is not post_id), so the index needs
-- post_id to cover it. It also serves cascading deletes from users.
DROP INDEX votes_user_id_idx;
CREATE INDEX votes_user_id_post_id_idx ON votes (user_id, post_id);

-- Who follows whom: the primary key makes a follow idempotent (insert unless
-- present) and serves "does the viewer follow X" and the feed's join from
-- the follower's side.
CREATE TABLE follows (
    follower_id INTEGER NOT NULL,
    followee_id INTEGER NOT NULL,
    CONSTRAINT follows_pkey PRIMARY KEY (follower_id, followee_id),
    CONSTRAINT follows_follower_id_fkey FOREIGN KEY (follower_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT follows_followee_id_fkey FOREIGN KEY (followee_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Cascading deletes from the followed user.
CREATE INDEX follows_followee_id_idx ON follows (followee_id);

-- A post's tags (trimmed, lower-cased, at most 10 of 32 characters by core).
-- The primary key serves a post's tags; (tag, post_id) serves the tag filter
-- newest first and the per-tag counts.
CREATE TABLE post_tags (
    post_id INTEGER NOT NULL,
    tag     TEXT    NOT NULL,
    CONSTRAINT post_tags_pkey PRIMARY KEY (post_id, tag),
    CONSTRAINT post_tags_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
);

CREATE INDEX post_tags_tag_post_id_idx ON post_tags (tag, post_id);

-- Comments: AUTOINCREMENT ids only grow, so "oldest first" is ascending id.
CREATE TABLE comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id    INTEGER NOT NULL,
    author_id  INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    CONSTRAINT comments_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT comments_author_id_fkey FOREIGN KEY (author_id) REFERENCES users (id) ON DELETE CASCADE
);

-- A post's comments in order (and cascading deletes from posts).
CREATE INDEX comments_post_id_id_idx ON comments (post_id, id);
-- Cascading deletes from users.
CREATE INDEX comments_author_id_idx ON comments (author_id);

-- Published posts per tag, kept by the store in the transaction of every
-- write that changes one (a post created, edited, deleted, or its owner
-- deleted), so `GET /tags` reads an index instead of counting every tagged
-- post. A tag whose count falls to 0 keeps its row and is not listed.
CREATE TABLE tag_counts (
    tag   TEXT    NOT NULL PRIMARY KEY,
    posts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tag_counts_posts_idx ON tag_counts (posts DESC, tag);
