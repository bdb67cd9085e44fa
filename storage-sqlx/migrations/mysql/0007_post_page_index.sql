-- Deep pages: a listing picks its page's ids first, walking post ids newest
-- first and counting (OFFSET) those the viewer may see (`published OR
-- owner_id = viewer`). InnoDB's primary key is the clustered index: its
-- records are whole posts, title and content included. This index holds
-- only what that walk reads (a covering index), as on the other backends.
-- MariaDB 10.11's planner costs a walk of the primary key about the same
-- and keeps to it: there the walk is bound by the server's work per row,
-- not by reading rows. It only adds, so the compatibility marker stays.
-- InnoDB builds it online (writes continue).
CREATE INDEX posts_id_published_owner_id_idx ON posts (id, published, owner_id);
