//! Every statement of the store, written once: each dialect's [`Sql`] below
//! comes from [`sql!`] given only what that dialect does differently
//! (placeholders, the database's clock, the case-insensitive email and title
//! matches, the "insert unless present" syntax, and whether inserts return
//! their id).

/// The store's statements in one dialect. Each binds its values in the
/// order its user in `store.rs` or `sessions.rs` gives them.
pub(crate) struct Sql {
    /// The backend's name, for logs.
    pub(crate) backend: &'static str,
    /// Whether the inserts end in `RETURNING id` (else the new row's id
    /// comes from the connection).
    pub(crate) inserts_return_ids: bool,
    /// Inserts a user (and returns its id where the dialect can).
    pub(crate) insert_user: &'static str,
    pub(crate) get_user: &'static str,
    pub(crate) delete_user: &'static str,
    /// Inserts a post (and returns its id where the dialect can).
    pub(crate) insert_post: &'static str,
    pub(crate) get_post: &'static str,
    /// Every post visible to the viewer. Binds viewer, before, limit, skip.
    pub(crate) list_posts: &'static str,
    /// Visible posts whose title contains the bound `LIKE` pattern,
    /// case-insensitively (escape character `\`). Binds viewer, before,
    /// pattern, limit, skip.
    pub(crate) search_posts: &'static str,
    pub(crate) update_post: &'static str,
    pub(crate) delete_post: &'static str,
    pub(crate) insert_vote: &'static str,
    pub(crate) delete_vote: &'static str,
    pub(crate) ping: &'static str,
    /// A user's credentials by email, case-insensitively.
    pub(crate) find_credentials: &'static str,
    /// Compare-and-set of the password hash.
    pub(crate) upgrade_password_hash: &'static str,
    /// Inserts a session only while the user exists at the given credential generation.
    pub(crate) create_session: &'static str,
    pub(crate) insert_refresh: &'static str,
    /// Inserts a refresh token unless one with its hash exists.
    pub(crate) insert_refresh_once: &'static str,
    pub(crate) session_user: &'static str,
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
}

/// A dialect's [`Sql`]. Its arguments, in this order:
///
/// - `backend`: the backend's name;
/// - `ids`: `returning` (inserts end in `RETURNING id`) or `last_insert_id`
///   (the connection tells the new row's id);
/// - `placeholders`: `positional` (`?`) or `numbered` (`$1`, `$2`, ...);
/// - `now`: the database's current UTC time, to the microsecond;
/// - `email_is`: matches `users` by the email bound first, case-insensitively;
/// - `title_contains`: matches `posts` whose title is `LIKE` the pattern
///   bound third, case-insensitively, with `\` as the escape character;
/// - `insert_once`: the clause that makes an insert of an existing refresh
///   token do nothing.
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
        title_contains: $title_contains:literal,
        insert_once: $insert_once:literal $(,)?
    ) => {
        Sql {
            backend: $backend,
            inserts_return_ids: $returns,
            insert_user: concat!(
                "INSERT INTO users (email, password_hash, created_at) VALUES (",
                $p1, ", ", $p2, ", ", $p3, ")", $returning_id
            ),
            get_user: concat!("SELECT id, email, created_at FROM users WHERE id = ", $p1),
            delete_user: concat!("DELETE FROM users WHERE id = ", $p1),
            insert_post: concat!(
                "INSERT INTO posts (title, content, published, created_at, owner_id) VALUES (",
                $p1, ", ", $p2, ", ", $p3, ", ", $p4, ", ", $p5, ")", $returning_id
            ),
            get_post: select_posts!("WHERE p.id = ", $p1),
            list_posts: select_post_page!(concat!(
                "SELECT id FROM posts WHERE (published OR owner_id = ", $p1, ") AND id < ", $p2,
                " ORDER BY id DESC LIMIT ", $p3, " OFFSET ", $p4
            )),
            search_posts: select_post_page!(concat!(
                "SELECT id FROM posts WHERE (published OR owner_id = ", $p1, ") AND id < ", $p2,
                " AND ", $title_contains, " ORDER BY id DESC LIMIT ", $p4, " OFFSET ", $p5
            )),
            update_post: concat!(
                "UPDATE posts SET title = ", $p1, ", content = ", $p2, ", published = ", $p3,
                " WHERE id = ", $p4
            ),
            delete_post: concat!("DELETE FROM posts WHERE id = ", $p1),
            insert_vote: concat!("INSERT INTO votes (post_id, user_id) VALUES (", $p1, ", ", $p2, ")"),
            delete_vote: concat!("DELETE FROM votes WHERE post_id = ", $p1, " AND user_id = ", $p2),
            ping: "SELECT 1",
            find_credentials: concat!(
                "SELECT id, email, created_at, password_hash, credential_generation FROM users WHERE ",
                $email_is
            ),
            upgrade_password_hash: concat!(
                "UPDATE users SET password_hash = ", $p1, " WHERE id = ", $p2,
                " AND password_hash = ", $p3
            ),
            create_session: concat!(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, refresh_key, credential_generation) ",
                "SELECT ", $p1, ", id, ", $p2, ", ", $p3, ", ", $p4, ", ", $p5, ", ", $p6, ", ", $p7,
                ", credential_generation FROM users WHERE id = ", $p8, " AND credential_generation = ", $p9
            ),
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
                ", u.email AS user_email, u.created_at AS user_created_at FROM sessions s JOIN users u ON u.id = s.user_id ",
                "WHERE s.id = ", $p1, " AND s.user_id = ", $p2,
                " AND s.credential_generation = u.credential_generation"
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
        }
    };
}

/// SQLite: emails are `COLLATE NOCASE` and `LIKE` ignores the case of ASCII
/// letters; the clock is the one the file is on.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: Sql = sql! {
    backend: "sqlite",
    ids: returning,
    placeholders: positional,
    now: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    email_is: "email = ?",
    title_contains: "title LIKE ? ESCAPE '\\'",
    insert_once: "ON CONFLICT (token_hash) DO NOTHING",
};

/// PostgreSQL: `ILIKE` is served by the trigram index.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: Sql = sql! {
    backend: "postgres",
    ids: returning,
    placeholders: numbered,
    now: "clock_timestamp()",
    email_is: "lower(email) = lower($1)",
    title_contains: "title ILIKE $3",
    insert_once: "ON CONFLICT (token_hash) DO NOTHING",
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
    title_contains: "LOWER(title) LIKE LOWER(?)",
    insert_once: "ON DUPLICATE KEY UPDATE token_hash = token_hash",
};
