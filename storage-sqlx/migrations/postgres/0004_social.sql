-- The social graph: profiles, follows, tags and comments.
--
-- Constraints are named like the others, so violations map to core's errors
-- by name, and they, not the application, decide uniqueness.

-- Usernames are optional and unique case-insensitively, like emails: a
-- unique index on lower(username), which the look-ups (lower(username) =
-- lower($n)) use. NULLs never collide.
ALTER TABLE users ADD COLUMN username TEXT;
ALTER TABLE users ADD COLUMN bio TEXT;
ALTER TABLE users ADD COLUMN image TEXT;
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- Optional summary, and when the post was last edited.
ALTER TABLE posts ADD COLUMN description TEXT;
ALTER TABLE posts ADD COLUMN updated_at TIMESTAMPTZ;

-- The author filter and the feed walk an owner's posts newest first:
-- (owner_id, id) gives them in id order (a b-tree on owner_id alone does not).
-- It still serves cascading deletes from users.
DROP INDEX posts_owner_id_idx;
CREATE INDEX posts_owner_id_id_idx ON posts (owner_id, id);

-- The voted_by filter walks a voter's votes newest post first (index-only).
-- It still serves cascading deletes from users.
DROP INDEX votes_user_id_idx;
CREATE INDEX votes_user_id_post_id_idx ON votes (user_id, post_id);

-- Who follows whom: the primary key makes a follow idempotent (ON CONFLICT
-- DO NOTHING) and serves "does the viewer follow X" and the feed's join
-- from the follower's side.
CREATE TABLE follows (
    follower_id BIGINT NOT NULL,
    followee_id BIGINT NOT NULL,
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
    post_id BIGINT NOT NULL,
    tag     TEXT   NOT NULL,
    CONSTRAINT post_tags_pkey PRIMARY KEY (post_id, tag),
    CONSTRAINT post_tags_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
);

CREATE INDEX post_tags_tag_post_id_idx ON post_tags (tag, post_id);

-- Comments: identity ids only grow, so "oldest first" is ascending id.
CREATE TABLE comments (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id    BIGINT      NOT NULL,
    author_id  BIGINT      NOT NULL,
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
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
-- post. A tag whose count falls to 0 keeps its row and is not listed. Ties
-- are listed by code point, hence the "C" collation.
CREATE TABLE tag_counts (
    tag   TEXT   PRIMARY KEY,
    posts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tag_counts_posts_idx ON tag_counts (posts DESC, tag COLLATE "C");
