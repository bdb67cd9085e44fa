//! Agora's HTTP contract suite.
//!
//! The suite is written once against a base URL and run against every
//! adapter and storage backend: it asserts the HTTP contract of the original
//! FastAPI application, so that its clients keep working unchanged.
//!
//! Every case is independent of the others and of data already in the
//! database: users get random unique emails, and list/search/order cases put
//! a random marker in their titles and filter with `search=<marker>`. The
//! suite can therefore run several times against one shared database.
//!
//! ```no_run
//! # async fn demo() {
//! agora_contract::run_contract("http://127.0.0.1:8000").await;
//! # }
//! ```

pub mod embed;
pub mod harness;
pub mod logs;
pub mod security;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Returns early from a case with a formatted failure message when the
/// condition does not hold.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// Returns early from a case when the two values differ.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($arg:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err(format!(
                        "{}: expected {:?}, got {:?}",
                        format!($($arg)+),
                        right,
                        left
                    ));
                }
            }
        }
    };
}

mod cases;
mod client;
mod util;

pub(crate) use client::Ctx;

/// What a case returns: `Err` carries the reason of the failure.
pub(crate) type CaseResult = Result<(), String>;

type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send + 'static>>;

/// One named contract case.
pub(crate) struct Case {
    name: &'static str,
    run: fn(Ctx) -> CaseFuture,
}

/// How long one whole case may take before it counts as failed.
const CASE_TIMEOUT: Duration = Duration::from_secs(180);

/// The names of every contract case, in the order they run.
pub fn case_names() -> Vec<&'static str> {
    cases::all().iter().map(|case| case.name).collect()
}

/// Runs every contract case against the live server at `base_url` and panics
/// with the names of the failed cases if any failed.
///
/// `base_url` is the server's root, optionally with a path prefix, e.g.
/// `http://127.0.0.1:41234` or `http://127.0.0.1:41234/api`. Each case prints
/// one line, `contract: <case> ... ok` or `contract: <case> ... FAILED: <why>`;
/// a failing case does not stop the others.
pub async fn run_contract(base_url: &str) {
    let failed = run_contract_filtered(base_url, None).await;
    if !failed.is_empty() {
        panic!(
            "{} contract case(s) failed: {}",
            failed.len(),
            failed.join(", ")
        );
    }
}

/// Runs the contract cases whose name contains `filter` (all of them when it
/// is `None`) against `base_url`, printing one line per case, and returns the
/// names of the cases that failed.
pub async fn run_contract_filtered(base_url: &str, filter: Option<&str>) -> Vec<String> {
    let ctx = Ctx::new(base_url);
    let mut failed = Vec::new();
    let mut ran = 0usize;
    for case in cases::all() {
        if filter.is_some_and(|f| !case.name.contains(f)) {
            continue;
        }
        ran += 1;
        let outcome = run_case(&case, ctx.clone()).await;
        match outcome {
            Ok(()) => println!("contract: {} ... ok", case.name),
            Err(reason) => {
                println!("contract: {} ... FAILED: {reason}", case.name);
                failed.push(case.name.to_owned());
            }
        }
    }
    println!(
        "contract: {} passed, {} failed, {} run",
        ran - failed.len(),
        failed.len(),
        ran
    );
    failed
}

/// Runs one case in its own task, so that a panic inside it is caught and
/// reported like any other failure.
async fn run_case(case: &Case, ctx: Ctx) -> CaseResult {
    let task = tokio::spawn(tokio::time::timeout(CASE_TIMEOUT, (case.run)(ctx)));
    match task.await {
        Ok(Ok(result)) => result,
        Ok(Err(_elapsed)) => Err(format!("timed out after {CASE_TIMEOUT:?}")),
        Err(join_error) if join_error.is_panic() => {
            let payload = join_error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-string panic payload)".to_owned());
            Err(format!("panicked: {message}"))
        }
        Err(join_error) => Err(format!("task failed: {join_error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panicking(_ctx: Ctx) -> CaseFuture {
        Box::pin(async { panic!("boom") })
    }

    fn failing(_ctx: Ctx) -> CaseFuture {
        Box::pin(async { Err("nope".to_owned()) })
    }

    #[tokio::test]
    async fn a_panicking_case_is_reported_as_a_failure() {
        let ctx = Ctx::new("http://127.0.0.1:9");
        let case = Case {
            name: "panics",
            run: panicking,
        };
        let outcome = run_case(&case, ctx.clone()).await;
        assert_eq!(outcome, Err("panicked: boom".to_owned()));
        let case = Case {
            name: "fails",
            run: failing,
        };
        assert_eq!(run_case(&case, ctx).await, Err("nope".to_owned()));
    }
}
