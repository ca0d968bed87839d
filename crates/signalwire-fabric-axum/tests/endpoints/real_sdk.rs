//! SignalWire's real browser SDK (`@signalwire/js`, the version the example's
//! `package.json` pins, from its npm install) against the token endpoints, in headless
//! Chromium: the example's page, driven tab by tab, through a load balancer in front of
//! one, two or three instances of the demo that share a coordinator and a sign-in store.
//!
//! Each test opens "rounds": a user signed in once, with one, two or three tabs (windows
//! sharing that sign-in's cookie), on a host name of its own (`r1.localhost`, ...:
//! Chromium keeps cookies per name, so rounds do not share a sign-in), behind a balancer
//! that sends the token requests to the round's instances in turn. The page records the
//! provider's calls and answers, the SDK's requests to SignalWire's hosts (with the token
//! each carries) and the SDK's errors; the balancer keeps the whole tokens, which are
//! checked against the fake space's records (whose subscriber each belongs to).
//!
//! What the SDK does (4.0.0-beta.12, `src/clients/SignalWire.ts`): `resolveCredentials`
//! calls `authenticate`, with the fingerprint of the key pair `CryptoController` makes
//! with Web Crypto when it can; `validateCredentials` refuses an `expiry_at` before
//! `Date.now()` and arms `scheduleCredentialRefresh`, which calls `refresh()`
//! `max(expiry_at − now − 5000, 1000)` ms later and, after a failure, retries after
//! `1000·2^attempt` ms randomly cut by up to half, five calls in all. Only once its
//! connection is up with proof of possession does `connect` clear that timer; the fake has
//! no connection to offer (the SDK's first request, to `https://fabric.signalwire.test`,
//! cannot resolve), so `refresh()` is always called here, as it is for a real app until
//! its connection is up.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signalwire_fabric::InProcessCoordinator;
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};

use crate::balancer::Balancer;
use crate::chromium::HeadlessChromium;
use crate::common::{now_ms, reference};
use crate::demo::{Demo, DemoSettings, Instance};

/// The longest any test waits for the page to get somewhere.
const PATIENCE: Duration = Duration::from_secs(60);

/// The fake, the demo's instances and the browser: what every test starts with.
struct World {
    fake: FakeSpace,
    instances: Vec<Instance>,
    browser: HeadlessChromium,
}

impl World {
    /// `instances` instances of the demo sharing one coordinator and one sign-in store,
    /// and a browser; `None` (said SKIPPED) without Chromium or the SDK, outside CI. The
    /// first token of each sign-in lives `token_life` (the demo's 12 s when `None`).
    async fn start(test: &str, instances: usize, token_life: Option<Duration>) -> Option<Self> {
        let browser = HeadlessChromium::start_or_skip(test).await?;
        let fake = FakeSpace::start().await;
        let defaults = DemoSettings::default();
        let settings = DemoSettings {
            token_lifetime: token_life.unwrap_or(defaults.token_lifetime),
            ..defaults
        };
        let demo = Demo::new(
            fake.client(),
            Arc::new(InProcessCoordinator::new()),
            settings,
        );
        let mut served = Vec::new();
        for _ in 0..instances {
            let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            served.push(demo.serve(any_port).await.expect("an instance starts"));
        }
        Some(Self {
            fake,
            instances: served,
            browser,
        })
    }

    /// A balancer in front of the first `count` instances.
    async fn balancer(&self, count: usize) -> Balancer {
        Balancer::start(self.instances[..count].iter().map(|i| i.addr).collect()).await
    }

    /// Opens round `number`: `user` signs in in a first window on `r<number>.localhost`,
    /// then `tabs - 1` more windows open there with the same sign-in.
    async fn open_round(
        &self,
        number: usize,
        user: &'static str,
        balancer: Balancer,
        tabs: usize,
    ) -> Round {
        let url = balancer.page_url(&format!("r{number}.localhost"));
        let mut windows = Vec::new();
        for tab in 0..tabs {
            windows.push(self.browser.open_window(&url).await);
            self.wait_until_loaded().await;
            if tab == 0 {
                let signed_in = self
                    .browser
                    .run("return window.demo.signIn(arguments[0]);", json!([user]))
                    .await;
                assert!(signed_in.is_null(), "round {number}: {signed_in}");
            }
        }
        Round {
            number,
            user,
            balancer,
            windows,
        }
    }

    async fn wait_until_loaded(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let state = self
                .browser
                .execute(
                    "return window.demo ? { loaded: window.demo.loaded, problem: window.demo.problem } : null;",
                    json!([]),
                )
                .await;
            if state["loaded"] == true {
                return;
            }
            if let Some(problem) = state["problem"].as_str() {
                panic!("the page cannot run the SDK: {problem}");
            }
            assert!(Instant::now() < deadline, "the page did not load: {state}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts an SDK client in every tab of `rounds`; `without_web_crypto` keeps it from
    /// making a key pair, so it authenticates without a fingerprint.
    async fn start_sdk(&self, rounds: &[&Round], without_web_crypto: bool) {
        for round in rounds {
            for window in &round.windows {
                self.browser.switch_to(window).await;
                let started = self
                    .browser
                    .execute(
                        "window.demo.start(arguments[0]); return null;",
                        json!([{ "withoutWebCrypto": without_web_crypto }]),
                    )
                    .await;
                assert!(started.is_null(), "round {}: {started}", round.number);
            }
        }
    }

    /// What the page recorded in `window`.
    async fn events(&self, window: &str) -> Events {
        self.browser.switch_to(window).await;
        let events = self
            .browser
            .execute("return window.demo.events;", json!([]))
            .await;
        Events(events.as_array().cloned().unwrap_or_default())
    }

    /// Waits until the tab `window` has recorded what `done` looks for; fails after
    /// [`PATIENCE`].
    async fn tab_until(&self, window: &str, what: &str, done: impl Fn(&Events) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let events = self.events(window).await;
            if done(&events) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what}:\n{}",
                events.summary()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every tab of `rounds` has recorded what `done` looks for; fails at
    /// once if the SDK refused a credential or gave up refreshing, and after
    /// [`PATIENCE`] otherwise. The tabs' events, round by round.
    async fn wait_until(
        &self,
        rounds: &[&Round],
        what: &str,
        done: impl Fn(&Events) -> bool,
    ) -> Vec<Vec<Events>> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut all = Vec::new();
            let mut finished = true;
            for round in rounds {
                let mut tabs = Vec::new();
                for window in &round.windows {
                    let events = self.events(window).await;
                    if let Some(fatal) = events.fatal_error() {
                        panic!(
                            "round {}: the SDK reported {fatal}\n{}",
                            round.number,
                            events.summary()
                        );
                    }
                    finished &= done(&events);
                    tabs.push(events);
                }
                all.push(tabs);
            }
            if finished {
                return all;
            }
            if Instant::now() > deadline {
                let summary: Vec<String> = all
                    .iter()
                    .flatten()
                    .map(|events| events.summary())
                    .collect();
                panic!(
                    "not every tab got to: {what}, in {PATIENCE:?}\n{}",
                    summary.join("\n---\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The subscriber a whole token belongs to, by the fake's records; fails for a token
    /// it never issued.
    fn subscriber_of(&self, token: &str) -> uuid::Uuid {
        self.fake
            .token_subscriber(token)
            .expect("a token the fake issued")
    }

    /// The subscriber the fake holds for `user` now.
    fn subscriber(&self, user: &str) -> uuid::Uuid {
        self.fake
            .subscriber_id(&reference(user))
            .expect("the user's subscriber")
    }
}

/// A user signed in once, with its tabs.
struct Round {
    number: usize,
    user: &'static str,
    balancer: Balancer,
    windows: Vec<String>,
}

impl Round {
    /// Every exchange of the round said `no-store`, and the token requests were answered
    /// by `instances` different instances.
    fn answered_by(&self, instances: usize) {
        let exchanges = self.balancer.exchanges();
        for exchange in &exchanges {
            assert_eq!(
                exchange.cache_control.as_deref(),
                Some("no-store"),
                "round {}: {} answered {} without no-store",
                self.number,
                exchange.endpoint,
                exchange.status
            );
        }
        let used: HashSet<usize> = exchanges.iter().map(|e| e.instance).collect();
        assert_eq!(
            used.len(),
            instances,
            "round {}: the token requests were answered by every instance",
            self.number
        );
    }
}

/// What the page recorded in one tab, oldest first.
struct Events(Vec<Value>);

impl Events {
    /// The provider's answered calls of `call` (`authenticate` or `refresh`).
    fn calls(&self, call: &str) -> Vec<&Value> {
        self.0
            .iter()
            .filter(|e| e["kind"] == "provider" && e["call"] == call && e["answeredAt"].is_u64())
            .collect()
    }

    fn answered(&self, call: &str, count: usize) -> bool {
        self.calls(call).len() >= count
    }

    /// The SDK's requests to SignalWire's hosts.
    fn sdk_requests(&self) -> Vec<&Value> {
        self.0
            .iter()
            .filter(|e| e["kind"] == "sdk-request")
            .collect()
    }

    /// An error that means the SDK refused our credential or gave up on refreshing.
    fn fatal_error(&self) -> Option<String> {
        self.0
            .iter()
            .filter(|e| e["kind"] == "sdk-error")
            .find(|e| {
                let name = e["name"].as_str().unwrap_or_default();
                name == "InvalidCredentialsError" || name == "TokenRefreshError"
            })
            .map(|e| format!("{}: {}", e["name"], e["message"]))
    }

    /// One line per event, times relative to the first (tokens by their tails only).
    fn summary(&self) -> String {
        let start = self.0.first().and_then(|e| e["at"].as_u64()).unwrap_or(0);
        let ms = |value: &Value| {
            value.as_u64().map_or("-".to_owned(), |at| {
                format!("+{}", at.saturating_sub(start))
            })
        };
        self.0
            .iter()
            .map(|e| match e["kind"].as_str().unwrap_or_default() {
                "provider" => format!(
                    "{} {}({}{}) -> {} {} {} expiry {}",
                    ms(&e["at"]),
                    e["call"].as_str().unwrap_or_default(),
                    if e["fingerprint"].is_string() {
                        "fingerprint"
                    } else {
                        ""
                    },
                    e["refused"]
                        .as_str()
                        .map(|t| format!("refused {t}"))
                        .unwrap_or_default(),
                    ms(&e["answeredAt"]),
                    e["status"],
                    e["token"]
                        .as_str()
                        .or(e["code"].as_str())
                        .unwrap_or_default(),
                    ms(&e["expiry_at"]),
                ),
                "sdk-request" => format!(
                    "{} the SDK asked {} with {}",
                    ms(&e["at"]),
                    e["url"].as_str().unwrap_or_default(),
                    e["token"].as_str().unwrap_or("no token")
                ),
                other => format!("{} {other} {}", ms(&e["at"]), e["message"]),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn millis(event: &Value, field: &str) -> u64 {
    event[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} of {event}"))
}

fn tail(event: &Value) -> &str {
    event["token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token in {event}"))
}

/// The SDK called `refresh` 5 s before `expiry_at` (by the browser's clock, which is the
/// machine's): never earlier, and not much later on a busy machine.
fn asked_five_seconds_before(refresh: &Value, expiry_at: u64, context: &str) {
    let at = millis(refresh, "at");
    assert!(
        at + 5_000 >= expiry_at && at + 3_000 <= expiry_at,
        "{context}: refresh() at {at}, {} ms before expiry_at {expiry_at}",
        expiry_at as i64 - at as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_fingerprint_every_tab_on_every_instance_gets_one_refresh_before_expiry_and_uses_it()
 {
    let test = "the real SDK without a fingerprint, 1 to 3 tabs and instances";
    let Some(world) = World::start(test, 3, None).await else {
        return;
    };
    let users = ["alice", "bob", "alice"];
    let mut rounds = Vec::new();
    for (index, user) in users.into_iter().enumerate() {
        let number = index + 1;
        let balancer = world.balancer(number).await;
        rounds.push(world.open_round(number, user, balancer, number).await);
    }
    let all: Vec<&Round> = rounds.iter().collect();
    world.start_sdk(&all, true).await;
    // Each tab until the SDK, after its refresh, made a request with what it holds: its
    // third ask for the subscriber's details, about 16.5 s after it started.
    let seen = world
        .wait_until(&all, "a request made after the refresh", |events| {
            let Some(refreshed) = events
                .calls("refresh")
                .first()
                .map(|e| millis(e, "answeredAt"))
            else {
                return false;
            };
            events
                .sdk_requests()
                .iter()
                .any(|request| millis(request, "at") > refreshed)
        })
        .await;

    let mut every_token = HashSet::new();
    for (round, tabs) in rounds.iter().zip(&seen) {
        let context = format!(
            "round {} ({}, {} tabs)",
            round.number,
            round.user,
            tabs.len()
        );
        let mut firsts = HashSet::new();
        let mut seconds = HashSet::new();
        for events in tabs {
            let summary = events.summary();
            let authenticates = events.calls("authenticate");
            assert_eq!(authenticates.len(), 1, "{context}\n{summary}");
            let first = authenticates[0];
            assert!(
                first["fingerprint"].is_null(),
                "{context}: no fingerprint\n{summary}"
            );
            assert_eq!(first["status"], 200, "{context}\n{summary}");
            let expiry_at = millis(first, "expiry_at");
            let answered = millis(first, "answeredAt");
            // Milliseconds, and the demo's 12 s (another tab may have started the
            // session a moment earlier; the expiry is rounded up to a whole second).
            assert!(
                expiry_at >= answered + 9_000 && expiry_at <= answered + 14_000,
                "{context}: expiry_at {expiry_at}, answered at {answered}"
            );
            let refreshes = events.calls("refresh");
            assert_eq!(refreshes.len(), 1, "{context}: one refresh\n{summary}");
            let refresh = refreshes[0];
            asked_five_seconds_before(refresh, expiry_at, &context);
            assert_eq!(refresh["status"], 200, "{context}\n{summary}");
            assert_ne!(tail(refresh), tail(first), "{context}: a new token");
            assert!(
                millis(refresh, "expiry_at") > now_ms() + 60 * 60 * 1000,
                "{context}: the refreshed token lives SignalWire's two hours"
            );
            // The token in use: every request the SDK made carried the token it held
            // then, the new one after the refresh.
            let refreshed_at = millis(refresh, "answeredAt");
            for request in events.sdk_requests() {
                let expected = if millis(request, "at") > refreshed_at {
                    tail(refresh)
                } else {
                    tail(first)
                };
                assert_eq!(request["token"], expected, "{context}\n{summary}");
            }
            for answer in [first, refresh] {
                let token = round.balancer.whole_token(tail(answer));
                assert_eq!(
                    world.subscriber_of(&token),
                    world.subscriber(round.user),
                    "{context}: the token is the user's own"
                );
            }
            firsts.insert(tail(first).to_owned());
            seconds.insert(tail(refresh).to_owned());
        }
        assert_eq!(firsts.len(), 1, "{context}: every tab got the same token");
        assert_eq!(seconds.len(), 1, "{context}: and the same refreshed token");
        for tail in firsts.iter().chain(&seconds) {
            assert!(
                every_token.insert(round.balancer.whole_token(tail)),
                "{context}: a token another round got"
            );
        }
        round.answered_by(round.number);
    }
    // One subscriber token and one refresh per sign-in, however many tabs and instances.
    assert_eq!(world.fake.request_count(Operation::Create), 3);
    assert_eq!(world.fake.answered_count(Operation::Refresh, 201), 3);
    assert_eq!(world.fake.refresh_count(), 3);
    world.browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_fingerprint_each_tab_gets_a_client_bound_token_then_refresh_gets_the_session_token()
{
    let test = "the real SDK with a fingerprint, 1 and 2 tabs";
    let Some(world) = World::start(test, 2, None).await else {
        return;
    };
    let mut rounds = Vec::new();
    for (number, user) in [(1, "alice"), (2, "bob")] {
        let balancer = world.balancer(number).await;
        rounds.push(world.open_round(number, user, balancer, number).await);
    }
    let all: Vec<&Round> = rounds.iter().collect();
    world.start_sdk(&all, false).await;
    let seen = world
        .wait_until(&all, "the SDK's refresh()", |events| {
            events.answered("refresh", 1)
        })
        .await;

    let journal = world.fake.journal();
    let mut fingerprints = HashSet::new();
    for (round, tabs) in rounds.iter().zip(&seen) {
        let context = format!(
            "round {} ({}, {} tabs)",
            round.number,
            round.user,
            tabs.len()
        );
        // The client-bound token answered for each key pair: one per fingerprint, the
        // same for tabs that share one (the service answers a token minted for the same
        // user and fingerprint again).
        let mut client_bound: HashMap<String, String> = HashMap::new();
        let mut session_tokens = HashSet::new();
        let mut round_fingerprints = HashSet::new();
        for events in tabs {
            let summary = events.summary();
            let authenticates = events.calls("authenticate");
            assert_eq!(authenticates.len(), 1, "{context}\n{summary}");
            let first = authenticates[0];
            let fingerprint = first["fingerprint"].as_str().unwrap_or_default();
            assert!(
                fingerprint.len() == 43
                    && fingerprint
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{context}: the SDK's fingerprint, 43 characters of base64url: {fingerprint:?}"
            );
            round_fingerprints.insert(fingerprint.to_owned());
            assert_eq!(first["status"], 200, "{context}\n{summary}");
            // The client-bound token: minted with the fingerprint and sat:refresh.
            let token = round.balancer.whole_token(tail(first));
            assert_eq!(world.subscriber_of(&token), world.subscriber(round.user));
            let kept = client_bound
                .entry(fingerprint.to_owned())
                .or_insert_with(|| token.clone());
            assert!(*kept == token, "{context}: one token per fingerprint");
            // Its connection never up, the SDK calls refresh() 5 s before that token's
            // expiry, and the service answers the user's session token.
            let expiry_at = millis(first, "expiry_at");
            let refresh = events.calls("refresh")[0];
            asked_five_seconds_before(refresh, expiry_at, &context);
            assert_eq!(refresh["status"], 200, "{context}\n{summary}");
            let session_token = round.balancer.whole_token(tail(refresh));
            assert_eq!(
                world.subscriber_of(&session_token),
                world.subscriber(round.user)
            );
            // A new session's first token: it lives the demo's 12 s again.
            let refreshed_expiry = millis(refresh, "expiry_at");
            let answered = millis(refresh, "answeredAt");
            assert!(
                refreshed_expiry >= answered + 9_000 && refreshed_expiry <= answered + 14_000,
                "{context}: the session token's expiry_at {refreshed_expiry}"
            );
            session_tokens.insert(session_token);
        }
        // Tabs started together may each make a key pair (the SDK keeps the last one in
        // the origin's IndexedDB); another origin never has the same one.
        assert!(
            fingerprints.is_disjoint(&round_fingerprints),
            "{context}: an origin's own key pair"
        );
        fingerprints.extend(round_fingerprints.iter().cloned());
        assert_eq!(client_bound.len(), round_fingerprints.len(), "{context}");
        let client_bound: HashSet<String> = client_bound.into_values().collect();
        assert_eq!(
            client_bound.len(),
            round_fingerprints.len(),
            "{context}: each fingerprint its own token"
        );
        assert_eq!(
            session_tokens.len(),
            1,
            "{context}: every tab's refresh got the same session token"
        );
        assert!(
            session_tokens.is_disjoint(&client_bound),
            "{context}: the session token replaced the client-bound ones"
        );
        // What SignalWire was asked: a client-bound token per key pair (per tab, unless
        // tabs shared one), then one session token.
        let creates: Vec<&Value> = journal
            .iter()
            .filter(|entry| entry.operation == Some(Operation::Create))
            .filter_map(|entry| entry.body.as_ref())
            .filter(|body| body["reference"] == reference(round.user))
            .collect();
        let bound = creates
            .iter()
            .filter(|body| {
                body["fingerprint"]
                    .as_str()
                    .is_some_and(|sent| round_fingerprints.contains(sent))
                    && body["scope"] == "sat:refresh"
            })
            .count();
        let unbound = creates
            .iter()
            .filter(|body| body["fingerprint"].is_null() && body["scope"].is_null())
            .count();
        assert_eq!((bound, unbound), (round_fingerprints.len(), 1), "{context}");
        round.answered_by(round.number);
    }
    assert_eq!(
        world.fake.refresh_count(),
        0,
        "nothing was due at SignalWire"
    );
    world.browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_signalwire_is_down_the_sdk_keeps_its_token_then_backs_off_and_recovers() {
    let test = "the real SDK while SignalWire is down, 2 tabs on 2 instances";
    let Some(world) = World::start(test, 2, None).await else {
        return;
    };
    let balancer = world.balancer(2).await;
    let round = world.open_round(1, "alice", balancer, 2).await;
    // SignalWire's refreshes fail from the start (creating tokens still works).
    world
        .fake
        .inject(Operation::Refresh, Fault::status(503), 100_000);
    world.start_sdk(&[&round], true).await;
    world
        .wait_until(&[&round], "two refreshes answered 503", |events| {
            events
                .calls("refresh")
                .iter()
                .filter(|e| e["status"] == 503)
                .count()
                >= 2
        })
        .await;
    world.fake.clear_faults();
    let seen = world
        .wait_until(
            &[&round],
            "a refresh answered 200 after the 503s",
            |events| {
                let calls = events.calls("refresh");
                calls.iter().any(|e| e["status"] == 503)
                    && calls.last().is_some_and(|e| e["status"] == 200)
            },
        )
        .await;

    let mut recovered = HashSet::new();
    for (tab, events) in seen[0].iter().enumerate() {
        let summary = events.summary();
        let context = format!("tab {tab}\n{summary}");
        let first = events.calls("authenticate")[0];
        let expiry_at = millis(first, "expiry_at");
        let calls = events.calls("refresh");
        asked_five_seconds_before(calls[0], expiry_at, &context);
        // While the token has time left, the service answers it (its refresh failed
        // upstream), and the SDK, seeing under 5 s left, asks again a second later.
        let kept = calls
            .iter()
            .take_while(|e| e["status"] == 200 && e["token"] == first["token"])
            .count();
        assert!(kept >= 1, "{context}");
        for pair in calls[..kept].windows(2) {
            let wait = millis(pair[1], "at") - millis(pair[0], "answeredAt");
            assert!((995..=2_000).contains(&wait), "{context}: waited {wait} ms");
            assert!(
                millis(pair[0], "answeredAt") <= expiry_at + 100,
                "{context}"
            );
        }
        // Once it expired: 503 upstream_unavailable, and the SDK's retries wait 1-2 s,
        // 2-4 s, ... (1000·2^attempt ms, cut by up to half at random).
        let failed = calls[kept..]
            .iter()
            .take_while(|e| e["status"] == 503)
            .count();
        assert!((2..=4).contains(&failed), "{context}");
        for (number, call) in calls[kept..kept + failed].iter().enumerate() {
            assert_eq!(call["code"], "upstream_unavailable", "{context}");
            assert!(millis(call, "at") + 100 >= expiry_at, "{context}");
            let previous = calls[kept + number - 1];
            let wait = millis(call, "at") - millis(previous, "answeredAt");
            if number == 0 {
                assert!((995..=2_000).contains(&wait), "{context}: waited {wait} ms");
            } else {
                let ceiling = 1_000u64 << number;
                assert!(
                    wait + 5 >= ceiling / 2 && wait <= ceiling + 1_000,
                    "{context}: retry {number} waited {wait} ms"
                );
            }
        }
        // SignalWire back: the next retry, after its own wait, gets a new token.
        assert_eq!(calls.len(), kept + failed + 1, "{context}");
        let last = calls[kept + failed];
        let ceiling = 1_000u64 << failed;
        let wait = millis(last, "at") - millis(calls[kept + failed - 1], "answeredAt");
        assert!(
            wait + 5 >= ceiling / 2 && wait <= ceiling + 1_000,
            "{context}: retry {failed} waited {wait} ms"
        );
        assert_eq!(last["status"], 200, "{context}");
        assert_ne!(last["token"], first["token"], "{context}");
        recovered.insert(round.balancer.whole_token(tail(last)));
    }
    assert_eq!(recovered.len(), 1, "both tabs got the same new token");
    let token = recovered.into_iter().next().unwrap_or_default();
    assert_eq!(world.subscriber_of(&token), world.subscriber("alice"));
    for exchange in round.balancer.exchanges() {
        if exchange.status == 503 {
            assert_eq!(exchange.body["error"]["code"], "upstream_unavailable");
        }
    }
    round.answered_by(2);
    assert_eq!(
        world.fake.answered_count(Operation::Refresh, 201),
        1,
        "one refresh once SignalWire was back, for both tabs"
    );
    assert_eq!(world.fake.request_count(Operation::Create), 1);
    world.browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_chain_died_gets_a_new_subscriber_token_from_the_sdks_refresh() {
    let test = "the real SDK after the user's chain died, 1 to 3 tabs and instances";
    // Time enough to kill the chains between the tokens' creation and the SDK's refresh.
    let Some(world) = World::start(test, 3, Some(Duration::from_secs(20))).await else {
        return;
    };
    let users = ["alice", "bob", "alice"];
    let mut rounds = Vec::new();
    for (index, user) in users.into_iter().enumerate() {
        let number = index + 1;
        let balancer = world.balancer(number).await;
        rounds.push(world.open_round(number, user, balancer, number).await);
    }
    let all: Vec<&Round> = rounds.iter().collect();
    world.start_sdk(&all, true).await;
    world
        .wait_until(&all, "authenticate", |events| {
            events.answered("authenticate", 1)
        })
        .await;
    // The subscribers are deleted: their refresh tokens die with them (token_invalid).
    let before = [world.subscriber("alice"), world.subscriber("bob")];
    for user in ["alice", "bob"] {
        let subscriber = world
            .fake
            .subscriber(&reference(user))
            .expect("the user's subscriber");
        world
            .fake
            .client()
            .subscribers()
            .delete(subscriber.resource_id.to_string())
            .await
            .expect("deleted");
    }
    let seen = world
        .wait_until(&all, "the SDK's refresh()", |events| {
            events.answered("refresh", 1)
        })
        .await;

    for (round, tabs) in rounds.iter().zip(&seen) {
        let context = format!(
            "round {} ({}, {} tabs)",
            round.number,
            round.user,
            tabs.len()
        );
        let mut news = HashSet::new();
        for events in tabs {
            let summary = events.summary();
            let first = events.calls("authenticate")[0];
            let refresh = events.calls("refresh")[0];
            asked_five_seconds_before(refresh, millis(first, "expiry_at"), &context);
            assert_eq!(refresh["status"], 200, "{context}\n{summary}");
            assert_ne!(tail(refresh), tail(first), "{context}");
            news.insert(round.balancer.whole_token(tail(refresh)));
        }
        assert_eq!(
            news.len(),
            1,
            "{context}: one new subscriber token for every tab"
        );
        let token = news.into_iter().next().unwrap_or_default();
        let now = world.subscriber(round.user);
        assert_eq!(world.subscriber_of(&token), now, "{context}");
        assert!(!before.contains(&now), "{context}: a new subscriber");
        round.answered_by(round.number);
    }
    assert_eq!(
        world.fake.answered_count(Operation::Refresh, 422),
        3,
        "each sign-in's dead chain was tried once"
    );
    assert_eq!(
        world.fake.request_count(Operation::Create),
        6,
        "then one new subscriber token per sign-in"
    );
    world.browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signalwire_refused_is_refreshed_once_and_every_tabs_new_client_gets_the_new_one() {
    let test = "the real SDK after SignalWire refused its token, 1 to 3 tabs and instances";
    // No refresh comes due while the tabs report.
    let Some(world) = World::start(test, 3, Some(Duration::from_secs(120))).await else {
        return;
    };
    let users = ["alice", "bob", "alice"];
    let mut rounds = Vec::new();
    for (index, user) in users.into_iter().enumerate() {
        let number = index + 1;
        let balancer = world.balancer(number).await;
        rounds.push(world.open_round(number, user, balancer, number).await);
    }
    let all: Vec<&Round> = rounds.iter().collect();
    world.start_sdk(&all, true).await;
    world
        .wait_until(&all, "authenticate", |events| {
            events.answered("authenticate", 1)
        })
        .await;
    // Long before the token is due, SignalWire refuses it (as the app learns from the
    // SDK's errors$): each tab reports it and starts a new client.
    let mut refreshes = 0;
    for round in &rounds {
        for (tab, window) in round.windows.iter().enumerate() {
            world.browser.switch_to(window).await;
            let reported = world
                .browser
                .run(
                    "return window.demo.reportRefused(arguments[0]);",
                    json!([{ "withoutWebCrypto": true }]),
                )
                .await;
            assert!(reported.is_null(), "round {}: {reported}", round.number);
            if tab == 0 {
                refreshes += 1;
            }
            assert_eq!(
                world.fake.answered_count(Operation::Refresh, 201),
                refreshes,
                "round {} tab {tab}: one refresh per round, whoever reports it",
                round.number
            );
            // The tab's new client has its token before the next tab reports: the
            // balancer then sends that authenticate, deterministically, to an instance the
            // report did not reach (see below).
            world
                .tab_until(window, "the new client's authenticate", |events| {
                    events.answered("authenticate", 2)
                })
                .await;
        }
    }
    let seen = world
        .wait_until(&all, "the new client's authenticate", |events| {
            events.answered("authenticate", 2)
        })
        .await;

    for (round, tabs) in rounds.iter().zip(&seen) {
        let context = format!(
            "round {} ({}, {} tabs)",
            round.number,
            round.user,
            tabs.len()
        );
        let mut news = HashSet::new();
        for events in tabs {
            let summary = events.summary();
            let authenticates = events.calls("authenticate");
            let (first, again) = (authenticates[0], authenticates[1]);
            let report = events.calls("refresh")[0];
            assert_eq!(report["refused"], first["token"], "{context}\n{summary}");
            assert_eq!(report["status"], 200, "{context}\n{summary}");
            assert_ne!(
                tail(report),
                tail(first),
                "{context}: not the refused token"
            );
            // (An instance that did not get the report may answer the refused token; the
            // page reports it there too, and that instance adopts the new one.)
            assert_eq!(again["token"], report["token"], "{context}\n{summary}");
            // The new client uses it: its request to SignalWire carries it.
            let restarted = millis(again, "answeredAt");
            assert!(
                events.sdk_requests().iter().any(|request| {
                    millis(request, "at") >= restarted && request["token"] == again["token"]
                }),
                "{context}\n{summary}"
            );
            news.insert(round.balancer.whole_token(tail(report)));
        }
        assert_eq!(news.len(), 1, "{context}: every tab has the same new token");
        let token = news.into_iter().next().unwrap_or_default();
        assert_eq!(world.subscriber_of(&token), world.subscriber(round.user));
        if round.number > 1 {
            // The balancer sent the first tab's new client's authenticate to the next
            // instance, which had not had the report: it answered the refused token, and
            // the page reported it again.
            let reported_again = tabs
                .iter()
                .filter(|events| events.calls("authenticate")[1]["reported"].is_u64())
                .count();
            assert!(
                reported_again > 0,
                "{context}: an instance answered the old token"
            );
        }
        round.answered_by(round.number);
    }
    assert_eq!(world.fake.refresh_count(), 3);
    assert_eq!(world.fake.request_count(Operation::Create), 3);
    world.browser.close().await;
}

#[test]
fn the_docs_name_the_sdk_version_the_tests_run() {
    let pinned = crate::demo::pinned_sdk_version().expect("package.json pins the SDK");
    assert!(
        !pinned.starts_with(['^', '~', '>', '<', '*']) && !pinned.contains(' '),
        "package.json pins an exact version, not {pinned}"
    );
    let lock: Value = serde_json::from_str(include_str!(
        "../../examples/browser_demo/package-lock.json"
    ))
    .expect("the lockfile is JSON");
    assert_eq!(
        lock["packages"]["node_modules/@signalwire/js"]["version"], pinned,
        "the lockfile holds the version package.json pins"
    );
    let named = format!("`@signalwire/js` {pinned}");
    for (file, text) in [
        (
            "docs/browser-sdk.md",
            include_str!("../../docs/browser-sdk.md"),
        ),
        ("README.md", include_str!("../../README.md")),
    ] {
        assert!(text.contains(&named), "{file} names {named}");
    }
}
