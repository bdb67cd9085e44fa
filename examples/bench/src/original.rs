//! The original FastAPI app as an optional peer (issue 20): the "social
//! media API" of the public course repository
//! `Sanjeev-Thiyagarajan/fastapi-course`, which Agora was rebuilt from.
//!
//! Nothing of it is in this repository. With `--original DIR|GIT-URL` (or
//! `AGORA_BENCH_ORIGINAL`), at bench time and all inside the bench's work
//! directory: a directory is copied (read-only use of the source), a git URL
//! is cloned with `git clone --depth 1`; a throwaway `python3 -m venv` gets
//! the app's pinned `requirements.txt`, or, when that does not install or
//! import (its 2021 pins do not build on Python 3.11), [`FALLBACK`]: its
//! direct dependencies at versions its code works with. Then, in the
//! PostgreSQL cluster the bench uses, one fresh database for Agora (seeded
//! as the backends are, 1,000 users / 10k posts / 100k votes) and one for
//! the app (its tables by its SQLAlchemy models' `create_all`, then the same
//! rows copied from Agora's database, every user with one bcrypt hash made
//! by the app's own passlib); both servers up side by side (Agora's example
//! server in release, the app under `uvicorn app.main:app --workers 2`);
//! tokens from each one's `POST /login`; five scenarios, each measured on
//! Agora and then at once on the app, with server + PostgreSQL CPU per
//! request (the whole uvicorn process tree). Both databases are dropped
//! afterwards; the venv goes with the work directory.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use hyper::Method;
use hyper::header::HeaderValue;
use sqlx::{Connection as _, PgConnection};

use crate::load::{self, Group, Kind};
use crate::procs::{self, Server};
use crate::report::{ms, rps, thousands};
use crate::seed::{self, Db};
use crate::{Args, BoxError, Ctx, DEFAULT_POSTGRES, PASSWORD, SMALL, err, login_body, progress};

/// What to pass to measure the peer.
const HOW: &str = "pass --original DIR|GIT-URL or set AGORA_BENCH_ORIGINAL";

/// The app's direct dependencies, installed when its pinned
/// `requirements.txt` does not install or import: pydantic v1 (its schemas
/// and settings use `orm_mode` and `BaseSettings`) and the last FastAPI
/// series built on it, SQLAlchemy 1.x (its `Query` code), bcrypt 4.0 (the
/// last that passlib 1.7.4 reads without errors), and httptools, which its
/// pinned set has and uvicorn uses when present.
pub const FALLBACK: [&str; 11] = [
    "fastapi<0.100",
    "pydantic[email]<2",
    "uvicorn",
    "httptools",
    "sqlalchemy<2",
    "psycopg2-binary",
    "passlib[bcrypt]==1.7.4",
    "bcrypt==4.0.1",
    "python-jose[cryptography]",
    "python-multipart",
    "alembic",
];

/// The target: authenticated `GET /posts/{id}`, Agora / the app.
const TARGET_RATIO: f64 = 50.0;

/// The shortest warm-up and window of a peer scenario. The load generator
/// counts the requests sent in the window, and the app answers a request
/// in 0.3-2 s at 32 connections: a window must hold many of each
/// connection's requests, and the warm-up at least one.
const MIN_TIMING: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(10));

/// The same for logins: a bcrypt verification (cost 12) takes the app
/// about a quarter of a second of CPU, so 32 connections on 2 workers wait
/// several seconds for each login.
const MIN_LOGIN_TIMING: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(20));

/// The app's tables, from its own models.
const CREATE_ALL: &str = "from app import models; from app.database import engine; models.Base.metadata.create_all(bind=engine)";

/// One hash of the bench password by the app's own passlib context.
const HASH: &str =
    "import os; from app.utils import hash; print(hash(os.environ['AGORA_BENCH_PASSWORD']))";

/// The packages whose versions the report names.
const REPORTED: [&str; 12] = [
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "uvicorn",
    "httptools",
    "psycopg2",
    "psycopg2-binary",
    "passlib",
    "bcrypt",
    "python-jose",
    "python-multipart",
];

/// The peer's section of the report: measured when `--original` or
/// `AGORA_BENCH_ORIGINAL` names the app, else one line saying how.
pub async fn section(ctx: &Ctx, args: &Args) -> Result<String, BoxError> {
    let title = "## Original FastAPI app (peer, issue 20)\n\n";
    let source = args
        .original
        .clone()
        .or_else(|| std::env::var("AGORA_BENCH_ORIGINAL").ok())
        .filter(|s| !s.trim().is_empty());
    let Some(source) = source else {
        progress(format!("original app: not measured ({HOW})"));
        return Ok(format!("{title}- original app: not measured ({HOW}).\n"));
    };
    // The app runs on PostgreSQL only: it uses the bench's server even with
    // --no-postgres (which skips the PostgreSQL backend's own section).
    let admin = args
        .postgres
        .clone()
        .or_else(|| std::env::var("AGORA_BENCH_POSTGRES_URL").ok())
        .unwrap_or_else(|| DEFAULT_POSTGRES.to_owned());
    let (src, fetched) = checkout(&source, &ctx.work)?;
    let install = install(&src, &ctx.work)?;
    progress(format!(
        "original app: Python {}, installed {}",
        install.python_version, install.set
    ));

    let (agora_name, agora_url) = seed::pg_create(&admin)
        .await
        .map_err(|e| err(format!("original app: PostgreSQL at {admin}: {e}")))?;
    let created = seed::pg_create(&admin).await;
    let result = match &created {
        Ok((_, original_url)) => {
            tokio::select! {
                r = measure(ctx, &src, &install, &agora_url, original_url) => r,
                _ = tokio::signal::ctrl_c() => Err(err("interrupted")),
            }
        }
        Err(e) => Err(err(format!("creating the original app's database: {e}"))),
    };
    let names = [
        Some(&agora_name),
        created.as_ref().ok().map(|(name, _)| name),
    ];
    for name in names.into_iter().flatten() {
        if let Err(e) = seed::pg_drop(&admin, name).await {
            progress(format!("could not drop database {name}: {e}"));
        }
    }
    let run = result.map_err(|e| err(format!("original app: {e}")))?;
    Ok(format!(
        "{title}{}",
        render(
            ctx,
            &format!("`{source}` ({fetched} into the work directory)"),
            &install,
            &run
        )
    ))
}

/// Where the app's files are, and what became of them.
/// Returns the copy and how it was made ("copied", "cloned").
fn checkout(source: &str, work: &Path) -> Result<(PathBuf, &'static str), BoxError> {
    let dest = work.join("original-src");
    if dest.exists() {
        fs::remove_dir_all(&dest)?;
    }
    let path = Path::new(source);
    let fetched = if path.is_dir() {
        progress(format!(
            "original app: copying {} to {}",
            path.display(),
            dest.display()
        ));
        copy_tree(path, &dest)?;
        "copied"
    } else if source.contains("://") || source.starts_with("git@") {
        progress(format!("original app: git clone --depth 1 {source}"));
        let log = work.join("original-git.log");
        let mut git = Command::new("git");
        git.args(["clone", "--depth", "1", "--quiet", source])
            .arg(&dest)
            .env("GIT_TERMINAL_PROMPT", "0");
        run_logged(git, &log, Duration::from_secs(300)).map_err(|e| {
            err(format!(
                "could not fetch the original app: `git clone --depth 1 {source}` failed: {e}\n\
                 Is that host reachable from this machine? If not, clone it on a machine that \
                 reaches it, copy the checkout here and pass its directory: --original DIR \
                 (or AGORA_BENCH_ORIGINAL=DIR)."
            ))
        })?;
        "cloned"
    } else {
        return Err(err(format!(
            "--original {source}: no such directory, and not a git URL (https://..., ssh://..., git@...)"
        )));
    };
    if !dest.join("app/main.py").is_file() {
        return Err(err(format!(
            "{source} does not look like the fastapi-course checkout: it has no app/main.py"
        )));
    }
    Ok((dest, fetched))
}

/// Copies `from` into `to`, leaving out dot files, `__pycache__`, symlinks
/// and virtualenvs (directories with a `pyvenv.cfg`).
fn copy_tree(from: &Path, to: &Path) -> Result<(), BoxError> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str.starts_with('.') || name_str == "__pycache__" {
            continue;
        }
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if !path.join("pyvenv.cfg").exists() {
                copy_tree(&path, &to.join(&name))?;
            }
        } else if kind.is_file() {
            fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

/// Runs `command` with its output in `log`, killed after `timeout`; an
/// error carries the log's last lines.
fn run_logged(mut command: Command, log: &Path, timeout: Duration) -> Result<(), BoxError> {
    let out = fs::File::create(log)?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err(format!(
                "no answer after {} s; {}:\n{}",
                timeout.as_secs(),
                log.display(),
                tail(log, 10)
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if status.success() {
        Ok(())
    } else {
        Err(err(format!(
            "{status}; {}:\n{}",
            log.display(),
            tail(log, 10)
        )))
    }
}

/// The last `n` non-empty lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The app's virtualenv.
struct Install {
    python: PathBuf,
    /// Which requirement set went in, and why.
    set: String,
    /// `name==version` of [`REPORTED`] packages.
    versions: Vec<String>,
    python_version: String,
}

/// Makes the venv in `work` and installs the app's requirements: the
/// pinned file first, [`FALLBACK`] if that fails to install or to import
/// the app.
fn install(src: &Path, work: &Path) -> Result<Install, BoxError> {
    let venv = work.join("original-venv");
    let python = venv.join("bin/python");
    let make_venv = || -> Result<(), BoxError> {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "venv", "--clear"]).arg(&venv);
        run_logged(
            cmd,
            &work.join("original-venv.log"),
            Duration::from_secs(300),
        )
        .map_err(|e| err(format!("python3 -m venv {}: {e}", venv.display())))
    };
    let pip = |args: &[&str], log: &Path| -> Result<(), BoxError> {
        let mut cmd = Command::new(&python);
        cmd.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(args);
        run_logged(cmd, log, Duration::from_secs(1800))
    };
    // Importing the app builds its engine (no connection) from these.
    let import_check = || -> Result<(), BoxError> {
        python_run(&python, src, &dummy_env(), &["-c", "import app.main"]).map(drop)
    };
    let requirements = src.join("requirements.txt");
    make_venv()?;
    let mut reason = "the checkout has no requirements.txt".to_owned();
    if requirements.is_file() {
        let log = work.join("original-pip-pinned.log");
        progress("original app: pip install -r requirements.txt (pinned) into a throwaway venv");
        let pinned = pip(&["-r", &requirements.to_string_lossy()], &log)
            .map_err(|_| pip_failure(&log))
            .and_then(|()| {
                import_check().map_err(|e| format!("installed, but the app does not import: {e}"))
            });
        match pinned {
            Ok(()) => {
                return finish(python, "the app's pinned requirements.txt".to_owned());
            }
            Err(why) => {
                progress(format!("original app: pinned requirements failed: {why}"));
                reason = format!("its pinned requirements.txt failed: {why}");
                make_venv()?;
            }
        }
    }
    progress(format!(
        "original app: pip install {} into a throwaway venv",
        FALLBACK.join(" ")
    ));
    let log = work.join("original-pip-fallback.log");
    pip(&FALLBACK, &log).map_err(|e| err(format!("pip install of the fallback set: {e}")))?;
    import_check().map_err(|e| {
        err(format!(
            "the app does not import with the fallback set: {e}"
        ))
    })?;
    finish(
        python,
        format!("the fallback set `{}` ({reason})", FALLBACK.join(" ")),
    )
}

/// Why a pip run failed, in one line: its last error line and the last
/// package it was working on.
fn pip_failure(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let last = |pred: &dyn Fn(&str) -> bool| {
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| pred(l))
            .map(str::to_owned)
    };
    let error = last(&|l: &str| l.starts_with("ERROR:") || l.starts_with("error:"))
        .unwrap_or_else(|| "pip failed".to_owned());
    let package = last(&|l: &str| l.starts_with("Collecting ") || l.starts_with("Building wheel"))
        .map(|l| l.split(" (from ").next().unwrap_or_default().to_owned());
    match package {
        Some(p) => format!("`{error}` (last step: `{p}`; log: {})", log.display()),
        None => format!("`{error}` (log: {})", log.display()),
    }
}

fn finish(python: PathBuf, set: String) -> Result<Install, BoxError> {
    let freeze = Command::new(&python)
        .args(["-m", "pip", "freeze", "--disable-pip-version-check"])
        .stderr(Stdio::null())
        .output()?;
    let versions = String::from_utf8_lossy(&freeze.stdout)
        .lines()
        .filter(|l| {
            l.split_once("==").is_some_and(|(name, _)| {
                REPORTED.contains(&name.to_ascii_lowercase().replace('_', "-").as_str())
            })
        })
        .map(str::to_owned)
        .collect();
    let version = Command::new(&python).arg("--version").output()?;
    let python_version = String::from_utf8_lossy(&version.stdout)
        .trim()
        .trim_start_matches("Python ")
        .to_owned();
    Ok(Install {
        python,
        set,
        versions,
        python_version,
    })
}

/// Runs the venv's Python in the app's directory; its standard output.
fn python_run(
    python: &Path,
    src: &Path,
    env: &[(String, String)],
    args: &[&str],
) -> Result<String, BoxError> {
    let output = Command::new(python)
        .args(args)
        .current_dir(src)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        return Err(err(format!(
            "python {} failed ({}):\n{}",
            args.join(" "),
            output.status,
            lines[lines.len().saturating_sub(8)..].join("\n")
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The settings the app's `config.py` reads, for a database it never
/// connects to (import checks).
fn dummy_env() -> Vec<(String, String)> {
    let pg = PgParts {
        host: "127.0.0.1".to_owned(),
        port: "5432".to_owned(),
        user: "postgres".to_owned(),
        password: String::new(),
    };
    app_env(&pg, "none", "unused")
}

/// The parts of a PostgreSQL URL the app's settings take.
struct PgParts {
    host: String,
    port: String,
    user: String,
    /// As in the URL (percent-encoded): SQLAlchemy decodes it.
    password: String,
}

fn pg_parts(url: &str) -> Result<PgParts, BoxError> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| err(format!("not a postgres:// URL: {url}")))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => ("", authority),
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (u, p),
        None => (userinfo, ""),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, p),
        _ => (hostport, "5432"),
    };
    if host.is_empty() {
        return Err(err(format!(
            "the original app needs a TCP host in the PostgreSQL URL ({url})"
        )));
    }
    Ok(PgParts {
        host: host.to_owned(),
        port: port.to_owned(),
        user: if user.is_empty() { "postgres" } else { user }.to_owned(),
        password: password.to_owned(),
    })
}

/// The environment of the app's `config.py` (its settings have no defaults).
fn app_env(pg: &PgParts, database: &str, secret: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_HOSTNAME", pg.host.as_str()),
        ("DATABASE_PORT", pg.port.as_str()),
        ("DATABASE_PASSWORD", pg.password.as_str()),
        ("DATABASE_NAME", database),
        ("DATABASE_USERNAME", pg.user.as_str()),
        ("SECRET_KEY", secret),
        ("ALGORITHM", "HS256"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "1440"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// One side of one scenario.
#[derive(Clone, Default)]
struct Side {
    rps: f64,
    p99: u64,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    /// Server + PostgreSQL CPU milliseconds per request.
    cpu_ms: f64,
    /// Of which PostgreSQL's.
    db_ms: f64,
    /// Cores kept busy by other processes (not the server, PostgreSQL or
    /// the load generator) over the window.
    other_cores: f64,
}

/// A scenario measured on both.
struct Scenario {
    label: &'static str,
    agora: Side,
    original: Side,
}

/// What [`measure`] found.
struct PeerRun {
    pg_version: String,
    agora_rows: String,
    original_rows: String,
    original_idle_kb: u64,
    original_processes: usize,
    /// The bare ceiling (`agora-ceiling`) on Agora's database, `GET
    /// /posts/{id}` measured as the scenarios are, just before them.
    ceiling_get: Side,
    scenarios: Vec<Scenario>,
}

/// Seeds both databases, starts both servers and measures the scenarios.
async fn measure(
    ctx: &Ctx,
    src: &Path,
    install: &Install,
    agora_url: &str,
    original_url: &str,
) -> Result<PeerRun, BoxError> {
    let pg_version = crate::pg_version(agora_url).await.unwrap_or_default();
    let secret = agora_core::crypto::random_hex(32);
    // As the backends' runs start it (`BackendRun::start_agora`).
    let agora_env = [
        ("AGORA_DATABASE_URL", agora_url.to_owned()),
        ("AGORA_JWT_SECRET", secret.clone()),
        ("AGORA_ACCESS_TOKEN_TTL", "1d".to_owned()),
        ("AGORA_THROTTLE", "off".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let agora_log = |tag: &str| ctx.work.join(format!("agora-peer-{tag}.log"));
    // Its start-up runs the migrations.
    drop(
        Server::start(
            "agora",
            &ctx.server_bin,
            &agora_env,
            &ctx.work,
            agora_log("empty"),
        )
        .await?,
    );
    let db = Db::connect(agora_url).await?;
    db.seed_users(&ctx.phc).await?;
    let mut voted_up_to = 0;
    db.grow_to(SMALL, &mut voted_up_to).await?;
    let agora_counts = db.counts().await?;
    let agora_ids = Arc::new(db.published_ids().await?);
    db.close().await;
    progress(format!("original app: Agora's database has {agora_counts}"));

    let original_db = original_url
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let env = app_env(&pg_parts(original_url)?, &original_db, &secret);
    python_run(&install.python, src, &env, &["-c", CREATE_ALL])?;
    let mut hash_env = env.clone();
    hash_env.push(("AGORA_BENCH_PASSWORD".to_owned(), PASSWORD.to_owned()));
    let bcrypt = python_run(&install.python, src, &hash_env, &["-c", HASH])?;
    let (original_rows, original_ids) = copy_rows(agora_url, original_url, &bcrypt).await?;
    progress(format!("original app: its database has {original_rows}"));

    let agora = Server::start(
        "agora",
        &ctx.server_bin,
        &agora_env,
        &ctx.work,
        agora_log("10k"),
    )
    .await?;
    let original =
        Uvicorn::start(install, src, &env, &ctx.work.join("original-uvicorn.log")).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let original_idle_kb = original.rss_kb();
    let original_processes = original.tree().len();
    progress(format!(
        "original app: uvicorn up at {} (pid {}, {} processes)",
        original.addr,
        original.child.id(),
        original.tree().len()
    ));

    let users: Vec<i64> = (1..=6).chain(seed::VOTERS).collect();
    let mut agora_tokens = Vec::new();
    let mut original_tokens = Vec::new();
    for &n in &users {
        agora_tokens.push(login(agora.addr, n).await?);
        original_tokens.push(login(original.addr, n).await?);
    }
    let voters = |tokens: &[HeaderValue]| Arc::new(tokens[6..].to_vec());
    let agora_voters = voters(&agora_tokens);
    let original_voters = voters(&original_tokens);
    let (agora_tokens, original_tokens) = (Arc::new(agora_tokens), Arc::new(original_tokens));
    let bodies = Arc::new((1..=100).map(login_body).collect::<Vec<_>>());
    let (agora_votes, original_votes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let slash = |kind: Kind| Kind::TrailingSlash(Box::new(kind));

    // (label, Agora's kind, the app's kind); reads first, then writes.
    let plan: Vec<(&'static str, Kind, Kind)> = vec![
        (
            "GET /posts/{id} with a token",
            Kind::GetPost(Arc::clone(&agora_ids)),
            Kind::GetPost(Arc::new(original_ids.clone())),
        ),
        (
            "GET /posts?limit=10",
            Kind::GetPath("/posts?limit=10".to_owned()),
            Kind::GetPath("/posts/?limit=10".to_owned()),
        ),
        ("POST /posts", Kind::CreatePost, slash(Kind::CreatePost)),
        (
            "POST /vote",
            Kind::Vote {
                ids: Arc::clone(&agora_ids),
                voters: agora_voters,
                counter: agora_votes,
            },
            slash(Kind::Vote {
                ids: Arc::new(original_ids),
                voters: original_voters,
                counter: original_votes,
            }),
        ),
        (
            "POST /login",
            Kind::Login(Arc::clone(&bodies)),
            Kind::Login(bodies),
        ),
    ];
    // The bare ceiling's read, in a window as long as the scenarios': the
    // most any server running the post's statement gets out of this machine.
    let ceiling = Server::start(
        "ceiling",
        &ctx.ceiling_bin,
        &[
            ("AGORA_DATABASE_URL", agora_url.to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ],
        &ctx.work,
        ctx.work.join("ceiling-peer.log"),
    )
    .await?;
    let ceiling_pid = ceiling.pid();
    let ceiling_get = run_scenario(
        ctx,
        ceiling.addr,
        "ceiling: GET /posts/{id}",
        Kind::GetPost(Arc::clone(&agora_ids)),
        &agora_tokens,
        timing(ctx, false),
        &|| procs::cpu_ticks(ceiling_pid).unwrap_or(0),
    )
    .await?;
    drop(ceiling);
    progress(format!(
        "original app: the bare ceiling's GET /posts/{{id}}: {} req/s ({} errors)",
        rps(ceiling_get.rps),
        ceiling_get.errors
    ));
    let mut scenarios = Vec::new();
    for (label, agora_kind, original_kind) in plan {
        let timing = timing(ctx, matches!(agora_kind, Kind::Login(_)));
        let agora_pid = agora.pid();
        let agora_side = run_scenario(
            ctx,
            agora.addr,
            label,
            agora_kind,
            &agora_tokens,
            timing,
            &|| procs::cpu_ticks(agora_pid).unwrap_or(0),
        )
        .await?;
        let original_side = run_scenario(
            ctx,
            original.addr,
            label,
            original_kind,
            &original_tokens,
            timing,
            &|| original.tree_ticks(),
        )
        .await?;
        progress(format!(
            "original app: {label}: original {} req/s ({} errors), Agora {} req/s ({} errors): {}",
            rps(original_side.rps),
            original_side.errors,
            rps(agora_side.rps),
            agora_side.errors,
            ratio(agora_side.rps, original_side.rps)
        ));
        scenarios.push(Scenario {
            label,
            agora: agora_side,
            original: original_side,
        });
    }
    drop(original);
    drop(agora);
    Ok(PeerRun {
        pg_version,
        agora_rows: agora_counts.to_string(),
        original_rows,
        original_idle_kb,
        original_processes,
        ceiling_get,
        scenarios,
    })
}

/// (warm-up, window) of a scenario: the bench's, or longer ones (see
/// [`MIN_TIMING`]).
fn timing(ctx: &Ctx, login: bool) -> (Duration, Duration) {
    let (warmup, window) = if login { MIN_LOGIN_TIMING } else { MIN_TIMING };
    (ctx.warmup.max(warmup), ctx.duration.max(window))
}

/// Copies Agora's seeded rows into the app's tables (its columns only), so
/// both hold the same users, posts and votes; every user gets `bcrypt`.
/// Returns the app's row counts and its published post ids.
async fn copy_rows(
    agora_url: &str,
    original_url: &str,
    bcrypt: &str,
) -> Result<(String, Vec<i64>), BoxError> {
    let mut from = PgConnection::connect(agora_url).await?;
    let users: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id::bigint, email, created_at::text FROM users ORDER BY id")
            .fetch_all(&mut from)
            .await?;
    let posts: Vec<(i64, String, String, bool, String, i64)> = sqlx::query_as(
        "SELECT id::bigint, title, content, published, created_at::text, owner_id::bigint \
         FROM posts ORDER BY id",
    )
    .fetch_all(&mut from)
    .await?;
    let votes: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT post_id::bigint, user_id::bigint FROM votes ORDER BY post_id, user_id",
    )
    .fetch_all(&mut from)
    .await?;
    from.close().await?;

    let mut to = PgConnection::connect(original_url).await?;
    let column = |i: usize| -> Vec<String> {
        posts
            .iter()
            .map(|p| match i {
                1 => p.1.clone(),
                2 => p.2.clone(),
                _ => p.4.clone(),
            })
            .collect()
    };
    sqlx::query(
        "INSERT INTO users (id, email, password, created_at) \
         SELECT u.id, u.email, $3, u.created_at::timestamptz \
         FROM UNNEST($1::bigint[], $2::text[], $4::text[]) AS u(id, email, created_at)",
    )
    .bind(users.iter().map(|u| u.0).collect::<Vec<_>>())
    .bind(users.iter().map(|u| u.1.clone()).collect::<Vec<_>>())
    .bind(bcrypt)
    .bind(users.iter().map(|u| u.2.clone()).collect::<Vec<_>>())
    .execute(&mut to)
    .await?;
    sqlx::query(
        "INSERT INTO posts (id, title, content, published, created_at, owner_id) \
         SELECT p.id, p.title, p.content, p.published, p.created_at::timestamptz, p.owner_id \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::bigint[]) \
         AS p(id, title, content, published, created_at, owner_id)",
    )
    .bind(posts.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind(column(1))
    .bind(column(2))
    .bind(posts.iter().map(|p| p.3).collect::<Vec<_>>())
    .bind(column(4))
    .bind(posts.iter().map(|p| p.5).collect::<Vec<_>>())
    .execute(&mut to)
    .await?;
    sqlx::query(
        "INSERT INTO votes (post_id, user_id) \
         SELECT v.post_id, v.user_id FROM UNNEST($1::bigint[], $2::bigint[]) AS v(post_id, user_id)",
    )
    .bind(votes.iter().map(|v| v.0).collect::<Vec<_>>())
    .bind(votes.iter().map(|v| v.1).collect::<Vec<_>>())
    .execute(&mut to)
    .await?;
    // Rows came with their ids: the sequences continue after them.
    sqlx::raw_sql(
        "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users)); \
         SELECT setval(pg_get_serial_sequence('posts', 'id'), (SELECT MAX(id) FROM posts))",
    )
    .execute(&mut to)
    .await?;
    // Its own statement: VACUUM cannot run in the implicit transaction of several.
    sqlx::raw_sql("VACUUM ANALYZE users, posts, votes")
        .execute(&mut to)
        .await?;
    let (u, p, v): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM posts), (SELECT COUNT(*) FROM votes)",
    )
    .fetch_one(&mut to)
    .await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id::bigint FROM posts WHERE published ORDER BY id")
            .fetch_all(&mut to)
            .await?;
    to.close().await?;
    if (u, p, v) != (users.len() as i64, posts.len() as i64, votes.len() as i64) {
        return Err(err(format!(
            "copied {u} users, {p} posts, {v} votes of {}, {}, {}",
            users.len(),
            posts.len(),
            votes.len()
        )));
    }
    Ok((
        format!(
            "{} users, {} posts, {} votes",
            thousands(u),
            thousands(p),
            thousands(v)
        ),
        ids,
    ))
}

async fn login(addr: SocketAddr, user: i64) -> Result<HeaderValue, BoxError> {
    let req = load::request(
        Method::POST,
        "/login",
        None,
        Some(("application/x-www-form-urlencoded", login_body(user))),
    );
    let (status, body) = load::one_request(addr, req).await?;
    if !status.is_success() {
        return Err(err(format!(
            "login of {} at {addr} failed: {status} {}",
            seed::email(user),
            String::from_utf8_lossy(&body)
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    let token = json["access_token"]
        .as_str()
        .ok_or_else(|| err(format!("no access_token in the login answer of {addr}")))?;
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

/// One scenario on one server, as `BackendRun::measure` does it: closed
/// loop from the warm-up on, CPU ticks read at the window's edges.
async fn run_scenario(
    ctx: &Ctx,
    addr: SocketAddr,
    label: &str,
    kind: Kind,
    tokens: &Arc<Vec<HeaderValue>>,
    (warmup, duration): (Duration, Duration),
    server_ticks: &dyn Fn() -> u64,
) -> Result<Side, BoxError> {
    let groups = Arc::new(vec![Group {
        label: label.to_owned(),
        kind,
        tokens: Arc::clone(tokens),
        connections: ctx.connections,
        rate: None,
    }]);
    let start = Instant::now() + warmup;
    let end = start + duration;
    let threads = ctx.client_threads;
    let load = tokio::task::spawn_blocking(move || load::run(addr, groups, threads, start, end));
    tokio::time::sleep_until(start.into()).await;
    let sample = || {
        (
            server_ticks(),
            postgres_ticks(),
            procs::machine_busy_ticks(),
            procs::self_ticks(),
        )
    };
    let (server0, db0, busy0, self0) = sample();
    tokio::time::sleep_until(end.into()).await;
    let (server1, db1, busy1, self1) = sample();
    let mut results = load.await?;
    let result = results
        .pop()
        .ok_or_else(|| err("the load generator returned nothing"))?;
    let requests = result.requests.max(1) as f64;
    let to_ms = |ticks: u64| ticks as f64 / ctx.clock_ticks * 1000.0 / requests;
    let (server, db) = (server1.saturating_sub(server0), db1.saturating_sub(db0));
    let ours = server + db + self1.saturating_sub(self0);
    let other_cores = busy1.saturating_sub(busy0).saturating_sub(ours) as f64
        / ctx.clock_ticks
        / duration.as_secs_f64();
    Ok(Side {
        rps: result.requests as f64 / duration.as_secs_f64(),
        p99: result.histogram.value_at_quantile(0.99),
        requests: result.requests,
        errors: result.errors,
        first_error: result.first_error,
        cpu_ms: to_ms(server + db),
        db_ms: to_ms(db),
        other_cores,
    })
}

/// (parent pid, command name, CPU ticks) of every process, where the ticks
/// are utime + stime + cutime + cstime: a process's own time and that of
/// its children it has reaped. So a PostgreSQL backend that exits during a
/// window (SQLAlchemy's pool closes its overflow connections) still counts,
/// in the postmaster's cutime/cstime, and so do uvicorn's.
fn process_table() -> HashMap<u32, (u32, String, u64)> {
    let mut table = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return table;
    };
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        if let (Some(ppid), Some(utime), Some(stime), Some(cutime), Some(cstime)) =
            (num(1), num(11), num(12), num(13), num(14))
        {
            table.insert(pid, (ppid as u32, comm, utime + stime + cutime + cstime));
        }
    }
    table
}

/// CPU ticks of every process named `postgres` (the whole cluster: the
/// other databases are idle during a scenario).
fn postgres_ticks() -> u64 {
    process_table()
        .values()
        .filter(|(_, comm, _)| comm == "postgres")
        .map(|(_, _, ticks)| ticks)
        .sum()
}

/// `root` and its descendants.
fn descendants(table: &HashMap<u32, (u32, String, u64)>, root: u32) -> Vec<u32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            table
                .iter()
                .filter(|(_, (ppid, _, _))| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.retain(|pid| table.contains_key(pid));
    found
}

/// The app under uvicorn: the master process (its child) and its workers;
/// stopped with SIGTERM on drop (uvicorn stops its workers), killed if it
/// lingers.
struct Uvicorn {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Uvicorn {
    async fn start(
        install: &Install,
        src: &Path,
        env: &[(String, String)],
        log: &Path,
    ) -> Result<Uvicorn, BoxError> {
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let out = fs::File::create(log)?;
        let child = Command::new(&install.python)
            .args([
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
            ])
            .arg(addr.port().to_string())
            .args(["--workers", "2", "--no-access-log"])
            .current_dir(src)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| err(format!("starting uvicorn: {e}")))?;
        let mut server = Uvicorn {
            child,
            addr,
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                return Err(err(format!(
                    "uvicorn exited ({status}) before it answered; {}:\n{}",
                    server.log.display(),
                    tail(&server.log, 20)
                )));
            }
            if let Ok((status, _)) = load::one_request(addr, load::get("/")).await
                && status.is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(err(format!(
                    "uvicorn did not answer GET / within 60 s; {}:\n{}",
                    server.log.display(),
                    tail(&server.log, 20)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The master and its workers.
    fn tree(&self) -> Vec<u32> {
        descendants(&process_table(), self.child.id())
    }

    /// CPU ticks of the master and every worker.
    fn tree_ticks(&self) -> u64 {
        let table = process_table();
        descendants(&table, self.child.id())
            .iter()
            .filter_map(|pid| table.get(pid).map(|(_, _, ticks)| ticks))
            .sum()
    }

    /// Resident memory of the master and its workers, KiB.
    fn rss_kb(&self) -> u64 {
        self.tree()
            .into_iter()
            .filter_map(|pid| procs::status_kb(pid, "VmRSS"))
            .sum()
    }
}

impl Drop for Uvicorn {
    fn drop(&mut self) {
        let tree = self.tree();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Workers the master did not take down.
        let table = process_table();
        for pid in tree.into_iter().skip(1) {
            if table.contains_key(&pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// The section's body.
fn render(ctx: &Ctx, source: &str, install: &Install, run: &PeerRun) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "- app: {source}; nothing of it is in this repository; \
         Python {} in a throwaway venv in the work directory; installed: {}",
        install.python_version, install.set
    );
    let _ = writeln!(out, "- its packages: {}", install.versions.join(", "));
    let _ = writeln!(
        out,
        "- servers side by side on PostgreSQL {} (one database each, same cluster, dropped afterwards): \
         the app under `uvicorn app.main:app --workers 2 --no-access-log` (idle RSS of its {} processes, \
         master, workers and multiprocessing's helper: {:.1} MB); Agora's example server in release, settings as above",
        run.pg_version,
        run.original_processes,
        run.original_idle_kb as f64 / 1024.0
    );
    let _ = writeln!(
        out,
        "- rows: Agora {}; the app {} (Agora's rows copied into its tables; every user has one bcrypt \
         hash of the bench password made by the app's own passlib, as Agora's users share one argon2id hash)",
        run.agora_rows, run.original_rows
    );
    let _ = writeln!(
        out,
        "- load: {} keep-alive connections per scenario, closed loop (the bench's load generator), \
         {} s measured after {} s of warm-up ({} s after {} s for logins: the app's answers take seconds), \
         each scenario on Agora then at once on the app; the app's collection routes are `/posts/` and \
         `/vote/` (it redirects `/posts` with a 307), so it is sent those",
        ctx.connections,
        timing(ctx, false).1.as_secs_f64(),
        timing(ctx, false).0.as_secs_f64(),
        timing(ctx, true).1.as_secs_f64(),
        timing(ctx, true).0.as_secs_f64(),
    );
    let others: Vec<f64> = run
        .scenarios
        .iter()
        .flat_map(|s| [s.agora.other_cores, s.original.other_cores])
        .collect();
    let max = others.iter().copied().fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "- other processes on the machine used {:.2} cores on average during the windows (at most {max:.2}){}",
        others.iter().sum::<f64>() / others.len().max(1) as f64,
        if max > 0.2 {
            ": the machine was not quiet, so the figures are noisier than they should be"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "- CPU per request: user + system time over the window of the server (the app: uvicorn's master \
         and its workers) plus every `postgres` process, divided by the requests of the window\n"
    );
    out.push_str(
        "| scenario | original app req/s | Agora req/s | ratio | server+db CPU ms per request, original / Agora | of which PostgreSQL, original / Agora | p99, original / Agora | errors, original / Agora |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for s in &run.scenarios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} / {} | {} / {} | {} / {} | {} / {} |",
            s.label,
            rps(s.original.rps),
            rps(s.agora.rps),
            ratio(s.agora.rps, s.original.rps),
            cpu(s.original.cpu_ms),
            cpu(s.agora.cpu_ms),
            cpu(s.original.db_ms),
            cpu(s.agora.db_ms),
            ms(s.original.p99),
            ms(s.agora.p99),
            errors(&s.original),
            errors(&s.agora),
        );
    }
    out.push_str("\n| target | measured | result |\n|---|---|---|\n");
    if let Some(get) = run.scenarios.first() {
        let clean = get.agora.errors == 0 && get.original.errors == 0;
        let result = if get.original.requests == 0 {
            "not measured"
        } else if get.agora.rps / get.original.rps >= TARGET_RATIO && clean {
            "PASS"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "| authenticated `GET /posts/{{id}}` >= {TARGET_RATIO:.0}x the original app's req/s | {} ({} vs {} req/s){} | {result} |",
            ratio(get.agora.rps, get.original.rps),
            rps(get.agora.rps),
            rps(get.original.rps),
            if clean { "" } else { ", with errors" },
        );
        let ceiling = &run.ceiling_get;
        let _ = writeln!(
            out,
            "| the bare ceiling (`agora-ceiling`: the post's statement alone, no token, hand-written JSON) on Agora's database, for reference | {} the app ({} req/s, {} errors); Agora {:.0}% of it | |",
            ratio(ceiling.rps, get.original.rps),
            rps(ceiling.rps),
            ceiling.errors,
            100.0 * get.agora.rps / ceiling.rps.max(f64::MIN_POSITIVE),
        );
    }
    let mut notes = String::new();
    for s in &run.scenarios {
        for (who, side) in [("the original app", &s.original), ("Agora", &s.agora)] {
            if let Some(e) = &side.first_error {
                let _ = writeln!(
                    notes,
                    "\nErrors of {who} in `{}`: {} of {}, for example: `{}`",
                    s.label,
                    side.errors,
                    side.requests,
                    e.replace('`', "'")
                );
            }
        }
    }
    out.push_str(&notes);
    out
}

/// `a / b` as `12.3x`, or `n/a` when nothing was measured.
fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}x", a / b)
    } else {
        "n/a".to_owned()
    }
}

/// CPU milliseconds with sensible precision.
fn cpu(ms: f64) -> String {
    if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

fn errors(side: &Side) -> String {
    if side.errors == 0 {
        "0".to_owned()
    } else {
        format!("{} of {}", side.errors, side.requests)
    }
}
