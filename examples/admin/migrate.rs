//! `migrate`: applies the pending migrations to the database of
//! `AGORA_DATABASE_URL` and exits, for deploy pipelines that migrate
//! before starting the new release's servers (which would migrate on start
//! too: this only moves the work, and its failures, to the pipeline).
//!
//! Prints one line per migration applied (`applied 0006 schema compat`),
//! one per migration a newer release applied that this one does not know
//! (tolerated, as migrations only add), then a summary. Waits for another
//! instance's migration lock up to `AGORA_MIGRATION_LOCK_TIMEOUT`; logs go
//! to standard output as `RUST_LOG` says (warnings by default).
//!
//! Exit status: 0 when the database is migrated (or already was); 1 when
//! it is not, with the reason on standard error (`error: ...`, naming the
//! `AGORA_*` variable at fault).

use std::process::ExitCode;

/// Arguments of `migrate`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `migrate`.
pub async fn run(_args: Args) -> ExitCode {
    agora_examples::main_of("warn", async {
        let config = agora_core::Config::from_env()?;
        let migrated = agora_sqlx::migrate(&config).await?;
        for m in &migrated.applied {
            println!("applied {:04} {}", m.version, m.description);
        }
        for m in &migrated.unknown {
            println!(
                "tolerated {:04} {} (applied by a newer release, unknown to this one)",
                m.version, m.description
            );
        }
        match migrated.applied.len() {
            0 => println!("nothing to apply: the database is up to date"),
            1 => println!("database migrated: 1 migration applied"),
            n => println!("database migrated: {n} migrations applied"),
        }
        Ok(())
    })
    .await
}
