-- Deep pages without walking every skipped post. `post_blocks` counts the
-- published posts of each block of 8,192 post ids (`id >> 13`), spread over
-- 32 rows per block (`id & 31`) so that concurrent inserts, whose ids are
-- consecutive, rarely wait for one another's row lock until commit. A
-- listing that skips far sums these counts, newest block first, to find the
-- block its page starts in, then walks that block only (see `list_posts` in
-- `store.rs`).
--
-- The triggers keep the counts in the transaction of the write itself, for
-- every writer (this release, older ones, imports, other tools). A post's
-- row in `post_blocks` exists from its insert on (drafts count 0), so
-- updates and deletes only update. InnoDB's cascades fire no triggers, so a
-- deleted user's posts are deleted by a trigger on users first (then the
-- posts' own triggers run and the cascade finds none). Creating triggers
-- with binary logging on needs the SUPER privilege or
-- `log_bin_trust_function_creators = 1` (see the crate's README). It only
-- adds, so the compatibility marker stays.
-- The viewer's own drafts, which their listings count too: found in this
-- index alone (it ends with the primary key), without reading the posts.
-- InnoDB builds it online. It also serves the foreign key to users, so
-- InnoDB drops the index it made for that one.
CREATE INDEX posts_owner_id_published_idx ON posts (owner_id, published);

CREATE TABLE post_blocks (
    block   BIGINT NOT NULL,
    shard   BIGINT NOT NULL,
    visible BIGINT NOT NULL,
    CONSTRAINT post_blocks_pkey PRIMARY KEY (block, shard)
) ENGINE = InnoDB;

CREATE TRIGGER posts_count_insert AFTER INSERT ON posts FOR EACH ROW
    INSERT INTO post_blocks (block, shard, visible)
    VALUES (NEW.id >> 13, NEW.id & 31, NEW.published)
    ON DUPLICATE KEY UPDATE visible = visible + NEW.published;

CREATE TRIGGER posts_count_update AFTER UPDATE ON posts FOR EACH ROW
    UPDATE post_blocks SET visible = visible + NEW.published - OLD.published
    WHERE block = NEW.id >> 13 AND shard = NEW.id & 31 AND NEW.published <> OLD.published;

CREATE TRIGGER posts_count_delete AFTER DELETE ON posts FOR EACH ROW
    UPDATE post_blocks SET visible = visible - 1
    WHERE block = OLD.id >> 13 AND shard = OLD.id & 31 AND OLD.published;

CREATE TRIGGER users_delete_posts BEFORE DELETE ON users FOR EACH ROW
    DELETE FROM posts WHERE owner_id = OLD.id;

INSERT INTO post_blocks (block, shard, visible)
SELECT id >> 13, id & 31, SUM(published) FROM posts GROUP BY id >> 13, id & 31
ON DUPLICATE KEY UPDATE visible = VALUES(visible);
