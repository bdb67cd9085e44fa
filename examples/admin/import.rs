//! `import-fastapi`: copies the users (with their passwords), posts and
//! votes of the original FastAPI app's database into Agora's
//! (`agora_sqlx::import`), printing the counts; a progress bar on stderr
//! when it is a terminal.
//!
//! Exit status: 0 when every row is imported or already there (with
//! `--skip-invalid`, but for the invalid rows listed); 1 when the import
//! failed (a database unusable or lost: running it again goes on from the
//! last committed batch); 3 when rows are refused: invalid rows without
//! `--skip-invalid` (nothing written), or rows in conflict with Agora's
//! database (all others written).

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::process::ExitCode;

use agora_core::config::env::variable;
use agora_sqlx::import::{
    ImportError, ImportOptions, ImportProgress, ImportReport, MAX_BATCH_SIZE, SkippedRow, Stage,
    Table,
};
use indicatif::{ProgressBar, ProgressStyle};

/// The exit status of rows refused (invalid, or in conflict).
const REFUSED: u8 = 3;

/// Arguments of `import-fastapi`.
#[derive(clap::Args)]
pub struct Args {
    /// The FastAPI app's database, only read: postgres://user:password@host/db
    /// or sqlite://path/to/file.db.
    source_url: String,
    /// Import the rows Agora accepts and list the others (invalid emails,
    /// emails equal but for case, posts Agora's rules refuse, and what
    /// depends on them), instead of refusing to start.
    #[arg(long)]
    skip_invalid: bool,
    /// Rows per batch; each batch is one transaction.
    #[arg(long, default_value_t = 500, value_parser = batch_size)]
    batch_size: usize,
}

/// A batch size from 1 to [`MAX_BATCH_SIZE`].
fn batch_size(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH_SIZE).contains(&n) => Ok(n),
        _ => Err(format!("expected a number from 1 to {MAX_BATCH_SIZE}")),
    }
}

/// Runs `import-fastapi`.
pub async fn run(args: Args) -> ExitCode {
    let config = match agora_core::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {}", agora_examples::startup_error(Box::new(e)));
            return ExitCode::FAILURE;
        }
    };
    let options = ImportOptions {
        batch_size: args.batch_size,
        skip_invalid: args.skip_invalid,
    };
    let progress = Progress::new();
    let imported = agora_sqlx::import_fastapi(&args.source_url, &config, &options, &progress).await;
    progress.finish();
    match imported {
        Ok(report) => {
            print_report(&report);
            if report.conflicts().next().is_some() {
                eprintln!(
                    "error: rows in conflict with Agora's database were not imported \
                     (listed above); everything else was"
                );
                ExitCode::from(REFUSED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(ImportError::Invalid(rows)) => {
            print_skipped(&rows);
            eprintln!(
                "error: {} rows cannot be imported (listed above), nothing was written: \
                 fix them in the FastAPI database, or run again with --skip-invalid \
                 to import everything else",
                rows.len()
            );
            ExitCode::from(REFUSED)
        }
        Err(e) => {
            eprintln!("error: {}", e.renamed(variable));
            ExitCode::FAILURE
        }
    }
}

/// The counts per table, then the rows not imported.
fn print_report(report: &ImportReport) {
    for table in Table::ALL {
        let c = report.counts(table);
        println!(
            "{table}: {} read, {} imported, {} already present, {} skipped",
            c.read, c.imported, c.already_present, c.skipped
        );
    }
    print_skipped(&report.skipped);
}

fn print_skipped(rows: &[SkippedRow]) {
    if !rows.is_empty() {
        println!("not imported:");
    }
    for row in rows {
        println!("  {row}");
    }
}

/// A progress bar on stderr, only when stderr is a terminal.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            ProgressBar::new(0).with_style(style)
        });
        Progress { bar }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl ImportProgress for Progress {
    fn start(&self, stage: Stage, table: Table, rows: u64) {
        if let Some(bar) = &self.bar {
            let verb = match stage {
                Stage::Checking => "checking",
                Stage::Copying => "copying",
            };
            bar.set_message(format!("{verb} {table}"));
            bar.set_length(rows);
            bar.set_position(0);
        }
    }

    fn advance(&self, _stage: Stage, _table: Table, rows: u64) -> ControlFlow<()> {
        if let Some(bar) = &self.bar {
            bar.inc(rows);
        }
        ControlFlow::Continue(())
    }
}
