//! What the CLI's tests share: the binary with a clean environment, pointed at a fake
//! space with or without its credentials; running it with a stdin, and with a stdout that
//! cannot take output; reading what it printed; and where the snapshots are kept.

use std::io::Write as _;
use std::process::{Child, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use signalwire_fabric_fake::FakeSpace;

pub use signalwire_fabric_redis::testing::free_port;

/// How long one run may take before it counts as hung (and is killed).
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The binary with a clean environment, as a process to spawn.
pub fn process() -> Process {
    let mut process = Process::new(env!("CARGO_BIN_EXE_signalwire-fabric"));
    process.env_clear();
    process
}

/// The binary with a clean environment pointed at `fake`, with the fake's project
/// credentials, as a process to spawn.
pub fn process_for(fake: &FakeSpace) -> Process {
    let mut process = process();
    process
        .env("SIGNALWIRE_BASE_URL", fake.base_url())
        .env("SIGNALWIRE_PROJECT_ID", fake.project_id())
        .env("SIGNALWIRE_API_TOKEN", fake.api_token());
    process
}

/// The binary with a clean environment.
pub fn signalwire_fabric() -> Command {
    process().into()
}

/// The binary with a clean environment pointed at `fake`, with its project credentials.
pub fn command_for(fake: &FakeSpace) -> Command {
    process_for(fake).into()
}

/// The binary with a clean environment pointed at `base_url`, with no credentials at all.
pub fn without_credentials(base_url: &str) -> Command {
    let mut command = signalwire_fabric();
    command.env("SIGNALWIRE_BASE_URL", base_url);
    command
}

/// How a run ended and what it printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Checks that the run exited with 0 (its stderr shown when it did not); answers the
    /// run for further checks.
    #[track_caller]
    pub fn succeeded(self) -> Self {
        assert_eq!(self.code, 0, "{}", self.stderr);
        self
    }

    /// Checks that the run exited with `code` and said `says` on stderr (shown whole when
    /// it did not); answers the run for further checks.
    #[track_caller]
    pub fn failed_with(self, code: i32, says: &str) -> Self {
        assert_eq!(self.code, code, "{}", self.stderr);
        assert!(
            self.stderr.contains(says),
            "expected {says:?} in: {}",
            self.stderr
        );
        self
    }
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `command` with `stdin` (assert_cmd writes it from a thread, so a command that
/// exits before reading it is fine).
pub fn run(command: &mut Command, stdin: &str) -> Run {
    command
        .write_stdin(stdin)
        .timeout(RUN_LIMIT)
        .output()
        .expect("runs")
        .into()
}

/// Starts `command` with `stdout` as its stdout (assert_cmd cannot hand a command a
/// stdout of the test's choosing), and its stdin and stderr piped.
pub fn start_with_stdout(command: &mut Process, stdout: Stdio) -> Child {
    command
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts")
}

/// Runs `command` with `stdin` and with `stdout` as its stdout; what it printed on
/// stdout is not kept.
pub fn run_with_stdout(mut command: Process, stdin: &str, stdout: Stdio) -> Run {
    let mut child = start_with_stdout(&mut command, stdout);
    let mut input = child.stdin.take().expect("piped");
    // A command that exits before reading its stdin makes this fail: that is fine.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let id = child.id();
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let Ok(output) = result.recv_timeout(RUN_LIMIT) else {
        let _ = Process::new("kill").args(["-9", &id.to_string()]).status();
        panic!("the command did not end within {RUN_LIMIT:?}");
    };
    output.expect("waits").into()
}

/// Runs `command` with a stdout pipe whose read end is closed before the command starts,
/// so that every write it makes to stdout fails (EPIPE).
pub fn run_with_stdout_closed(command: Process, stdin: &str) -> Run {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    run_with_stdout(command, stdin, Stdio::from(writer))
}

/// The longest run of characters a token is made of: tokens are hundreds long.
pub fn longest_token_like_run(text: &str) -> usize {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.=".contains(c)))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// True when `text` holds anything that looks like a whole token (a long base64url run).
pub fn shows_a_token(text: &str) -> bool {
    longest_token_like_run(text) >= 40
}

/// Each line of `stdout` as JSON; a line that is not JSON fails the test.
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// The lines of `text` that are JSON, among lines that are not (a pair among messages).
pub fn json_among(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Issues a first pair for the subscriber `email` in `fake`; returns its refresh token.
pub fn new_refresh_token(fake: &FakeSpace, email: &str) -> String {
    fake.create_subscriber_token(email).refresh_token
}

/// Creates the subscriber `email` in `fake`; returns its resource id.
pub fn new_subscriber(fake: &FakeSpace, email: &str) -> String {
    fake.create_subscriber(email).resource_id.to_string()
}

/// The id of the first address of the fake's subscriber `email`.
pub fn first_address(fake: &FakeSpace, email: &str) -> String {
    fake.subscriber(email).expect("the subscriber").address_ids[0].to_string()
}

/// Insta's settings for this binary: snapshots stay in `tests/snapshots`, where the
/// workspace's secret scan reads every crate's (`tests/tests/contract/secrets.rs`).
pub fn snapshots() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings
}
