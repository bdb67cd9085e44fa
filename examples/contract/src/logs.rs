//! Log lines captured in memory, for tests that assert what Agora logs.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Every line the process logs once [`CapturedLogs::install`] has run
/// (plain text, no ANSI colours).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the process's global `tracing` subscriber at `filter` (an
    /// `EnvFilter` directive such as `"info"` or `"warn"`), writing here.
    /// Once per process: a test binary that uses it holds one such test.
    ///
    /// # Panics
    /// When a global subscriber is installed already.
    pub fn install(filter: &str) -> CapturedLogs {
        let captured = CapturedLogs::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    }

    /// The WARN lines captured so far that contain `needle`.
    pub fn warnings_containing(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains("WARN") && line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
