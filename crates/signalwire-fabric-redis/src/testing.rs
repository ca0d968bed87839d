//! A real `redis-server` for tests (feature `test-util`; not for production builds).
//!
//! [`RedisServer::start`] runs `redis-server` on a random free loopback port, without
//! persistence, waits until it answers, and kills it when dropped; it can restart it on
//! the same port, stop and resume it. When `redis-server` is not installed (or
//! `$REDIS_SERVER` names no file), it prints a visible `SKIPPED` line past the test
//! harness's output capture and returns `None`, so the test can return without asserting;
//! under `CI=true` it panics instead, because CI must run every test (the workspace's one
//! rule for this, `signalwire_fabric::testing::Program`).
//! [`RedisServer::monitor`] lists the commands clients send it (each one a round trip).
//!
//! ```no_run
//! # async fn run() {
//! use signalwire_fabric_redis::testing::RedisServer;
//!
//! let Some(server) = RedisServer::start("my_test") else { return };
//! let coordinator = server.coordinator().build().expect("valid settings");
//! # drop(coordinator);
//! # }
//! ```
//!
//! Redis as operators run it, from the same servers under the same rule: a primary with
//! replicas and a Sentinel ([`ReplicatedRedis`]), a Redis Cluster made with `redis-cli
//! --cluster create` ([`RedisCluster`], skipped the same way without `redis-cli`), and
//! [`Topology`] to run one test on each. [`Relay`] counts round trips on the wire.
//!
//! ```no_run
//! # async fn run() {
//! use signalwire_fabric_redis::testing::{Topology, TopologyKind};
//!
//! for kind in TopologyKind::ALL {
//!     let Some(topology) = Topology::start(kind, "my_test") else { return };
//!     let coordinator = topology.coordinator().build().expect("valid settings");
//!     # drop(coordinator);
//! }
//! # }
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis::Value;
use signalwire_fabric::testing::Program;

use crate::{RedisCoordinator, RedisCoordinatorBuilder};

mod relay;
mod topology;
pub use relay::Relay;
pub use topology::{
    REDIS_CLI, RedisCluster, ReplicatedRedis, SlotMove, TEST_REPLICA_WAIT, TEST_RESPONSE_TIMEOUT,
    TEST_TIMEOUT, Topology, TopologyKind, redis_cli_binary,
};

/// `redis-server`: `$REDIS_SERVER`, else the first one on `PATH`.
pub const REDIS_SERVER: Program = Program {
    names: &["redis-server"],
    variable: "REDIS_SERVER",
    install: "install Debian's redis-server package",
};

/// Where `redis-server` is: `$REDIS_SERVER`, else the first one on `PATH`.
pub fn redis_server_binary() -> Option<PathBuf> {
    REDIS_SERVER.find()
}

/// Says, past the test harness's output capture, that `test` did not run, and why; under
/// `CI=true` panics instead, because CI must run every test. The workspace's one rule,
/// [`signalwire_fabric::testing::skip_or_fail`].
pub use signalwire_fabric::testing::skip_or_fail as skip;

/// TLS files for a server started with [`RedisServer::start_tls`].
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate (PEM file).
    pub cert: PathBuf,
    /// Its private key (PEM file).
    pub key: PathBuf,
    /// The PEM of the authority that signed `cert`, for clients to trust.
    pub authority: String,
}

/// A `redis-server` child process on `127.0.0.1:<port>`, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    tls: Option<TlsFiles>,
    extra: Vec<String>,
    /// A configuration file written to its directory and named first on its command line
    /// (Sentinel needs one it can rewrite), if any.
    config: Option<String>,
    /// A prefix no other test's keys have.
    pub prefix: String,
}

impl RedisServer {
    /// Starts a server, or returns `None` after saying why `test` is skipped.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None, &[])
    }

    /// A server that also wants `requirepass` to be `password`.
    pub fn start_with_password(test: &str, password: &str) -> Option<Self> {
        Self::start_with(test, None, &["--requirepass", password])
    }

    /// A server started with `args` added to its command line (`--replicaof 127.0.0.1
    /// <port>`, `--cluster-enabled yes`, ...).
    pub fn start_with_args(test: &str, args: &[&str]) -> Option<Self> {
        Self::start_with(test, None, args)
    }

    /// A server that speaks only TLS on its port, with `tls`'s certificate; `None` (after
    /// saying why) when this `redis-server` was built without TLS.
    pub fn start_tls(test: &str, tls: TlsFiles) -> Option<Self> {
        Self::start_with(test, Some(tls), &[])
    }

    fn start_with(test: &str, tls: Option<TlsFiles>, extra: &[&str]) -> Option<Self> {
        Self::start_configured(test, tls, extra, None)
    }

    /// Starts a server with a configuration file (written to its directory before it
    /// first starts), then `extra` on its command line.
    fn start_configured(
        test: &str,
        tls: Option<TlsFiles>,
        extra: &[&str],
        config: Option<String>,
    ) -> Option<Self> {
        let binary = REDIS_SERVER.require(test)?;
        let mut server = Self {
            binary,
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("a temporary directory"),
            tls,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            config,
            prefix: format!("test-{:016x}:", random_u64()),
        };
        // Another process may take the free port before the server binds it: try others.
        let mut started = server.spawn();
        for _ in 0..5 {
            match &started {
                Err(why) if why.contains("in use") => {
                    server.port = free_port();
                    started = server.spawn();
                }
                _ => break,
            }
        }
        match started {
            Ok(()) => Some(server),
            Err(why) if server.tls.is_some() => {
                skip(test, &format!("redis-server cannot serve TLS here: {why}"));
                None
            }
            Err(why) => panic!("redis-server did not start: {why}"),
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let mut command = Command::new(&self.binary);
        if let Some(config) = &self.config {
            let file = self.dir.path().join("redis.conf");
            // Written once: Sentinel rewrites it with what it learned.
            if !file.exists() {
                std::fs::write(&file, config)
                    .map_err(|error| format!("{}: {error}", file.display()))?;
            }
            command.arg(file);
        }
        command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match &self.tls {
            None => {
                command.args(["--port", &port]);
            }
            Some(tls) => {
                command
                    .args([
                        "--port",
                        "0",
                        "--tls-port",
                        &port,
                        "--tls-auth-clients",
                        "no",
                    ])
                    .arg("--tls-cert-file")
                    .arg(&tls.cert)
                    .arg("--tls-key-file")
                    .arg(&tls.key);
            }
        }
        let mut child = command
            .spawn()
            .map_err(|error| format!("{}: {error}", self.binary.display()))?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                let last: Vec<&str> = log.lines().rev().take(3).collect();
                return Err(format!(
                    "it exited ({status}): {}",
                    last.into_iter().rev().collect::<Vec<_>>().join(" / ")
                ));
            }
            if self.answers() {
                self.child = Some(child);
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                return Err("it did not answer within 20 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the server answers PING (any answer: with `requirepass` it is an error),
    /// or, over TLS, accepts a connection.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return false;
        };
        if self.tls.is_some() {
            return true;
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = [0u8; 64];
        stream
            .write_all(b"PING\r\n")
            .and_then(|()| stream.read(&mut answer))
            .is_ok_and(|read| read > 0)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://localhost:<port>` for a TLS server.
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!("rediss://localhost:{}", self.port),
        }
    }

    /// A client for this server (trusting its certificate authority, for TLS).
    pub fn client(&self) -> redis::Client {
        match &self.tls {
            None => redis::Client::open(self.url()).expect("a valid URL"),
            Some(tls) => redis::Client::build_with_tls(
                self.url(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(tls.authority.clone().into_bytes()),
                },
            )
            .expect("a valid TLS client"),
        }
    }

    /// A coordinator builder for this server, with this server's prefix and short
    /// timeouts.
    pub fn coordinator(&self) -> RedisCoordinatorBuilder {
        RedisCoordinator::from_client(self.client())
            .key_prefix(self.prefix.clone())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(500))
    }

    /// Kills the server (SIGKILL): it is unreachable until [`RedisServer::start_again`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (no persistence).
    pub fn start_again(&mut self) {
        self.kill();
        self.spawn().expect("redis-server starts again");
    }

    /// Kills and starts the server: a restart that loses every key.
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Stops the server process (SIGSTOP): connections hang until [`RedisServer::resume`].
    pub fn pause(&self) {
        signal(self.pid(), "STOP");
    }

    /// Resumes a paused server (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid(), "CONT");
    }

    /// Runs one command on a connection of its own.
    pub async fn command(&self, args: &[&[u8]]) -> Value {
        let mut connection = self
            .client()
            .get_multiplexed_async_connection()
            .await
            .expect("the test's Redis answers");
        let mut command = redis::cmd(std::str::from_utf8(args[0]).expect("a command name"));
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command
            .query_async(&mut connection)
            .await
            .expect("the command succeeds")
    }

    /// Runs one command on a connection of its own, and answers what Redis answered
    /// (errors included), for commands that may fail while a topology changes.
    pub async fn try_command(&self, args: &[&[u8]]) -> redis::RedisResult<Value> {
        let mut connection = self.client().get_multiplexed_async_connection().await?;
        let mut command = redis::cmd(std::str::from_utf8(args[0]).unwrap_or("PING"));
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query_async(&mut connection).await
    }

    /// One field of `INFO <section>` (`role`, `master_repl_offset`, ...), if the server
    /// answers and has it.
    pub async fn info_field(&self, section: &str, field: &str) -> Option<String> {
        info_field(&self.info_text(section).await?, field)
    }

    /// `INFO <section>`'s text, if the server answers.
    pub async fn info_text(&self, section: &str) -> Option<String> {
        match self
            .try_command(&[b"INFO", section.as_bytes()])
            .await
            .ok()?
        {
            Value::BulkString(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Value::VerbatimString { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The server's count of commands processed so far (`INFO stats`).
    pub async fn commands_processed(&self) -> u64 {
        let Value::BulkString(info) = self.command(&[b"INFO", b"stats"]).await else {
            panic!("INFO answers text");
        };
        String::from_utf8_lossy(&info)
            .lines()
            .find_map(|line| line.strip_prefix("total_commands_processed:"))
            .and_then(|count| count.trim().parse().ok())
            .expect("INFO stats has total_commands_processed")
    }

    /// Starts watching every command clients send to this server (see
    /// [`CommandMonitor`]). Panics for a TLS server.
    pub fn monitor(&self) -> CommandMonitor {
        assert!(self.tls.is_none(), "CommandMonitor speaks plain TCP only");
        let password = self
            .extra
            .windows(2)
            .find(|pair| pair[0] == "--requirepass")
            .map(|pair| pair[1].clone());
        CommandMonitor::start(self.port, password.as_deref())
    }

    /// Its working directory (empty: no persistence).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL ends a paused server too.
        self.kill();
    }
}

/// A command a client sent, as `MONITOR` showed it: its name and the connection it came
/// from. Its arguments are not kept (they may hold tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCommand {
    /// The command's name in capitals (`EVALSHA`, `GET`, ...).
    pub name: String,
    /// The connection it came from, as Redis names it: `127.0.0.1:<port>`, or
    /// `unix:<path>`.
    pub source: String,
}

/// Every command clients send to a [`RedisServer`], each one a round trip, seen through
/// `MONITOR` on a connection of its own (from [`RedisServer::monitor`]).
///
/// Redis shows a command on `MONITOR` once it has run, with where it came from: a client's
/// address, or `lua` for what a script runs inside the server, which is not counted here.
/// [`CommandMonitor::take`] first sends a `PING` of its own on another connection and
/// waits for it to show up, so everything sent before the call is in what it returns;
/// its `PING`s are left out. So are the commands of Redis's own connections, as `CLIENT
/// LIST` shows them when [`CommandMonitor::take`] is called: a replica's link to its
/// primary (flag `M`: the replication stream) and Sentinel's connections (named
/// `sentinel-…`). Commands from every other connection are counted, the test harness's
/// too: send none ([`RedisServer::command`]) while counting.
///
/// What `MONITOR` does not show (Redis 7): administrative commands (`CONFIG`, `DEBUG`,
/// `SHUTDOWN`, ...), and commands refused before they run (an unknown command, a wrong
/// number of arguments, `NOAUTH`); a test that counts round trips fails on those anyway.
/// `AUTH`, and `HELLO` with `AUTH`, are shown with their arguments redacted.
#[derive(Debug)]
pub struct CommandMonitor {
    /// The connection in `MONITOR` mode, kept to shut it down.
    monitor: TcpStream,
    reader: Option<JoinHandle<()>>,
    /// The connection that sends the catch-up `PING`s.
    marker: TcpStream,
    markers_sent: u64,
    seen: Arc<(Mutex<Seen>, Condvar)>,
}

#[derive(Debug, Default)]
struct Seen {
    sent: Vec<SentCommand>,
    /// Catch-up `PING`s seen so far, and how many commands had been seen before the last.
    markers: u64,
    before_last_marker: usize,
    closed: bool,
}

impl CommandMonitor {
    fn start(port: u16, password: Option<&str>) -> Self {
        let connect = || {
            let mut stream =
                TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("the test's Redis answers");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("a read timeout");
            if let Some(password) = password {
                send(&mut stream, &["AUTH", password]);
                expect_line(&mut stream, "+OK");
            }
            stream
        };
        let marker = connect();
        let marker_source = marker.local_addr().expect("an address").to_string();
        let mut monitor = connect();
        send(&mut monitor, &["MONITOR"]);
        // Once MONITOR has answered, every command Redis runs is shown.
        expect_line(&mut monitor, "+OK");
        monitor.set_read_timeout(None).expect("no read timeout");
        let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
        let lines = BufReader::new(monitor.try_clone().expect("a second handle"));
        let reader = {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || watch(lines, &marker_source, &seen))
        };
        Self {
            monitor,
            reader: Some(reader),
            marker,
            markers_sent: 0,
            seen,
        }
    }

    /// The commands clients sent since the last call (or since the monitor started), in
    /// the order Redis ran them, scripts' own commands and this monitor's `PING`s left
    /// out. Blocks until `MONITOR` has shown everything sent before the call (at most
    /// 10 s, then panics).
    pub fn take(&mut self) -> Vec<SentCommand> {
        send(&mut self.marker, &["PING"]);
        expect_line(&mut self.marker, "+PONG");
        self.markers_sent += 1;
        let (lock, shown) = &*self.seen;
        let seen = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut seen, timeout) = shown
            .wait_timeout_while(seen, Duration::from_secs(10), |seen| {
                seen.markers < self.markers_sent && !seen.closed
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        assert!(
            seen.markers >= self.markers_sent,
            "MONITOR did not show the catch-up PING (timed out: {}, closed: {})",
            timeout.timed_out(),
            seen.closed
        );
        let upto = seen.before_last_marker;
        seen.before_last_marker = 0;
        let sent: Vec<SentCommand> = seen.sent.drain(..upto).collect();
        drop(seen);
        let infrastructure = self.infrastructure();
        sent.into_iter()
            .filter(|command| !infrastructure.contains(&command.source))
            .collect()
    }

    /// The addresses of Redis's own connections to this server: a replica's link to its
    /// primary, and Sentinel's connections.
    fn infrastructure(&mut self) -> std::collections::HashSet<String> {
        send(&mut self.marker, &["CLIENT", "LIST"]);
        let list = read_bulk(&mut self.marker);
        list.lines()
            .filter_map(|line| {
                let field = |name: &str| {
                    line.split(' ')
                        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
                };
                let own = field("flags").is_some_and(|flags| flags.contains('M'))
                    || field("name").is_some_and(|name| name.starts_with("sentinel-"));
                own.then(|| field("addr").map(str::to_owned)).flatten()
            })
            .collect()
    }
}

impl Drop for CommandMonitor {
    fn drop(&mut self) {
        let _ = self.monitor.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Reads `MONITOR`'s lines, `+<time> [<db> <source>] "<NAME>" "<arg>" ...`, into `seen`
/// until the connection ends.
fn watch(lines: BufReader<TcpStream>, marker_source: &str, seen: &(Mutex<Seen>, Condvar)) {
    let parse = |line: &str| -> Option<SentCommand> {
        let (_, rest) = line.strip_prefix('+')?.split_once(" [")?;
        let (db_and_source, rest) = rest.split_once("] ")?;
        let (_, source) = db_and_source.split_once(' ')?;
        let name = rest.split('"').nth(1)?;
        Some(SentCommand {
            name: name.to_ascii_uppercase(),
            source: source.to_owned(),
        })
    };
    let (lock, shown) = seen;
    for line in lines.lines() {
        let Ok(line) = line else { break };
        let Some(command) = parse(&line) else {
            continue;
        };
        let mut seen = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if command.source == "lua" {
            continue;
        }
        if command.source == marker_source {
            if command.name == "PING" {
                seen.markers += 1;
                seen.before_last_marker = seen.sent.len();
                shown.notify_all();
            }
            continue;
        }
        seen.sent.push(command);
    }
    lock.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .closed = true;
    shown.notify_all();
}

/// Writes one command as a RESP array of bulk strings.
fn send(stream: &mut TcpStream, args: &[&str]) {
    let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        bytes.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    stream
        .write_all(&bytes)
        .expect("the test's Redis takes a command");
}

/// Reads one line (byte by byte: nothing after it is consumed) and checks it.
fn expect_line(stream: &mut TcpStream, expected: &str) {
    let line = read_line(stream);
    assert_eq!(line, expected, "the test's Redis answered something else");
}

/// Reads one line, byte by byte (nothing after it is consumed), without its `\r\n`.
fn read_line(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        stream
            .read_exact(&mut byte)
            .expect("the test's Redis answers");
        line.push(byte[0]);
    }
    String::from_utf8_lossy(&line[..line.len() - 2]).into_owned()
}

/// Reads one bulk string answer (`$<length>`, then the bytes).
fn read_bulk(stream: &mut TcpStream) -> String {
    let header = read_line(stream);
    let length: usize = header
        .strip_prefix('$')
        .and_then(|length| length.parse().ok())
        .unwrap_or_else(|| panic!("the test's Redis answered {header:?}, not a bulk string"));
    let mut bytes = vec![0u8; length + 2];
    stream
        .read_exact(&mut bytes)
        .expect("the test's Redis answers");
    bytes.truncate(length);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Sends `kill -<name> <pid>` (no unsafe code needed).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The value of `field` in `INFO`'s text (`field:value` lines).
fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(|value| value.trim().to_owned())
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.finish()
}
