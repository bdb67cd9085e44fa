//! The example servers' log format (`agora_examples::main_of`,
//! `AGORA_LOG_FORMAT`): JSON lines that parse one by one, human lines
//! without ANSI colours when standard output is not a terminal, and a clear
//! error for an unknown format.
//!
//! Each test runs [`child_server`] (this test binary, re-run with
//! `AGORA_TEST_LOG_CHILD` set) with its standard output piped.

use std::process::{Command, ExitCode, Output};

/// Not a test: logs two events through `main_of`, in a child process.
#[tokio::test]
#[ignore = "helper process for the log format tests"]
async fn child_server() {
    if std::env::var_os("AGORA_TEST_LOG_CHILD").is_none() {
        return;
    }
    let code = agora_examples::main_of("info", async {
        tracing::info!(user_id = 7, "hello from the child");
        tracing::warn!(target: "agora::audit", event = "login", outcome = "refused", "audit");
        Ok(())
    })
    .await;
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 });
}

/// Runs [`child_server`] with `AGORA_LOG_FORMAT` set to `format` (unset for
/// `None`): exit status, standard output, standard error.
fn child(format: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args(["child_server", "--exact", "--ignored", "--nocapture"])
        .env("AGORA_TEST_LOG_CHILD", "1")
        .env_remove("RUST_LOG")
        .env_remove("AGORA_LOG_FORMAT");
    if let Some(format) = format {
        command.env("AGORA_LOG_FORMAT", format);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("child runs");
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (status.success(), text(stdout), text(stderr))
}

#[test]
fn json_logs_are_one_object_per_line() {
    let (ok, stdout, stderr) = child(Some("json"));
    assert!(ok, "{stdout}{stderr}");
    // The child's own libtest lines ("running 1 test") share its stdout:
    // every log line is the one that starts with `{`.
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(events.len(), 2, "{stdout}");
    assert_eq!(events[0]["level"], "INFO");
    assert_eq!(events[0]["fields"]["message"], "hello from the child");
    assert_eq!(events[0]["fields"]["user_id"], 7);
    assert_eq!(events[1]["level"], "WARN");
    assert_eq!(events[1]["target"], "agora::audit");
    assert_eq!(events[1]["fields"]["outcome"], "refused");
}

#[test]
fn text_logs_have_no_colours_off_a_terminal() {
    for format in [None, Some("text")] {
        let (ok, stdout, stderr) = child(format);
        assert!(ok, "{stdout}{stderr}");
        let line = stdout
            .lines()
            .find(|line| line.contains("hello from the child"))
            .unwrap_or_else(|| panic!("no log line in {stdout:?}"));
        assert!(
            line.contains("INFO") && line.contains("user_id=7"),
            "{line}"
        );
        assert!(!stdout.contains('\u{1b}'), "ANSI escape in {stdout:?}");
    }
}

#[test]
fn an_unknown_format_stops_the_server_naming_the_variable() {
    let (ok, stdout, stderr) = child(Some("yaml"));
    assert!(!ok, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "error: AGORA_LOG_FORMAT: \"yaml\" is not a log format: use `text` (the default) or `json`"
        ),
        "{stderr}"
    );
    assert!(!stdout.contains("hello from the child"), "{stdout}");
}
