//! How results are shown: shortened tokens for people, full JSON for scripts; and how
//! they are written, never with `println!`, which panics when stdout is closed.

use std::fmt::Display;
use std::io::{self, Write as _};
use std::time::Duration;

use signalwire_fabric::{SubscriberId, TokenPair};

use crate::exit::Failure;

/// Writes `text` and a newline to stdout and flushes it, so that a closed or failing
/// stdout is seen here, as an error, rather than as a panic or not at all.
pub fn print_line(text: impl Display) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// Writes `text` and a newline to stderr, ignoring failure: stderr is the last place
/// left to report anything.
pub fn print_error_line(text: impl Display) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{text}").and_then(|()| stderr.flush());
}

/// Writes `text` and a newline to stderr and flushes it, for a secret that has nowhere
/// else to go; the caller must know whether it arrived.
pub fn print_line_to_stderr(text: impl Display) -> io::Result<()> {
    let mut stderr = io::stderr().lock();
    writeln!(stderr, "{text}")?;
    stderr.flush()
}

/// True when `error` means the reader of stdout has gone (`| head`, `| true`).
pub fn is_closed(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// What went wrong with stdout, in words.
pub fn describe_stdout_error(error: &io::Error) -> String {
    if is_closed(error) {
        "stdout was closed".to_owned()
    } else {
        format!("cannot write to stdout: {error}")
    }
}

/// The failure for output that loses nothing when it is not written (lists, help,
/// details that can be asked for again): a closed stdout ends the command quietly with
/// exit code 0, as `| head` expects; any other write error is exit code 1.
pub fn stdout_failure(error: io::Error) -> Failure {
    if is_closed(&error) {
        Failure::quiet()
    } else {
        Failure::other(describe_stdout_error(&error))
    }
}

/// `println!` for output that loses nothing when it is not written: returns early from
/// the enclosing command with [`stdout_failure`] when stdout cannot take the line.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::print_line(format_args!($($arg)*))
            .map_err($crate::output::stdout_failure)?
    };
}
pub(crate) use say;

/// A token shown to people: its first characters (the public, readable protected
/// header) and its length, never the secret part.
pub fn shorten(token: &str) -> String {
    let head: String = token.chars().take(10).collect();
    format!("{head}... ({} chars)", token.len())
}

/// A duration as `1h05m`, to the nearest minute (or `45s` under a minute).
pub fn hours_minutes(duration: Duration) -> String {
    let seconds = duration.as_secs_f64().round() as u64;
    if seconds < 60 {
        return format!("{seconds}s");
    }
    let minutes = (seconds + 30) / 60;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

/// The human summary of a pair.
pub fn describe_pair(pair: &TokenPair) -> String {
    format!(
        "  access token   {}  expires in {}\n  refresh token  {}  expires in {}",
        shorten(pair.access_token().expose_secret()),
        hours_minutes(pair.access_expires_in()),
        shorten(pair.refresh_token().expose_secret()),
        hours_minutes(pair.refresh_expires_in()),
    )
}

/// The JSON form for scripts: the full tokens (this is what scripts ask for) and
/// absolute expiry times.
pub fn pair_json(subscriber_id: Option<&SubscriberId>, pair: &TokenPair) -> serde_json::Value {
    let mut value = serde_json::to_value(pair.to_stored()).unwrap_or_default();
    if let (Some(id), Some(object)) = (subscriber_id, value.as_object_mut()) {
        object.insert("subscriber_id".to_owned(), id.as_str().into());
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_token_keeps_only_its_public_head() {
        let token = format!("eyJhbGciOi{}", "s".repeat(700));
        assert_eq!(shorten(&token), "eyJhbGciOi... (710 chars)");
    }

    #[test]
    fn durations_read_as_hours_and_minutes() {
        assert_eq!(hours_minutes(Duration::from_secs(7500)), "2h05m");
        assert_eq!(hours_minutes(Duration::from_secs(59)), "59s");
        assert_eq!(hours_minutes(Duration::from_secs(60)), "0h01m");
        assert_eq!(hours_minutes(Duration::from_millis(7_199_990)), "2h00m");
    }
}
