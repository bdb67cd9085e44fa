-- Deep pages without walking every skipped post. `post_blocks` counts the
-- published posts of each block of 8,192 post ids (`id >> 13`), spread over
-- 32 rows per block (`id & 31`) so that concurrent inserts, whose ids are
-- consecutive, rarely wait for one another's row lock until commit. A
-- listing that skips far sums these counts, newest block first, to find the
-- block its page starts in, then walks that block only (see `list_posts` in
-- `store.rs`).
--
-- The trigger keeps the counts in the transaction of the write itself, for
-- every writer (this release, older ones, imports, other tools, the cascade
-- from a deleted user). A post's row in `post_blocks` exists from its insert
-- on (drafts count 0), so updates and deletes only update. The trigger is
-- created before the counts are taken, in the migration's transaction: writes
-- to posts wait for it. It only adds, so the compatibility marker stays.
-- The viewer's own drafts, which their listings count too: found without
-- reading the viewer's published posts.
CREATE INDEX posts_drafts_idx ON posts (owner_id, id) WHERE NOT published;

CREATE TABLE post_blocks (
    block   BIGINT NOT NULL,
    shard   BIGINT NOT NULL,
    visible BIGINT NOT NULL,
    CONSTRAINT post_blocks_pkey PRIMARY KEY (block, shard)
);

-- The function finds `post_blocks` in the schema it was created in (the
-- search_path of the migration), whoever writes to posts.
CREATE FUNCTION agora_count_post_blocks() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO post_blocks (block, shard, visible)
        VALUES (NEW.id >> 13, NEW.id & 31, NEW.published::int)
        ON CONFLICT (block, shard)
        DO UPDATE SET visible = post_blocks.visible + EXCLUDED.visible;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE post_blocks SET visible = visible + NEW.published::int - OLD.published::int
        WHERE block = NEW.id >> 13 AND shard = NEW.id & 31;
    ELSE
        UPDATE post_blocks SET visible = visible - 1
        WHERE block = OLD.id >> 13 AND shard = OLD.id & 31;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_count_insert AFTER INSERT ON posts
FOR EACH ROW EXECUTE FUNCTION agora_count_post_blocks();
CREATE TRIGGER posts_count_update AFTER UPDATE OF published ON posts
FOR EACH ROW WHEN (NEW.published <> OLD.published) EXECUTE FUNCTION agora_count_post_blocks();
CREATE TRIGGER posts_count_delete AFTER DELETE ON posts
FOR EACH ROW WHEN (OLD.published) EXECUTE FUNCTION agora_count_post_blocks();

INSERT INTO post_blocks (block, shard, visible)
SELECT id >> 13, id & 31, COUNT(*) FILTER (WHERE published) FROM posts GROUP BY 1, 2;
