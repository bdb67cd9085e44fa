//! Every statement of the store, written once: each dialect's [`Sql`] below
//! comes from [`sql!`] given only what that dialect does differently
//! (placeholders, the database's clock, the case-insensitive email, username
//! and title matches, how a post's tags are aggregated and sorted, the
//! "insert unless present" syntax, and whether inserts return their id).
//! Post listings, whose filters combine, are assembled from these parts at
//! run time (`store.rs`).

/// The store's statements in one dialect. Each binds its values in the
/// order its user in `store.rs` or `sessions.rs` gives them.
pub(crate) struct Sql {
    /// The backend's name, for logs.
    pub(crate) backend: &'static str,
    /// Whether the inserts end in `RETURNING id` (else the new row's id
    /// comes from the connection).
    pub(crate) inserts_return_ids: bool,
    /// Inserts a user (and returns its id where the dialect can). Binds
    /// email, password hash, created_at, username (NULL for none).
    pub(crate) insert_user: &'static str,
    pub(crate) get_user: &'static str,
    pub(crate) delete_user: &'static str,
    /// Inserts a post (and returns its id where the dialect can). Binds
    /// title, content, published, created_at, owner, description.
    pub(crate) insert_post: &'static str,
    /// A post with its owner, tags and vote count. Binds viewer (for
    /// `voted`; NULL for none), id.
    pub(crate) get_post: &'static str,
    /// The head of a page of posts: the post columns up to the viewer's
    /// placeholder of `voted` (bound next), then [`Sql::post_page_from`],
    /// the page's ids (a query built at run time, see `store.rs`) and
    /// [`Sql::post_page_tail`].
    pub(crate) post_page_head: &'static str,
    pub(crate) post_page_from: &'static str,
    pub(crate) post_page_tail: &'static str,
    /// `posts p` as a page of all posts (no filter) walks it: newest first
    /// on the covering index `posts (id, published, owner_id)`, which
    /// MariaDB's planner would pass over for the primary key (whose records
    /// are whole posts).
    pub(crate) all_posts: &'static str,
    /// Whether a first page planned once (`planned_once` in `store.rs`)
    /// walks at most [`agora_core::schema::LIST_LIMIT_MAX`] posts, a
    /// literal, then keeps the bound page size of them: PostgreSQL then
    /// plans one statement for every page size once (a bound `LIMIT`
    /// alone is estimated at a tenth of the rows, which keeps it planning
    /// every execution), and the pull of the outer `LIMIT` stops the walk
    /// after the page. SQLite and MariaDB keep the statement of any other
    /// page (bound page size and offset, and the cursor condition, without
    /// which SQLite walked every post for the newest page); MariaDB would
    /// materialise a capped walk whole.
    pub(crate) capped_first_page: bool,
    /// Published posts per block of post ids (`post_blocks`, kept by the
    /// migration's triggers), newest block first: `(block, posts)`.
    pub(crate) post_blocks: &'static str,
    /// The same with the bound viewer's unpublished posts added to their
    /// blocks. Binds viewer.
    pub(crate) post_blocks_with_drafts: &'static str,
    /// Matches `posts p` whose title contains the pattern bound between
    /// the two parts ([`Sql::title_pattern`] of the search), ignoring case
    /// in all of Unicode, wildcards literal.
    pub(crate) title_contains: (&'static str, &'static str),
    /// The pattern [`Sql::title_contains`] binds for a search: a `LIKE`
    /// pattern (`crate::rows::like_pattern`), or on SQLite a REGEXP one
    /// ([`regexp_pattern`]).
    pub(crate) title_pattern: fn(&str) -> String,
    /// Matches `users` by the username bound between the two parts,
    /// case-insensitively, as its unique index compares (so the index serves it).
    pub(crate) username_is: (&'static str, &'static str),
    /// How a feed joins `follows` to `posts p`: the posts' primary key
    /// walked newest first, each post's author probed in `follows`' primary
    /// key, until the page is full. Flat in the number of posts while the
    /// followed users write a steady share of them (a feed of users who
    /// wrote nothing lately walks far: feeds take a listing turn, see
    /// `BoundedStore`). PostgreSQL's planner picks that order itself (plain
    /// `JOIN`); SQLite's (`CROSS JOIN` keeps the order written) and
    /// MariaDB's (`STRAIGHT_JOIN`) would otherwise sort every post of the
    /// followed users.
    pub(crate) feed_join: &'static str,
    /// Binds title, content, published, description (NULL keeps it), updated_at, id.
    pub(crate) update_post: &'static str,
    pub(crate) delete_post: &'static str,
    /// Binds post id, tag.
    pub(crate) insert_tag: &'static str,
    pub(crate) delete_tags: &'static str,
    /// Tags of published posts with their counts, most used first, ties by
    /// tag in code point order. Binds limit, skip.
    pub(crate) tag_counts: &'static str,
    /// Locks a post's row (SQLite: takes the write lock) and reads whether
    /// it is published, before a write that changes its tags' counts. Binds id.
    pub(crate) lock_post: &'static str,
    /// Adds 1 to the count of each of a post's tags. Binds post id.
    pub(crate) count_tags_of_post: &'static str,
    /// Takes 1 from the count of each of a post's tags. Binds post id.
    pub(crate) uncount_tags_of_post: &'static str,
    /// Locks a user's posts (SQLite: takes the write lock) before their
    /// tags' counts are lowered. Binds the user's id.
    pub(crate) lock_user_posts: &'static str,
    /// Takes a user's published posts from their tags' counts. Binds owner id twice.
    pub(crate) uncount_tags_of_user: &'static str,
    /// Binds, per field (username, bio, image), whether to set it and its
    /// value, then the id.
    pub(crate) update_profile: &'static str,
    /// A user by username, case-insensitively, with whether the bound
    /// viewer follows them. Binds viewer, username.
    pub(crate) find_by_username: &'static str,
    /// Inserts a follow unless present (foreign key errors still raised).
    /// Binds follower, followee.
    pub(crate) insert_follow: &'static str,
    pub(crate) delete_follow: &'static str,
    /// Inserts a comment (and returns its id where the dialect can). Binds
    /// post, author, body, created_at.
    pub(crate) insert_comment: &'static str,
    pub(crate) get_comment: &'static str,
    /// Binds post, after, limit, skip.
    pub(crate) list_comments: &'static str,
    pub(crate) delete_comment: &'static str,
    pub(crate) insert_vote: &'static str,
    pub(crate) delete_vote: &'static str,
    pub(crate) ping: &'static str,
    /// A user's credentials by email, case-insensitively.
    pub(crate) find_credentials: &'static str,
    /// Compare-and-set of the password hash.
    pub(crate) upgrade_password_hash: &'static str,
    /// Inserts a session only while the user exists at the given credential generation.
    pub(crate) create_session: &'static str,
    /// [`Sql::create_session`] and the session's first refresh token in one
    /// statement, where the dialect can (PostgreSQL: a data-modifying
    /// `WITH`): one round trip and no transaction of its own, instead of
    /// four. Binds [`Sql::create_session`]'s values, then the token's hash,
    /// created_at and expires_at; the token's session is the one inserted.
    pub(crate) create_session_with_refresh: Option<&'static str>,
    pub(crate) insert_refresh: &'static str,
    /// Inserts a refresh token unless one with its hash exists.
    pub(crate) insert_refresh_once: &'static str,
    pub(crate) session_user: &'static str,
    /// [`Sql::session_user`]'s columns and, joined, [`Sql::get_post`]'s
    /// (NULL when there is no such post). Binds viewer, post id, session id,
    /// user id.
    pub(crate) active_session_post: &'static str,
    /// The atomic step of a claim: only one claimer changes the row; the time is the database's.
    pub(crate) mark_refresh: &'static str,
    /// The claimed token with its session, and the database's time as `checked_at`.
    pub(crate) refresh_claim: &'static str,
    pub(crate) touch_session: &'static str,
    pub(crate) list_sessions: &'static str,
    pub(crate) revoke_session: &'static str,
    pub(crate) bump_generation: &'static str,
    pub(crate) bump_generation_with_password: &'static str,
    /// Moves the kept session to the new generation, only if it was of the previous one.
    pub(crate) carry_session_over: &'static str,
    /// Session ids are never empty, so binding "" as the kept id keeps nothing.
    pub(crate) revoke_sessions: &'static str,
    /// Locks a user's row by id (SQLite: takes the write lock), returning
    /// the id when the user exists.
    pub(crate) lock_user: &'static str,
    /// The same by email, case-insensitively.
    pub(crate) lock_user_by_email: &'static str,
    /// Deletes a user's tokens created at or before the bound time and
    /// expired at the other. Binds user, created_at bound, now.
    pub(crate) prune_tokens: &'static str,
    /// A user's tokens created after the bound time. Binds user, since.
    pub(crate) count_recent_tokens: &'static str,
    /// Binds hash, purpose, user, email, credential generation, created_at, expires_at.
    pub(crate) insert_token: &'static str,
    /// The user of a token by hash, whatever its state.
    pub(crate) token_user: &'static str,
    /// The user of a live password reset token. Binds hash, purpose, now.
    pub(crate) live_reset_token: &'static str,
    /// The user of a live verification token. Binds hash, purpose, now.
    pub(crate) live_verify_token: &'static str,
    /// Marks a token used. Binds now, hash.
    pub(crate) use_token: &'static str,
    pub(crate) mark_email_verified: &'static str,
}

/// The user of a live token `t` of user `u`, by hash and purpose (the
/// first two placeholders) at a time (the third): unused, unexpired, and
/// still for the user's address; each purpose adds its own binding.
macro_rules! live_token {
    ($hash:literal, $purpose:literal, $now:literal) => {
        concat!(
            "SELECT t.user_id FROM account_tokens t JOIN users u ON u.id = t.user_id ",
            "WHERE t.token_hash = ",
            $hash,
            " AND t.purpose = ",
            $purpose,
            " AND t.used_at IS NULL AND t.expires_at > ",
            $now,
            " AND t.email = u.email"
        )
    };
}

/// [`Sql::create_session`] in the given placeholders: a session, inserted
/// only while its user exists at the given credential generation.
macro_rules! insert_session {
    ($p1:literal, $p2:literal, $p3:literal, $p4:literal, $p5:literal, $p6:literal, $p7:literal, $p8:literal, $p9:literal) => {
        concat!(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, refresh_key, credential_generation) ",
            "SELECT ", $p1, ", id, ", $p2, ", ", $p3, ", ", $p4, ", ", $p5, ", ", $p6, ", ", $p7,
            ", credential_generation FROM users WHERE id = ", $p8, " AND credential_generation = ", $p9
        )
    };
}

/// The number of low bits of a post id below its block in `post_blocks`:
/// the migrations' `id >> 13` (blocks of 8,192 ids). [`POST_BLOCK_BITS`] in Rust.
macro_rules! post_block_bits {
    () => {
        "13"
    };
}

/// [`post_block_bits!`] as a number.
pub(crate) const POST_BLOCK_BITS: u32 = 13;

/// A dialect's [`Sql`]. Its arguments, in this order:
///
/// - `backend`: the backend's name;
/// - `ids`: `returning` (inserts end in `RETURNING id`) or `last_insert_id`
///   (the connection tells the new row's id);
/// - `placeholders`: `positional` (`?`) or `numbered` (`$1`, `$2`, ...);
/// - `now`: the database's current UTC time, to the microsecond;
/// - `email_is`: matches `users` by the email bound first, case-insensitively;
/// - `username_is`: what comes before and after the bound username in a
///   case-insensitive match of `users` by username, the way its unique index
///   compares;
/// - `title_contains`: what comes before and after the bound pattern in a
///   match of `posts p` whose title contains the search, ignoring case in
///   all of Unicode; `title_pattern`: the function that makes that pattern
///   from the search;
/// - `tags_of_post`: the tags of `posts p` as one text, separated by the
///   character 31 (which tags cannot contain), NULL when it has none, in
///   any order (`rows::PostRow` sorts them: an `ORDER BY` in the aggregate
///   made PostgreSQL sort, and allocate and free a sort's memory, on every
///   read of a post);
/// - `tag_order`: `post_tags t`'s tag, to sort by code point;
/// - `insert_once`: the clause that makes an insert of an existing refresh
///   token do nothing;
/// - `follow_once`: the same for an existing follow, still raising foreign
///   key errors;
/// - `count_once`: the clause that makes an insert of an existing tag count
///   add 1 to it;
/// - `lock_post`, `lock_user_posts`: [`Sql::lock_post`] and
///   [`Sql::lock_user_posts`], whole (`SELECT ... FOR UPDATE` where rows can
///   be locked; SQLite locks the whole database at its first write);
/// - `feed_join`: the join of `follows` in a feed (see [`Sql::feed_join`]);
/// - `lock_user`, `lock_user_by_email`: [`Sql::lock_user`] and
///   [`Sql::lock_user_by_email`], whole;
/// - `bigint`: the 64-bit integer type of `CAST`;
/// - `all_posts`: [`Sql::all_posts`];
/// - `capped_first_page`: [`Sql::capped_first_page`];
/// - `create_session_with_refresh`: [`Sql::create_session_with_refresh`].
macro_rules! sql {
    (backend: $backend:literal, ids: returning, $($rest:tt)+) => {
        sql!(@ids $backend, true, " RETURNING id", $($rest)+)
    };
    (backend: $backend:literal, ids: last_insert_id, $($rest:tt)+) => {
        sql!(@ids $backend, false, "", $($rest)+)
    };
    (@ids $backend:literal, $returns:literal, $returning_id:literal, placeholders: positional, $($rest:tt)+) => {
        sql!(
            @with ["?", "?", "?", "?", "?", "?", "?", "?", "?"],
            $backend, $returns, $returning_id, $($rest)+
        )
    };
    (@ids $backend:literal, $returns:literal, $returning_id:literal, placeholders: numbered, $($rest:tt)+) => {
        sql!(
            @with ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"],
            $backend, $returns, $returning_id, $($rest)+
        )
    };
    (
        @with [$p1:literal, $p2:literal, $p3:literal, $p4:literal, $p5:literal, $p6:literal, $p7:literal, $p8:literal, $p9:literal],
        $backend:literal, $returns:literal, $returning_id:literal,
        now: $now:literal,
        email_is: $email_is:literal,
        username_is: [$username_pre:literal, $username_post:literal],
        title_contains: [$title_pre:literal, $title_post:literal],
        title_pattern: $title_pattern:path,
        tags_of_post: $tags_of_post:literal,
        tag_order: $tag_order:literal,
        insert_once: $insert_once:literal,
        follow_once: $follow_once:literal,
        count_once: $count_once:literal,
        lock_post: $lock_post:literal,
        lock_user_posts: $lock_user_posts:literal,
        feed_join: $feed_join:literal,
        lock_user: $lock_user:literal,
        lock_user_by_email: $lock_user_by_email:literal,
        bigint: $bigint:literal,
        all_posts: $all_posts:literal,
        capped_first_page: $capped_first_page:literal,
        create_session_with_refresh: $create_session_with_refresh:expr $(,)?
    ) => {
        Sql {
            backend: $backend,
            inserts_return_ids: $returns,
            insert_user: concat!(
                "INSERT INTO users (email, password_hash, created_at, username) VALUES (",
                $p1, ", ", $p2, ", ", $p3, ", ", $p4, ")", $returning_id
            ),
            get_user: concat!("SELECT ", user_columns!(), " FROM users WHERE id = ", $p1),
            update_profile: concat!(
                "UPDATE users SET username = CASE WHEN ", $p1, " THEN ", $p2, " ELSE username END, ",
                "bio = CASE WHEN ", $p3, " THEN ", $p4, " ELSE bio END, ",
                "image = CASE WHEN ", $p5, " THEN ", $p6, " ELSE image END WHERE id = ", $p7
            ),
            find_by_username: concat!(
                "SELECT ", user_columns!(),
                ", (SELECT COUNT(*) FROM follows f WHERE f.follower_id = ", $p1,
                " AND f.followee_id = users.id) AS following FROM users WHERE ",
                $username_pre, $p2, $username_post
            ),
            delete_user: concat!("DELETE FROM users WHERE id = ", $p1),
            insert_post: concat!(
                "INSERT INTO posts (title, content, published, created_at, owner_id, description) VALUES (",
                $p1, ", ", $p2, ", ", $p3, ", ", $p4, ", ", $p5, ", ", $p6, ")", $returning_id
            ),
            get_post: concat!(
                post_columns!($tags_of_post), $p1,
                ") AS voted FROM posts p JOIN users u ON u.id = p.owner_id WHERE p.id = ", $p2
            ),
            post_page_head: post_columns!($tags_of_post),
            post_page_from: ") AS voted FROM (",
            post_page_tail: concat!(
                ") page JOIN posts p ON p.id = page.id JOIN users u ON u.id = p.owner_id ",
                "ORDER BY p.id DESC"
            ),
            all_posts: $all_posts,
            capped_first_page: $capped_first_page,
            post_blocks: concat!(
                "SELECT block, CAST(SUM(visible) AS ", $bigint, ") AS posts FROM post_blocks ",
                "GROUP BY block ORDER BY block DESC"
            ),
            post_blocks_with_drafts: concat!(
                "SELECT block, CAST(SUM(n) AS ", $bigint, ") AS posts FROM (",
                "SELECT block, visible AS n FROM post_blocks UNION ALL ",
                "SELECT CAST(id >> ", post_block_bits!(), " AS ", $bigint, "), 1 FROM posts ",
                "WHERE owner_id = ", $p1, " AND NOT published) x GROUP BY block ORDER BY block DESC"
            ),
            title_contains: ($title_pre, $title_post),
            title_pattern: $title_pattern,
            username_is: ($username_pre, $username_post),
            feed_join: $feed_join,
            update_post: concat!(
                "UPDATE posts SET title = ", $p1, ", content = ", $p2, ", published = ", $p3,
                ", description = COALESCE(", $p4, ", description), updated_at = ", $p5,
                " WHERE id = ", $p6
            ),
            delete_post: concat!("DELETE FROM posts WHERE id = ", $p1),
            insert_tag: concat!("INSERT INTO post_tags (post_id, tag) VALUES (", $p1, ", ", $p2, ")"),
            delete_tags: concat!("DELETE FROM post_tags WHERE post_id = ", $p1),
            tag_counts: concat!(
                "SELECT t.tag, t.posts FROM tag_counts t WHERE t.posts > 0 ",
                "ORDER BY t.posts DESC, ", $tag_order, " LIMIT ", $p1, " OFFSET ", $p2
            ),
            lock_post: $lock_post,
            count_tags_of_post: concat!(
                "INSERT INTO tag_counts (tag, posts) SELECT tag, 1 FROM post_tags WHERE post_id = ",
                $p1, " ORDER BY tag ", $count_once
            ),
            uncount_tags_of_post: concat!(
                "UPDATE tag_counts SET posts = posts - 1 WHERE tag IN ",
                "(SELECT tag FROM post_tags WHERE post_id = ", $p1, ")"
            ),
            lock_user_posts: $lock_user_posts,
            uncount_tags_of_user: concat!(
                "UPDATE tag_counts SET posts = posts - (SELECT COUNT(*) FROM post_tags t ",
                "JOIN posts p ON p.id = t.post_id WHERE p.owner_id = ", $p1,
                " AND p.published AND t.tag = tag_counts.tag) WHERE tag IN (SELECT t.tag FROM ",
                "post_tags t JOIN posts p ON p.id = t.post_id WHERE p.owner_id = ", $p2,
                " AND p.published)"
            ),
            insert_follow: concat!(
                "INSERT INTO follows (follower_id, followee_id) VALUES (", $p1, ", ", $p2, ") ",
                $follow_once
            ),
            delete_follow: concat!(
                "DELETE FROM follows WHERE follower_id = ", $p1, " AND followee_id = ", $p2
            ),
            insert_comment: concat!(
                "INSERT INTO comments (post_id, author_id, body, created_at) VALUES (",
                $p1, ", ", $p2, ", ", $p3, ", ", $p4, ")", $returning_id
            ),
            get_comment: concat!(comment_columns!(), "FROM comments c ", comment_author!(), "WHERE c.id = ", $p1),
            list_comments: concat!(
                comment_columns!(),
                "FROM (SELECT id FROM comments WHERE post_id = ", $p1, " AND id > ", $p2,
                " ORDER BY id LIMIT ", $p3, " OFFSET ", $p4, ") page JOIN comments c ON c.id = page.id ",
                comment_author!(), "ORDER BY c.id"
            ),
            delete_comment: concat!("DELETE FROM comments WHERE id = ", $p1),
            insert_vote: concat!("INSERT INTO votes (post_id, user_id) VALUES (", $p1, ", ", $p2, ")"),
            delete_vote: concat!("DELETE FROM votes WHERE post_id = ", $p1, " AND user_id = ", $p2),
            ping: "SELECT 1",
            find_credentials: concat!(
                "SELECT ", user_columns!(), ", password_hash, credential_generation FROM users WHERE ",
                $email_is
            ),
            upgrade_password_hash: concat!(
                "UPDATE users SET password_hash = ", $p1, " WHERE id = ", $p2,
                " AND password_hash = ", $p3
            ),
            create_session: insert_session!($p1, $p2, $p3, $p4, $p5, $p6, $p7, $p8, $p9),
            create_session_with_refresh: $create_session_with_refresh,
            insert_refresh: concat!(
                "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (",
                $p1, ", ", $p2, ", ", $p3, ", ", $p4, ")"
            ),
            insert_refresh_once: concat!(
                "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (",
                $p1, ", ", $p2, ", ", $p3, ", ", $p4, ") ", $insert_once
            ),
            session_user: concat!(
                "SELECT ",
                session_columns!(),
                ", u.email AS user_email, u.created_at AS user_created_at, u.username AS user_username, ",
                "u.bio AS user_bio, u.image AS user_image, u.email_verified AS user_email_verified ",
                "FROM sessions s JOIN users u ON u.id = s.user_id ",
                "WHERE s.id = ", $p1, " AND s.user_id = ", $p2,
                " AND s.credential_generation = u.credential_generation"
            ),
            active_session_post: concat!(
                post_columns!($tags_of_post), $p1, ") AS voted ",
                "FROM sessions s JOIN users su ON su.id = s.user_id ",
                "LEFT JOIN posts p ON p.id = ", $p2, " LEFT JOIN users u ON u.id = p.owner_id ",
                "WHERE s.id = ", $p3, " AND s.user_id = ", $p4,
                " AND s.credential_generation = su.credential_generation",
                " AND s.revoked_at IS NULL AND s.expires_at > ", $p5
            ),
            mark_refresh: concat!(
                "UPDATE refresh_tokens SET rotated_at = ", $now, " WHERE token_hash = ", $p1,
                " AND rotated_at IS NULL"
            ),
            refresh_claim: concat!(
                "SELECT ",
                session_columns!(),
                ", s.refresh_key, t.expires_at AS token_expires_at, t.rotated_at, ", $now,
                " AS checked_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id ",
                "WHERE t.token_hash = ", $p1, " AND s.credential_generation = u.credential_generation"
            ),
            touch_session: concat!("UPDATE sessions SET last_used_at = ", $p1, " WHERE id = ", $p2),
            list_sessions: concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = ", $p1,
                " AND s.revoked_at IS NULL AND s.expires_at > ", $p2,
                " AND s.credential_generation = u.credential_generation ORDER BY s.created_at DESC, s.id"
            ),
            revoke_session: concat!(
                "UPDATE sessions SET revoked_at = ", $p1, " WHERE id = ", $p2, " AND user_id = ", $p3,
                " AND revoked_at IS NULL AND expires_at > ", $p4
            ),
            bump_generation: concat!(
                "UPDATE users SET credential_generation = credential_generation + 1 WHERE id = ",
                $p1
            ),
            bump_generation_with_password: concat!(
                "UPDATE users SET credential_generation = credential_generation + 1, password_hash = ",
                $p1, " WHERE id = ", $p2
            ),
            carry_session_over: concat!(
                "UPDATE sessions SET credential_generation = credential_generation + 1 WHERE id = ",
                $p1, " AND user_id = ", $p2,
                " AND credential_generation = (SELECT credential_generation - 1 FROM users WHERE id = ",
                $p3, ")"
            ),
            revoke_sessions: concat!(
                "UPDATE sessions SET revoked_at = ", $p1, " WHERE user_id = ", $p2,
                " AND revoked_at IS NULL AND expires_at > ", $p3, " AND id <> ", $p4
            ),
            lock_user: $lock_user,
            lock_user_by_email: $lock_user_by_email,
            prune_tokens: concat!(
                "DELETE FROM account_tokens WHERE user_id = ", $p1, " AND created_at <= ", $p2,
                " AND expires_at <= ", $p3
            ),
            count_recent_tokens: concat!(
                "SELECT COUNT(*) FROM account_tokens WHERE user_id = ", $p1, " AND created_at > ", $p2
            ),
            insert_token: concat!(
                "INSERT INTO account_tokens (token_hash, purpose, user_id, email, credential_generation, ",
                "created_at, expires_at) VALUES (", $p1, ", ", $p2, ", ", $p3, ", ", $p4, ", ", $p5,
                ", ", $p6, ", ", $p7, ")"
            ),
            token_user: concat!("SELECT user_id FROM account_tokens WHERE token_hash = ", $p1),
            live_reset_token: concat!(
                live_token!($p1, $p2, $p3),
                " AND t.credential_generation = u.credential_generation"
            ),
            live_verify_token: concat!(live_token!($p1, $p2, $p3), " AND NOT u.email_verified"),
            use_token: concat!(
                "UPDATE account_tokens SET used_at = ", $p1, " WHERE token_hash = ", $p2,
                " AND used_at IS NULL"
            ),
            mark_email_verified: concat!("UPDATE users SET email_verified = TRUE WHERE id = ", $p1),
        }
    };
}

/// SQLite: emails are `COLLATE NOCASE`; the clock is the one the file is
/// on. Searches use REGEXP (sqlx's, on the `regex` crate, registered on
/// every connection by `SqliteConnectOptions::with_regexp`), since SQLite's
/// `LIKE` and `lower()` ignore the case of ASCII letters only.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: Sql = sql! {
    backend: "sqlite",
    ids: returning,
    placeholders: positional,
    now: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    email_is: "email = ?",
    username_is: ["username = ", ""],
    title_contains: ["p.title REGEXP ", ""],
    title_pattern: regexp_pattern,
    tags_of_post: "(SELECT group_concat(pt.tag, char(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
    tag_order: "t.tag",
    insert_once: "ON CONFLICT (token_hash) DO NOTHING",
    follow_once: "ON CONFLICT (follower_id, followee_id) DO NOTHING",
    count_once: "ON CONFLICT (tag) DO UPDATE SET posts = tag_counts.posts + 1",
    lock_post: "UPDATE posts SET published = published WHERE id = ? RETURNING published",
    lock_user_posts: "UPDATE users SET id = id WHERE id = ?",
    feed_join: "CROSS JOIN",
    lock_user: "UPDATE users SET id = id WHERE id = ? RETURNING id",
    lock_user_by_email: "UPDATE users SET id = id WHERE email = ? RETURNING id",
    bigint: "BIGINT",
    all_posts: "posts p",
    capped_first_page: false,
    create_session_with_refresh: None,
};

/// A REGEXP pattern matching `search` anywhere, ignoring case as Unicode
/// simple case folding does (`É` and `é`, `Ω` and `ω`), with every regex
/// metacharacter escaped, so `50%`, `a.b` or `(` match only themselves:
/// the same matches as PostgreSQL's `ILIKE` and MariaDB's `LOWER ... LIKE`.
#[cfg(feature = "sqlite")]
fn regexp_pattern(search: &str) -> String {
    format!("(?i){}", regex::escape(search))
}

/// PostgreSQL: `ILIKE` is served by the trigram index.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: Sql = sql! {
    backend: "postgres",
    ids: returning,
    placeholders: numbered,
    now: "clock_timestamp()",
    email_is: "lower(email) = lower($1)",
    username_is: ["lower(username) = lower(", ")"],
    title_contains: ["p.title ILIKE ", ""],
    title_pattern: crate::rows::like_pattern,
    tags_of_post: "(SELECT string_agg(pt.tag, chr(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
    tag_order: "t.tag COLLATE \"C\"",
    insert_once: "ON CONFLICT (token_hash) DO NOTHING",
    follow_once: "ON CONFLICT (follower_id, followee_id) DO NOTHING",
    count_once: "ON CONFLICT (tag) DO UPDATE SET posts = tag_counts.posts + 1",
    lock_post: "SELECT published FROM posts WHERE id = $1 FOR UPDATE",
    lock_user_posts: "SELECT id FROM posts WHERE owner_id = $1 FOR UPDATE",
    feed_join: "JOIN",
    lock_user: "SELECT id FROM users WHERE id = $1 FOR UPDATE",
    lock_user_by_email: "SELECT id FROM users WHERE lower(email) = lower($1) FOR UPDATE",
    bigint: "BIGINT",
    all_posts: "posts p",
    capped_first_page: true,
    create_session_with_refresh: Some(concat!(
        "WITH s AS (",
        insert_session!("$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"),
        " RETURNING id) ",
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) ",
        "SELECT $10, id, $11, $12 FROM s"
    )),
};

/// MySQL/MariaDB: no `RETURNING` in MySQL 8; emails through the stored
/// `email_lower` column. In searches the pattern is a bound value, so
/// `LIKE`'s default escape `\` applies; MySQL has no index for substring
/// search: it walks posts newest first until the page is full (search terms
/// are as short as titles).
#[cfg(feature = "mysql")]
pub(crate) const MYSQL: Sql = sql! {
    backend: "mysql",
    ids: last_insert_id,
    placeholders: positional,
    now: "UTC_TIMESTAMP(6)",
    email_is: "email_lower = LOWER(?)",
    username_is: ["username_lower = LOWER(", ")"],
    title_contains: ["LOWER(p.title) LIKE LOWER(", ")"],
    title_pattern: crate::rows::like_pattern,
    tags_of_post: "(SELECT GROUP_CONCAT(pt.tag SEPARATOR '\u{1f}') FROM post_tags pt WHERE pt.post_id = p.id)",
    tag_order: "t.tag",
    insert_once: "ON DUPLICATE KEY UPDATE token_hash = token_hash",
    follow_once: "ON DUPLICATE KEY UPDATE follower_id = follower_id",
    count_once: "ON DUPLICATE KEY UPDATE posts = posts + 1",
    lock_post: "SELECT published FROM posts WHERE id = ? FOR UPDATE",
    lock_user_posts: "SELECT id FROM posts WHERE owner_id = ? FOR UPDATE",
    feed_join: "STRAIGHT_JOIN",
    lock_user: "SELECT id FROM users WHERE id = ? FOR UPDATE",
    lock_user_by_email: "SELECT id FROM users WHERE email_lower = LOWER(?) FOR UPDATE",
    bigint: "SIGNED",
    all_posts: "posts p FORCE INDEX (posts_id_published_owner_id_idx)",
    capped_first_page: false,
    create_session_with_refresh: None,
};
