-- Bulk writes count their posts' blocks once per statement. The row triggers
-- of 0008 updated a block's row once per post, so an INSERT of a million
-- posts in one statement (an import, the benchmark's seed) wrote a million
-- versions of post_blocks' 3,936 rows in one transaction: vacuum frees them
-- but does not give the space back, and every deep page read the whole 50 MB
-- table (its counts took 11-13 ms per `skip=100000` page at 1M posts, against
-- 1.2 ms for the same rows packed). Statement triggers with transition tables
-- add up each statement's posts per (block, shard) and write each row once, in
-- key order, so that concurrent writers take the rows' locks in the same
-- order. A change of `published` stays a row trigger (a trigger with a
-- transition table cannot name columns, so a statement trigger would fire
-- for every edit of a title).
--
-- Then post_blocks is rewritten packed (TRUNCATE gives it new files), from
-- its own counts, while the lock taken first keeps writers to posts out until
-- the migration commits. Nothing an older release reads or writes changes, so
-- the compatibility marker stays. (Version 9 was a migration withdrawn before
-- release; it is not reused, for databases that applied it.)
LOCK TABLE posts IN SHARE ROW EXCLUSIVE MODE;

DROP TRIGGER posts_count_insert ON posts;
DROP TRIGGER posts_count_delete ON posts;

-- The row trigger left: a post published or unpublished.
CREATE OR REPLACE FUNCTION agora_count_post_blocks() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE post_blocks SET visible = visible + NEW.published::int - OLD.published::int
    WHERE block = NEW.id >> 13 AND shard = NEW.id & 31;
    RETURN NULL;
END
$$;

CREATE FUNCTION agora_count_inserted_posts() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO post_blocks (block, shard, visible)
    SELECT id >> 13, id & 31, COUNT(*) FILTER (WHERE published) FROM inserted
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (block, shard)
    DO UPDATE SET visible = post_blocks.visible + EXCLUDED.visible;
    RETURN NULL;
END
$$;

CREATE FUNCTION agora_count_deleted_posts() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM 1 FROM post_blocks b
    WHERE (b.block, b.shard) IN (SELECT id >> 13, id & 31 FROM deleted WHERE published)
    ORDER BY b.block, b.shard
    FOR UPDATE;
    UPDATE post_blocks b SET visible = b.visible - d.n
    FROM (
        SELECT id >> 13 AS block, id & 31 AS shard, COUNT(*) AS n
        FROM deleted WHERE published GROUP BY 1, 2
    ) d
    WHERE b.block = d.block AND b.shard = d.shard;
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_count_insert AFTER INSERT ON posts
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION agora_count_inserted_posts();
CREATE TRIGGER posts_count_delete AFTER DELETE ON posts
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION agora_count_deleted_posts();

CREATE TEMPORARY TABLE post_blocks_packed ON COMMIT DROP AS
SELECT block, shard, visible FROM post_blocks;
TRUNCATE post_blocks;
INSERT INTO post_blocks (block, shard, visible)
SELECT block, shard, visible FROM post_blocks_packed ORDER BY block, shard;
