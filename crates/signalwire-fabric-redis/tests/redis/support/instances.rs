//! App instances as OS processes: the parent test re-runs this test binary with
//! `--exact multi_process::child_instance --ignored` and the settings in environment
//! variables; the child joins the shared subscriber and answers the parent line by line
//! (`@@ ...` on stdout, commands on stdin). Lines never carry a token, only fingerprints.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::{
    Client, Error, RefreshToken, Refresher, RetryPolicy, SessionKey, SubscriberSession, TokenPair,
};
use signalwire_fabric_redis::RedisCoordinator;
use tokio::sync::mpsc;

use super::doubles::fingerprint;

/// How long a child may take to say what it is asked.
const WITHIN: Duration = Duration::from_secs(30);

const ENV_FAKE_URL: &str = "SWF_REDIS_TEST_FAKE_URL";
const ENV_PROJECT: &str = "SWF_REDIS_TEST_PROJECT";
const ENV_API_TOKEN: &str = "SWF_REDIS_TEST_API_TOKEN";
const ENV_REDIS_URL: &str = "SWF_REDIS_TEST_REDIS_URL";
const ENV_PREFIX: &str = "SWF_REDIS_TEST_PREFIX";
const ENV_KEY: &str = "SWF_REDIS_TEST_KEY";
const ENV_LEASE_MS: &str = "SWF_REDIS_TEST_LEASE_MS";
const ENV_TASKS: &str = "SWF_REDIS_TEST_TASKS";
const ENV_REFRESHER: &str = "SWF_REDIS_TEST_REFRESHER";

/// What a child instance needs to reach the fake and Redis.
#[derive(Debug, Clone)]
pub struct Setup {
    pub fake_url: String,
    pub project: String,
    pub api_token: String,
    pub redis_url: String,
    pub prefix: String,
    pub key: SessionKey,
    pub lease: Duration,
}

impl Setup {
    pub fn client(&self) -> Client {
        Client::builder()
            .base_url(self.fake_url.as_str())
            .project_id(self.project.as_str())
            .api_token(self.api_token.as_str())
            .build()
            .expect("the fake's settings make a client")
    }

    pub fn coordinator(&self) -> RedisCoordinator {
        RedisCoordinator::builder(self.redis_url.clone())
            .key_prefix(self.prefix.clone())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(500))
            .build()
            .expect("valid settings")
    }

    /// A session that joins the shared pair, refreshing through `refresher`.
    pub async fn join(&self, refresher: impl Refresher) -> SubscriberSession {
        SubscriberSession::join(refresher, self.coordinator(), self.key.clone())
            .await
            .expect("Redis answers")
            .expect("the parent published a pair")
            .lease(self.lease)
            .jitter(Duration::ZERO)
            .retry(RetryPolicy {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(500),
            })
            .build()
    }

    fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok();
        Some(Self {
            fake_url: var(ENV_FAKE_URL)?,
            project: var(ENV_PROJECT)?,
            api_token: var(ENV_API_TOKEN)?,
            redis_url: var(ENV_REDIS_URL)?,
            prefix: var(ENV_PREFIX)?,
            key: SessionKey::new(var(ENV_KEY)?).ok()?,
            lease: Duration::from_millis(var(ENV_LEASE_MS)?.parse().ok()?),
        })
    }
}

/// What a child's refresher does besides refreshing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refreshes, nothing else.
    Plain,
    /// Says `@@ refreshing` once it holds the lease, then waits `Duration` before it sends
    /// the request (to be killed while it waits, or to send after its lease ran out).
    PauseBeforeSending(Duration),
    /// Sends the request, says `@@ answered` once the fake answered, then waits
    /// `Duration` before it hands the pair to the session (to be killed or stopped).
    PauseAfterAnswer(Duration),
}

impl Mode {
    fn to_env(self) -> String {
        match self {
            Mode::Plain => "plain".to_owned(),
            Mode::PauseBeforeSending(wait) => format!("pause-before:{}", wait.as_millis()),
            Mode::PauseAfterAnswer(wait) => format!("pause-after:{}", wait.as_millis()),
        }
    }

    fn from_env() -> Self {
        match std::env::var(ENV_REFRESHER).as_deref() {
            Ok(text) if text.starts_with("pause-before:") => Mode::PauseBeforeSending(
                Duration::from_millis(text["pause-before:".len()..].parse().unwrap_or(60_000)),
            ),
            Ok(text) if text.starts_with("pause-after:") => Mode::PauseAfterAnswer(
                Duration::from_millis(text["pause-after:".len()..].parse().unwrap_or(2000)),
            ),
            _ => Mode::Plain,
        }
    }
}

/// The client, with a word to the parent at the moments a fault test needs.
pub struct Announcing {
    client: Client,
    mode: Mode,
}

#[async_trait::async_trait]
impl Refresher for Announcing {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        if let Mode::PauseBeforeSending(wait) = self.mode {
            say("refreshing");
            tokio::time::sleep(wait).await;
        }
        let answer = self.client.subscriber_tokens().refresh(refresh_token).await;
        if let (Mode::PauseAfterAnswer(wait), Ok(_)) = (self.mode, &answer) {
            say("answered");
            tokio::time::sleep(wait).await;
        }
        answer
    }
}

/// Writes `@@ <line>` to stdout past the test harness's capture.
pub fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "@@ {line}");
    let _ = stdout.flush();
}

/// The child's side: joins, says `joined`, then runs a round for every `go` on stdin
/// until `exit` or the end of stdin. A round: every task reads the access token and, once
/// all have read it, reports it refused (`refresh_if_current`); the child then says
/// `round generation=G distinct=D served=S failed=F fingerprint=X`.
pub async fn run_child() {
    let Some(setup) = Setup::from_env() else {
        // Run by hand without a parent: nothing to do.
        return;
    };
    let tasks: usize = std::env::var(ENV_TASKS)
        .ok()
        .and_then(|tasks| tasks.parse().ok())
        .unwrap_or(1);
    let refresher = Announcing {
        client: setup.client(),
        mode: Mode::from_env(),
    };
    let session = setup.join(refresher).await;
    say("joined");
    let (lines, mut commands) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    while let Some(command) = commands.recv().await {
        let on_schedule = match command.trim() {
            "go" => false,
            "due" => true,
            _ => return,
        };
        // `go`: every task reads the token, and once all hold it, reports it refused: as
        // tasks whose calls with one token were all answered 401. `due`: every task asks
        // for a token once (the pair is due, so that refreshes on schedule).
        let all_hold = Arc::new(tokio::sync::Barrier::new(tasks));
        let callers: Vec<_> = (0..tasks)
            .map(|_| {
                let session = session.clone();
                let all_hold = Arc::clone(&all_hold);
                tokio::spawn(async move {
                    let token = session.access_token().await;
                    if on_schedule {
                        return token;
                    }
                    all_hold.wait().await;
                    session.refresh_if_current(&token?).await
                })
            })
            .collect();
        let mut served = HashSet::new();
        let mut failed = 0;
        let mut last_error = String::new();
        for caller in callers {
            match caller.await.expect("no panic") {
                Ok(token) => {
                    served.insert(fingerprint(&token));
                }
                Err(error) => {
                    failed += 1;
                    last_error = error.to_string();
                }
            }
        }
        let current = fingerprint(
            &session
                .access_token()
                .await
                .unwrap_or_else(|_| session.pair().access_token().clone()),
        );
        say(&format!(
            "round generation={} distinct={} served={} failed={failed} fingerprint={current} error={last_error:?}",
            session.status().generation,
            served.len(),
            tasks - failed,
        ));
    }
}

/// The parent's handle on one child instance; killed when dropped.
pub struct Instance {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
}

/// One `round ...` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub generation: u64,
    pub distinct: usize,
    pub served: usize,
    pub failed: usize,
    pub fingerprint: String,
    pub line: String,
}

impl Instance {
    /// Starts a child with `setup`, `tasks` tasks and a refresher in `mode`.
    pub fn spawn(setup: &Setup, tasks: usize, mode: Mode) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "--exact",
                "multi_process::child_instance",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV_FAKE_URL, &setup.fake_url)
            .env(ENV_PROJECT, &setup.project)
            .env(ENV_API_TOKEN, &setup.api_token)
            .env(ENV_REDIS_URL, &setup.redis_url)
            .env(ENV_PREFIX, &setup.prefix)
            .env(ENV_KEY, setup.key.as_str())
            .env(ENV_LEASE_MS, setup.lease.as_millis().to_string())
            .env(ENV_TASKS, tasks.to_string())
            .env(ENV_REFRESHER, mode.to_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the test binary runs");
        let stdout = child.stdout.take().expect("piped");
        let (sender, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness may have written "test ... " on the same line first.
                if let Some((_, said)) = line.split_once("@@ ")
                    && sender.send(said.to_owned()).is_err()
                {
                    return;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    /// A child with one task and a refresher in `mode`, told to run a round once it has
    /// joined; answers once it said `word` (`refreshing`: it holds the lease and its
    /// request has not left; `answered`: SignalWire answered it, nothing is committed).
    pub async fn holding_the_lease(setup: &Setup, mode: Mode, word: &str) -> Self {
        let mut holder = Self::spawn(setup, 1, mode);
        holder.expect("joined", WITHIN).await;
        holder.go();
        holder.expect(word, WITHIN).await;
        holder
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child to say a line starting with `word`, and returns it.
    pub async fn expect(&mut self, word: &str, within: Duration) -> String {
        let waiting = async {
            while let Some(line) = self.lines.recv().await {
                if line.starts_with(word) {
                    return line;
                }
            }
            panic!("child {} ended before saying {word:?}", self.child.id());
        };
        match tokio::time::timeout(within, waiting).await {
            Ok(line) => line,
            Err(_) => panic!(
                "child {} did not say {word:?} within {within:?}",
                self.child.id()
            ),
        }
    }

    /// Tells the child to run a round of `refresh_if_current`.
    pub fn go(&mut self) {
        self.tell("go");
    }

    /// Tells the child to run a round of plain `access_token` calls, which refresh on
    /// schedule when its pair is due.
    pub fn due(&mut self) {
        self.tell("due");
    }

    fn tell(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .expect("the child reads");
    }

    /// Waits for the child's next round report.
    pub async fn round(&mut self, within: Duration) -> Round {
        let line = self.expect("round", within).await;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} in {line:?}"))
                .to_owned()
        };
        let number = |name: &str| field(name).parse::<u64>().expect("a number");
        Round {
            generation: number("generation"),
            distinct: number("distinct") as usize,
            served: number("served") as usize,
            failed: number("failed") as usize,
            fingerprint: field("fingerprint"),
            line: line.clone(),
        }
    }

    /// SIGKILL, as `Child::kill` sends it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SIGKILL ends a stopped child too.
        self.kill();
    }
}

/// Publishes a pair the fake created to Redis for `setup`'s key, as the instance that
/// signed the subscriber in would.
pub async fn publish_created(setup: &Setup, email: &str) -> Arc<TokenPair> {
    let (pair, generation) =
        publish_new_pair(&setup.client(), &setup.coordinator(), &setup.key, email).await;
    assert_eq!(generation, 1);
    Arc::new(pair)
}

/// Has `client`'s space create a subscriber token for `email` and publishes its pair
/// through `coordinator` under `key`; returns the pair and its generation.
pub async fn publish_new_pair(
    client: &signalwire_fabric::Client,
    coordinator: &impl signalwire_fabric::Coordinator,
    key: &signalwire_fabric::SessionKey,
    email: &str,
) -> (TokenPair, u64) {
    let created = signalwire_fabric::testing::create_subscriber_token(client, email).await;
    let generation = coordinator
        .publish(key, &created.pair.to_stored())
        .await
        .expect("Redis stores it");
    (created.pair, generation)
}
