//! A real `redis-server` for tests (feature `test-util`; not for production builds).
//!
//! [`RedisServer::start`] runs `redis-server` on a random free loopback port, without
//! persistence, waits until it answers, and kills it when dropped; it can restart it on
//! the same port, stop and resume it. When `redis-server` is not installed (or
//! `$REDIS_SERVER` names no file), it prints a visible `SKIPPED` line past the test
//! harness's output capture and returns `None`, so the test can return without asserting;
//! under `CI=true` it panics instead, because CI must run every test.
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

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;

use crate::{RedisCoordinator, RedisCoordinatorBuilder};

/// Where `redis-server` is: `$REDIS_SERVER`, else the first one on `PATH`.
pub fn redis_server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// Says, past the test harness's output capture, that `test` did not run, and why; under
/// `CI=true` panics instead, because CI must run every test.
pub fn skip(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{test}: {why}; CI must run it (.ci/run installs redis-server)");
    }
    let mut stderr = std::io::stderr();
    let _ = writeln!(stderr, "SKIPPED: {test}: {why}");
}

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

    /// A server that speaks only TLS on its port, with `tls`'s certificate; `None` (after
    /// saying why) when this `redis-server` was built without TLS.
    pub fn start_tls(test: &str, tls: TlsFiles) -> Option<Self> {
        Self::start_with(test, Some(tls), &[])
    }

    fn start_with(test: &str, tls: Option<TlsFiles>, extra: &[&str]) -> Option<Self> {
        let Some(binary) = redis_server_binary() else {
            skip(
                test,
                "redis-server not found (install Debian's redis-server package, or set REDIS_SERVER)",
            );
            return None;
        };
        let mut server = Self {
            binary,
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("a temporary directory"),
            tls,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
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
