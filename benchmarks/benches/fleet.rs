//! The fleet under load (issue 22): three instances of `signalwire-fabric-axum`'s token
//! service on loopback, one real `redis-server` (their coordinator and their shared rate
//! limiter), an upstream stand-in for SignalWire (`signalwire_fabric_benchmarks::upstream`)
//! and many users, each signed in by a cookie naming them.
//!
//! Each instance is a thread of its own with a current-thread tokio runtime and its own
//! `RedisCoordinator` (its own connection), as a process would have; the load comes from
//! one more thread (a current-thread runtime, keep-alive hyper connections, a third of
//! them to each instance, each asking in a loop for random users). Everything shares the
//! machine's cores, Redis included. Phases:
//!
//! 1. **warm-up**: every user authenticates on one instance (the subscriber token is
//!    created there, its access token living `TOKEN_LIFETIME`) and then on the two
//!    others (they join it from Redis). The process's resident memory before and after
//!    gives the memory per user per instance, and Redis's `used_memory` its share.
//! 2. **rotation**: once every user's token is due, every user asks each instance once:
//!    the first refreshes at the stand-in, the others adopt from Redis. Checked: the
//!    stand-in's refreshes equal the rotations Redis recorded (each user's generation
//!    minus one), none refused.
//! 3. **steady load**, interleaved rounds of the same load against three contenders on
//!    the same instance threads: the token endpoints (`refresh`, and `authenticate` one
//!    request in ten) with the fleet-wide limiter in Redis, the same with each instance's
//!    own in-process limiter, and a bare axum handler answering the same JSON. For each:
//!    requests per second (wall), requests per CPU-second of the instance threads (what
//!    one core of service answers), p50 and p99 latency, Redis commands per second and
//!    Redis's CPU. Every answer is checked (200 and a token).
//!
//! Then one request at a time over one keep-alive connection each to the first instance
//! (the endpoint with the fleet-wide limit, with the per-instance limit, and the bare
//! handler): interleaved rounds of 50 requests with the median ratio to the bare handler,
//! then a criterion group of the same three. Under `cargo test --benches` (criterion's test mode: no
//! `--bench` argument) it runs once, with 150 users and short phases; with `--bench`,
//! 10,000 users. `FLEET_USERS` and `BENCH_ROUNDS` override the counts.
//!
//! ```sh
//! cargo bench -p signalwire-fabric-benchmarks --bench fleet -- --warm-up-time 1 --measurement-time 3
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use criterion::Criterion;
use http::header::{CONTENT_TYPE, COOKIE, HOST};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use signalwire_fabric::{Coordinator, InProcessRateLimiter, RateLimit, SessionKey};
use signalwire_fabric_axum::{Authenticator, Refusal, SubscriberProfile, TokenService};
use signalwire_fabric_benchmarks::upstream::Upstream;
use signalwire_fabric_benchmarks::{
    Contender, interleaved, keep_alive_connection, median, median_ratio,
};
use signalwire_fabric_redis::RedisCoordinator;
use signalwire_fabric_redis::testing::RedisServer;

const MOUNT: &str = "/api/signalwire";
const COOKIE_NAME: &str = "bench_user";
const INSTANCES: usize = 3;
/// The bare handler's JSON: a credential of the same size as the endpoint's.
const BARE_TOKEN_SEED: &str = "bare-handler";

/// The bench's sign-in: the cookie names the user (a real app looks a session up).
struct CookieUsers;

#[signalwire_fabric_axum::async_trait]
impl Authenticator for CookieUsers {
    async fn authenticate(
        &self,
        request: &http::request::Parts,
    ) -> Result<SubscriberProfile, Refusal> {
        let user = request
            .headers
            .get(COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix(COOKIE_NAME))
            .and_then(|value| value.strip_prefix('='))
            .ok_or(Refusal::Unauthenticated)?;
        let key = SessionKey::new(format!("user-{user}")).map_err(|_| Refusal::Forbidden)?;
        Ok(SubscriberProfile::new(
            key,
            format!("user-{user}@example.com"),
        ))
    }
}

struct Settings {
    users: usize,
    rounds: usize,
    round: Duration,
    connections: usize,
    token_lifetime: Duration,
    full: bool,
}

fn settings() -> Settings {
    let full = std::env::args().any(|arg| arg == "--bench");
    let number = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse::<usize>().ok())
    };
    Settings {
        users: number("FLEET_USERS").unwrap_or(if full { 10_000 } else { 150 }),
        rounds: number("BENCH_ROUNDS").unwrap_or(if full { 6 } else { 1 }),
        round: if full {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(200)
        },
        connections: 16 * INSTANCES,
        token_lifetime: if full {
            Duration::from_secs(120)
        } else {
            Duration::from_secs(4)
        },
        full,
    }
}

/// The addresses of one instance's three listeners, and its thread's id (for its CPU
/// time in `/proc`).
#[derive(Clone, Copy)]
struct Served {
    endpoint: SocketAddr,
    local_limits: SocketAddr,
    bare: SocketAddr,
    tid: u32,
}

/// Starts one instance on a thread of its own: the token service (the coordinator's
/// limiter, in Redis), the same service with its own in-process limiter, and the bare
/// handler.
fn start_instance(
    number: usize,
    upstream: &Upstream,
    server: &RedisServer,
    settings: &Settings,
) -> Served {
    let (sender, receiver) = std::sync::mpsc::channel();
    let client = upstream.client();
    let coordinator = server.coordinator().build().expect("valid settings");
    let limit = RateLimit::new(
        NonZeroU32::new(1_000).expect("not zero"),
        Duration::from_secs(60),
    );
    let lifetime = settings.token_lifetime;
    std::thread::Builder::new()
        .name(format!("fleet-instance-{number}"))
        .spawn(move || {
            let tid = thread_id();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let service = |limited_here: bool| {
                    let builder = TokenService::builder(client.clone(), CookieUsers)
                        .coordinator(coordinator.clone())
                        .rate_limit(limit)
                        .token_lifetime(lifetime);
                    match limited_here {
                        true => builder.rate_limiter(InProcessRateLimiter::new()),
                        false => builder,
                    }
                    .build()
                };
                let endpoint = Router::new().nest(MOUNT, service(false).router());
                let local_limits = Router::new().nest(MOUNT, service(true).router());
                let json = Bytes::from(format!(
                    r#"{{"token":"{}","expiry_at":1800000000000}}"#,
                    signalwire_fabric_benchmarks::access_text(BARE_TOKEN_SEED)
                ));
                let answer = move || {
                    let json = json.clone();
                    async move { ([(CONTENT_TYPE, "application/json")], json) }
                };
                let bare = Router::new().nest(
                    MOUNT,
                    Router::new()
                        .route("/refresh", post(answer.clone()))
                        .route("/authenticate", post(answer)),
                );
                let listen = || async {
                    tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("a port")
                };
                let (a, b, c) = (listen().await, listen().await, listen().await);
                sender
                    .send(Served {
                        endpoint: a.local_addr().expect("an address"),
                        local_limits: b.local_addr().expect("an address"),
                        bare: c.local_addr().expect("an address"),
                        tid,
                    })
                    .expect("the bench waits");
                let _ = tokio::join!(
                    axum::serve(a, endpoint),
                    axum::serve(b, local_limits),
                    axum::serve(c, bare)
                );
            });
        })
        .expect("a thread");
    receiver.recv().expect("the instance starts")
}

/// This thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn thread_id() -> u32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of a thread or process, from its `stat` file.
fn cpu_time(stat_path: &str) -> Duration {
    let ticks = std::fs::read_to_string(stat_path)
        .ok()
        .and_then(|stat| {
            // The fields after the command name (which is in parentheses), from field 3
            // (the state, a letter) on; some are negative (`tpgid` is -1 without a
            // terminal), so they are counted by position, not filtered by parsing.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
            let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
            Some(ticks(11)? + ticks(12)?)
        })
        .unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100)
    })
}

fn instance_cpu(instances: &[Served]) -> Duration {
    instances
        .iter()
        .map(|served| cpu_time(&format!("/proc/self/task/{}/stat", served.tid)))
        .sum()
}

/// The process's resident memory, in bytes.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

/// What Redis has run so far: the clients' round trips (the scripts, `EVALSHA` or
/// `EVAL`, and the coordinator's one plain read, `HMGET`) and every command executed,
/// those the scripts run inside the server included (`INFO commandstats`).
async fn redis_counts(server: &RedisServer) -> (u64, u64) {
    let text = server.info_text("commandstats").await.unwrap_or_default();
    let mut round_trips = 0;
    let mut executed = 0;
    for line in text.lines() {
        let Some((name, stats)) = line
            .strip_prefix("cmdstat_")
            .and_then(|line| line.split_once(':'))
        else {
            continue;
        };
        let calls: u64 = stats
            .split(',')
            .find_map(|field| field.strip_prefix("calls="))
            .and_then(|calls| calls.parse().ok())
            .unwrap_or(0);
        executed += calls;
        if matches!(name, "evalsha" | "eval" | "hmget") {
            round_trips += calls;
        }
    }
    (round_trips, executed)
}

/// A keep-alive HTTP/1 connection to one listener.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Self {
        let sender = keep_alive_connection(addr)
            .await
            .expect("a connection to the local listener");
        Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string()).expect("a host"),
        }
    }

    /// Asks for `user`'s token at `path`; answers the body's length (the answer is
    /// checked: 200, and a token of a real token's size first in the body).
    async fn ask(&mut self, path: &'static str, user: usize) -> usize {
        let request = Request::post(path)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(COOKIE, format!("{COOKIE_NAME}={user}"))
            .body(Full::new(Bytes::from_static(b"{}")))
            .expect("a request");
        self.sender.ready().await.expect("ready");
        let response = self.sender.send_request(request).await.expect("answered");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        assert_eq!(
            status,
            StatusCode::OK,
            "user {user}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            body.starts_with(br#"{"token":"eyJ"#) && body.len() > 600,
            "a token of a real one's size"
        );
        body.len()
    }
}

const REFRESH: &str = "/api/signalwire/refresh";
/// Requests per batch in the one-at-a-time interleaved rounds.
const ONE_AT_A_TIME: usize = 50;
const AUTHENTICATE: &str = "/api/signalwire/authenticate";

/// Every user asks every instance once (in an order that starts on another instance for
/// each user), `concurrency` users at a time.
async fn each_user_on_each_instance(targets: &[SocketAddr], users: usize, concurrency: usize) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = Arc::clone(&next);
            let targets = targets.to_vec();
            tokio::spawn(async move {
                let mut connections = Vec::new();
                for addr in &targets {
                    connections.push(Connection::open(*addr).await);
                }
                loop {
                    let user = next.fetch_add(1, Ordering::Relaxed);
                    if user >= users {
                        return;
                    }
                    for turn in 0..targets.len() {
                        let instance = (user + turn) % targets.len();
                        connections[instance].ask(AUTHENTICATE, user).await;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("no panic");
    }
}

/// What one contender did in the steady rounds.
#[derive(Default)]
struct Tally {
    requests: u64,
    wall: Duration,
    instance_cpu: Duration,
    redis_cpu: Duration,
    redis_round_trips: u64,
    redis_executed: u64,
    latencies_us: Vec<u32>,
}

impl Tally {
    fn percentile(&mut self, fraction: f64) -> f64 {
        self.latencies_us.sort_unstable();
        let index = ((self.latencies_us.len() as f64 - 1.0) * fraction).round() as usize;
        self.latencies_us.get(index).copied().unwrap_or(0) as f64
    }
}

/// One round of steady load against `targets` for `length`: every connection asks in a
/// loop for random users. Answers requests and latencies.
async fn load(
    targets: &[SocketAddr],
    connections: usize,
    users: usize,
    length: Duration,
) -> (u64, Vec<u32>) {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..connections)
        .map(|number| {
            let addr = targets[number % targets.len()];
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await;
                let mut random = fastrand::Rng::with_seed(number as u64);
                let mut latencies = Vec::with_capacity(4096);
                while !stop.load(Ordering::Relaxed) {
                    let user = random.usize(0..users);
                    let path = if random.u8(0..10) == 0 {
                        AUTHENTICATE
                    } else {
                        REFRESH
                    };
                    let started = Instant::now();
                    connection.ask(path, user).await;
                    latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("no panic"));
    }
    (all.len() as u64, all)
}

fn main() {
    let settings = settings();
    let test = "fleet bench";
    let Some(server) = RedisServer::start(test) else {
        println!("fleet: redis-server is not installed; nothing measured");
        return;
    };
    let upstream = Upstream::start().expect("the stand-in starts");
    let instances: Vec<Served> = (0..INSTANCES)
        .map(|number| start_instance(number, &upstream, &server, &settings))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let redis_stat = format!("/proc/{}/stat", server.pid());
    let users = settings.users;
    let load_average = || {
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let endpoints: Vec<SocketAddr> = instances.iter().map(|served| served.endpoint).collect();
    println!(
        "\nfleet: {INSTANCES} instances, one redis-server, {users} users, load average {}\n",
        load_average()
    );

    // 1. Warm-up: sessions on every instance.
    let redis_memory = |server: &RedisServer| {
        runtime
            .block_on(server.info_field("memory", "used_memory"))
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (rss_before, redis_before) = (resident_bytes(), redis_memory(&server));
    let started = Instant::now();
    runtime.block_on(each_user_on_each_instance(&endpoints, users, 32));
    let warm = started.elapsed();
    let created_by = Instant::now();
    let (rss_after, redis_after) = (resident_bytes(), redis_memory(&server));
    assert_eq!(
        upstream.creates(),
        users as u64,
        "one subscriber token per user"
    );
    let per_user_instance =
        rss_after.saturating_sub(rss_before) as f64 / (users * INSTANCES) as f64;
    let redis_per_user = redis_after.saturating_sub(redis_before) as f64 / users as f64;

    // 2. Rotation: wait until every token is due (half its life: the refresh-ahead
    // margin is capped there), then every user asks every instance once.
    // (A session joined late comes due half-way through what was left when it joined,
    // and expiries are whole seconds: a few seconds of margin.)
    let due = created_by + settings.token_lifetime / 2 + Duration::from_secs(3);
    std::thread::sleep(due.saturating_duration_since(Instant::now()));
    let before = runtime.block_on(redis_counts(&server));
    let started = Instant::now();
    runtime.block_on(each_user_on_each_instance(&endpoints, users, 32));
    let rotation = started.elapsed();
    let after = runtime.block_on(redis_counts(&server));
    let rotation_round_trips = after.0 - before.0;
    let rotation_executed = after.1 - before.1;
    let rotations: u64 = runtime.block_on(async {
        let coordinator: RedisCoordinator = server.coordinator().build().expect("valid");
        let mut total = 0;
        for user in 0..users {
            let key = SessionKey::new(format!("user-{user}")).expect("a key");
            let shared = coordinator.load(&key).await.expect("Redis answers");
            total += shared.expect("a pair").generation - 1;
        }
        total
    });
    assert_eq!(rotations, users as u64, "every user's pair rotated once");
    assert_eq!(
        upstream.refreshes(),
        rotations,
        "upstream refreshes equal rotations"
    );
    assert_eq!(upstream.refused(), 0, "no refresh token was sent twice");

    // The services with their own limiters join the rotated pairs before timing.
    let local: Vec<SocketAddr> = instances.iter().map(|served| served.local_limits).collect();
    runtime.block_on(each_user_on_each_instance(&local, users, 32));
    let bare: Vec<SocketAddr> = instances.iter().map(|served| served.bare).collect();

    // 3. Steady load, interleaved rounds.
    let contenders: [(&str, &[SocketAddr]); 3] = [
        ("token endpoints, fleet-wide limit (Redis)", &endpoints),
        ("token endpoints, per-instance limit", &local),
        ("bare axum handler", &bare),
    ];
    let mut tallies: Vec<Tally> = (0..contenders.len()).map(|_| Tally::default()).collect();
    for round in 0..settings.rounds {
        for turn in 0..contenders.len() {
            let index = (round + turn) % contenders.len();
            let (_, targets) = contenders[index];
            let cpu = instance_cpu(&instances);
            let redis_cpu = cpu_time(&redis_stat);
            let counts = runtime.block_on(redis_counts(&server));
            let started = Instant::now();
            let (requests, latencies) =
                runtime.block_on(load(targets, settings.connections, users, settings.round));
            let tally = &mut tallies[index];
            tally.wall += started.elapsed();
            tally.requests += requests;
            tally.latencies_us.extend(latencies);
            tally.instance_cpu += instance_cpu(&instances).saturating_sub(cpu);
            tally.redis_cpu += cpu_time(&redis_stat).saturating_sub(redis_cpu);
            let now = runtime.block_on(redis_counts(&server));
            tally.redis_round_trips += now.0 - counts.0;
            tally.redis_executed += now.1 - counts.1;
        }
    }
    assert_eq!(
        upstream.refreshes(),
        rotations,
        "nothing refreshed under load"
    );
    assert_eq!(upstream.creates(), users as u64);

    println!("| phase | result |");
    println!("|---|---|");
    println!(
        "| warm-up: {users} users × {INSTANCES} instances ({} requests) | {:.1} s; resident memory +{:.0} B per user per instance; Redis `used_memory` +{:.0} B per user |",
        users * INSTANCES,
        warm.as_secs_f64(),
        per_user_instance,
        redis_per_user,
    );
    println!(
        "| rotation: every user due, asking each instance once | {rotations} rotations in {:.1} s ({:.0}/s); upstream refreshes {} = rotations, refused {}; per rotation (its {INSTANCES} requests included, each rate-limited): {:.2} Redis round trips, {:.1} commands executed |",
        rotation.as_secs_f64(),
        rotations as f64 / rotation.as_secs_f64(),
        upstream.refreshes(),
        upstream.refused(),
        rotation_round_trips as f64 / rotations.max(1) as f64,
        rotation_executed as f64 / rotations.max(1) as f64,
    );
    println!(
        "\nsteady load: {} rounds of {:.1} s per contender, interleaved; {} connections; load average {}\n",
        settings.rounds,
        settings.round.as_secs_f64(),
        settings.connections,
        load_average()
    );
    println!(
        "| contender | requests/s (wall) | requests per CPU-second of the instances | p50 | p99 | Redis round trips/s | Redis commands executed/s | Redis CPU per request |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut per_request_cpu = HashMap::new();
    for ((name, _), tally) in contenders.iter().zip(tallies.iter_mut()) {
        let wall = tally.wall.as_secs_f64();
        let per_cpu_second = tally.requests as f64 / tally.instance_cpu.as_secs_f64().max(1e-9);
        per_request_cpu.insert(*name, per_cpu_second);
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} µs | {:.0} µs | {:.0} | {:.0} | {:.1} µs |",
            tally.requests as f64 / wall,
            per_cpu_second,
            tally.percentile(0.5),
            tally.percentile(0.99),
            tally.redis_round_trips as f64 / wall,
            tally.redis_executed as f64 / wall,
            tally.redis_cpu.as_secs_f64() * 1e6 / tally.requests.max(1) as f64,
        );
    }
    let ratio = |a: usize, b: usize| {
        let (a, b) = (&tallies[a], &tallies[b]);
        let per = |tally: &Tally| tally.instance_cpu.as_secs_f64() / tally.requests.max(1) as f64;
        let throughput = |tally: &Tally| tally.requests as f64 / tally.wall.as_secs_f64().max(1e-9);
        (per(a) / per(b), throughput(b) / throughput(a))
    };
    let (cpu_redis, wall_redis) = ratio(0, 2);
    let (cpu_local, wall_local) = ratio(1, 2);
    println!(
        "\nendpoint / bare handler: instance CPU per request {cpu_redis:.2} (fleet-wide limit), {cpu_local:.2} (per-instance limit); time per request at the same concurrency (bare throughput / endpoint throughput) {wall_redis:.2} and {wall_local:.2}"
    );

    // One request at a time, over one connection each to the first instance: the
    // endpoint with either limiter and the bare handler, interleaved rounds of
    // `ONE_AT_A_TIME` requests, then criterion's figures.
    let mut endpoint = runtime.block_on(Connection::open(instances[0].endpoint));
    let mut local_endpoint = runtime.block_on(Connection::open(instances[0].local_limits));
    let mut bare = runtime.block_on(Connection::open(instances[0].bare));
    // Each request for the next user, so no user comes near the rate limit.
    let next = std::cell::Cell::new(0);
    let user = || {
        next.set((next.get() + 1) % users);
        next.get()
    };
    {
        let batch = |connection: &mut Connection| {
            let started = Instant::now();
            runtime.block_on(async {
                for _ in 0..ONE_AT_A_TIME {
                    connection.ask(REFRESH, user()).await;
                }
            });
            started.elapsed()
        };
        let rounds = if settings.full { 200 } else { 2 };
        let (mut redis_limit, mut local_limit, mut bare_handler) = (
            || batch(&mut endpoint),
            || batch(&mut local_endpoint),
            || batch(&mut bare),
        );
        let mut contenders: [Contender<'_>; 3] =
            [&mut redis_limit, &mut local_limit, &mut bare_handler];
        let times = interleaved(rounds, &mut contenders);
        let per_request =
            |times: &[Duration]| median(times).as_secs_f64() * 1e6 / ONE_AT_A_TIME as f64;
        println!(
            "\none request at a time over one keep-alive connection, {rounds} interleaved rounds of {ONE_AT_A_TIME}, load average {}\n\n| contender | µs per request | / bare handler |\n|---|---:|---:|\n| token endpoint, fleet-wide limit (Redis) | {:.1} | **{:.2}** |\n| token endpoint, per-instance limit | {:.1} | **{:.2}** |\n| bare axum handler | {:.1} | |\n",
            load_average(),
            per_request(&times[0]),
            median_ratio(&times[0], &times[2]),
            per_request(&times[1]),
            median_ratio(&times[1], &times[2]),
            per_request(&times[2]),
        );
    }
    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("fleet_one_request");
        group.bench_function("token_endpoint_redis_limit", |b| {
            b.iter(|| runtime.block_on(endpoint.ask(REFRESH, user())))
        });
        group.bench_function("token_endpoint_local_limit", |b| {
            b.iter(|| runtime.block_on(local_endpoint.ask(REFRESH, user())))
        });
        group.bench_function("bare_handler", |b| {
            b.iter(|| runtime.block_on(bare.ask(REFRESH, user())))
        });
        group.finish();
    }
    criterion.final_summary();
    if !settings.full {
        println!("(test mode: {users} users, short phases; run with --bench for the figures)");
    }
}
