//! An example server in a child process (this test binary, re-run), started
//! through `agora_examples::main_of` as the example servers start, so that
//! it installs its own global log subscriber and OTLP exporter.
//!
//! The test binary declares an ignored test `child_server` that calls
//! [`serve_if_child`]; [`Child::start`] re-runs it with
//! `AGORA_TEST_CHILD_ADAPTER` set.

use std::io::{BufRead, BufReader, Lines, Read};
use std::process::{ChildStdout, Command, ExitCode, Stdio};

use agora_contract::harness::{self as common, Adapter};
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

const ADAPTER_VAR: &str = "AGORA_TEST_CHILD_ADAPTER";

/// In the child (`AGORA_TEST_CHILD_ADAPTER` is `axum` or `rocket`): serves
/// that adapter over a fresh SQLite database through `main_of`, prints
/// `LISTENING <url>`, stops when standard input closes and exits. Elsewhere
/// does nothing.
pub async fn serve_if_child() {
    let adapter = match std::env::var(ADAPTER_VAR).as_deref() {
        Ok("axum") => Adapter::Axum,
        Ok("rocket") => Adapter::Rocket,
        _ => return,
    };
    let code = agora_examples::main_of("info,rocket=off", async move {
        let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
        let base = common::spawn(adapter, common::config_for(&db)).await;
        println!("LISTENING {base}");
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
        Ok(())
    })
    .await;
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 });
}

/// A running child server.
pub struct Child {
    /// Its base URL.
    pub base: String,
    process: std::process::Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Child {
    /// Starts the child server of `adapter` (`"axum"` or `"rocket"`) with
    /// `env` set (and `RUST_LOG`, `AGORA_LOG_FORMAT` and
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` unset unless given); returns once it
    /// listens.
    pub fn start(adapter: &str, env: &[(&str, &str)]) -> Child {
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args(["child_server", "--exact", "--ignored", "--nocapture"])
            .env(ADAPTER_VAR, adapter)
            .env_remove("RUST_LOG")
            .env_remove("AGORA_LOG_FORMAT")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut process = command.spawn().expect("child starts");
        let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let base = loop {
            let line = lines.next().expect("the child listens").expect("stdout");
            if let Some(base) = line.strip_prefix("LISTENING ") {
                break base.to_owned();
            }
        };
        Child {
            base,
            process,
            lines,
        }
    }

    /// Closes the child's standard input (it shuts down, flushing its
    /// exporter), waits for it to exit successfully, and returns the lines
    /// it wrote to standard output after `LISTENING`.
    pub async fn stop(mut self) -> Vec<String> {
        drop(self.process.stdin.take());
        let lines = self.lines;
        let rest: Vec<String> =
            tokio::task::spawn_blocking(move || lines.map_while(Result::ok).collect())
                .await
                .expect("reader");
        let status = tokio::task::spawn_blocking(move || self.process.wait())
            .await
            .expect("waiter")
            .expect("child ends");
        assert!(status.success(), "{rest:#?}");
        rest
    }
}
