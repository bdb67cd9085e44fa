//! Bulk seeding in SQL, straight through sqlx (not the API), and the
//! database-side checks (counts, cursors, PostgreSQL plans and index use),
//! on SQLite, PostgreSQL and MariaDB/MySQL.
//!
//! The data, deterministic from the row number `i` (1-based, in insertion
//! order):
//! - users `user<i>@bench.example`, all with the same argon2id PHC string
//!   (one real hash of [`crate::PASSWORD`], made by agora-core's hasher: a
//!   documented shortcut, 1,000 hashes would take a minute);
//! - posts titled `<adjective> <noun> k<i % 9973> no. <i>`: each of the 100
//!   nouns is in 1% of titles, each `k<n>` tag in about 0.01%; post `i` is
//!   unpublished when `i % 10 == 3` (10%), owned by user `(i * 7919) % 1000 + 1`;
//! - exactly [`VOTES_PER_POST`] votes per post (posts written through the API
//!   between two scales get theirs with the next scale), by users 1..=990 only:
//!   users 991..=1000 ([`VOTERS`]) have no seeded votes, so the `POST /vote`
//!   scenario can give each request a fresh (user, post) pair;
//! - user `i` is named `user<i>` and follows [`FOLLOWS_PER_USER`] other
//!   users (`(i - 1 + 9k) % 1000 + 1` for k = 1..=100), so a feed holds the
//!   posts of 10% of the users;
//! - post `i` has the tag `t<i % 100>` (each tag on 1% of posts) and
//!   [`TAG`] is the one the `GET /posts?tag=` scenario asks for.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, MySqlPool, PgPool, SqlitePool};

use crate::{BoxError, err};

/// Seeded users.
pub const USERS: i64 = 1_000;
/// Users 991..=1000 cast no seeded vote (the `POST /vote` scenario's voters).
pub const VOTERS: std::ops::RangeInclusive<i64> = 991..=1_000;
/// Votes seeded per post (so votes = 10 x posts at every scale).
pub const VOTES_PER_POST: i64 = 10;
/// The search term: one of the nouns, in 1% of titles.
pub const SEARCH_WORD: &str = "lighthouse";
/// Authors each seeded user follows.
pub const FOLLOWS_PER_USER: i64 = 100;
/// The tag of the tag filter scenario: on 1% of posts.
pub const TAG: &str = "t7";
/// A tag in about 0.01% of titles (the rare-term search plan).
pub const RARE_WORD: &str = "k4321";
/// The email of seeded user `n`.
pub fn email(n: i64) -> String {
    format!("user{n}@bench.example")
}

/// Address `n` of those no account has (seeded users are `user<n>@`).
pub fn unknown_email(n: i64) -> String {
    format!("nobody{n}@bench.example")
}

const ADJECTIVES: [&str; 50] = [
    "amber", "brisk", "calm", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly",
    "keen", "lucky", "mellow", "noble", "odd", "pale", "quick", "rapid", "silent", "tidy", "upper",
    "vivid", "wild", "young", "zesty", "bold", "crisp", "deep", "early", "fancy", "grand", "hazy",
    "inner", "juicy", "kind", "lame", "mild", "neat", "open", "proud", "quiet", "rough", "sharp",
    "tall", "usual", "vast", "warm", "yellow", "zonal", "azure",
];

const NOUNS: [&str; 100] = [
    "apple",
    "bridge",
    "candle",
    "desert",
    "engine",
    "forest",
    "garden",
    "harbor",
    "island",
    "jacket",
    "kettle",
    "ladder",
    "meadow",
    "needle",
    "orchard",
    "pencil",
    "quarry",
    "river",
    "saddle",
    "tunnel",
    "umbrella",
    "valley",
    "window",
    "yacht",
    "zipper",
    "anchor",
    "basket",
    "castle",
    "dragon",
    "feather",
    "glacier",
    "hammer",
    "igloo",
    "jungle",
    "kitten",
    "lantern",
    "mirror",
    "nugget",
    "oyster",
    "parrot",
    "quilt",
    "rocket",
    "sparrow",
    "teapot",
    "unicorn",
    "violin",
    "walrus",
    "yogurt",
    "zebra",
    "acorn",
    "blanket",
    "compass",
    "dolphin",
    "emerald",
    "falcon",
    "goblet",
    "helmet",
    "iceberg",
    "jigsaw",
    "koala",
    "lighthouse",
    "magnet",
    "nectar",
    "octopus",
    "penguin",
    "quiver",
    "raccoon",
    "scarf",
    "trumpet",
    "urchin",
    "volcano",
    "wagon",
    "xylophone",
    "yarn",
    "zucchini",
    "almond",
    "beetle",
    "cactus",
    "daisy",
    "eclipse",
    "fossil",
    "gravel",
    "hedgehog",
    "inkwell",
    "jasmine",
    "kayak",
    "lobster",
    "marble",
    "nutmeg",
    "otter",
    "pyramid",
    "quartz",
    "rhubarb",
    "satchel",
    "thimble",
    "utensil",
    "vortex",
    "waffle",
    "yeti",
    "zeppelin",
];

/// The store keeps `tag_counts` on every write; rows seeded in bulk are
/// counted here, from scratch.
const RECOUNT_TAGS: &str = "DELETE FROM tag_counts; \
    INSERT INTO tag_counts (tag, posts) SELECT t.tag, COUNT(*) FROM post_tags t \
    JOIN posts p ON p.id = t.post_id WHERE p.published GROUP BY t.tag";

const CONTENT: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do \
    eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, \
    quis nostrud exercitation. Post number ";

/// Checks that [`SEARCH_WORD`] matches exactly its own noun's titles.
pub fn check_words() -> Result<(), BoxError> {
    let holders: Vec<&&str> = ADJECTIVES
        .iter()
        .chain(NOUNS.iter())
        .filter(|w| w.contains(SEARCH_WORD))
        .collect();
    if holders != [&SEARCH_WORD] {
        return Err(err(format!(
            "search word {SEARCH_WORD:?} is in several words: {holders:?}"
        )));
    }
    Ok(())
}

/// Row counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Users.
    pub users: i64,
    /// Posts.
    pub posts: i64,
    /// Votes.
    pub votes: i64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} users, {} posts, {} votes",
            crate::report::thousands(self.users),
            crate::report::thousands(self.posts),
            crate::report::thousands(self.votes)
        )
    }
}

/// The kind of database a URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:`.
    Sqlite,
    /// `postgres:` (anything not SQLite nor MySQL).
    Postgres,
    /// `mysql:` or `mariadb:`.
    MySql,
}

impl Backend {
    /// The backend of `url`, by its scheme.
    pub fn of(url: &str) -> Backend {
        if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Backend::MySql
        } else {
            Backend::Postgres
        }
    }

    /// A short name for file names and progress lines.
    pub fn slug(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// Whether the database is a server of its own whose CPU is counted
    /// ([`crate::procs::db_ticks`]).
    pub fn has_server(self) -> bool {
        self != Backend::Sqlite
    }
}

/// A bench database connection for seeding and inspection.
pub enum Db {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Pg(PgPool),
    /// MariaDB or MySQL.
    My(MySqlPool),
}

/// Rows inserted per statement on MariaDB/MySQL (a bounded transaction each).
const MY_CHUNK: i64 = 100_000;

/// MariaDB/MySQL have no `generate_series`: a derived table `(...) <alias>`
/// of the numbers `n` from 0 to 10^`digits` - 1, a cross join of digit
/// tables (portable, and not bound by the recursion limits of recursive CTEs).
fn my_numbers(digits: u32, alias: &str) -> String {
    const DIGITS: &str = "(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL \
                          SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 \
                          UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let sum: Vec<String> = (0..digits)
        .map(|d| format!("{} * d{d}.n", 10i64.pow(d)))
        .collect();
    let from: Vec<String> = (0..digits).map(|d| format!("{DIGITS} d{d}")).collect();
    format!(
        "(SELECT {} AS n FROM {}) {alias}",
        sum.join(" + "),
        from.join(" CROSS JOIN ")
    )
}

/// Decimal digits of the largest number below `count`.
fn digits_for(count: i64) -> u32 {
    (count.max(2) - 1).ilog10() + 1
}

impl Db {
    /// Connects to an already migrated database (the Agora server migrated it).
    pub async fn connect(url: &str) -> Result<Db, BoxError> {
        if url.starts_with("sqlite:") {
            // One connection, no foreign key checks (rows are consistent by
            // construction), a large page cache, no fsync while seeding.
            let options = SqliteConnectOptions::from_str(url)?
                .foreign_keys(false)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Off)
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-262144")
                .pragma("temp_store", "memory");
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if Backend::of(url) == Backend::MySql {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let options = MySqlConnectOptions::from_str(&url)?.charset("utf8mb4");
            let pool = MySqlPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            Ok(Db::My(pool))
        } else {
            let options = PgConnectOptions::from_str(url)?.application_name("agora-bench");
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            Ok(Db::Pg(pool))
        }
    }

    /// Row counts.
    pub async fn counts(&self) -> Result<Counts, BoxError> {
        const SQL: &str = "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM posts), \
                           (SELECT COUNT(*) FROM votes)";
        let (users, posts, votes): (i64, i64, i64) = match self {
            Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
            Db::Pg(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
            Db::My(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
        };
        Ok(Counts {
            users,
            posts,
            votes,
        })
    }

    /// Seeds [`USERS`] users with the same password hash, unless there are users.
    pub async fn seed_users(&self, phc: &str) -> Result<(), BoxError> {
        if self.counts().await?.users > 0 {
            return Ok(());
        }
        match self {
            Db::Sqlite(pool) => {
                sqlx::query(
                    "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1) \
                     INSERT INTO users (email, username, password_hash, created_at) \
                     SELECT 'user' || i || '@bench.example', 'user' || i, ?2, \
                            strftime('%Y-%m-%dT%H:%M:%S+00:00', 1700000000 + i * 60, 'unixepoch') \
                     FROM s",
                )
                .bind(USERS)
                .bind(phc)
                .execute(pool)
                .await?;
                sqlx::query(
                    "WITH RECURSIVE k(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM k WHERE k < ?1) \
                     INSERT INTO follows (follower_id, followee_id) \
                     SELECT u.id, ((u.id - 1 + 9 * k.k) % 1000) + 1 FROM users u CROSS JOIN k",
                )
                .bind(FOLLOWS_PER_USER)
                .execute(pool)
                .await?;
            }
            Db::Pg(pool) => {
                sqlx::query(
                    "INSERT INTO users (email, username, password_hash, created_at) \
                     SELECT 'user' || i || '@bench.example', 'user' || i, $2, \
                            timestamptz '2023-11-14 22:13:20+00' + i * interval '1 minute' \
                     FROM generate_series(1, $1::bigint) AS s(i)",
                )
                .bind(USERS)
                .bind(phc)
                .execute(pool)
                .await?;
                sqlx::query(
                    "INSERT INTO follows (follower_id, followee_id) \
                     SELECT u.id, ((u.id - 1 + 9 * k) % 1000) + 1 \
                     FROM users u CROSS JOIN generate_series(1, $1::bigint) AS k",
                )
                .bind(FOLLOWS_PER_USER)
                .execute(pool)
                .await?;
            }
            Db::My(pool) => {
                // Generated from constants only.
                let users = format!(
                    "INSERT INTO users (email, username, password_hash, created_at) \
                     SELECT CONCAT('user', i, '@bench.example'), CONCAT('user', i), ?, \
                            TIMESTAMP '2023-11-14 22:13:20' + INTERVAL i MINUTE \
                     FROM (SELECT n + 1 AS i FROM {}) s WHERE i <= ? ORDER BY i",
                    my_numbers(digits_for(USERS), "u")
                );
                sqlx::query(AssertSqlSafe(users))
                    .bind(phc)
                    .bind(USERS)
                    .execute(pool)
                    .await?;
                let follows = format!(
                    "INSERT INTO follows (follower_id, followee_id) \
                     SELECT u.id, ((u.id - 1 + 9 * (k.n + 1)) % 1000) + 1 \
                     FROM users u CROSS JOIN {} WHERE k.n < ?",
                    my_numbers(digits_for(FOLLOWS_PER_USER), "k")
                );
                sqlx::query(AssertSqlSafe(follows))
                    .bind(FOLLOWS_PER_USER)
                    .execute(pool)
                    .await?;
            }
        }
        let (min, max): (i64, i64) = match self {
            Db::Sqlite(pool) => {
                sqlx::query_as("SELECT MIN(id), MAX(id) FROM users")
                    .fetch_one(pool)
                    .await?
            }
            Db::Pg(pool) => {
                sqlx::query_as("SELECT MIN(id), MAX(id) FROM users")
                    .fetch_one(pool)
                    .await?
            }
            Db::My(pool) => {
                sqlx::query_as("SELECT MIN(id), MAX(id) FROM users")
                    .fetch_one(pool)
                    .await?
            }
        };
        if (min, max) != (1, USERS) {
            return Err(err(format!(
                "seeded user ids are {min}..={max}, expected 1..={USERS} (not a fresh database?)"
            )));
        }
        Ok(())
    }

    /// Adds posts until there are `target`, gives [`VOTES_PER_POST`] votes
    /// to every post with an id above `voted_up_to` (the new ones, and those
    /// written through the API since the last call) and moves it to the
    /// largest id, then refreshes planner statistics. Returns the time taken.
    pub async fn grow_to(&self, target: i64, voted_up_to: &mut i64) -> Result<Duration, BoxError> {
        let started = Instant::now();
        let counts = self.counts().await?;
        if counts.posts >= target {
            return Ok(started.elapsed());
        }
        // Row numbers continue from the count of posts.
        let (first, last) = (counts.posts + 1, target);
        let adjectives: Vec<String> = ADJECTIVES.iter().map(|s| (*s).to_owned()).collect();
        let nouns: Vec<String> = NOUNS.iter().map(|s| (*s).to_owned()).collect();
        match self {
            Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let adjectives = serde_json::to_string(&adjectives)?;
                let nouns = serde_json::to_string(&nouns)?;
                let mut tx = conn.begin().await?;
                sqlx::query(
                    "WITH RECURSIVE s(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM s WHERE i < ?2) \
                     INSERT INTO posts (title, content, published, created_at, owner_id) \
                     SELECT json_extract(?3, '$[' || ((i / 100) % 50) || ']') || ' ' || \
                            json_extract(?4, '$[' || (i % 100) || ']') || ' k' || (i % 9973) || \
                            ' no. ' || i, \
                            ?5 || i, (i % 10) <> 3, \
                            strftime('%Y-%m-%dT%H:%M:%S+00:00', 1735689600 + i, 'unixepoch'), \
                            (i * 7919) % 1000 + 1 \
                     FROM s",
                )
                .bind(first)
                .bind(last)
                .bind(adjectives)
                .bind(nouns)
                .bind(CONTENT)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "WITH RECURSIVE k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < ?2 - 1) \
                     INSERT OR IGNORE INTO votes (post_id, user_id) \
                     SELECT p.id, ((p.id * 7 + k.k * 97) % 990) + 1 \
                     FROM posts p CROSS JOIN k WHERE p.id > ?1 ORDER BY p.id",
                )
                .bind(*voted_up_to)
                .bind(VOTES_PER_POST)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT OR IGNORE INTO post_tags (post_id, tag) \
                     SELECT id, 't' || (id % 100) FROM posts WHERE id > ?1",
                )
                .bind(*voted_up_to)
                .execute(&mut *tx)
                .await?;
                sqlx::raw_sql(RECOUNT_TAGS).execute(&mut *tx).await?;
                let (max_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM posts")
                    .fetch_one(&mut *tx)
                    .await?;
                *voted_up_to = max_id;
                tx.commit().await?;
                sqlx::query("ANALYZE").execute(&mut *conn).await?;
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut *conn)
                    .await?;
            }
            Db::Pg(pool) => {
                let mut conn = pool.acquire().await?;
                sqlx::query("SET synchronous_commit = off")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO posts (title, content, published, created_at, owner_id) \
                     SELECT ($3::text[])[1 + (i / 100) % 50] || ' ' || ($4::text[])[1 + i % 100] || \
                            ' k' || (i % 9973) || ' no. ' || i, \
                            $5 || i, (i % 10) <> 3, \
                            timestamptz '2025-01-01 00:00:00+00' + i * interval '1 second', \
                            (i * 7919) % 1000 + 1 \
                     FROM generate_series($1::bigint, $2::bigint) AS s(i)",
                )
                .bind(first)
                .bind(last)
                .bind(&adjectives)
                .bind(&nouns)
                .bind(CONTENT)
                .execute(&mut *conn)
                .await?;
                // The posts went in with every trigger (their blocks'
                // counts); the votes and tags skip the foreign key triggers
                // when allowed (superuser): they are consistent by
                // construction.
                let _ = sqlx::query("SET session_replication_role = replica")
                    .execute(&mut *conn)
                    .await;
                sqlx::query(
                    "INSERT INTO votes (post_id, user_id) \
                     SELECT p.id, ((p.id * 7 + k * 97) % 990) + 1 \
                     FROM posts p CROSS JOIN generate_series(0, $2::bigint - 1) AS k \
                     WHERE p.id > $1 ORDER BY p.id ON CONFLICT DO NOTHING",
                )
                .bind(*voted_up_to)
                .bind(VOTES_PER_POST)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO post_tags (post_id, tag) \
                     SELECT id, 't' || (id % 100) FROM posts WHERE id > $1 ON CONFLICT DO NOTHING",
                )
                .bind(*voted_up_to)
                .execute(&mut *conn)
                .await?;
                sqlx::raw_sql(RECOUNT_TAGS).execute(&mut *conn).await?;
                let (max_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM posts")
                    .fetch_one(&mut *conn)
                    .await?;
                *voted_up_to = max_id;
                let _ = sqlx::query("RESET session_replication_role")
                    .execute(&mut *conn)
                    .await;
                // The rows above were committed asynchronously: one
                // synchronous commit flushes their commit records, without
                // which VACUUM can neither set their hint bits nor mark
                // their pages all-visible (vote counts then fetch every vote
                // from the heap, and the first scenario's reads set the hint
                // bits). VACUUM sets the visibility map, so vote counts are
                // index-only scans as they would be under autovacuum;
                // `post_blocks` holds a dead row per post inserted.
                sqlx::query("SET synchronous_commit = on")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("SELECT txid_current()")
                    .execute(&mut *conn)
                    .await?;
                sqlx::raw_sql(
                    "VACUUM ANALYZE users, posts, votes, post_tags, follows, tag_counts, post_blocks",
                )
                .execute(&mut *conn)
                .await?;
            }
            Db::My(pool) => {
                let mut conn = pool.acquire().await?;
                my_grow(&mut conn, first, last, voted_up_to).await?;
            }
        }
        Ok(started.elapsed())
    }

    /// Columns of `posts` that this seeder does not know (a schema change
    /// it leaves at their defaults, e.g. a denormalised vote count).
    pub async fn unknown_post_columns(&self) -> Result<Vec<String>, BoxError> {
        let columns: Vec<(String,)> = match self {
            Db::Sqlite(pool) => {
                sqlx::query_as("SELECT name FROM pragma_table_info('posts')")
                    .fetch_all(pool)
                    .await?
            }
            Db::Pg(pool) => {
                sqlx::query_as(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = 'posts'",
                )
                .fetch_all(pool)
                .await?
            }
            Db::My(pool) => {
                sqlx::query_as(
                    "SELECT column_name FROM information_schema.columns \
                     WHERE table_schema = DATABASE() AND table_name = 'posts'",
                )
                .fetch_all(pool)
                .await?
            }
        };
        let known = [
            "id",
            "title",
            "content",
            "published",
            "created_at",
            "owner_id",
            // Left NULL on purpose: no description, never edited.
            "description",
            "updated_at",
        ];
        Ok(columns
            .into_iter()
            .map(|(c,)| c)
            .filter(|c| !known.contains(&c.as_str()))
            .collect())
    }

    /// Ids of the published posts, ascending.
    pub async fn published_ids(&self) -> Result<Vec<i64>, BoxError> {
        const SQL: &str = "SELECT id FROM posts WHERE published ORDER BY id";
        Ok(match self {
            Db::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await?,
            Db::Pg(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await?,
            Db::My(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await?,
        })
    }

    /// PostgreSQL: the plan of Agora's search statement for `term`, as the
    /// server's cached statement would run it (the 6th execution of a
    /// prepared statement, when PostgreSQL may switch to a generic plan).
    pub async fn pg_search_plan(&self, term: &str, viewer: i64) -> Result<String, BoxError> {
        let Db::Pg(pool) = self else {
            return Err(err("search plans are checked on PostgreSQL only"));
        };
        let mut conn = pool.acquire().await?;
        // The statement of storage-sqlx/src/postgres.rs `list_posts` with a term
        // (no `after`: the id bound is i64::MAX).
        sqlx::raw_sql(
            "PREPARE bench_search(bigint, bigint, text, bigint, bigint) AS \
             SELECT p.id, p.title, p.content, p.published, p.created_at, p.owner_id, \
             u.email AS owner_email, u.created_at AS owner_created_at, \
             (SELECT COUNT(*) FROM votes v WHERE v.post_id = p.id) AS votes \
             FROM posts p JOIN users u ON u.id = p.owner_id \
             WHERE (p.published OR p.owner_id = $1) AND p.id < $2 \
             AND p.title ILIKE $3 ORDER BY p.id DESC LIMIT $4 OFFSET $5",
        )
        .execute(&mut *conn)
        .await?;
        let explain = format!(
            "EXPLAIN EXECUTE bench_search({viewer}, {}, '%{}%', 10, 0)",
            i64::MAX,
            term.replace('\'', "''")
        );
        let mut plan = String::new();
        for _ in 0..6 {
            let rows: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(explain.clone()))
                .fetch_all(&mut *conn)
                .await?;
            plan = rows
                .into_iter()
                .map(|(l,)| l)
                .collect::<Vec<_>>()
                .join("\n");
        }
        sqlx::raw_sql("DEALLOCATE bench_search")
            .execute(&mut *conn)
            .await?;
        Ok(plan)
    }

    /// PostgreSQL: (index scans of `posts_title_trgm_idx`, sequential scans
    /// of `posts`) so far, from the statistics views.
    pub async fn pg_scan_counters(&self) -> Result<(i64, i64), BoxError> {
        let Db::Pg(pool) = self else {
            return Ok((0, 0));
        };
        let row: (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT idx_scan FROM pg_stat_user_indexes \
                     WHERE indexrelname = 'posts_title_trgm_idx'), \
                    (SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'posts')",
        )
        .fetch_one(pool)
        .await?;
        Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)))
    }

    /// Closes the pool.
    pub async fn close(self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Pg(pool) => pool.close().await,
            Db::My(pool) => pool.close().await,
        }
    }
}

/// MariaDB/MySQL: [`Db::grow_to`]'s work between row numbers `first` and
/// `last`, with this session's foreign key checks off (the rows are
/// consistent by construction; the server's sessions keep theirs), as the
/// other backends' seeders skip them.
async fn my_grow(
    conn: &mut sqlx::MySqlConnection,
    first: i64,
    last: i64,
    voted_up_to: &mut i64,
) -> Result<(), BoxError> {
    sqlx::query("SET SESSION foreign_key_checks = 0")
        .execute(&mut *conn)
        .await?;
    let result = my_grow_rows(conn, first, last, voted_up_to).await;
    sqlx::query("SET SESSION foreign_key_checks = 1")
        .execute(&mut *conn)
        .await?;
    result
}

/// The statements of [`my_grow`], each on at most [`MY_CHUNK`] posts (an
/// `INSERT ... SELECT` from [`my_numbers`]), each its own transaction.
async fn my_grow_rows(
    conn: &mut sqlx::MySqlConnection,
    first: i64,
    last: i64,
    voted_up_to: &mut i64,
) -> Result<(), BoxError> {
    // Post i gets the id i + offset: the row numbers continue from the count
    // of posts, the ids from the largest (equal unless posts were deleted),
    // so ids stay dense and in row order (AUTO_INCREMENT continues after them).
    let (max_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM posts")
        .fetch_one(&mut *conn)
        .await?;
    let offset = max_id - (first - 1);
    let insert_posts = format!(
        "INSERT INTO posts (id, title, content, published, created_at, owner_id) \
         SELECT i + ?, \
                CONCAT(SUBSTRING_INDEX(SUBSTRING_INDEX(?, ',', (i DIV 100) % 50 + 1), ',', -1), ' ', \
                       SUBSTRING_INDEX(SUBSTRING_INDEX(?, ',', i % 100 + 1), ',', -1), \
                       ' k', i % 9973, ' no. ', i), \
                CONCAT(?, i), (i % 10) <> 3, \
                TIMESTAMP '2025-01-01 00:00:00' + INTERVAL i SECOND, \
                (i * 7919) % 1000 + 1 \
         FROM (SELECT n + ? AS i FROM {}) s WHERE i <= ? ORDER BY i",
        my_numbers(digits_for(MY_CHUNK), "s0")
    );
    let (adjectives, nouns) = (ADJECTIVES.join(","), NOUNS.join(","));
    let mut start = first;
    while start <= last {
        let end = (start + MY_CHUNK - 1).min(last);
        sqlx::query(AssertSqlSafe(insert_posts.as_str()))
            .bind(offset)
            .bind(adjectives.as_str())
            .bind(nouns.as_str())
            .bind(CONTENT)
            .bind(start)
            .bind(end)
            .execute(&mut *conn)
            .await?;
        start = end + 1;
    }
    let insert_votes = format!(
        "INSERT INTO votes (post_id, user_id) \
         SELECT p.id, ((p.id * 7 + k.n * 97) % 990) + 1 FROM posts p CROSS JOIN {} \
         WHERE p.id > ? AND p.id <= ? AND k.n < ? ORDER BY p.id \
         ON DUPLICATE KEY UPDATE post_id = votes.post_id",
        my_numbers(digits_for(VOTES_PER_POST), "k")
    );
    let insert_tags = "INSERT INTO post_tags (post_id, tag) \
         SELECT id, CONCAT('t', id % 100) FROM posts WHERE id > ? AND id <= ? \
         ON DUPLICATE KEY UPDATE tag = post_tags.tag";
    let (max_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM posts")
        .fetch_one(&mut *conn)
        .await?;
    let mut low = *voted_up_to;
    while low < max_id {
        let high = (low + MY_CHUNK).min(max_id);
        sqlx::query(AssertSqlSafe(insert_votes.as_str()))
            .bind(low)
            .bind(high)
            .bind(VOTES_PER_POST)
            .execute(&mut *conn)
            .await?;
        sqlx::query(insert_tags)
            .bind(low)
            .bind(high)
            .execute(&mut *conn)
            .await?;
        low = high;
    }
    *voted_up_to = max_id;
    sqlx::raw_sql(RECOUNT_TAGS).execute(&mut *conn).await?;
    // Fresh index statistics for the planner (InnoDB's sampled ones).
    sqlx::raw_sql("ANALYZE TABLE users, posts, votes, post_tags, follows, tag_counts")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Creates a fresh PostgreSQL database through `admin_url` and returns its
/// name and URL.
pub async fn pg_create(admin_url: &str) -> Result<(String, String), BoxError> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let name = bench_db_name();
    // `name` is made here from hex digits.
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok((name.clone(), url_with_db(admin_url, &name)))
}

/// Drops a database made by [`pg_create`], closing its sessions.
pub async fn pg_drop(admin_url: &str, name: &str) -> Result<(), BoxError> {
    check_bench_db_name(name)?;
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok(())
}

/// Creates a fresh MariaDB/MySQL database (`utf8mb4`, binary collation, as
/// Agora's tables are) through `admin_url` and returns its name and URL.
pub async fn my_create(admin_url: &str) -> Result<(String, String), BoxError> {
    let admin_url = admin_url.replacen("mariadb:", "mysql:", 1);
    let mut admin = sqlx::MySqlConnection::connect(&admin_url).await?;
    let name = bench_db_name();
    // `name` is made here from hex digits.
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok((name.clone(), url_with_db(&admin_url, &name)))
}

/// Drops a database made by [`my_create`] (its sessions are closed by then).
pub async fn my_drop(admin_url: &str, name: &str) -> Result<(), BoxError> {
    check_bench_db_name(name)?;
    let admin_url = admin_url.replacen("mariadb:", "mysql:", 1);
    let mut admin = sqlx::MySqlConnection::connect(&admin_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// A new bench database's name: `agora_bench_` and random hex digits.
fn bench_db_name() -> String {
    format!("agora_bench_{}", agora_core::crypto::random_hex(6))
}

/// Refuses to drop a database the bench did not name.
fn check_bench_db_name(name: &str) -> Result<(), BoxError> {
    if !name.starts_with("agora_bench_")
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(err(format!("refusing to drop {name:?}")));
    }
    Ok(())
}

/// `admin_url` with its database name replaced by `name` (query kept).
pub fn url_with_db(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}
