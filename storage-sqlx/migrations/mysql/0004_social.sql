-- The social graph: profiles, follows, tags and comments.
--
-- Constraints are named like the others, so violations map to core's errors
-- by name, and they, not the application, decide uniqueness.

-- Usernames are optional and unique case-insensitively, like emails: a
-- stored LOWER(username) column with the unique key, which the look-ups
-- (username_lower = LOWER(?)) use. Usernames are at most 30 ASCII
-- characters (core checks). NULLs never collide.
ALTER TABLE users
    ADD COLUMN username       VARCHAR(30),
    ADD COLUMN username_lower VARCHAR(30) AS (LOWER(username)) STORED,
    ADD COLUMN bio            TEXT,
    ADD COLUMN image          TEXT,
    ADD CONSTRAINT users_username_key UNIQUE (username_lower);

-- Optional summary, and when the post was last edited (UTC, like created_at).
ALTER TABLE posts
    ADD COLUMN description TEXT,
    ADD COLUMN updated_at  DATETIME(6);

-- The index InnoDB made for posts_owner_id_fkey (owner_id) already serves
-- the author filter and the feed newest first: a secondary index entry ends
-- with the primary key, so it is ordered by (owner_id, id). Likewise the
-- index of votes_user_id_fkey is ordered by (user_id, post_id), which the
-- voted_by filter walks.

-- Who follows whom: the primary key makes a follow idempotent (ON DUPLICATE
-- KEY UPDATE of nothing; INSERT IGNORE would also hide foreign key errors)
-- and serves "does the viewer follow X" and the feed's join from the
-- follower's side.
CREATE TABLE follows (
    follower_id BIGINT NOT NULL,
    followee_id BIGINT NOT NULL,
    CONSTRAINT follows_pkey PRIMARY KEY (follower_id, followee_id),
    -- Cascading deletes from the followed user (declared here, so InnoDB
    -- makes no index of its own for the foreign key).
    KEY follows_followee_id_idx (followee_id),
    CONSTRAINT follows_follower_id_fkey FOREIGN KEY (follower_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT follows_followee_id_fkey FOREIGN KEY (followee_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A post's tags (trimmed, lower-cased, at most 10 of 32 characters by core;
-- binary collation, so "é" and "e" stay distinct tags). The primary key
-- serves a post's tags; (tag, post_id) serves the tag filter newest first
-- and the per-tag counts.
CREATE TABLE post_tags (
    post_id BIGINT      NOT NULL,
    tag     VARCHAR(32) NOT NULL,
    CONSTRAINT post_tags_pkey PRIMARY KEY (post_id, tag),
    KEY post_tags_tag_post_id_idx (tag, post_id),
    CONSTRAINT post_tags_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Comments: AUTO_INCREMENT ids only grow, so "oldest first" is ascending id.
CREATE TABLE comments (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    post_id    BIGINT      NOT NULL,
    author_id  BIGINT      NOT NULL,
    body       TEXT        NOT NULL,
    created_at DATETIME(6) NOT NULL,
    CONSTRAINT comments_pkey PRIMARY KEY (id),
    -- A post's comments in order, and cascading deletes from posts (declared
    -- here, so InnoDB makes no index of its own for the foreign key).
    KEY comments_post_id_id_idx (post_id, id),
    -- Cascading deletes from users.
    KEY comments_author_id_idx (author_id),
    CONSTRAINT comments_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT comments_author_id_fkey FOREIGN KEY (author_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Published posts per tag, kept by the store in the transaction of every
-- write that changes one (a post created, edited, deleted, or its owner
-- deleted), so `GET /tags` reads an index instead of counting every tagged
-- post. A tag whose count falls to 0 keeps its row and is not listed.
CREATE TABLE tag_counts (
    tag   VARCHAR(32) NOT NULL,
    posts BIGINT      NOT NULL DEFAULT 0,
    CONSTRAINT tag_counts_pkey PRIMARY KEY (tag),
    KEY tag_counts_posts_idx (posts DESC, tag)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
