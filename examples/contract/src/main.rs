//! `agora-contract <base_url> [filter]`: runs the HTTP contract suite against
//! a live server and exits non-zero when a case fails.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(base_url) = args.next() else {
        eprintln!("usage: agora-contract <base_url> [case-name-filter]");
        eprintln!("example: agora-contract http://127.0.0.1:8000");
        return ExitCode::from(2);
    };
    let filter = args.next();
    let failed = agora_contract::run_contract_filtered(&base_url, filter.as_deref()).await;
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("failed contract cases: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}
