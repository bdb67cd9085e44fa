-- Deep pages: a listing picks its page's ids first, walking post ids newest
-- first and counting (OFFSET) those the viewer may see (`published OR
-- owner_id = viewer`). On posts_pkey that reads every skipped post from the
-- heap, so `skip=100000` read 100,000 heap tuples. This index holds what
-- that walk reads, so it is an index-only scan; the feed's walk and the tag
-- filter's visibility check use it too. It only adds, so the compatibility
-- marker stays. Built in the migration's transaction: writes to posts wait
-- for it (about a second per million posts).
CREATE INDEX posts_id_published_owner_id_idx ON posts (id, published, owner_id);

-- An index-only scan skips the heap only on pages the visibility map marks
-- all-visible, which vacuum sets (the planner goes back to posts_pkey when
-- few are). New posts land on the newest pages, the ones deep pages walk,
-- so autovacuum visits posts after 1% of new rows rather than the default
-- 20%: at a million posts, at most about 10,000 of the newest are checked
-- in the heap.
ALTER TABLE posts SET (autovacuum_vacuum_insert_scale_factor = 0.01);
