//! `create-user`, `set-password`, `revoke-sessions`: accounts managed by
//! address through Agora's operator services (`Agora::admin_*`), over the
//! database the servers use. Passwords are read from the terminal without
//! echo, or from standard input with `--password-stdin`, never from the
//! command line (where `ps` would show them). Audit events go to standard
//! error (`RUST_LOG`, default `warn,agora::audit=info`).

use std::error::Error;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agora_core::config::JwtSecret;
use agora_core::schema::UserCreate;
use agora_core::{Agora, Config};

/// The longest wait to open the database (and apply pending migrations)
/// and Redis; each database call then has the pool's own deadlines.
const OPEN_DEADLINE: Duration = Duration::from_secs(30);

/// Where the password comes from.
#[derive(clap::Args)]
pub struct PasswordInput {
    /// Read the password from the first line of standard input (for
    /// scripts) instead of prompting on the terminal.
    #[arg(long)]
    password_stdin: bool,
}

/// Arguments of `create-user`.
#[derive(clap::Args)]
pub struct CreateUserArgs {
    /// The new user's email address.
    email: String,
    /// The new user's username (3 to 30 letters, digits, `_`, `-`, `.`).
    #[arg(long)]
    username: Option<String>,
    #[command(flatten)]
    password: PasswordInput,
}

/// Arguments of `set-password`.
#[derive(clap::Args)]
pub struct SetPasswordArgs {
    /// The user's email address.
    email: String,
    #[command(flatten)]
    password: PasswordInput,
}

/// Arguments of `revoke-sessions`.
#[derive(clap::Args)]
pub struct RevokeSessionsArgs {
    /// The user's email address.
    email: String,
}

/// Runs `create-user`: registers the user under Agora's rules (address,
/// password policy, username; no throttling) and prints the new id.
pub async fn create_user(args: CreateUserArgs) -> ExitCode {
    finish(async {
        let password = read_password(&args.password)?;
        let agora = open().await?;
        let request = UserCreate {
            email: args.email,
            password,
            username: args.username,
        };
        let user = agora.admin_create_user(request).await.map_err(describe)?;
        println!("{}", user.id.0);
        Ok(())
    })
    .await
}

/// Runs `set-password`: the registration password rules apply; every
/// session of the user ends and outstanding reset links die.
pub async fn set_password(args: SetPasswordArgs) -> ExitCode {
    finish(async {
        let password = read_password(&args.password)?;
        let agora = open().await?;
        let change = agora
            .admin_set_password(&args.email, password)
            .await
            .map_err(describe)?
            .ok_or_else(|| no_account(&args.email))?;
        println!(
            "password set for user {}; ended {} session(s)",
            change.user.0, change.sessions_ended
        );
        Ok(())
    })
    .await
}

/// Runs `revoke-sessions`: ends every session of the user and prints how
/// many there were.
pub async fn revoke_sessions(args: RevokeSessionsArgs) -> ExitCode {
    finish(async {
        let agora = open().await?;
        let change = agora
            .admin_revoke_sessions(&args.email)
            .await
            .map_err(describe)?
            .ok_or_else(|| no_account(&args.email))?;
        println!(
            "ended {} session(s) of user {}",
            change.sessions_ended, change.user.0
        );
        Ok(())
    })
    .await
}

/// Logs audit events to standard error, runs `command`, and on failure
/// prints `error: ...` (naming the `AGORA_*` variable at fault) and exits 1.
async fn finish(command: impl Future<Output = Result<(), Box<dyn Error>>>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,agora::audit=info".into()),
        )
        .init();
    match command.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", agora_examples::startup_error(e));
            ExitCode::FAILURE
        }
    }
}

/// Agora over the configured database, opened as the servers open it
/// (`agora_sqlx::open`: migrations, pool, Redis) within [`OPEN_DEADLINE`].
/// These commands sign no token, so without `AGORA_JWT_SECRET` (HS256) a
/// secret for this process only is used: no secret file is written.
async fn open() -> Result<Agora, Box<dyn Error>> {
    let mut config = Config::from_env()?;
    if config.tokens.secret.is_none() && !config.tokens.algorithm.is_asymmetric() {
        config.tokens.secret = Some(JwtSecret::generate());
    }
    match tokio::time::timeout(OPEN_DEADLINE, agora_sqlx::open(&config)).await {
        Ok(opened) => Ok(opened?),
        Err(_) => Err(format!(
            "AGORA_DATABASE_URL: {} was not opened within {}s (unreachable, or a long \
             migration: apply migrations first with the `migrate` command)",
            agora_sqlx::redact_password(&config.server.database_url),
            OPEN_DEADLINE.as_secs()
        )
        .into()),
    }
}

/// The password: the first line of standard input with `--password-stdin`
/// (its line ending removed), else typed twice at a prompt without echo.
fn read_password(input: &PasswordInput) -> Result<String, Box<dyn Error>> {
    if input.password_stdin {
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line)? == 0 {
            return Err("--password-stdin: standard input is empty".into());
        }
        let line = line.strip_suffix('\n').unwrap_or(&line);
        return Ok(line.strip_suffix('\r').unwrap_or(line).to_owned());
    }
    let prompt = |text: &str| {
        rpassword::prompt_password(text).map_err(|e| {
            format!(
                "cannot read the password from the terminal ({e}); \
                 pass it on standard input with --password-stdin"
            )
        })
    };
    let password = prompt("New password: ")?;
    if prompt("Repeat it: ")? != password {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(password)
}

/// The error of an address no account has.
fn no_account(email: &str) -> Box<dyn Error> {
    format!("no account has the address {email:?}").into()
}

/// A service error as one line: each refused field with the rule it broke,
/// or the error with its causes.
fn describe(e: agora_core::Error) -> Box<dyn Error> {
    let fields = e.field_errors();
    if !fields.is_empty() {
        let shown: Vec<String> = fields
            .iter()
            .map(|f| {
                let field = f.loc.last().map_or("input", String::as_str);
                format!("{field}: {}", f.msg)
            })
            .collect();
        return shown.join("; ").into();
    }
    crate::check::chain(&e).into()
}
