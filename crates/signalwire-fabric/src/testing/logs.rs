//! [`CapturedLogs`]: what a `tracing` subscriber wrote, to check that no secret is logged.

use std::sync::{Arc, Mutex};

/// Keeps everything written to it; clones share what was written. Give it to a `tracing`
/// subscriber (`.with_writer(move || logs.clone())`), or let
/// [`CapturedLogs::for_this_thread`] do it, and search [`CapturedLogs::text`].
///
/// ```
/// let (logs, _guard) = signalwire_fabric::testing::CapturedLogs::for_this_thread();
/// tracing::info!(attempt = 1, "subscriber token refresh started");
/// assert!(logs.text().contains("refresh started attempt=1"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Captures every event at every level on this thread (and the tasks a current-thread
    /// runtime runs on it) until the guard is dropped.
    pub fn for_this_thread() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
