//! `agora-bench`: Agora's benchmark harness.
//!
//! ```text
//! cargo run --release -p agora-bench -- --out BENCHMARKS-run.md
//! ```
//!
//! For SQLite, PostgreSQL when one answers (`--postgres URL`,
//! `AGORA_BENCH_POSTGRES_URL`, or `postgres://postgres@127.0.0.1:5432/test`
//! tried by default; the bench creates and drops its own database there) and
//! MariaDB/MySQL when one answers (`--mysql URL`, `AGORA_BENCH_MYSQL_URL`, or
//! `mysql://root@127.0.0.1:3306/test` tried by default; likewise), it:
//! builds and starts the example server (release) as a child process; seeds
//! in bulk SQL 1,000 users and 10k posts / 100k votes, then 100k posts / 1M
//! votes, then (unless `--quick` or `--no-large`) 1M posts / 10M votes; drives
//! each route with a closed-loop keep-alive hyper client; measures the same
//! reads on `agora-ceiling` (bare axum + the same SQL); and prints a Markdown
//! table per backend with the issue's target checklist. See BENCHMARKS.md.
//!
//! With `--original DIR|GIT-URL` (or `AGORA_BENCH_ORIGINAL`), it first
//! measures the original FastAPI app Agora was rebuilt from beside Agora on
//! PostgreSQL, installed at bench time into a throwaway virtualenv in the
//! work directory (see `original.rs`); without it the report says it was
//! not measured.

mod load;
mod original;
mod procs;
mod report;
mod seed;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use agora_core::crypto::password::{HashParams, PasswordHasher};
use agora_core::domain::Password;
use bytes::Bytes;
use clap::Parser;
use hyper::Method;
use hyper::header::HeaderValue;

use crate::load::{Addresses, Group, GroupResult, Kind};
use crate::procs::Server;
use crate::report::{BackendReport, Row, Target, mb, ms, rps, thousands};
use crate::seed::{Backend, Db};

/// Errors of the driver.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error from a message.
pub fn err(message: impl Into<String>) -> BoxError {
    message.into().into()
}

/// Every seeded user's password.
pub const PASSWORD: &str = "correct horse battery staple";

const SMALL: i64 = 10_000;
const REQUIRED: i64 = 100_000;
const LARGE: i64 = 1_000_000;
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_MYSQL: &str = "mysql://root@127.0.0.1:3306/test";
/// The share of `GET /posts/{id}`'s closed-loop rate that the paced
/// (open-loop) mixed scenario sends beside the logins.
const PACED_SHARE: f64 = 0.5;
/// The names of agora-core's hashing threads start with this.
const HASHING_THREADS: &str = "agora-hash-";

/// Benchmarks Agora's example server (axum, release build) on SQLite,
/// PostgreSQL and MariaDB/MySQL against a bare axum + sqlx ceiling, and
/// prints Markdown.
#[derive(Parser, Debug)]
#[command(name = "agora-bench")]
struct Args {
    /// Seconds measured per scenario [default: 10, or 3 with --quick].
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds of unmeasured warm-up before each scenario [default: 2, or 1 with --quick].
    #[arg(long)]
    warmup: Option<f64>,
    /// Concurrent keep-alive connections per scenario.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Connections logging in continuously during the mixed scenario.
    #[arg(long, default_value_t = 8)]
    login_connections: usize,
    /// Client threads (each a single-threaded runtime); the client shares the machine with the server.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Short scenarios and no 1M-post scale: a smoke run of a few minutes.
    #[arg(long)]
    quick: bool,
    /// Also grow to 1M posts / 10M votes with --quick (on by default otherwise).
    #[arg(long)]
    large: bool,
    /// Skip the 1M posts / 10M votes scale.
    #[arg(long, conflicts_with = "large")]
    no_large: bool,
    /// PostgreSQL admin URL (a user that may create databases); also AGORA_BENCH_POSTGRES_URL.
    /// Without either, postgres://postgres@127.0.0.1:5432/test is tried and skipped if down.
    #[arg(long)]
    postgres: Option<String>,
    /// Skip PostgreSQL.
    #[arg(long)]
    no_postgres: bool,
    /// MariaDB/MySQL admin URL (a user that may create databases); also AGORA_BENCH_MYSQL_URL.
    /// Without either, mysql://root@127.0.0.1:3306/test is tried and skipped if down.
    #[arg(long)]
    mysql: Option<String>,
    /// Skip MariaDB/MySQL.
    #[arg(long)]
    no_mysql: bool,
    /// Skip SQLite.
    #[arg(long)]
    no_sqlite: bool,
    /// Also write the Markdown report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Do not run `cargo build` for the server and the ceiling (they must exist).
    #[arg(long)]
    no_build: bool,
    /// Where the SQLite databases and server logs go [default: a temporary directory].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Record a CPU profile of the server (`perf record`) during `GET /posts/{id}`
    /// at 100k posts, and write `perf report` output into this directory.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Also measure the original FastAPI app (Sanjeev-Thiyagarajan/fastapi-course) beside
    /// Agora on PostgreSQL, 1k users / 10k posts / 100k votes: a checkout's directory (copied)
    /// or a git URL (`git clone --depth 1`), installed into a throwaway venv in the work
    /// directory (its pinned requirements.txt, else its direct dependencies); also
    /// AGORA_BENCH_ORIGINAL. Needs python3, PyPI and the PostgreSQL server of --postgres
    /// (used even with --no-postgres, which then skips only PostgreSQL's own section).
    #[arg(long, value_name = "DIR|GIT-URL")]
    original: Option<String>,
}

/// Settings and facts shared by every backend.
struct Ctx {
    duration: Duration,
    warmup: Duration,
    connections: usize,
    login_connections: usize,
    client_threads: usize,
    large: bool,
    server_bin: PathBuf,
    ceiling_bin: PathBuf,
    clock_ticks: f64,
    phc: String,
    hash_secs: f64,
    hash_median: f64,
    cores: usize,
    work: PathBuf,
    profile: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn progress(line: impl AsRef<str>) {
    eprintln!("[agora-bench] {}", line.as_ref());
}

async fn run(args: Args) -> Result<(), BoxError> {
    seed::check_words()?;
    let (server_bin, ceiling_bin) = binaries(!args.no_build)?;
    let temp;
    let work = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.canonicalize()?
        }
        None => {
            temp = tempfile::Builder::new().prefix("agora-bench-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    if let Some(dir) = &args.profile {
        std::fs::create_dir_all(dir)?;
    }

    progress("timing argon2id in-process (agora-core's hasher, OWASP parameters)");
    let hasher = PasswordHasher::new(HashParams::OWASP, 1)?;
    let password = Password::new(PASSWORD);
    let phc = hasher.hash(&password).await?;
    let samples = if args.quick { 7 } else { 15 };
    // The reference is the CPU time the hashing thread spends on one
    // verification, not its wall time: time the thread waited for a core
    // (the machine is shared) is not work, so the reference cannot be
    // slower than the work a login really costs.
    let hashing_thread = HASHING_THREADS;
    let mut cpu_times = Vec::new();
    let mut wall_times = Vec::new();
    for i in 0..samples + 2 {
        let cpu_before = procs::threads_cpu_ns(None, hashing_thread);
        let started = Instant::now();
        let verified = hasher.verify(&password, Some(&phc)).await?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = procs::threads_cpu_ns(None, hashing_thread)
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before) as f64 / 1e9)
            .ok_or_else(|| err(format!("no thread named {hashing_thread}* in this process")))?;
        if i >= 2 {
            // The first two warm the allocator and the hashing pool.
            cpu_times.push(cpu);
            wall_times.push(wall);
        }
        if !verified.valid {
            return Err(err("the seeded password does not verify"));
        }
    }
    cpu_times.sort_by(f64::total_cmp);
    wall_times.sort_by(f64::total_cmp);
    let hash_secs = cpu_times[0];
    let hash_median = cpu_times[cpu_times.len() / 2];
    progress(format!(
        "argon2id verify, CPU time of the hashing thread: median {}, min {}, max {}; wall time: median {}, min {} over {} runs",
        ms((hash_median * 1e6) as u64),
        ms((hash_secs * 1e6) as u64),
        ms((cpu_times[cpu_times.len() - 1] * 1e6) as u64),
        ms((wall_times[wall_times.len() / 2] * 1e6) as u64),
        ms((wall_times[0] * 1e6) as u64),
        cpu_times.len()
    ));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let ctx = Ctx {
        duration: Duration::from_secs_f64(args.duration.unwrap_or(if args.quick {
            3.0
        } else {
            10.0
        })),
        warmup: Duration::from_secs_f64(args.warmup.unwrap_or(if args.quick { 1.0 } else { 2.0 })),
        connections: args.connections.max(1),
        login_connections: args.login_connections.max(1),
        client_threads: args.client_threads.max(1),
        large: args.large || (!args.quick && !args.no_large),
        server_bin,
        ceiling_bin,
        clock_ticks: procs::clock_ticks(),
        phc,
        hash_secs,
        hash_median,
        cores,
        work,
        profile: args.profile.clone(),
    };

    // The original app's section first: a checkout or install that fails stops the run early.
    let peer = original::section(&ctx, &args).await?;
    let mut sections = Vec::new();
    let mut skipped = Vec::new();
    if !args.no_sqlite {
        let dir = ctx.work.join("sqlite");
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}", dir.join("agora.db").display());
        let result = tokio::select! {
            r = run_backend(&ctx, "SQLite".to_owned(), url) => r,
            _ = tokio::signal::ctrl_c() => Err(err("interrupted")),
        };
        sections.push(result?);
    }
    if !args.no_postgres {
        let url = args.postgres.clone();
        run_server_backend(&ctx, &POSTGRES, url, &mut sections, &mut skipped).await?;
    }
    if !args.no_mysql {
        let url = args.mysql.clone();
        run_server_backend(&ctx, &MYSQL, url, &mut sections, &mut skipped).await?;
    }

    let markdown = render(&ctx, &sections, &skipped) + "\n" + &peer;
    println!("{markdown}");
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown)?;
        progress(format!("report written to {}", out.display()));
    }
    Ok(())
}

/// The server and ceiling binaries, built first unless `build` is false.
fn binaries(build: bool) -> Result<(PathBuf, PathBuf), BoxError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => root.join("target"),
    };
    let server = target.join("release/examples/server");
    let ceiling = target.join("release/agora-ceiling");
    if build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        for what in [
            ["-p", "agora-examples-axum", "--example", "server"],
            ["-p", "agora-bench", "--bin", "agora-ceiling"],
        ] {
            progress(format!("cargo build --release {}", what.join(" ")));
            let status = Command::new(&cargo)
                .arg("build")
                .arg("--release")
                .args(what)
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(&root)
                .stdin(Stdio::null())
                .status()?;
            if !status.success() {
                return Err(err(format!("cargo build failed ({status})")));
            }
        }
    }
    for bin in [&server, &ceiling] {
        if !bin.exists() {
            return Err(err(format!(
                "{} is missing: run `cargo build --release -p agora-examples-axum --example server` \
                 and `cargo build --release -p agora-bench --bin agora-ceiling`, or drop --no-build",
                bin.display()
            )));
        }
    }
    Ok((server, ceiling))
}

/// A database server the bench creates its own database on.
struct ServerBackend {
    backend: Backend,
    /// Its name in progress lines.
    name: &'static str,
    /// Its URL's option and environment variable.
    option: &'static str,
    variable: &'static str,
    /// Tried when neither is given, and skipped if nothing answers there.
    default: &'static str,
}

const POSTGRES: ServerBackend = ServerBackend {
    backend: Backend::Postgres,
    name: "PostgreSQL",
    option: "--postgres",
    variable: "AGORA_BENCH_POSTGRES_URL",
    default: DEFAULT_POSTGRES,
};

const MYSQL: ServerBackend = ServerBackend {
    backend: Backend::MySql,
    name: "MariaDB/MySQL",
    option: "--mysql",
    variable: "AGORA_BENCH_MYSQL_URL",
    default: DEFAULT_MYSQL,
};

/// Runs `server`'s section on a database of its own, created on the admin
/// URL `url` (else its variable, else its default: skipped with a line in
/// `skipped` when nothing answers there) and dropped afterwards.
async fn run_server_backend(
    ctx: &Ctx,
    server: &ServerBackend,
    url: Option<String>,
    sections: &mut Vec<BackendReport>,
    skipped: &mut Vec<String>,
) -> Result<(), BoxError> {
    let explicit = url.or_else(|| std::env::var(server.variable).ok());
    let admin = explicit
        .clone()
        .unwrap_or_else(|| server.default.to_owned());
    let mysql = server.backend == Backend::MySql;
    let created = if mysql {
        seed::my_create(&admin).await
    } else {
        seed::pg_create(&admin).await
    };
    let (name, url) = match created {
        Ok(created) => created,
        Err(e) if explicit.is_none() => {
            let (what, default) = (server.name, server.default);
            progress(format!("{what} skipped: {default}: {e}"));
            skipped.push(format!(
                "{what} skipped: nothing answered at {default} ({e}); pass {} URL or set {}.",
                server.option, server.variable
            ));
            return Ok(());
        }
        Err(e) => return Err(err(format!("{} at {admin}: {e}", server.name))),
    };
    progress(format!("{}: database {name}", server.name));
    let title = if mysql {
        mysql_version(&url).await.unwrap_or_default()
    } else {
        format!("PostgreSQL {}", pg_version(&url).await.unwrap_or_default())
    };
    let result = tokio::select! {
        r = run_backend(ctx, title, url) => r,
        _ = tokio::signal::ctrl_c() => Err(err("interrupted")),
    };
    let dropped = if mysql {
        seed::my_drop(&admin, &name).await
    } else {
        seed::pg_drop(&admin, &name).await
    };
    if let Err(e) = dropped {
        progress(format!("could not drop database {name}: {e}"));
    }
    sections.push(result?);
    Ok(())
}

async fn pg_version(url: &str) -> Result<String, BoxError> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let (version,): (String,) = sqlx::query_as("SHOW server_version")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(version
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// "MariaDB 10.11.6" or "MySQL 8.0.36", from `VERSION()`.
async fn mysql_version(url: &str) -> Result<String, BoxError> {
    use sqlx::Connection as _;
    let mut conn = sqlx::MySqlConnection::connect(url).await?;
    let (version,): (String,) = sqlx::query_as("SELECT VERSION()")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    let number = version.split('-').next().unwrap_or_default();
    Ok(if version.contains("MariaDB") {
        format!("MariaDB {number}")
    } else {
        format!("MySQL {number}")
    })
}

fn scale_label(posts: i64) -> String {
    match posts {
        p if p >= 1_000_000 && p % 1_000_000 == 0 => format!("{}M", p / 1_000_000),
        p if p >= 1_000 && p % 1_000 == 0 => format!("{}k", p / 1_000),
        p => thousands(p),
    }
}

/// One measured group, with the numbers the targets need.
#[derive(Clone, Copy)]
struct Measured {
    rps: f64,
    p50: u64,
    p99: u64,
    /// Cores the server's hashing threads kept busy over the window (CPU
    /// seconds per second).
    hashing_cores: f64,
}

/// A backend's run: its servers, tokens and report.
struct BackendRun<'a> {
    ctx: &'a Ctx,
    slug: String,
    url: String,
    backend: Backend,
    secret: String,
    report: BackendReport,
    tokens: Arc<Vec<HeaderValue>>,
    voters: Arc<Vec<HeaderValue>>,
    login_bodies: Arc<Vec<Bytes>>,
    vote_counter: Arc<AtomicU64>,
    idle_rss: Vec<(String, u64)>,
    peak_hwm: u64,
    other_cores: Vec<f64>,
    client_cores: Vec<f64>,
}

impl<'a> BackendRun<'a> {
    async fn start_agora(&mut self, tag: &str) -> Result<Server, BoxError> {
        let env = [
            ("AGORA_DATABASE_URL", self.url.clone()),
            ("AGORA_JWT_SECRET", self.secret.clone()),
            ("AGORA_ACCESS_TOKEN_TTL", "1d".to_owned()),
            // Every request comes from one IP: with throttling on, logins in
            // flight beyond the per-IP allowance would be 429s, and the login
            // scenario would measure the throttle instead of the hashing.
            ("AGORA_THROTTLE", "off".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let log = self.ctx.work.join(format!("agora-{}-{tag}.log", self.slug));
        let server =
            Server::start("agora", &self.ctx.server_bin, &env, &self.ctx.work, log).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = server.rss_kb();
        progress(format!(
            "{}: Agora server up ({tag}), idle RSS {}",
            self.slug,
            mb(rss)
        ));
        self.idle_rss.push((tag.to_owned(), rss));
        Ok(server)
    }

    async fn start_ceiling(&mut self) -> Result<Server, BoxError> {
        let env = [
            ("AGORA_DATABASE_URL", self.url.clone()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let log = self.ctx.work.join(format!("ceiling-{}.log", self.slug));
        Server::start("ceiling", &self.ctx.ceiling_bin, &env, &self.ctx.work, log).await
    }

    /// Logs in users 1..=6 and the voters through `POST /login`.
    async fn login_all(&mut self, server: &Server) -> Result<(), BoxError> {
        let mut tokens = Vec::new();
        let mut voters = Vec::new();
        for n in (1..=6).chain(seed::VOTERS) {
            let token = login(server, n).await?;
            if seed::VOTERS.contains(&n) {
                voters.push(token.clone());
            }
            tokens.push(token);
        }
        self.tokens = Arc::new(tokens);
        self.voters = Arc::new(voters);
        self.login_bodies = Arc::new((1..=100).map(login_body).collect());
        Ok(())
    }

    fn group(&self, label: &str, kind: Kind, connections: usize) -> Group {
        Group {
            label: label.to_owned(),
            kind,
            tokens: Arc::clone(&self.tokens),
            connections,
            rate: None,
        }
    }

    /// Runs one scenario on `server` and adds its rows (one per group).
    async fn measure(
        &mut self,
        server: &Server,
        posts: i64,
        groups: Vec<Group>,
        profile: Option<&str>,
    ) -> Result<Vec<Measured>, BoxError> {
        let ctx = self.ctx;
        let labels: Vec<String> = groups.iter().map(|g| g.label.clone()).collect();
        let groups = Arc::new(groups);
        let start = Instant::now() + ctx.warmup;
        let end = start + ctx.duration;
        let (addr, threads) = (server.addr, ctx.client_threads);
        let load =
            tokio::task::spawn_blocking(move || load::run(addr, groups, threads, start, end));
        tokio::time::sleep_until(start.into()).await;
        let cpu0 = server.cpu_ticks();
        let hashing0 = procs::threads_cpu_ns(Some(server.pid()), HASHING_THREADS);
        let pg0 = procs::db_ticks(self.backend);
        let (busy0, self0) = (procs::machine_busy_ticks(), procs::self_ticks());
        let perf = match (profile, &ctx.profile) {
            (Some(name), Some(dir)) => Some(start_perf(server.pid(), dir, name, ctx.duration)?),
            _ => None,
        };
        tokio::time::sleep_until(end.into()).await;
        let cpu1 = server.cpu_ticks();
        let hashing1 = procs::threads_cpu_ns(Some(server.pid()), HASHING_THREADS);
        let pg1 = procs::db_ticks(self.backend);
        let (busy1, self1) = (procs::machine_busy_ticks(), procs::self_ticks());
        // Cores kept busy by anything but the server, the database server and the client.
        let ours =
            cpu1.saturating_sub(cpu0) + pg1.saturating_sub(pg0) + self1.saturating_sub(self0);
        let others = busy1.saturating_sub(busy0).saturating_sub(ours) as f64
            / ctx.clock_ticks
            / ctx.duration.as_secs_f64();
        let client =
            self1.saturating_sub(self0) as f64 / ctx.clock_ticks / ctx.duration.as_secs_f64();
        self.other_cores.push(others);
        self.client_cores.push(client);
        let (rss, hwm) = (server.rss_kb(), server.hwm_kb());
        let results: Vec<GroupResult> = load.await?;
        if let Some(perf) = perf {
            finish_perf(perf)?;
        }
        if server.name == "agora" {
            self.peak_hwm = self.peak_hwm.max(hwm);
        }
        let recorded = profile.is_none();
        let secs = ctx.duration.as_secs_f64();
        let hashing_cores = hashing1.zip(hashing0).map_or(0.0, |(after, before)| {
            after.saturating_sub(before) as f64 / 1e9 / secs
        });
        let total: u64 = results.iter().map(|r| r.requests).sum::<u64>().max(1);
        let per_1k = |ticks: u64| ticks as f64 / ctx.clock_ticks / total as f64 * 1000.0;
        let mut measured = Vec::new();
        for (label, result) in labels.into_iter().zip(results) {
            let h = &result.histogram;
            let row = Row {
                scale: scale_label(posts),
                route: label.clone(),
                rps: result.requests as f64 / secs,
                p50: h.value_at_quantile(0.50),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                requests: result.requests,
                errors: result.errors,
                cpu_per_1k: per_1k(cpu1.saturating_sub(cpu0)),
                db_cpu_per_1k: self
                    .backend
                    .has_server()
                    .then(|| per_1k(pg1.saturating_sub(pg0))),
                rss_kb: rss,
                hwm_kb: hwm,
                ceiling_rps: None,
            };
            progress(format!(
                "{}{} {} {}: {} req/s, p50 {}, p99 {}, p99.9 {}, {} errors, RSS {}",
                if recorded {
                    ""
                } else {
                    "(profiled, not in the table) "
                },
                self.slug,
                row.scale,
                label,
                rps(row.rps),
                ms(row.p50),
                ms(row.p99),
                ms(row.p999),
                row.errors,
                mb(rss)
            ));
            if !recorded {
                continue;
            }
            if let Some(e) = &result.first_error {
                self.report.notes.push(format!(
                    "Errors in `{label}` at {} posts: {} of {}, for example: `{}`",
                    row.scale,
                    result.errors,
                    result.requests,
                    e.replace('`', "'")
                ));
            }
            measured.push(Measured {
                rps: row.rps,
                p50: row.p50,
                p99: row.p99,
                hashing_cores,
            });
            self.report.rows.push(row);
        }
        Ok(measured)
    }

    /// Sets the ceiling column of the last Agora row labelled `route` at `posts`.
    fn set_ceiling(&mut self, posts: i64, route: &str, ceiling: Measured) {
        let scale = scale_label(posts);
        if let Some(row) = self
            .report
            .rows
            .iter_mut()
            .rev()
            .find(|r| r.scale == scale && r.route == route)
        {
            row.ceiling_rps = Some(ceiling.rps);
        }
    }
}

async fn login(server: &Server, user: i64) -> Result<HeaderValue, BoxError> {
    let req = load::request(
        Method::POST,
        "/login",
        None,
        Some(("application/x-www-form-urlencoded", login_body(user))),
    );
    let (status, body) = load::one_request(server.addr, req).await?;
    if !status.is_success() {
        return Err(err(format!(
            "login of {} failed: {status} {}",
            seed::email(user),
            String::from_utf8_lossy(&body)
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    let token = json["access_token"]
        .as_str()
        .ok_or_else(|| err("no access_token in the login answer"))?;
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

fn login_body(user: i64) -> Bytes {
    Bytes::from(format!(
        "username=user{user}%40bench.example&password={}",
        PASSWORD.replace(' ', "+")
    ))
}

struct Perf {
    child: std::process::Child,
    data: PathBuf,
    text: PathBuf,
}

fn start_perf(pid: u32, dir: &Path, name: &str, duration: Duration) -> Result<Perf, BoxError> {
    let data = dir.join(format!("{name}.data"));
    let text = dir.join(format!("{name}.txt"));
    let secs = duration.as_secs_f64().min(5.0);
    let child = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "999", "-g", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(&data)
        .args(["--", "sleep"])
        .arg(format!("{secs:.1}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| err(format!("perf record: {e} (is perf installed?)")))?;
    Ok(Perf { child, data, text })
}

fn finish_perf(mut perf: Perf) -> Result<(), BoxError> {
    perf.child.wait()?;
    let output = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "-g",
            "none",
            "--percent-limit",
            "0.5",
            "-i",
        ])
        .arg(&perf.data)
        .stderr(Stdio::null())
        .output()?;
    let by_dso = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "-g",
            "none",
            "--sort",
            "dso",
            "-i",
        ])
        .arg(&perf.data)
        .stderr(Stdio::null())
        .output()?;
    let mut text = by_dso.stdout;
    text.extend_from_slice(b"\n\n");
    text.extend_from_slice(&output.stdout);
    std::fs::write(&perf.text, text)?;
    progress(format!("perf profile written to {}", perf.text.display()));
    Ok(())
}

/// The social listings measured at 10k and 1M posts: the feed of a user
/// following 100 authors (every seeded user does), a tag on 1% of posts,
/// and the most used tags.
const SOCIAL_LABELS: [&str; 3] = [
    "GET /feed?limit=10",
    "GET /posts?limit=10&tag=t7",
    "GET /tags?limit=10",
];

/// Measures [`SOCIAL_LABELS`] on `server`, in that order.
async fn social_lists(
    run: &mut BackendRun<'_>,
    server: &Server,
    posts: i64,
) -> Result<Vec<Measured>, BoxError> {
    let paths = [
        "/feed?limit=10".to_owned(),
        format!("/posts?limit=10&tag={}", seed::TAG),
        "/tags?limit=10".to_owned(),
    ];
    let mut measured = Vec::new();
    for (label, path) in SOCIAL_LABELS.iter().zip(paths) {
        let c = run.ctx.connections;
        measured.push(
            run.measure(
                server,
                posts,
                vec![run.group(label, Kind::GetPath(path), c)],
                None,
            )
            .await?[0],
        );
    }
    Ok(measured)
}

/// The mail request scenario's rows: registered and unknown addresses.
const MAIL_LABELS: [&str; 2] = [
    "POST /forgot-password (registered addresses)",
    "POST /forgot-password (unknown addresses, beside the row above)",
];

/// `POST /forgot-password` for registered and for unknown addresses at
/// the same time, half the connections each, so both see the same server
/// state (including the background tasks both queue). In [`MAIL_LABELS`]'
/// order.
async fn mail_requests(
    run: &mut BackendRun<'_>,
    server: &Server,
    posts: i64,
) -> Result<Vec<Measured>, BoxError> {
    let c = (run.ctx.connections / 2).max(1);
    let groups = [Addresses::Registered, Addresses::Unknown]
        .into_iter()
        .zip(MAIL_LABELS)
        .map(|(addresses, label)| {
            let kind = Kind::ForgotPassword {
                addresses,
                counter: Arc::new(AtomicU64::new(0)),
            };
            run.group(label, kind, c)
        })
        .collect();
    run.measure(server, posts, groups, None).await
}

/// The answer to a mail request takes the same time whether the address
/// is registered or not: p50 and p99 ratios within noise.
fn mail_target(mail: &[Measured]) -> Target {
    let (registered, unknown) = (mail[0], mail[1]);
    let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    let p50 = ratio(registered.p50, unknown.p50);
    let p99 = ratio(registered.p99, unknown.p99);
    let within = |r: f64| (0.8..=1.25).contains(&r);
    Target {
        goal: "`POST /forgot-password` takes the same time for registered and unknown addresses \
               (registered / unknown, p50 and p99): within noise, 0.8 to 1.25"
            .to_owned(),
        measured: format!(
            "p50 {p50:.2}x ({} vs {}), p99 {p99:.2}x ({} vs {})",
            ms(registered.p50),
            ms(unknown.p50),
            ms(registered.p99),
            ms(unknown.p99)
        ),
        pass: Some(within(p50) && within(p99)),
    }
}

async fn run_backend(ctx: &Ctx, name: String, url: String) -> Result<BackendReport, BoxError> {
    let backend = Backend::of(&url);
    let pg = backend == Backend::Postgres;
    let slug = backend.slug().to_owned();
    let mut run = BackendRun {
        ctx,
        slug: slug.clone(),
        url: url.clone(),
        backend,
        secret: agora_core::crypto::random_hex(32),
        report: BackendReport {
            name,
            ..BackendReport::default()
        },
        tokens: Arc::new(Vec::new()),
        voters: Arc::new(Vec::new()),
        login_bodies: Arc::new(Vec::new()),
        vote_counter: Arc::new(AtomicU64::new(0)),
        idle_rss: Vec::new(),
        peak_hwm: 0,
        other_cores: Vec::new(),
        client_cores: Vec::new(),
    };
    let c = ctx.connections;

    // The server's start-up runs the migrations.
    drop(run.start_agora("empty database").await?);
    let db = Db::connect(&url).await?;
    let unknown = db.unknown_post_columns().await?;
    if !unknown.is_empty() {
        run.report.notes.push(format!(
            "`posts` has columns this seeder does not fill: {unknown:?}; seeded rows keep their defaults."
        ));
    }
    db.seed_users(&ctx.phc).await?;
    let mut seeding = Vec::new();
    let mut voted_up_to = 0;

    // 10k posts: the list's baseline for the growth target.
    let took = db.grow_to(SMALL, &mut voted_up_to).await?;
    let counts = db.counts().await?;
    progress(format!(
        "{slug}: seeded {counts} in {:.1} s",
        took.as_secs_f64()
    ));
    seeding.push(format!("{counts} in {:.1} s", took.as_secs_f64()));
    let server = run.start_agora("10k posts").await?;
    run.login_all(&server).await?;
    let list_path = "/posts?limit=10".to_owned();
    let list_label = "GET /posts?limit=10";
    let small_list = run
        .measure(
            &server,
            SMALL,
            vec![run.group(list_label, Kind::GetPath(list_path.clone()), c)],
            None,
        )
        .await?[0];
    let small_social = social_lists(&mut run, &server, SMALL).await?;
    let mail = mail_requests(&mut run, &server, SMALL).await?;
    drop(server);

    // 100k posts, 1M votes: every route, the ceiling, the mixed scenario.
    let took = db.grow_to(REQUIRED, &mut voted_up_to).await?;
    let counts = db.counts().await?;
    progress(format!(
        "{slug}: seeded {counts} in {:.1} s",
        took.as_secs_f64()
    ));
    seeding.push(format!("{counts} in {:.1} s more", took.as_secs_f64()));
    let ids = Arc::new(db.published_ids().await?);
    let server = run.start_agora("100k posts").await?;
    let get_label = "GET /posts/{id}";
    let search_path = format!("/posts?limit=10&search={}", seed::SEARCH_WORD);
    let search_label = format!("GET /posts?limit=10&search={}", seed::SEARCH_WORD);
    let profile_name = format!("perf-{slug}-get-post");
    // The ceiling runs on the same database beside the idle Agora server;
    // each read is measured on Agora, then at once on the ceiling, so both
    // see the same machine state.
    let ceiling = run.start_ceiling().await?;
    let ceiling_auth = ceiling
        .log_tail()
        .lines()
        .find_map(|l| {
            l.strip_prefix("authentication look-up: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let get_kind = || Kind::GetPost(Arc::clone(&ids));
    let get = run
        .measure(
            &server,
            REQUIRED,
            vec![run.group(get_label, get_kind(), c)],
            None,
        )
        .await?[0];
    let ceiling_get = run
        .measure(
            &ceiling,
            REQUIRED,
            vec![run.group("ceiling: GET /posts/{id}", get_kind(), c)],
            None,
        )
        .await?[0];
    run.measure(
        &server,
        REQUIRED,
        vec![run.group(list_label, Kind::GetPath(list_path.clone()), c)],
        None,
    )
    .await?;
    let ceiling_list = run
        .measure(
            &ceiling,
            REQUIRED,
            vec![run.group(
                "ceiling: GET /posts?limit=10",
                Kind::GetPath(list_path.clone()),
                c,
            )],
            None,
        )
        .await?[0];
    let counters0 = db.pg_scan_counters().await?;
    run.measure(
        &server,
        REQUIRED,
        vec![run.group(&search_label, Kind::GetPath(search_path.clone()), c)],
        None,
    )
    .await?;
    let counters_required = diff(db.pg_scan_counters().await?, counters0);
    let ceiling_search = run
        .measure(
            &ceiling,
            REQUIRED,
            vec![run.group(
                &format!("ceiling: {search_label}"),
                Kind::GetPath(search_path.clone()),
                c,
            )],
            None,
        )
        .await?[0];
    drop(ceiling);
    run.set_ceiling(REQUIRED, get_label, ceiling_get);
    run.set_ceiling(REQUIRED, list_label, ceiling_list);
    run.set_ceiling(REQUIRED, &search_label, ceiling_search);
    if ctx.profile.is_some() {
        // A separate run: perf's sampling slows the server, so this one is not in the table.
        run.measure(
            &server,
            REQUIRED,
            vec![run.group(get_label, get_kind(), c)],
            Some(&profile_name),
        )
        .await?;
    }
    let deep = deep_pages(&mut run, &server, REQUIRED, &ids).await?;
    let mixed_label = format!(
        "GET /posts/{{id}} while {} connections log in",
        ctx.login_connections
    );
    let mixed = run
        .measure(
            &server,
            REQUIRED,
            vec![
                run.group(&mixed_label, get_kind(), c),
                run.group(
                    "POST /login (beside the GETs above)",
                    Kind::Login(Arc::clone(&run.login_bodies)),
                    ctx.login_connections,
                ),
            ],
            None,
        )
        .await?;
    let logins = run
        .measure(
            &server,
            REQUIRED,
            vec![run.group("POST /login", Kind::Login(Arc::clone(&run.login_bodies)), c)],
            None,
        )
        .await?[0];
    // The same pair with the GETs as an open loop at half the rate they
    // reached alone: then there is a core to share, and the question is
    // whether logins get it while reads keep their latency.
    let paced = Some(get.rps * PACED_SHARE);
    let paced_label = format!(
        "GET /posts/{{id}} paced at {}/s (half its rate alone)",
        rps(get.rps * PACED_SHARE)
    );
    let paced_alone = run
        .measure(
            &server,
            REQUIRED,
            vec![Group {
                rate: paced,
                ..run.group(&paced_label, get_kind(), c)
            }],
            None,
        )
        .await?[0];
    let paced_mixed = run
        .measure(
            &server,
            REQUIRED,
            vec![
                Group {
                    rate: paced,
                    ..run.group(&format!("{paced_label}, beside logins"), get_kind(), c)
                },
                run.group(
                    "POST /login (beside the paced GETs above)",
                    Kind::Login(Arc::clone(&run.login_bodies)),
                    ctx.login_connections,
                ),
            ],
            None,
        )
        .await?;

    // Writes last: they add posts and votes.
    run.measure(
        &server,
        REQUIRED,
        vec![run.group("POST /posts", Kind::CreatePost, c)],
        None,
    )
    .await?;
    let vote_kind = Kind::Vote {
        ids: Arc::clone(&ids),
        voters: Arc::clone(&run.voters),
        counter: Arc::clone(&run.vote_counter),
    };
    run.measure(
        &server,
        REQUIRED,
        vec![run.group("POST /vote", vote_kind, c)],
        None,
    )
    .await?;
    drop(server);
    drop(ids);

    // 1M posts, 10M votes: the list's growth, deep pages, search.
    let mut large_list = None;
    let mut large_deep = None;
    let mut large_social = None;
    let mut search_scale = REQUIRED;
    let mut counters = counters_required;
    if ctx.large {
        let took = db.grow_to(LARGE, &mut voted_up_to).await?;
        let counts = db.counts().await?;
        progress(format!(
            "{slug}: seeded {counts} in {:.1} s",
            took.as_secs_f64()
        ));
        seeding.push(format!("{counts} in {:.1} s more", took.as_secs_f64()));
        let ids = db.published_ids().await?;
        let server = run.start_agora("1M posts").await?;
        large_list = Some(
            run.measure(
                &server,
                LARGE,
                vec![run.group(list_label, Kind::GetPath(list_path.clone()), c)],
                None,
            )
            .await?[0],
        );
        large_deep = Some(deep_pages(&mut run, &server, LARGE, &ids).await?);
        large_social = Some(social_lists(&mut run, &server, LARGE).await?);
        let counters0 = db.pg_scan_counters().await?;
        run.measure(
            &server,
            LARGE,
            vec![run.group(&search_label, Kind::GetPath(search_path.clone()), c)],
            None,
        )
        .await?;
        counters = diff(db.pg_scan_counters().await?, counters0);
        search_scale = LARGE;
        drop(server);
    }

    // Facts above the table.
    let facts = &mut run.report.facts;
    facts.push(format!("Seeding (bulk SQL): {}.", seeding.join("; then ")));
    facts.push(format!(
        "Server idle RSS (1 s after start): {}.",
        run.idle_rss
            .iter()
            .map(|(tag, kb)| format!("{} on {tag}", mb(*kb)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    facts.push(format!(
        "CPU during the scenarios: the load generator used {:.2} cores on average (at most {:.2}); \
         other processes on the machine used {:.2} cores on average (at most {:.2}){}.",
        mean(&run.client_cores),
        max(&run.client_cores),
        mean(&run.other_cores),
        max(&run.other_cores),
        if max(&run.other_cores) > 0.2 {
            ": the machine was not quiet, so numbers are noisier than they should be"
        } else {
            ""
        }
    ));
    facts.push(format!(
        "The ceiling's authentication look-up for listings: {ceiling_auth} (the statement Agora's token check runs); \
         its `GET /posts/{{id}}` runs the post's statement alone (Agora checks the session in that same statement)."
    ));
    facts.push(format!(
        "Search term `{}` is in 1% of titles; `GET /posts/{{id}}` picks random published posts; \
         `POST /vote` gives every request a new (user, post) pair.",
        seed::SEARCH_WORD
    ));

    // Targets.
    let targets = &mut run.report.targets;
    let ratio = get.rps / ceiling_get.rps.max(f64::MIN_POSITIVE);
    targets.push(Target {
        goal: "authenticated `GET /posts/{id}` >= 90% of the bare no-auth ceiling's req/s"
            .to_owned(),
        measured: format!(
            "{:.0}% ({} vs {} req/s)",
            100.0 * ratio,
            rps(get.rps),
            rps(ceiling_get.rps)
        ),
        pass: Some(ratio >= 0.9),
    });
    match large_list {
        Some(large) => {
            let growth = large.p99 as f64 / small_list.p99.max(1) as f64;
            targets.push(Target {
                goal: "`GET /posts?limit=10` p99 grows < 2x from 10k posts / 100k votes to 1M posts / 10M votes"
                    .to_owned(),
                measured: format!("{growth:.2}x ({} -> {})", ms(small_list.p99), ms(large.p99)),
                pass: Some(growth < 2.0),
            });
        }
        None => targets.push(Target {
            goal: "`GET /posts?limit=10` p99 grows < 2x from 10k to 1M posts".to_owned(),
            measured: "1M scale skipped (--quick or --no-large)".to_owned(),
            pass: None,
        }),
    }
    let (deep, deep_scale) = large_deep.map_or((deep, REQUIRED), |large| (large, LARGE));
    targets.push(Target {
        goal: format!(
            "`GET /posts?limit=10&skip={}` p99 < 100 ms at 1M posts",
            LARGE / 10
        ),
        measured: if deep_scale == LARGE {
            format!("{} ({} req/s)", ms(deep.p99), rps(deep.rps))
        } else {
            format!(
                "1M scale skipped (--quick or --no-large); `skip={}` at 100k: {}",
                REQUIRED / 10,
                ms(deep.p99)
            )
        },
        pass: (deep_scale == LARGE).then_some(deep.p99 < 100_000),
    });
    for (i, label) in SOCIAL_LABELS.iter().enumerate() {
        let goal = format!("`{label}` p99 grows < 2x from 10k to 1M posts");
        targets.push(match &large_social {
            Some(large) => {
                let growth = large[i].p99 as f64 / small_social[i].p99.max(1) as f64;
                Target {
                    goal,
                    measured: format!(
                        "{growth:.2}x ({} -> {})",
                        ms(small_social[i].p99),
                        ms(large[i].p99)
                    ),
                    pass: Some(growth < 2.0),
                }
            }
            None => Target {
                goal,
                measured: "1M scale skipped (--quick or --no-large)".to_owned(),
                pass: None,
            },
        });
    }
    if pg {
        let viewer = 1;
        let common = db.pg_search_plan(seed::SEARCH_WORD, viewer).await?;
        let rare = db.pg_search_plan(seed::RARE_WORD, viewer).await?;
        let seq = |plan: &str| plan.contains("Seq Scan on posts");
        let trgm = |plan: &str| plan.contains("posts_title_trgm_idx");
        let nodes = |plan: &str| {
            let mut found = Vec::new();
            for (needle, label) in [
                ("posts_title_trgm_idx", "trigram index"),
                ("posts_pkey", "posts_pkey"),
                ("Seq Scan on posts", "Seq Scan on posts"),
            ] {
                if plan.contains(needle) {
                    found.push(label);
                }
            }
            found.join(" + ")
        };
        let pass = !seq(&common) && !seq(&rare) && trgm(&rare);
        targets.push(Target {
            goal: format!(
                "PostgreSQL search uses an index (trigram), no sequential scan, at {} posts",
                scale_label(search_scale)
            ),
            measured: format!(
                "plan for `{}` (1%): {}; for `{}` (0.01%): {}; during the search scenario: \
                 {} trigram index scans, {} sequential scans of posts",
                seed::SEARCH_WORD,
                nodes(&common),
                seed::RARE_WORD,
                nodes(&rare),
                counters.0,
                counters.1
            ) + if search_scale == LARGE {
                ""
            } else {
                " (1M scale skipped: measured at 100k)"
            },
            pass: (search_scale == LARGE).then_some(pass),
        });
        run.report.notes.push(format!(
            "PostgreSQL plan of the search statement (prepared, 6th execution) for `{}` at {} posts:\n\n```text\n{common}\n```\n\nand for `{}`:\n\n```text\n{rare}\n```",
            seed::SEARCH_WORD,
            scale_label(search_scale),
            seed::RARE_WORD,
        ));
    }
    targets.push(mail_target(&mail));
    // Logins at the hardware's pace: cores / the CPU time of a hash, the
    // hash timed by the server's own hashing threads during the flood
    // (their CPU time over the window, per login), so the reference is the
    // very work measured, at the same moment: logins / (cores / that time)
    // is the share of the cores the hashing threads kept busy. The
    // in-process reference (a hash alone, before the run) is shown beside.
    let flood_share = logins.hashing_cores / ctx.cores as f64;
    let per_login = logins.hashing_cores / logins.rps.max(f64::MIN_POSITIVE);
    targets.push(Target {
        goal: "logins >= 90% of cores / CPU time of one argon2 hash (timed by the server's \
               hashing threads during the login flood)"
            .to_owned(),
        measured: format!(
            "{:.0}% ({} logins/s vs {} cores / {} of hashing CPU per login = {:.1}/s; \
             in-process, a hash alone took {}: {:.0}% of {} cores / that)",
            100.0 * flood_share,
            rps(logins.rps),
            ctx.cores,
            ms((per_login * 1e6) as u64),
            ctx.cores as f64 / per_login.max(f64::MIN_POSITIVE),
            ms((ctx.hash_secs * 1e6) as u64),
            100.0 * logins.rps * ctx.hash_secs / ctx.cores as f64,
            ctx.cores
        ),
        pass: Some(flood_share >= 0.9),
    });
    let rise = mixed[0].p99 as f64 / get.p99.max(1) as f64;
    targets.push(Target {
        goal: "p99 of `GET /posts/{id}` rises < 2x while logins saturate the hashing pool"
            .to_owned(),
        measured: format!(
            "{rise:.2}x ({} alone -> {} beside {} login connections doing {} logins/s)",
            ms(get.p99),
            ms(mixed[0].p99),
            ctx.login_connections,
            rps(mixed[1].rps)
        ),
        pass: Some(rise < 2.0),
    });
    let kept = mixed[1].rps / logins.rps.max(f64::MIN_POSITIVE);
    targets.push(Target {
        goal:
            "logins beside the GETs keep >= 50% of their rate alone (a fair share, not starvation)"
                .to_owned(),
        measured: format!(
            "{:.0}% ({} logins/s beside the GETs vs {} alone)",
            100.0 * kept,
            rps(mixed[1].rps),
            rps(logins.rps)
        ),
        pass: Some(kept >= 0.5),
    });
    let paced_rise = paced_mixed[0].p99 as f64 / paced_alone.p99.max(1) as f64;
    let paced_kept = paced_mixed[1].rps / logins.rps.max(f64::MIN_POSITIVE);
    targets.push(Target {
        goal: "the same two with the GETs paced at half their rate alone (open loop): \
               GET p99 rises < 2x and logins keep >= 50% of their rate alone"
            .to_owned(),
        measured: format!(
            "{paced_rise:.2}x ({} alone -> {} beside {} login connections); logins {:.0}% \
             ({} logins/s vs {} alone); GETs answered {} of {}/s",
            ms(paced_alone.p99),
            ms(paced_mixed[0].p99),
            ctx.login_connections,
            100.0 * paced_kept,
            rps(paced_mixed[1].rps),
            rps(logins.rps),
            rps(paced_mixed[0].rps),
            rps(get.rps * PACED_SHARE)
        ),
        pass: Some(paced_rise < 2.0 && paced_kept >= 0.5),
    });
    let idle = run.idle_rss.iter().map(|(_, kb)| *kb).max().unwrap_or(0);
    targets.push(Target {
        goal: "server RSS < 30 MB idle".to_owned(),
        measured: format!("{} (largest idle RSS of the starts above)", mb(idle)),
        pass: Some(idle < 30 * 1024),
    });
    targets.push(Target {
        goal: "server RSS < 100 MB under load".to_owned(),
        measured: format!("{} (largest VmHWM)", mb(run.peak_hwm)),
        pass: Some(run.peak_hwm < 100 * 1024),
    });
    db.close().await;
    Ok(run.report)
}

fn diff(a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
    (a.0 - b.0, a.1 - b.1)
}

/// A deep page two ways: `skip` (OFFSET) and the keyset cursor `after`;
/// returns the `skip` page's figures.
async fn deep_pages(
    run: &mut BackendRun<'_>,
    server: &Server,
    posts: i64,
    ids: &[i64],
) -> Result<Measured, BoxError> {
    let skip = (posts / 10) as usize;
    // Posts with id < after, newest first, start at the skip-th visible post.
    let after = ids[ids.len().saturating_sub(skip).max(1).min(ids.len() - 1)];
    let c = run.ctx.connections;
    let skip_path = format!("/posts?limit=10&skip={skip}");
    let after_path = format!("/posts?limit=10&after={after}");
    // Both give the page a walk over the published posts gives (users 1 to 6
    // own no drafts): a wrong count in `post_blocks` would show here.
    let expected: Vec<i64> = ids[..ids.len().saturating_sub(skip)]
        .iter()
        .rev()
        .take(10)
        .copied()
        .collect();
    for path in [&skip_path, &after_path] {
        let got = page_ids(server, path, &run.tokens[0]).await?;
        if got != expected {
            return Err(err(format!(
                "GET {path} returned posts {got:?}, not {expected:?}"
            )));
        }
    }
    let by_skip = run
        .measure(
            server,
            posts,
            vec![run.group(
                &format!("GET {skip_path}"),
                Kind::GetPath(skip_path.clone()),
                c,
            )],
            None,
        )
        .await?[0];
    run.measure(
        server,
        posts,
        vec![run.group(
            &format!("GET {after_path} (same page)"),
            Kind::GetPath(after_path.clone()),
            c,
        )],
        None,
    )
    .await?;
    Ok(by_skip)
}

/// The ids of the posts of one page, newest first.
async fn page_ids(server: &Server, path: &str, token: &HeaderValue) -> Result<Vec<i64>, BoxError> {
    let req = load::request(Method::GET, path, Some(token), None);
    let (status, body) = load::one_request(server.addr, req).await?;
    if !status.is_success() {
        return Err(err(format!("GET {path}: {status}")));
    }
    let page: Vec<serde_json::Value> = serde_json::from_slice(&body)?;
    page.iter()
        .map(|p| {
            p["Post"]["id"]
                .as_i64()
                .ok_or_else(|| err(format!("GET {path}: a post without an id")))
        })
        .collect()
}

fn machine() -> Vec<String> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let meminfo = read("/proc/meminfo");
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    vec![
        format!("CPU: {model}, {cores} cores (nproc)"),
        format!("memory: {:.1} GiB", mem_kb as f64 / 1024.0 / 1024.0),
        format!("kernel: Linux {kernel}"),
    ]
}

fn render(ctx: &Ctx, sections: &[BackendReport], skipped: &[String]) -> String {
    let mut out = String::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    out.push_str("# Agora benchmark run\n\n");
    out.push_str(&format!(
        "- date: {}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    ));
    out.push_str(&format!(
        "- command: `cargo run --release -p agora-bench --{}`\n",
        args.iter().map(|a| format!(" {a}")).collect::<String>()
    ));
    for line in machine() {
        out.push_str(&format!("- {line}\n"));
    }
    out.push_str(&format!(
        "- load: {} keep-alive connections per scenario, closed loop (hyper 1 client, {} thread(s), on the same machine), \
         {} s measured after {} s of warm-up; latency from sending a request to the end of its body\n",
        ctx.connections,
        ctx.client_threads,
        ctx.duration.as_secs_f64(),
        ctx.warmup.as_secs_f64()
    ));
    out.push_str(&format!(
        "- argon2id verification (m = 19456 KiB, t = 2, p = 1) in-process through agora-core's hasher, CPU time of the hashing thread (`/proc/self/task/<tid>/schedstat`): {} (fastest of the runs; median {}), so {} cores allow {:.1} logins/s\n",
        ms((ctx.hash_secs * 1e6) as u64),
        ms((ctx.hash_median * 1e6) as u64),
        ctx.cores,
        ctx.cores as f64 / ctx.hash_secs
    ));
    out.push_str(
        "- server: `target/release/examples/server`, default settings (pool of 10, hashing pool = cores) but `AGORA_THROTTLE=off` (all load comes from one IP), `RUST_LOG=warn`; \
         ceiling: `agora-ceiling` (bare axum + sqlx, hand-written JSON; listings: the session look-up + the route's statement; `GET /posts/{id}`: the post's statement alone, no authentication)\n",
    );
    out.push_str(
        "- CPU s / 1k req: the server process's user + system time over the window (all scenario requests); \
         RSS end: VmRSS after the scenario; peak RSS: VmHWM since that server started\n",
    );
    for line in skipped {
        out.push_str(&format!("- {line}\n"));
    }
    out.push('\n');
    for section in sections {
        out.push_str(&section.markdown());
        out.push('\n');
    }
    out
}
