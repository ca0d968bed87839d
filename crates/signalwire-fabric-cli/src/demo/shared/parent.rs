//! The parent: `demo shared`. It starts the fake and the subscriber, publishes the pair to
//! Redis, starts two instances of this program and drives the rotations through them.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::time::Duration;

use signalwire_fabric::{Coordinator as _, CreateSubscriberToken, SessionKey};
use signalwire_fabric_fake::{FakeSpace, Operation};
use signalwire_fabric_redis::SealingKey;
use tokio::sync::mpsc;

use super::redis_hints::{no_redis, shown_url};
use super::{Settings, coordinator};
use crate::demo::SharedArgs;
use crate::exit::{Command, Failure, ForCommand as _};
use crate::output::say;

/// How long an instance may say nothing before the demo gives up on it.
const WAIT: Duration = Duration::from_secs(30);

/// Runs `demo shared`.
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
        let mut process = Process::new(program);
        process.args(["demo", "shared-instance"]);
        settings.pass_to(&mut process);
        let mut child = process
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
