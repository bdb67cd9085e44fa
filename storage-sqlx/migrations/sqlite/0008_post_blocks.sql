-- Deep pages without walking every skipped post. `post_blocks` counts the
-- published posts of each block of 8,192 post ids (`id >> 13`), spread over
-- 32 rows per block (`id & 31`) so that concurrent inserts, whose ids are
-- consecutive, rarely wait for one another's row. A listing that skips far
-- sums these counts, newest block first, to find the block its page starts
-- in, then walks that block only (see `list_posts` in `store.rs`).
--
-- The triggers keep the counts in the transaction of the write itself, for
-- every writer (this release, older ones, imports, other tools). A post's
-- row in `post_blocks` exists from its insert on (drafts count 0), so the
-- update and delete triggers only update. It only adds, so the
-- compatibility marker stays.
-- The viewer's own drafts, which their listings count too: found in this
-- index alone (`published` in it makes it covering, the rowid is the id),
-- without reading the viewer's published posts or any row.
CREATE INDEX posts_drafts_idx ON posts (owner_id, published) WHERE NOT published;

CREATE TABLE post_blocks (
    block   INTEGER NOT NULL,
    shard   INTEGER NOT NULL,
    visible INTEGER NOT NULL,
    PRIMARY KEY (block, shard)
) WITHOUT ROWID;

INSERT INTO post_blocks (block, shard, visible)
SELECT id >> 13, id & 31, SUM(published) FROM posts GROUP BY id >> 13, id & 31;

CREATE TRIGGER posts_count_insert AFTER INSERT ON posts
BEGIN
    INSERT INTO post_blocks (block, shard, visible)
    VALUES (NEW.id >> 13, NEW.id & 31, NEW.published)
    ON CONFLICT (block, shard) DO UPDATE SET visible = visible + excluded.visible;
END;

CREATE TRIGGER posts_count_update AFTER UPDATE OF published ON posts
WHEN NEW.published <> OLD.published
BEGIN
    UPDATE post_blocks SET visible = visible + NEW.published - OLD.published
    WHERE block = NEW.id >> 13 AND shard = NEW.id & 31;
END;

-- Also run for the posts a deleted user's cascade removes.
CREATE TRIGGER posts_count_delete AFTER DELETE ON posts
WHEN OLD.published
BEGIN
    UPDATE post_blocks SET visible = visible - 1
    WHERE block = OLD.id >> 13 AND shard = OLD.id & 31;
END;
