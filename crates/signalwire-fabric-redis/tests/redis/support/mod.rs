//! The one place every Redis test gets its server from: [`RedisServer::start`] runs a
//! real `redis-server` on a random loopback port (no persistence) and kills it on drop.
//! When `redis-server` is not installed, it prints a visible `SKIPPED` line and the test
//! returns without asserting; under `CI=true` it panics instead.

#![allow(dead_code)] // each test module uses part of the support

pub mod doubles;
pub mod instances;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use signalwire_fabric::SessionKey;
use signalwire_fabric::testing::ConformanceHarness;
use signalwire_fabric_redis::redis::{self, Value};
use signalwire_fabric_redis::{RedisCoordinator, RedisCoordinatorBuilder, SealingKey};

/// Where `redis-server` is: `$REDIS_SERVER`, else the first one on `PATH`.
fn redis_server_binary() -> Option<PathBuf> {
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
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The PEM of the authority that signed `cert`, for clients to trust.
    pub authority: String,
}

/// A `redis-server` child process on `127.0.0.1:<port>`, killed when dropped.
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
            prefix: format!("test-{:016x}:", fastrand_u64()),
        };
        match server.spawn() {
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
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match &self.tls {
            None => {
                command.args(["--port", &port]);
            }
            Some(tls) => {
                command
                    .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
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
                let mut said = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut said);
                }
                return Err(format!("it exited ({status}): {}", said.trim()));
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

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.finish()
}

/// A fresh session key.
pub fn session_key(name: &str) -> SessionKey {
    SessionKey::new(format!("{name}-{:08x}", fastrand_u64() as u32)).expect("a valid key")
}

/// The facade's conformance harness over a real server: each coordinator is a new
/// [`RedisCoordinator`] (its own connection, as another app instance would have) with the
/// server's prefix, sealed when `sealing` is set.
pub struct RedisHarness {
    pub server: RedisServer,
    pub sealing: Option<SealingKey>,
}

impl RedisHarness {
    pub fn new(server: RedisServer, sealing: Option<SealingKey>) -> Self {
        Self { server, sealing }
    }

    pub fn make(&self) -> RedisCoordinator {
        let builder = self.server.coordinator();
        match &self.sealing {
            Some(key) => builder.sealing_key(key.clone()),
            None => builder,
        }
        .build()
        .expect("valid settings")
    }
}

#[async_trait::async_trait]
impl ConformanceHarness for RedisHarness {
    type Coordinator = RedisCoordinator;

    async fn coordinator(&self) -> RedisCoordinator {
        self.make()
    }

    async fn expire_lease(&self, coordinator: &RedisCoordinator, key: &SessionKey) {
        let lease = coordinator.keys_of(key).lease;
        self.server.command(&[b"DEL", lease.as_bytes()]).await;
    }

    async fn lose_everything(&self, coordinator: &RedisCoordinator, key: &SessionKey) {
        let keys = coordinator.keys_of(key);
        self.server
            .command(&[b"DEL", keys.pair.as_bytes(), keys.lease.as_bytes()])
            .await;
    }
}

/// The same harness over one [`signalwire_fabric::InProcessCoordinator`]: every call
/// gives a clone of it, as sessions of one process share one.
#[derive(Default)]
pub struct InProcessHarness {
    pub coordinator: signalwire_fabric::InProcessCoordinator,
}

#[async_trait::async_trait]
impl ConformanceHarness for InProcessHarness {
    type Coordinator = signalwire_fabric::InProcessCoordinator;

    async fn coordinator(&self) -> Self::Coordinator {
        self.coordinator.clone()
    }

    async fn expire_lease(&self, coordinator: &Self::Coordinator, key: &SessionKey) {
        coordinator.expire_lease(key);
    }

    async fn lose_everything(&self, coordinator: &Self::Coordinator, key: &SessionKey) {
        coordinator.forget(key);
    }
}
