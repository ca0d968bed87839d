//! Refresh herds (issue 22): how many refreshes a fleet of sessions sends in each
//! simulated second, with the schedule sessions had before and with today's default. Not
//! a criterion bench: nothing here is timed; it counts, and prints markdown tables.
//!
//! **Real sessions.** `HERD_SESSIONS` sessions (`SubscriberSession`, built with the
//! schedule under test, kept alive by `spawn_auto_refresh()`) are created at random
//! within 60 s on tokio's paused clock and run for `HERD_HOURS` simulated hours. They
//! refresh through a stand-in for SignalWire (`signalwire_fabric::testing::Upstream`, the
//! one the herd tests use) that hands out a new unique pair per refresh and counts
//! refreshes per simulated second. So the figures come from
//! the session's own scheduling code: its `refresh_at`, its worker, its background
//! refresh. The stand-in also checks that no refresh arrives after the access token it
//! replaces has expired (a session that was left without a valid token), and that no
//! session asks again sooner than a `Retry-After` told it.
//!
//! **429s.** The same simulation against an upstream allowing a fixed number of
//! refreshes per second that answers 429 with `Retry-After: 5` beyond it. `HERD_LIMITS`
//! lists the limits per million sessions (default `1000,700,500`; the default schedule's
//! first wave peaks a little above 1,000 a second). At the first, the default schedule
//! must keep every session's token valid (none refreshed after it expired, none ended)
//! and every `Retry-After` must be honoured by the session it was sent to, or the bench
//! fails; the schedule from before is run at the first limit too, and the default at the
//! others, and reported, to show where absorbing stops. The table also gives the least
//! time an access token had left when it was replaced. `HERD_WINDOW=0.75,0.95` runs this
//! table for another window in place of the default.
//!
//! **Schedule alone.** `RefreshSchedule::refresh_at`, the function sessions call for each
//! pair they get, applied cycle after cycle to each simulated session with no session
//! around it (no runtime, no tasks), for `HERD_CROSS_CHECK` sessions: first at the real
//! count, to show that it gives the real sessions' figures, then at `HERD_CROSS_CHECK`
//! (default: as many as the real ones) for other candidate windows (how the default was
//! chosen). For a fixed lead, the jitter is
//! drawn once per simulated session and added to the margin, as a session does.
//!
//! Run with `HERD_SESSIONS=1000000 cargo bench -p signalwire-fabric-benchmarks --bench
//! herd` for the figures in BENCHMARKS.md §10 (without it, 10,000 sessions; 24 h either
//! way; `HERD_PARTS` picks tables: `real`, `limits`, `alone`). `cargo test --benches`
//! runs it once with 1,000 sessions.

use std::ops::Range;
use std::time::Duration;

use signalwire_fabric::testing::Upstream;
use signalwire_fabric::{
    AccessToken, DEFAULT_JITTER, DEFAULT_REFRESH_AHEAD, DEFAULT_REFRESH_SCHEDULE, RefreshSchedule,
    RefreshToken, SubscriberSession, TokenPair,
};
use signalwire_fabric_benchmarks::{access_text, refresh_text};
use tokio::time::Instant;

/// The first rotation of every session (they are created within 60 s; a first refresh
/// comes at the latest when the two-hour access token expires).
const FIRST_CYCLE: Range<u64> = 0..(2 * 3600 + 60);
/// Hours 21 to 24.
const LAST_HOURS: Range<u64> = (21 * 3600)..(24 * 3600);
const CREATED_WITHIN: Duration = Duration::from_secs(60);
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// What one run counted.
struct Counts {
    /// Successful refreshes per simulated second.
    per_second: Vec<u32>,
}

impl Counts {
    fn new(hours: u64) -> Self {
        Self {
            per_second: vec![0; (hours * 3600) as usize + 1],
        }
    }

    /// The counts of a run of `hours`, from refreshes counted per second.
    fn from_seconds(hours: u64, mut per_second: Vec<u32>) -> Self {
        per_second.resize((hours * 3600) as usize + 1, 0);
        Self { per_second }
    }

    fn add(&mut self, second: u64) {
        if let Some(count) = self.per_second.get_mut(second as usize) {
            *count += 1;
        }
    }

    fn peak(&self, seconds: Range<u64>) -> u32 {
        let end = (seconds.end as usize).min(self.per_second.len());
        let start = (seconds.start as usize).min(end);
        self.per_second[start..end]
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.per_second.iter().map(|&n| u64::from(n)).sum()
    }
}

/// The end of one simulated run.
struct Run {
    counts: Counts,
    rate_limited: u64,
    too_early: u64,
    lapsed: u64,
    refused: u64,
    least_left: Duration,
    ended: usize,
    expired_at_the_end: usize,
    /// Wall-clock seconds the run took.
    wall: f64,
}

/// `sessions` real sessions on `schedule`, created within a minute, for `hours`.
fn simulate(
    schedule: RefreshSchedule,
    sessions: usize,
    hours: u64,
    limit: Option<u32>,
    seed: u64,
) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let wall = std::time::Instant::now();
    let mut run = runtime.block_on(async {
        let upstream = Upstream::new(sessions, limit, RETRY_AFTER);
        let start = upstream.started();
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut created: Vec<Duration> = (0..sessions)
            .map(|_| Duration::from_nanos(rng.u64(..CREATED_WITHIN.as_nanos() as u64)))
            .collect();
        created.sort();
        let mut fleet = Vec::with_capacity(sessions);
        for (number, at) in created.into_iter().enumerate() {
            tokio::time::sleep_until(start + at).await;
            let session = SubscriberSession::builder(upstream.caller(number), upstream.create())
                .refresh_schedule(schedule)
                .build();
            fleet.push((session.spawn_auto_refresh(), session));
        }
        tokio::time::sleep_until(start + Duration::from_secs(hours * 3600)).await;
        let now = Instant::now();
        let ended = fleet.iter().filter(|(_, s)| s.status().ended).count();
        let expired_at_the_end = fleet
            .iter()
            .filter(|(_, s)| s.pair().access_expires_at() <= now)
            .count();
        drop(fleet);
        let tally = upstream.tally();
        Run {
            counts: Counts::from_seconds(hours, upstream.per_second()),
            rate_limited: tally.rate_limited,
            too_early: tally.too_early,
            lapsed: tally.lapsed,
            refused: tally.refused,
            least_left: tally.least_left,
            ended,
            expired_at_the_end,
            wall: 0.0,
        }
    });
    drop(runtime);
    run.wall = wall.elapsed().as_secs_f64();
    run
}

/// The schedule alone: `RefreshSchedule::refresh_at` applied to one synthetic pair after
/// another for each of `sessions` sessions created within a minute, refreshing at once
/// when due (no runtime, no sessions).
fn schedule_alone(schedule: &Candidate, sessions: usize, hours: u64, seed: u64) -> Counts {
    let mut counts = Counts::new(hours);
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = Instant::now();
    let end = start + Duration::from_secs(hours * 3600);
    let mut issued = 0u64;
    for _ in 0..sessions {
        let mut now = start + Duration::from_nanos(rng.u64(..CREATED_WITHIN.as_nanos() as u64));
        // What a session draws once: for a fixed lead, its jitter, on top of the margin.
        let (rule, margin) = match schedule.jitter {
            Some(jitter) => (
                RefreshSchedule::fixed_lead(Duration::ZERO),
                DEFAULT_REFRESH_AHEAD + jitter.mul_f64(rng.f64()),
            ),
            None => (schedule.rule, DEFAULT_REFRESH_AHEAD),
        };
        loop {
            issued += 1;
            let seed = issued.to_string();
            let pair = TokenPair::issued_at(
                AccessToken::parse(access_text(&seed)).expect("a valid access token"),
                RefreshToken::parse(refresh_text(&seed)).expect("a valid refresh token"),
                now,
            );
            let at = rule.refresh_at(&pair, margin, now);
            if at >= end {
                break;
            }
            counts.add((at - start).as_secs());
            now = at;
        }
    }
    counts
}

/// A schedule to simulate, as a row label and what sessions are built with.
#[derive(Clone, Copy)]
struct Candidate {
    label: &'static str,
    rule: RefreshSchedule,
    /// For a fixed lead: the jitter each session draws once.
    jitter: Option<Duration>,
}

fn window(label: &'static str, start: f64, end: f64) -> Candidate {
    Candidate {
        label,
        rule: RefreshSchedule::window(start, end).expect("a valid window"),
        jitter: None,
    }
}

fn fixed_lead(label: &'static str, jitter: Duration) -> Candidate {
    Candidate {
        label,
        rule: RefreshSchedule::fixed_lead(jitter),
        jitter: Some(jitter),
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Peak resident memory of this process so far, in MiB (Linux), for the record.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, smaller. A
    // million sessions (BENCHMARKS.md §10) take an hour or more: asked for by name.
    let full = std::env::args().any(|arg| arg == "--bench");
    let sessions: usize = env_or("HERD_SESSIONS", if full { 10_000 } else { 1_000 });
    let cross_check: usize = env_or("HERD_CROSS_CHECK", sessions);
    let hours: u64 = env_or("HERD_HOURS", 24);
    // Which tables to make (all by default): `real`, `limits`, `alone`.
    let parts = std::env::var("HERD_PARTS").unwrap_or_else(|_| "real,limits,alone".to_owned());
    let part = |name: &str| parts.split(',').any(|part| part.trim() == name);
    // Refreshes per second the upstream allows, per million sessions: the default
    // schedule's first wave peaks a little above 1,000; the others show where absorbing
    // stops. The schedule from before is run at the first.
    let limits: Vec<u32> = std::env::var("HERD_LIMITS")
        .unwrap_or_else(|_| "1000,700,500".to_owned())
        .split(',')
        .filter_map(|limit| limit.trim().parse::<f64>().ok())
        .map(|per_million| ((per_million * sessions as f64 / 1e6).round() as u32).max(1))
        .collect();

    let today = fixed_lead("before: 5 min + U(0, 60 s) drawn once", DEFAULT_JITTER);
    let default = Candidate {
        label: "default: window 75-90 %",
        rule: DEFAULT_REFRESH_SCHEDULE,
        jitter: None,
    };

    if part("real") {
        real(today, default, sessions, hours);
    }
    if part("limits") {
        // `HERD_WINDOW=0.75,0.95` runs the 429 table for another window instead.
        let window = std::env::var("HERD_WINDOW").ok().and_then(|text| {
            let (start, end) = text.split_once(',')?;
            let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
            let label = format!("window {:.0}-{:.0} %", start * 100.0, end * 100.0);
            Some(Candidate {
                label: Box::leak(label.into_boxed_str()),
                rule: RefreshSchedule::window(start, end).ok()?,
                jitter: None,
            })
        });
        limited(today, window.unwrap_or(default), sessions, hours, &limits);
    }
    if part("alone") {
        alone(today, default, sessions, cross_check, hours);
    }
    if let Some(mib) = peak_rss_mib() {
        println!("\nPeak resident memory of the bench process: {mib} MiB.");
    }
}

/// The two schedules with real sessions and an upstream that takes every refresh.
fn real(today: Candidate, default: Candidate, sessions: usize, hours: u64) {
    println!(
        "## Real sessions: {} sessions, {hours} h\n",
        thousands(sessions as u64)
    );
    println!(
        "| schedule | peak second, first cycle | peak second, hours 21-24 | refreshes | / before | wall |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut real_totals = Vec::new();
    for (number, candidate) in [today, default].into_iter().enumerate() {
        let run = simulate(candidate.rule, sessions, hours, None, 22 + number as u64);
        check_nothing_lost(candidate.label, &run, sessions);
        let total = run.counts.total();
        real_totals.push(total);
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.0} s |",
            candidate.label,
            thousands(u64::from(run.counts.peak(FIRST_CYCLE))),
            thousands(u64::from(run.counts.peak(LAST_HOURS))),
            thousands(total),
            total as f64 / real_totals[0] as f64,
            run.wall,
        );
    }
}

/// Real sessions against an upstream that allows `limits` refreshes per second.
fn limited(today: Candidate, default: Candidate, sessions: usize, hours: u64, limits: &[u32]) {
    println!(
        "\n## Real sessions, {} of them, against an upstream allowing a fixed number of refreshes per second (429 with Retry-After: {} s beyond)\n",
        thousands(sessions as u64),
        RETRY_AFTER.as_secs()
    );
    println!(
        "| schedule | allowed per second | 429 answers | asked before Retry-After | least time left at a refresh | refreshed after expiry | sessions ended | expired at the end | refreshes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut runs = Vec::new();
    for (number, &limit) in limits.iter().enumerate() {
        if !runs.iter().any(|&(_, seen)| seen == limit) {
            runs.push((default, limit));
        }
        if number == 0 {
            runs.push((today, limit));
        }
    }
    for (number, (candidate, limit)) in runs.into_iter().enumerate() {
        let run = simulate(
            candidate.rule,
            sessions,
            hours,
            Some(limit),
            122 + number as u64,
        );
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            candidate.label,
            thousands(u64::from(limit)),
            thousands(run.rate_limited),
            run.too_early,
            if run.lapsed > 0 {
                "none (expired)".to_owned()
            } else {
                format!("{:.1} min", run.least_left.as_secs_f64() / 60.0)
            },
            thousands(run.lapsed),
            thousands(run.ended as u64),
            thousands(run.expired_at_the_end as u64),
            thousands(run.counts.total()),
        );
        assert_eq!(
            run.too_early, 0,
            "{}: a session ignored Retry-After",
            candidate.label
        );
        if number == 0 {
            // The schedule under test absorbs the wave (for the default, one that the
            // limit cuts into: a limit it never reaches would prove nothing).
            check_nothing_lost(candidate.label, &run, sessions);
            assert!(
                run.rate_limited > 0 || candidate.rule != DEFAULT_REFRESH_SCHEDULE,
                "the limit must bite"
            );
        }
    }
}

/// The schedule function alone, for the real schedules at the real count and for every
/// candidate at `cross_check`.
fn alone(today: Candidate, default: Candidate, sessions: usize, cross_check: usize, hours: u64) {
    let candidates = [
        today,
        fixed_lead(
            "5 min + U(0, 20 min) drawn once",
            Duration::from_secs(20 * 60),
        ),
        fixed_lead(
            "5 min + U(0, 2 h) drawn once",
            Duration::from_secs(2 * 3600),
        ),
        window("window 70-90 % (Kubernetes)", 0.70, 0.90),
        default,
        window("window 80-95 %", 0.80, 0.95),
        window("window 75-95 %", 0.75, 0.95),
        window("window 80-90 %", 0.80, 0.90),
    ];
    // At the real sessions' count, the two real schedules (the figures must agree with
    // the real sessions'); then every candidate at the cross-check count.
    let tables: Vec<(usize, Vec<Candidate>)> = if cross_check == sessions {
        vec![(cross_check, candidates.to_vec())]
    } else {
        vec![
            (sessions, vec![today, default]),
            (cross_check, candidates.to_vec()),
        ]
    };
    for (count, candidates) in tables {
        println!(
            "\n## The schedule alone (`RefreshSchedule::refresh_at`), {} sessions, {hours} h\n",
            thousands(count as u64)
        );
        println!(
            "| schedule | peak second, first cycle | peak second, hours 21-24 | refreshes | / before |"
        );
        println!("|---|---:|---:|---:|---:|");
        let mut before = None;
        for (number, candidate) in candidates.iter().enumerate() {
            let counts = schedule_alone(candidate, count, hours, 7 + number as u64);
            let total = counts.total();
            let before = *before.get_or_insert(total);
            println!(
                "| {} | {} | {} | {} | {:.2} |",
                candidate.label,
                thousands(u64::from(counts.peak(FIRST_CYCLE))),
                thousands(u64::from(counts.peak(LAST_HOURS))),
                thousands(total),
                total as f64 / before as f64,
            );
        }
    }
}

/// Every session kept a valid token all day: nothing refreshed after its access token had
/// expired, no session ended, none holds an expired token at the end, and no refresh
/// token was refused (none was sent twice).
fn check_nothing_lost(label: &str, run: &Run, sessions: usize) {
    assert_eq!(
        run.lapsed, 0,
        "{label}: refreshed after the access token expired"
    );
    assert_eq!(run.ended, 0, "{label}: sessions ended");
    assert_eq!(
        run.expired_at_the_end, 0,
        "{label}: expired tokens at the end"
    );
    assert_eq!(run.refused, 0, "{label}: a refresh token was sent twice");
    assert!(
        run.counts.total() >= sessions as u64,
        "{label}: every session refreshes at least once a day"
    );
}
