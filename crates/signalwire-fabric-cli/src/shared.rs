//! `demo shared`: two instances of this command (two OS processes) share one subscriber
//! through Redis, against an in-process fake space: at every rotation exactly one of them
//! refreshes and the other adopts the pair from Redis.
//!
//! The parent starts the fake, creates the subscriber's token and publishes it to Redis,
//! then runs `signalwire-fabric demo shared-instance` twice with the settings in
//! environment variables, and tells both, line by line on stdin, when a SignalWire call
//! "answered 401". Nothing here prints a token: instances name tokens by a short hash.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use signalwire_fabric::{
    Client, Coordinator, CreateSubscriberToken, Error, RefreshToken, Refresher, SessionKey,
    SubscriberSession, TokenPair,
};
use signalwire_fabric_fake::{FakeSpace, Operation};
use signalwire_fabric_redis::{RedisCoordinator, SealingKey};
use tokio::sync::mpsc;

use crate::SharedArgs;
use crate::exit::{self, Command, Failure, ForCommand as _};
use crate::output::say;

const ENV_BASE_URL: &str = "SIGNALWIRE_FABRIC_DEMO_BASE_URL";
const ENV_PROJECT: &str = "SIGNALWIRE_FABRIC_DEMO_PROJECT_ID";
const ENV_API_TOKEN: &str = "SIGNALWIRE_FABRIC_DEMO_API_TOKEN";
const ENV_REDIS_URL: &str = "SIGNALWIRE_FABRIC_DEMO_REDIS_URL";
const ENV_KEY: &str = "SIGNALWIRE_FABRIC_DEMO_KEY";
const ENV_SEALING_KEY: &str = "SIGNALWIRE_FABRIC_DEMO_SEALING_KEY";
const PREFIX: &str = "signalwire-fabric-demo:";
const WAIT: Duration = Duration::from_secs(30);

/// What an instance needs, passed from the parent in the environment.
struct Settings {
    base_url: String,
    project: String,
    api_token: String,
    redis_url: String,
    key: SessionKey,
    sealing_key: SealingKey,
}

impl Settings {
    fn client(&self) -> Result<Client, Failure> {
        Client::builder()
            .base_url(self.base_url.as_str())
            .project_id(self.project.as_str())
            .api_token(self.api_token.as_str())
            .build()
            .for_command(Command::Demo)
    }

    fn coordinator(&self) -> Result<RedisCoordinator, Failure> {
        coordinator(&self.redis_url, &self.sealing_key)
    }
}

fn coordinator(url: &str, key: &SealingKey) -> Result<RedisCoordinator, Failure> {
    RedisCoordinator::builder(url)
        .key_prefix(PREFIX)
        .sealing_key(key.clone())
        .build()
        .map_err(|error| Failure::usage(format!("--redis-url: {error}")))
}

/// Says what to do when no Redis server answers at `url`.
fn no_redis(url: &str, error: &Error) -> Failure {
    Failure {
        code: exit::NETWORK,
        message: format!(
            "no Redis server answered at {} ({error}).\n{}",
            shown_url(url),
            start_hint(url)
        ),
    }
}

/// `url` for messages, without its password (output is often logged).
fn shown_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            format!("{parsed} (password not shown)")
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "the --redis-url given".to_owned(),
    }
}

/// How to get a Redis server at `url`: on this machine, one started on the URL's own
/// port; elsewhere, what to check (a server cannot be started on another host from
/// here), and the local alternative.
fn start_hint(url: &str) -> String {
    const LOCAL: &str = "redis-server --port 6379 --save '' --appendonly no";
    const INSTALL: &str = "(Debian/Ubuntu: apt-get install redis-server)";
    let parsed = url::Url::parse(url.trim()).ok();
    let Some((parsed, host)) = parsed
        .as_ref()
        .and_then(|parsed| Some((parsed, parsed.host()?)))
    else {
        // A Unix socket (unix://, redis+unix://), or no host at all.
        return "`demo shared` needs a Redis server listening there: check that one runs at \
            that address and that this user may connect to it"
            .to_owned();
    };
    let port = parsed.port().unwrap_or(6379);
    let tls = parsed.scheme() == "rediss";
    let loopback = match &host {
        // Hosts of redis:// URLs are not parsed as IP addresses (not a special scheme).
        url::Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    if !loopback {
        return format!(
            "`demo shared` needs a Redis server at {host}:{port}: check that one runs there \
             and that this machine can reach it (host, port, firewall{}). Or try the demo \
             with one on this machine:\n  {LOCAL}    {INSTALL}\n\
             and `--redis-url redis://127.0.0.1:6379`",
            if tls {
                ", and TLS on that port, since the URL is rediss://"
            } else {
                ""
            }
        );
    }
    let (password, again) = if parsed.password().is_some() {
        (
            " --requirepass <the URL's password>",
            "the same command".to_owned(),
        )
    } else {
        (
            "",
            format!("`signalwire-fabric demo shared --redis-url {parsed}`"),
        )
    };
    let start = if tls {
        format!(
            "redis-server --port 0 --tls-port {port} --tls-cert-file <cert> --tls-key-file \
             <key> --tls-ca-cert-file <ca>{password} --save '' --appendonly no"
        )
    } else {
        format!("redis-server --port {port}{password} --save '' --appendonly no")
    };
    format!(
        "`demo shared` needs one on this machine, at port {port}. Start one, for example:\n  \
         {start}    {INSTALL}\n\
         then run {again} again"
    )
}

/// The parent: `demo shared`.
pub async fn run(args: SharedArgs) -> Result<(), Failure> {
    let sealing_key = SealingKey::generate().for_command(Command::Demo)?;
    let key = SessionKey::new(format!(
        "demo-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ))
    .for_command(Command::Demo)?;
    let redis = coordinator(&args.redis_url, &sealing_key)?;
    if let Err(error) = redis.load(&key).await {
        return Err(no_redis(&args.redis_url, &error));
    }
    let fake = FakeSpace::start().await;
    say!(
        "1. A fake SignalWire space is listening on {}; Redis answers at {}",
        fake.base_url(),
        shown_url(&args.redis_url)
    );
    let created = fake
        .client()
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("bob@example.com"))
        .await
        .for_command(Command::Demo)?;
    let generation = redis
        .publish(&key, &created.pair.to_stored())
        .await
        .map_err(|error| no_redis(&args.redis_url, &error))?;
    let keys = redis.keys_of(&key);
    say!("2. Created a subscriber token for bob@example.com and stored it in Redis as");
    say!("   generation {generation}, sealed with a key made for this demo:");
    say!("   {} and {}", keys.pair, keys.lease);

    let settings = Settings {
        base_url: fake.base_url().to_owned(),
        project: fake.project_id().to_owned(),
        api_token: fake.api_token().to_owned(),
        redis_url: args.redis_url.clone(),
        key: key.clone(),
        sealing_key,
    };
    // The demo's keys are removed from Redis however the instances fared, and also
    // when stdout closed under them.
    let agreed = share(&settings, args.rotations).await;
    let _ = redis.remove(&key).await;
    let mut outcome = match agreed? {
        true => Ok(()),
        false => Err(Failure::other("the two instances hold different tokens")),
    };

    let refreshes = fake.answered_count(Operation::Refresh, 201);
    let rejected = fake.answered_count(Operation::Refresh, 422);
    say!("\nSummary");
    say!("  rotations                          {}", args.rotations);
    say!(
        "  refresh requests the fake saw      {} ({refreshes} new pairs, {rejected} rejected)",
        fake.refresh_count()
    );
    say!("  Redis keys removed                 {}", keys.pair);
    if refreshes != args.rotations as usize || rejected != 0 {
        outcome = Err(Failure::other(
            "the instances did not refresh exactly once per rotation",
        ));
    }
    outcome
}

/// Starts the two instances and runs `rotations` rotations through them, showing what
/// each says. Returns whether they held the same token after every rotation.
async fn share(settings: &Settings, rotations: u32) -> Result<bool, Failure> {
    say!("3. Two instances of this command start (two processes) and join the subscriber:");
    let mut instances = Vec::new();
    for name in ["A", "B"] {
        let mut instance = Instance::spawn(name, settings)?;
        let joined = instance.next_line().await?;
        say!("   [{name}] {joined}");
        instances.push(instance);
    }
    say!("4. {rotations} times, a SignalWire call answers 401 in both instances at once, and each");
    say!("   reports the refused token (refresh_if_current):");
    let mut agreed = true;
    for rotation in 1..=rotations {
        for instance in &mut instances {
            instance.say("go")?;
        }
        let mut hashes = Vec::new();
        for instance in &mut instances {
            let line = instance.next_line().await?;
            say!("   rotation {rotation}: [{}] {line}", instance.name);
            hashes.push(line.rsplit(' ').next().unwrap_or_default().to_owned());
        }
        agreed &= hashes.windows(2).all(|pair| pair[0] == pair[1]);
    }
    for instance in &mut instances {
        let _ = instance.say("exit");
        instance.wait();
    }
    Ok(agreed)
}

/// A child instance, seen from the parent.
struct Instance {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Instance {
    fn spawn(name: &'static str, settings: &Settings) -> Result<Self, Failure> {
        let program = std::env::current_exe()
            .map_err(|error| Failure::other(format!("cannot find this program: {error}")))?;
        let mut child = Process::new(program)
            .args(["demo", "shared-instance"])
            .env(ENV_BASE_URL, &settings.base_url)
            .env(ENV_PROJECT, &settings.project)
            .env(ENV_API_TOKEN, &settings.api_token)
            .env(ENV_REDIS_URL, &settings.redis_url)
            .env(ENV_KEY, settings.key.as_str())
            .env(ENV_SEALING_KEY, settings.sealing_key.to_base64())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| Failure::other(format!("cannot start instance {name}: {error}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Failure::other("an instance has no stdin or stdout"));
        };
        let (sender, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Self {
            name,
            child,
            stdin,
            lines,
        })
    }

    fn say(&mut self, line: &str) -> Result<(), Failure> {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|error| Failure::other(format!("instance {} stopped: {error}", self.name)))
    }

    async fn next_line(&mut self) -> Result<String, Failure> {
        match tokio::time::timeout(WAIT, self.lines.recv()).await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err(Failure::other(format!("instance {} stopped", self.name))),
            Err(_) => Err(Failure::other(format!(
                "instance {} said nothing for {WAIT:?}",
                self.name
            ))),
        }
    }

    fn wait(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(100));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client, counting the exchanges this instance makes.
struct Counting {
    client: Client,
    exchanges: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Refresher for Counting {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        self.client.subscriber_tokens().refresh(refresh_token).await
    }

    fn client(&self) -> Option<&Client> {
        Some(&self.client)
    }
}

/// A short hash standing for a token in the output (never the token itself).
fn short_hash(token: &signalwire_fabric::AccessToken) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    token.expose_secret().hash(&mut hasher);
    format!("#{:08x}", hasher.finish() as u32)
}

/// The child: `demo shared-instance`.
pub async fn instance() -> Result<(), Failure> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| {
            Failure::usage(format!(
                "`demo shared-instance` is started by `demo shared` ({name} is not set)"
            ))
        })
    };
    let settings = Settings {
        base_url: var(ENV_BASE_URL)?,
        project: var(ENV_PROJECT)?,
        api_token: var(ENV_API_TOKEN)?,
        redis_url: var(ENV_REDIS_URL)?,
        key: SessionKey::new(var(ENV_KEY)?).for_command(Command::Demo)?,
        sealing_key: SealingKey::from_base64(&var(ENV_SEALING_KEY)?).for_command(Command::Demo)?,
    };
    let exchanges = Arc::new(AtomicU64::new(0));
    let refresher = Counting {
        client: settings.client()?,
        exchanges: Arc::clone(&exchanges),
    };
    let session = SubscriberSession::join(refresher, settings.coordinator()?, settings.key.clone())
        .await
        .for_command(Command::Demo)?
        .ok_or_else(|| Failure::other("Redis holds no pair for the demo's subscriber"))?
        .build();
    let token = session.access_token().await.for_command(Command::Demo)?;
    say!(
        "pid {} joined at generation {}, holding token {}",
        std::process::id(),
        session.status().generation,
        short_hash(&token)
    );
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        if line.trim() != "go" {
            break;
        }
        let refused = session.access_token().await.for_command(Command::Demo)?;
        let before = exchanges.load(Ordering::SeqCst);
        let token = session
            .refresh_if_current(&refused)
            .await
            .for_command(Command::Demo)?;
        let generation = session.status().generation;
        if exchanges.load(Ordering::SeqCst) > before {
            say!(
                "refreshed: 1 request to SignalWire, stored as generation {generation}; token {}",
                short_hash(&token)
            );
        } else {
            say!(
                "adopted generation {generation} from Redis, no request;      token {}",
                short_hash(&token)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_starts_a_local_server_on_the_urls_own_port() {
        for url in [
            "redis://127.0.0.1:6399",
            "redis://localhost:6399/1",
            "redis://[::1]:6399",
        ] {
            let hint = start_hint(url);
            assert!(
                hint.contains("redis-server --port 6399 --save '' --appendonly no"),
                "{hint}"
            );
            assert!(
                hint.contains(&format!("--redis-url {}` again", shown_url(url))),
                "{hint}"
            );
            assert!(!hint.contains("6379"), "{hint}");
        }
        // No port: Redis's own default.
        assert!(start_hint("redis://127.0.0.1").contains("redis-server --port 6379 "));
        // rediss:// wants TLS on that port.
        let tls = start_hint("rediss://127.0.0.1:6400");
        assert!(
            tls.contains("redis-server --port 0 --tls-port 6400"),
            "{tls}"
        );
    }

    #[test]
    fn the_hint_for_another_host_says_what_to_check_and_starts_nothing_there() {
        let hint = start_hint("redis://redis.internal:6390");
        assert!(
            hint.contains("needs a Redis server at redis.internal:6390: check that one runs there"),
            "{hint}"
        );
        assert!(!hint.contains("--port 6390"), "{hint}");
        assert!(!hint.contains("redis.internal:6390` again"), "{hint}");
        // The local alternative is offered as such.
        assert!(
            hint.contains("with one on this machine") && hint.contains("redis://127.0.0.1:6379"),
            "{hint}"
        );
        let tls = start_hint("rediss://10.0.0.5:6380");
        assert!(tls.contains("10.0.0.5:6380"), "{tls}");
        assert!(tls.contains("TLS on that port"), "{tls}");
        let socket = start_hint("redis+unix:///run/redis.sock");
        assert!(!socket.contains("redis-server --port"), "{socket}");
        assert!(socket.contains("check that one runs"), "{socket}");
    }

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        for url in [
            "redis://:s3cret-word@127.0.0.1:6399",
            "redis://app:s3cret-word@redis.internal:6390/0",
            "rediss://app:s3cret-word@localhost",
        ] {
            let error = Error::coordinator("connection refused");
            let message = no_redis(url, &error).message;
            assert!(!message.contains("s3cret-word"), "{message}");
            assert!(message.contains("(password not shown)"), "{message}");
        }
        assert_eq!(
            shown_url("redis://127.0.0.1:6399"),
            "redis://127.0.0.1:6399"
        );
    }
}
