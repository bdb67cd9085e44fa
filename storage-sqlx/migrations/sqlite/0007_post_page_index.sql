-- Deep pages: a listing picks its page's ids first, walking post ids newest
-- first and counting (OFFSET) those the viewer may see (`published OR
-- owner_id = viewer`). The rowid table holds whole posts, title and content
-- included, so `skip=100000` read 100,000 posts' rows. This index holds
-- only what that walk reads, so the walk reads the index alone (a covering
-- index); the feed's walk uses it too. It only adds, so the compatibility
-- marker stays.
CREATE INDEX posts_id_published_owner_id_idx ON posts (id, published, owner_id);
