//! When sessions refresh (issue 22, "refresh herds"): the window schedule spreads sessions
//! created together, draws a new point for every pair, agrees across siblings, keeps
//! short-lived and nearly spent tokens sane, and a wave of 429 answers is absorbed.
//! Everything runs on tokio's paused clock.
//!
//! The fleet simulation at scale, with the figures, is `benchmarks/benches/herd.rs`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use signalwire_fabric::{
    DEFAULT_JITTER, DEFAULT_REFRESH_AHEAD, DEFAULT_REFRESH_SCHEDULE, Error, InProcessCoordinator,
    MemoryStore, RefreshSchedule, RefreshToken, Refresher, SessionKey, SubscriberSession,
    TokenPair, testing,
};
use tokio::time::{Instant, advance};

const HOUR: Duration = Duration::from_secs(3600);
const LIFETIME: Duration = Duration::from_secs(7200);

/// Keeps `session::refreshes_are_traced_with_attempts_and_durations_but_no_secret` able
/// to see the session's log lines while these tests run beside it.
///
/// tracing caches, per log statement, whether any subscriber wants its events. While one
/// subscriber exists in the whole process (that test's capture, set for its own thread
/// only), a statement reached for the first time on any other thread asks that thread's
/// subscriber (none), caches "never", and the capture misses it from then on. These tests
/// reach the session's log statements on threads of their own; a second, process-wide
/// subscriber that wants nothing makes tracing ask every subscriber instead, and a
/// statement wanted by one of them is then checked event by event.
fn keep_log_capture_working() {
    static WANTS_NOTHING: LazyLock<tracing::Dispatch> =
        LazyLock::new(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    LazyLock::force(&WANTS_NOTHING);
}

/// The lead (time from the refresh point to the access token's expiry) a session has now.
fn lead(session: &SubscriberSession) -> Duration {
    let status = session.status();
    status.access_expires_in - status.refresh_in
}

/// `n` sessions of the given schedule, each on its own pair issued now.
fn fleet(n: usize, schedule: RefreshSchedule, margin: Duration) -> Vec<SubscriberSession> {
    let endpoint = testing::RefreshEndpoint::single_use();
    (0..n)
        .map(|n| {
            SubscriberSession::builder(endpoint.clone(), testing::pair(&format!("fleet-{n}")))
                .refresh_ahead(margin)
                .refresh_schedule(schedule)
                .build()
        })
        .collect()
}

/// The largest share of `instants` that fall on one and the same instant.
fn largest_pile(instants: impl IntoIterator<Item = Duration>) -> f64 {
    let mut counts: HashMap<Duration, usize> = HashMap::new();
    let mut total = 0;
    for instant in instants {
        *counts.entry(instant).or_default() += 1;
        total += 1;
    }
    counts.values().copied().max().unwrap_or(0) as f64 / total as f64
}

#[tokio::test(start_paused = true)]
async fn sessions_created_together_spread_over_the_default_window() {
    keep_log_capture_working();
    let sessions = fleet(1000, DEFAULT_REFRESH_SCHEDULE, DEFAULT_REFRESH_AHEAD);
    let mut bins = [0usize; 10];
    for session in &sessions {
        let due_in = session.status().refresh_in.as_secs_f64();
        let fraction = due_in / LIFETIME.as_secs_f64();
        assert!((0.75..=0.90).contains(&fraction), "{fraction}");
        bins[(((fraction - 0.75) / 0.15) * 10.0).min(9.0) as usize] += 1;
    }
    // 100 expected in each tenth of the window.
    assert!(
        bins.iter().all(|&n| (55..=145).contains(&n)),
        "evenly over 75 % to 90 % of the lifetime: {bins:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_rotation_draws_a_new_point_in_the_window() {
    keep_log_capture_working();
    let endpoint = testing::RefreshEndpoint::single_use().latency(Duration::ZERO);
    let session = SubscriberSession::builder(endpoint.clone(), endpoint.create()).build();
    let _auto = session.spawn_auto_refresh();
    let mut leads = Vec::new();
    for rotation in 0..10 {
        leads.push(lead(&session));
        tokio::time::sleep(session.status().refresh_in + Duration::from_millis(1)).await;
        assert_eq!(endpoint.refreshes(), rotation + 1);
    }
    for lead in &leads {
        assert!(
            *lead >= Duration::from_secs(12 * 60) && *lead <= Duration::from_secs(30 * 60),
            "{leads:?}"
        );
    }
    let mut distinct = leads.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() >= 9,
        "a new point for every pair, not one lead kept for ever: {leads:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn siblings_agree_on_when_a_pair_is_due_through_every_rotation() {
    keep_log_capture_working();
    for siblings in 1..=3 {
        let coordinator = InProcessCoordinator::new();
        let mut groups = Vec::new();
        let mut endpoints = Vec::new();
        for user in 0..10 {
            // An endpoint per user: each makes a pair of its own.
            let endpoint = testing::RefreshEndpoint::single_use().latency(Duration::ZERO);
            endpoints.push(endpoint.clone());
            let key: SessionKey = format!("user-{user}").parse().expect("a valid key");
            let mut group = Vec::new();
            for _ in 0..siblings {
                let created = endpoint.clone();
                let session = SubscriberSession::join_or_create(
                    endpoint.clone(),
                    coordinator.clone(),
                    key.clone(),
                    0,
                    || async move { Ok(created.create()) },
                )
                .await
                .expect("created or joined")
                .build();
                group.push((session.spawn_auto_refresh(), session));
            }
            groups.push(group);
            // Users sign in a few seconds apart.
            advance(Duration::from_secs(3)).await;
        }
        for rotation in 0..4 {
            for group in &groups {
                let due: Vec<Duration> = group.iter().map(|(_, s)| lead(s)).collect();
                assert!(
                    spread(&due) <= Duration::from_secs(2),
                    "{siblings} siblings, rotation {rotation}: due {due:?} before expiry"
                );
                let generations: Vec<u64> =
                    group.iter().map(|(_, s)| s.status().generation).collect();
                assert!(
                    generations.iter().all(|g| *g == generations[0]),
                    "{generations:?}"
                );
            }
            // Through the next rotation of every user (each is due again at least 1.5 h
            // after it rotated; the users are due within 20 minutes of each other).
            let last_due = groups
                .iter()
                .flatten()
                .map(|(_, s)| s.status().refresh_in)
                .max()
                .unwrap_or_default();
            tokio::time::sleep(last_due + Duration::from_secs(1)).await;
        }
        for endpoint in &endpoints {
            assert_eq!(
                (endpoint.refreshes(), endpoint.refused()),
                (4, 0),
                "one refresh per rotation, however many siblings ({siblings})"
            );
        }
    }
}

fn spread(durations: &[Duration]) -> Duration {
    let min = durations.iter().min().copied().unwrap_or_default();
    let max = durations.iter().max().copied().unwrap_or_default();
    max - min
}

#[tokio::test(start_paused = true)]
async fn a_restored_pair_keeps_its_point_and_overdue_ones_are_spread_not_sent_at_once() {
    keep_log_capture_working();
    let endpoint = testing::RefreshEndpoint::single_use();
    let store = MemoryStore::new();
    let session = SubscriberSession::builder(endpoint.clone(), endpoint.create())
        .store(store.clone())
        .build();
    session.access_token().await.expect("fresh");
    while !session.status().saved {
        tokio::task::yield_now().await;
    }
    let lead_before = lead(&session);
    drop(session);

    // A restart half an hour later: the restored session keeps the pair's point (the
    // same time before expiry; the stored expiry is in wall-clock time, which a paused
    // clock does not move, so compare leads).
    advance(HOUR / 2).await;
    let restored = SubscriberSession::restore(endpoint.clone(), store.clone())
        .await
        .expect("a pair is stored")
        .build();
    let lead_after = lead(&restored);
    assert!(
        lead_after.abs_diff(lead_before) <= Duration::from_secs(1),
        "{lead_before:?} vs {lead_after:?}"
    );

    // A restart of 1,000 sessions whose pairs are past their points, 5 minutes from
    // expiry: refreshed between a quarter and half of those 5 minutes, spread out.
    let now = Instant::now();
    let due_ins: Vec<Duration> = (0..1000)
        .map(|n| {
            let seed = format!("overdue-{n}");
            let pair = TokenPair::new(
                testing::access_token(&seed),
                testing::refresh_token(&seed),
                now + Duration::from_secs(300),
                now + Duration::from_secs(600),
            );
            SubscriberSession::builder(endpoint.clone(), pair)
                .build()
                .status()
                .refresh_in
        })
        .collect();
    for due_in in &due_ins {
        assert!(
            *due_in >= Duration::from_secs(75) && *due_in <= Duration::from_secs(150),
            "{due_in:?}"
        );
    }
    let per_second = largest_pile(due_ins.iter().map(|d| Duration::from_secs(d.as_secs())));
    assert!(
        per_second <= 0.05,
        "no second holds more than 5 % of them: {per_second}"
    );

    // An access token that has expired is due at once.
    let expired = testing::due_now(&testing::pair("expired"));
    let session = SubscriberSession::builder(endpoint.clone(), expired).build();
    assert_eq!(session.status().refresh_in, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn no_margin_piles_sessions_onto_one_instant_and_the_margin_is_a_floor() {
    keep_log_capture_working();
    let margins = [5 * 60, 20 * 60, 45 * 60, 3600, 3 * 3600].map(Duration::from_secs);
    let windows = [
        DEFAULT_REFRESH_SCHEDULE,
        RefreshSchedule::window(0.0, 1.0).expect("valid"),
        RefreshSchedule::window(0.5, 0.5).expect("valid"),
    ];
    for margin in margins {
        for schedule in windows {
            let sessions = fleet(500, schedule, margin);
            let leads: Vec<Duration> = sessions.iter().map(lead).collect();
            let floor = margin.min(LIFETIME / 2);
            assert!(
                leads.iter().all(|lead| *lead >= floor),
                "margin {margin:?}, {schedule:?}: a lead below the margin"
            );
            if schedule.window_fractions() != Some((0.5, 0.5)) {
                let pile = largest_pile(leads);
                assert!(
                    pile <= 0.01,
                    "margin {margin:?}, {schedule:?}: {:.0} % on one instant",
                    pile * 100.0
                );
            }
        }
    }
    // What the measure above catches: the fixed lead with a long jitter puts every
    // session whose lead exceeds half the lifetime on expiry - 1 h.
    let sessions = fleet(
        500,
        RefreshSchedule::fixed_lead(2 * HOUR),
        DEFAULT_REFRESH_AHEAD,
    );
    let pile = largest_pile(sessions.iter().map(lead));
    assert!(pile > 0.4, "{pile}");
}

/// A refresher that hands out pairs with the access and refresh lifetimes it was given,
/// counting refreshes and those that came after the access token had expired.
#[derive(Clone)]
struct ShortLived {
    access: Duration,
    refresh: Duration,
    refreshes: Arc<AtomicUsize>,
    expiries: Arc<Mutex<HashMap<String, Instant>>>,
    lapsed: Arc<AtomicUsize>,
}

impl ShortLived {
    fn new(access: Duration, refresh: Duration) -> Self {
        Self {
            access,
            refresh,
            refreshes: Arc::default(),
            expiries: Arc::default(),
            lapsed: Arc::default(),
        }
    }

    fn issue(&self) -> TokenPair {
        let n = self.refreshes.load(Ordering::SeqCst);
        let now = Instant::now();
        let pair = TokenPair::new(
            testing::access_token(&format!("short-{n}")),
            testing::refresh_token(&format!("short-{n}")),
            now + self.access,
            now + self.refresh,
        );
        self.expiries.lock().expect("not poisoned").insert(
            pair.refresh_token().expose_secret().to_owned(),
            pair.access_expires_at(),
        );
        pair
    }
}

#[async_trait::async_trait]
impl Refresher for ShortLived {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        let expires = self
            .expiries
            .lock()
            .expect("not poisoned")
            .remove(refresh_token.expose_secret());
        if expires.is_none_or(|at| Instant::now() >= at) {
            self.lapsed.fetch_add(1, Ordering::SeqCst);
        }
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(self.issue())
    }
}

#[tokio::test(start_paused = true)]
async fn short_lived_tokens_are_refreshed_in_time_but_never_continuously() {
    keep_log_capture_working();
    // (access lifetime, refresh lifetime, fewest and most refreshes in 10 minutes)
    let cases = [
        // A one-minute access token as SignalWire issues it (refresh token 2 h 5 min):
        // refreshed 25 to 30 s after issue (the 5-minute margin counts for half the life).
        (60, 7500, 20, 24),
        // Times that say nothing about the lifetime (refresh token outliving its access
        // token by 3 hours): past their point at once, refreshed a quarter to half-way
        // through the minute.
        (60, 3 * 3600, 20, 40),
        // A pair whose refresh token expires 10 s after its access token, so the
        // lifetime reads as two hours: past its point, refreshed after 2.5 to 5 s.
        (10, 20, 100, 240),
    ];
    for (access, refresh, fewest, most) in cases {
        let refresher = ShortLived::new(Duration::from_secs(access), Duration::from_secs(refresh));
        let session = SubscriberSession::builder(refresher.clone(), refresher.issue()).build();
        let _auto = session.spawn_auto_refresh();
        for _ in 0..600 {
            advance(Duration::from_secs(1)).await;
            let token = session.access_token().await.expect("a token");
            let pair = session.pair();
            assert_eq!(token.expose_secret(), pair.access_token().expose_secret());
            assert!(
                pair.access_expires_at() > Instant::now(),
                "({access} s, {refresh} s): the cache served an expired token"
            );
        }
        let refreshes = refresher.refreshes.load(Ordering::SeqCst);
        assert!(
            (fewest..=most).contains(&refreshes),
            "({access} s, {refresh} s): {refreshes} refreshes in 10 minutes"
        );
        assert_eq!(refresher.lapsed.load(Ordering::SeqCst), 0);
    }
}

/// Runs `test` on a current-thread runtime whose clock starts paused, on a thread of its
/// own, and fails if it has not finished after [`WATCHDOG`] of real time.
///
/// A paused clock moves on by itself only when every task is waiting; a task that keeps
/// polling instead of sleeping stops simulated time for good, and the test would hang
/// rather than fail. This watchdog times nothing: a healthy run takes well under a
/// second of simulated-time bookkeeping per simulated day.
const WATCHDOG: Duration = Duration::from_secs(120);

fn on_paused_clock<F: Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let runner = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        runtime.block_on(test());
        let _ = done.send(());
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "simulated time stopped: some task kept the runtime busy, so the paused clock could not advance"
        ),
    }
}

#[test]
fn auto_refresh_waits_for_a_scheduled_retry_instead_of_polling() {
    keep_log_capture_working();
    on_paused_clock(|| async {
        let limited = Arc::new(AtomicUsize::new(0));
        #[derive(Clone)]
        struct OnceLimited(Arc<AtomicUsize>);
        #[async_trait::async_trait]
        impl Refresher for OnceLimited {
            async fn refresh(&self, _: &RefreshToken) -> Result<TokenPair, Error> {
                match self.0.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(Error::rate_limited().with_retry_after(Duration::from_secs(60))),
                    n => Ok(testing::pair(&format!("after-{n}"))),
                }
            }
        }
        let session =
            SubscriberSession::builder(OnceLimited(Arc::clone(&limited)), testing::pair("first"))
                .build();
        let _auto = session.spawn_auto_refresh();
        // Past the first point, the 429, and the retry a minute later.
        tokio::time::sleep(LIFETIME).await;
        assert_eq!(limited.load(Ordering::SeqCst), 2, "one 429, one retry");
        assert_eq!(session.status().refreshes, 1);
    });
}

/// What a simulated day ended with.
#[derive(Debug)]
struct Day {
    sessions: usize,
    rotations: u64,
    rate_limited: u64,
    too_early: u64,
    lapsed: u64,
    refused: u64,
    ended: usize,
    expired_at_the_end: usize,
}

/// `users` subscribers signing in at random within a minute, each held by `siblings`
/// sessions sharing an [`InProcessCoordinator`], kept alive by `spawn_auto_refresh` for
/// `hours` against an [`Upstream`](testing::Upstream) allowing `limit` refreshes a second.
async fn simulate(
    schedule: RefreshSchedule,
    users: usize,
    siblings: usize,
    limit: u32,
    hours: u32,
) -> Day {
    let upstream = testing::Upstream::new(users * siblings, Some(limit), Duration::from_secs(5));
    let start = upstream.started();
    let mut rng = fastrand::Rng::with_seed(22);
    let mut sign_ins: Vec<Duration> = (0..users)
        .map(|_| Duration::from_millis(rng.u64(..60_000)))
        .collect();
    sign_ins.sort();
    let coordinator = InProcessCoordinator::new();
    let mut sessions = Vec::new();
    for (user, at) in sign_ins.into_iter().enumerate() {
        tokio::time::sleep_until(start + at).await;
        let key: SessionKey = format!("user-{user}").parse().expect("a valid key");
        for _ in 0..siblings {
            let created = Arc::clone(&upstream);
            let session = SubscriberSession::join_or_create(
                upstream.caller(sessions.len()),
                coordinator.clone(),
                key.clone(),
                0,
                || async move { Ok(created.create()) },
            )
            .await
            .expect("created or joined")
            .refresh_schedule(schedule)
            .build();
            sessions.push((session.spawn_auto_refresh(), session));
        }
    }
    tokio::time::sleep_until(start + HOUR * hours).await;
    let now = Instant::now();
    let tally = upstream.tally();
    Day {
        sessions: sessions.len(),
        rotations: tally.issued - users as u64,
        rate_limited: tally.rate_limited,
        too_early: tally.too_early,
        lapsed: tally.lapsed,
        refused: tally.refused,
        ended: sessions.iter().filter(|(_, s)| s.status().ended).count(),
        expired_at_the_end: sessions
            .iter()
            .filter(|(_, s)| s.pair().access_expires_at() <= now)
            .count(),
    }
}

#[test]
fn a_wave_of_429_answers_is_absorbed_and_every_session_keeps_a_valid_token() {
    keep_log_capture_working();
    on_paused_clock(|| async {
        // 1,000 users in a minute: with the default window, the first wave comes at about
        // one refresh a second, and bursts of 2 or more in a second are common, so an
        // upstream allowing one a second answers hundreds of 429s.
        for siblings in 1..=3 {
            let hours = if siblings == 1 { 24 } else { 6 };
            let day = simulate(DEFAULT_REFRESH_SCHEDULE, 1000, siblings, 1, hours).await;
            assert!(day.rate_limited >= 100, "the limit must bite: {day:?}");
            assert_eq!(day.sessions, 1000 * siblings);
            assert_eq!(
                day.too_early, 0,
                "Retry-After honoured by every session: {day:?}"
            );
            assert_eq!(
                day.lapsed, 0,
                "every refresh before its token expired: {day:?}"
            );
            assert_eq!(day.refused, 0, "no refresh token sent twice: {day:?}");
            assert_eq!(day.ended, 0, "no session ended: {day:?}");
            assert_eq!(day.expired_at_the_end, 0, "{day:?}");
            // Every user rotated every 1.5 to 1.8 hours.
            let per_user = day.rotations as f64 / 1000.0;
            let expected = f64::from(hours) / 1.65;
            assert!(
                (per_user - expected).abs() <= 1.0,
                "{per_user} rotations per user in {hours} h: {day:?}"
            );
        }
        // The checks above bite: the same upstream, with the schedule sessions had
        // before, cannot absorb the wave (1,000 refreshes due within two minutes, five
        // minutes before expiry), and tokens lapse.
        let day = simulate(RefreshSchedule::fixed_lead(DEFAULT_JITTER), 1000, 1, 1, 3).await;
        assert_eq!(day.too_early, 0, "{day:?}");
        assert!(day.lapsed > 0 || day.ended > 0, "{day:?}");
    });
}

#[test]
fn invalid_windows_are_refused_with_the_reason() {
    keep_log_capture_working();
    for (start, end) in [(0.9, 0.8), (-0.1, 0.5), (0.5, 1.1), (f64::NAN, 0.9)] {
        let error = RefreshSchedule::window(start, end).expect_err("invalid");
        assert!(
            error.to_string().contains("0 <= start <= end <= 1"),
            "{error}"
        );
    }
    assert_eq!(
        RefreshSchedule::window(0.75, 0.9)
            .expect("valid")
            .window_fractions(),
        DEFAULT_REFRESH_SCHEDULE.window_fractions()
    );
    assert_eq!(RefreshSchedule::default(), DEFAULT_REFRESH_SCHEDULE);
    assert_eq!(
        RefreshSchedule::fixed_lead(Duration::ZERO).window_fractions(),
        None
    );
}
