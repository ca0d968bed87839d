//! SubscriberSession's behaviour on tokio's paused clock, against a scripted refresher
//! (no sockets, so the clock only moves when a test moves it).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{access, refresh};
use signalwire_fabric::{
    AccessToken, DEFAULT_LEASE, Delivery, Error, ErrorCode, FieldError, FileStore, MemoryStore,
    RefreshToken, Refresher, SessionEnd, StoredTokenPair, SubscriberSession, TokenPair, TokenStore,
};
use tokio::time::{Instant, advance};

const MARGIN: Duration = Duration::from_secs(300);
const TICK: Duration = Duration::from_millis(1);

/// What the scripted refresher does on one call.
enum Step {
    Issue,
    Fail(Error),
}

/// A refresher that follows a script (issuing fresh pairs once it runs out), takes
/// `latency` of virtual time per call, and records every refresh token it was sent.
#[derive(Clone)]
struct Scripted {
    inner: Arc<ScriptedInner>,
}

struct ScriptedInner {
    script: Mutex<VecDeque<Step>>,
    latency: Duration,
    calls: AtomicUsize,
    sent: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(latency: Duration, script: impl IntoIterator<Item = Step>) -> Self {
        Self {
            inner: Arc::new(ScriptedInner {
                script: Mutex::new(script.into_iter().collect()),
                latency,
                calls: AtomicUsize::new(0),
                sent: Mutex::new(Vec::new()),
            }),
        }
    }

    fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    fn sent(&self) -> Vec<String> {
        self.inner.sent.lock().expect("not poisoned").clone()
    }
}

#[async_trait::async_trait]
impl Refresher for Scripted {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        let call = self.inner.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner
            .sent
            .lock()
            .expect("not poisoned")
            .push(refresh_token.expose_secret().to_owned());
        if !self.inner.latency.is_zero() {
            tokio::time::sleep(self.inner.latency).await;
        }
        let step = self
            .inner
            .script
            .lock()
            .expect("not poisoned")
            .pop_front()
            .unwrap_or(Step::Issue);
        match step {
            Step::Issue => Ok(issued(&format!("gen{call}"))),
            Step::Fail(error) => Err(error),
        }
    }
}

fn issued(seed: &str) -> TokenPair {
    TokenPair::issued_at(
        AccessToken::parse(access(seed)).expect("valid"),
        RefreshToken::parse(refresh(seed)).expect("valid"),
        Instant::now(),
    )
}

fn new_session(refresher: &Scripted) -> SubscriberSession {
    SubscriberSession::builder(refresher.clone(), issued("first"))
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .build()
}

fn unavailable() -> Error {
    Error::server(503)
}

fn rejected(code: ErrorCode) -> Error {
    Error::rejected([FieldError::new(code, "refused").with_attribute("refresh_token")])
}

fn token_text(token: &AccessToken) -> &str {
    token.expose_secret()
}

#[tokio::test(start_paused = true)]
async fn the_cached_token_is_returned_until_the_margin_and_refreshed_at_it() {
    let refresher = Scripted::new(Duration::ZERO, []);
    let session = new_session(&refresher);

    advance(Duration::from_secs(7200) - MARGIN - TICK).await;
    let token = session.access_token().await.expect("still cached");
    assert_eq!(token_text(&token), access("first"));
    assert_eq!(
        refresher.calls(),
        0,
        "one tick before the margin: no refresh"
    );

    advance(TICK).await;
    let token = session.access_token().await.expect("refreshed");
    assert_eq!(refresher.calls(), 1, "at the margin: exactly one refresh");
    assert_eq!(token_text(&token), access("gen1"));

    advance(TICK).await;
    assert_eq!(
        token_text(&session.access_token().await.expect("cached")),
        access("gen1")
    );
    assert_eq!(refresher.calls(), 1, "after it: the new pair is cached");
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_callers_share_one_refresh() {
    let refresher = Scripted::new(Duration::from_secs(2), []);
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;

    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.access_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.expect("no panic").expect("a token"));
    }
    assert_eq!(
        refresher.calls(),
        1,
        "exactly one refresh for 1,000 callers"
    );
    assert!(
        tokens
            .iter()
            .all(|token| token_text(token) == access("gen1")),
        "every caller got the new token"
    );
}

#[tokio::test(start_paused = true)]
async fn each_refresh_token_is_sent_once_and_the_newest_pair_is_stored_first() {
    /// A store that takes a while to save and remembers every refresh token it saved.
    #[derive(Clone, Default)]
    struct SlowStore(Arc<Mutex<Vec<String>>>);
    #[async_trait::async_trait]
    impl TokenStore for SlowStore {
        async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
            Ok(None)
        }
        async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
            tokio::time::sleep(Duration::from_secs(5)).await;
            self.0
                .lock()
                .expect("not poisoned")
                .push(pair.refresh_token().expose_secret().to_owned());
            Ok(())
        }
    }
    let store = SlowStore::default();
    let refresher = Scripted::new(Duration::ZERO, []);
    let session = SubscriberSession::builder(refresher.clone(), issued("first"))
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .store(store.clone())
        .build();

    for generation in 1..=3 {
        advance(Duration::from_secs(7200) - MARGIN).await;
        let token = session.access_token().await.expect("refreshed");
        assert_eq!(token_text(&token), access(&format!("gen{generation}")));
        let saved = store.0.lock().expect("not poisoned").clone();
        assert_eq!(
            saved.last().map(String::as_str),
            Some(refresh(&format!("gen{generation}")).as_str()),
            "the pair whose access token we hold is already stored"
        );
    }
    assert_eq!(
        refresher.sent(),
        vec![refresh("first"), refresh("gen1"), refresh("gen2")],
        "every refresh token was sent exactly once, oldest first"
    );
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_does_not_cancel_the_exchange() {
    let refresher = Scripted::new(Duration::from_secs(10), []);
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;

    let impatient = tokio::time::timeout(Duration::from_secs(1), session.access_token()).await;
    assert!(impatient.is_err(), "the caller stopped waiting after 1 s");
    advance(Duration::from_secs(10)).await;
    tokio::task::yield_now().await;

    assert_eq!(
        session.status().refreshes,
        1,
        "the exchange finished without a waiter"
    );
    let token = session.access_token().await.expect("the new pair");
    assert_eq!(token_text(&token), access("gen1"));
    assert_eq!(
        refresher.calls(),
        1,
        "nothing was lost, so nothing was sent again"
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_keep_the_valid_token_and_retry_until_success() {
    let refresher = Scripted::new(
        Duration::ZERO,
        [
            Step::Fail(unavailable()),
            Step::Fail(unavailable()),
            Step::Issue,
        ],
    );
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;

    let token = session.access_token().await.expect("the still-valid token");
    assert_eq!(
        token_text(&token),
        access("first"),
        "a failed refresh never replaces a valid token"
    );
    assert_eq!(refresher.calls(), 1);
    let status = session.status();
    assert_eq!(status.failed_attempts, 1);
    assert!(
        matches!(status.last_error, Some(Error::Server { status: 503, .. })),
        "{status:?}"
    );
    assert!(!status.ended);

    // Backoff: the first wait is at most 0.5 s, the second at most 1 s (default policy).
    for _ in 0..10 {
        advance(Duration::from_millis(500)).await;
    }
    assert_eq!(refresher.calls(), 3, "retried with backoff until it worked");
    let token = session.access_token().await.expect("refreshed");
    assert_eq!(token_text(&token), access("gen3"));
    assert_eq!(session.status().failed_attempts, 0);
    assert!(session.status().last_error.is_none());
}

#[tokio::test(start_paused = true)]
async fn with_the_token_expired_a_caller_gets_the_attempts_error() {
    let refresher = Scripted::new(Duration::ZERO, [Step::Fail(unavailable())]);
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200)).await;

    let error = session
        .access_token()
        .await
        .expect_err("expired, and the refresh failed");
    assert!(
        matches!(error, Error::Server { status: 503, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_is_never_the_answer_to_the_caller_who_reported_it() {
    let refresher = Scripted::new(
        Duration::ZERO,
        [Step::Fail(unavailable()), Step::Fail(unavailable())],
    );
    let session = new_session(&refresher);
    let refused = session.access_token().await.expect("the first token");

    // Plenty of time left by the clock, but a server refused it and the refresh fails.
    let error = session
        .refresh_if_current(&refused)
        .await
        .expect_err("the refresh failed, and the refused token is no answer");
    assert!(
        matches!(error, Error::Server { status: 503, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(refresher.calls(), 1);
    // Reported again while the retry waits: the same error, no extra request.
    let again = session
        .refresh_if_current(&refused)
        .await
        .expect_err("still failing");
    assert!(
        matches!(again, Error::Server { status: 503, .. }),
        "{again:?}"
    );
    assert_eq!(refresher.calls(), 1);
    // Callers that saw no refusal keep the still-valid token meanwhile.
    assert_eq!(
        token_text(&session.access_token().await.expect("valid")),
        access("first")
    );

    // Once a retry works, the caller gets the new token.
    for _ in 0..10 {
        advance(Duration::from_millis(500)).await;
    }
    let newer = session
        .refresh_if_current(&refused)
        .await
        .expect("refreshed by the retries");
    assert_eq!(token_text(&newer), access("gen3"));
    assert_eq!(refresher.calls(), 3);
}

/// Hands out the same pair on every refresh, as a server may for a token it refreshed
/// a moment ago.
#[derive(Clone, Default)]
struct SamePair(Arc<AtomicUsize>);

#[async_trait::async_trait]
impl Refresher for SamePair {
    async fn refresh(&self, _refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(issued("first"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_successful_refresh_answers_its_token_even_if_it_is_the_one_reported_refused() {
    let refresher = SamePair::default();
    let session = SubscriberSession::builder(refresher.clone(), issued("first"))
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .build();
    let refused = session.access_token().await.expect("the first token");
    let answered = session
        .refresh_if_current(&refused)
        .await
        .expect("the refresh worked, and its token is the answer");
    assert_eq!(token_text(&answered), token_text(&refused));
    assert_eq!(refresher.0.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let rate_limited = Error::rate_limited().with_retry_after(Duration::from_secs(120));
    let refresher = Scripted::new(Duration::ZERO, [Step::Fail(rate_limited)]);
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;
    session.access_token().await.expect("still valid");
    assert_eq!(refresher.calls(), 1);

    advance(Duration::from_secs(119)).await;
    tokio::task::yield_now().await;
    assert_eq!(refresher.calls(), 1, "no retry before Retry-After");
    advance(Duration::from_secs(1)).await;
    tokio::task::yield_now().await;
    assert_eq!(refresher.calls(), 2, "retried once Retry-After passed");
}

#[tokio::test(start_paused = true)]
async fn permanent_refusals_end_the_session_for_every_caller() {
    let refusals = [
        rejected(ErrorCode::TokenExpired),
        rejected(ErrorCode::NotARefreshToken),
        rejected(ErrorCode::TokenInvalid),
        rejected(ErrorCode::InvalidTokenFormat),
        Error::unauthorized().with_message("Unauthorized"),
    ];
    for refusal in refusals {
        let shown = refusal.to_string();
        let refresher = Scripted::new(Duration::ZERO, [Step::Fail(refusal)]);
        let session = new_session(&refresher);
        advance(Duration::from_secs(7200) - MARGIN).await;

        for _ in 0..3 {
            let error = session.access_token().await.expect_err("ended");
            let Error::SessionEnded {
                reason: SessionEnd::Refused,
                cause: Some(cause),
                ..
            } = &error
            else {
                panic!("{shown}: {error:?}");
            };
            assert_eq!(cause.to_string(), shown);
            assert!(error.requires_new_subscriber_token());
            assert!(!error.is_retryable());
        }
        advance(Duration::from_secs(3600)).await;
        tokio::task::yield_now().await;
        assert_eq!(
            refresher.calls(),
            1,
            "{shown}: no retry after a permanent refusal"
        );
        assert!(session.status().ended);
    }
}

#[tokio::test(start_paused = true)]
async fn retries_stop_when_the_refresh_token_expires() {
    let refresher = Scripted::new(
        Duration::ZERO,
        (0..10_000).map(|_| Step::Fail(unavailable())),
    );
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;
    session.access_token().await.expect("still valid");

    // The refresh token lives 7500 s; step through the remaining 600 s and beyond.
    for _ in 0..700 {
        advance(Duration::from_secs(1)).await;
    }
    let calls = refresher.calls();
    assert!(
        calls > 10,
        "kept retrying while the refresh token lived: {calls}"
    );
    let error = session.access_token().await.expect_err("ended");
    match &error {
        Error::SessionEnded {
            reason: SessionEnd::RefreshTokenExpired,
            cause: Some(cause),
            ..
        } => assert_eq!(
            cause.status(),
            Some(503),
            "the last attempt's answer is kept"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains(
            "ran out of time before a refresh succeeded (the last attempt: server error 503"
        ),
        "{error}"
    );
    advance(Duration::from_secs(3600)).await;
    assert_eq!(
        refresher.calls(),
        calls,
        "no attempt after the refresh token expired"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_is_retried_with_the_same_token_and_ends_if_reuse_is_refused() {
    let lost = || Error::transport("timed out", Delivery::Unknown);

    // A server that tolerates reuse: the retry gets a new pair.
    let tolerant = Scripted::new(Duration::ZERO, [Step::Fail(lost()), Step::Issue]);
    let session = new_session(&tolerant);
    advance(Duration::from_secs(7200)).await;
    assert!(
        session.access_token().await.is_err(),
        "the token expired and the answer was lost"
    );
    advance(Duration::from_secs(1)).await;
    let token = session.access_token().await.expect("the retry worked");
    assert_eq!(token_text(&token), access("gen2"));
    assert_eq!(tolerant.sent(), vec![refresh("first"), refresh("first")]);

    // A server with single-use tokens: the retry is refused and the session ends.
    let strict = Scripted::new(
        Duration::ZERO,
        [
            Step::Fail(lost()),
            Step::Fail(rejected(ErrorCode::TokenInvalid)),
        ],
    );
    let session = new_session(&strict);
    advance(Duration::from_secs(7200)).await;
    assert!(session.access_token().await.is_err());
    advance(Duration::from_secs(1)).await;
    let error = session.access_token().await.expect_err("reuse refused");
    assert!(error.requires_new_subscriber_token(), "{error:?}");
    assert_eq!(strict.sent(), vec![refresh("first"), refresh("first")]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_never_drops_the_new_pair_and_the_save_is_retried() {
    #[derive(Clone, Default)]
    struct FlakyStore {
        failures_left: Arc<AtomicUsize>,
        saved: Arc<Mutex<Option<StoredTokenPair>>>,
    }
    #[async_trait::async_trait]
    impl TokenStore for FlakyStore {
        async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
            Ok(self.saved.lock().expect("not poisoned").clone())
        }
        async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
            if self.failures_left.load(Ordering::SeqCst) > 0 {
                self.failures_left.fetch_sub(1, Ordering::SeqCst);
                return Err(Error::store("disk full"));
            }
            *self.saved.lock().expect("not poisoned") = Some(pair.clone());
            Ok(())
        }
    }
    let store = FlakyStore::default();
    let refresher = Scripted::new(Duration::ZERO, []);
    let session = SubscriberSession::builder(refresher.clone(), issued("first"))
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .store(store.clone())
        .build();
    advance(Duration::from_secs(7200) - MARGIN).await;
    store.failures_left.store(3, Ordering::SeqCst);

    let token = session
        .access_token()
        .await
        .expect("the new pair, kept in memory");
    assert_eq!(token_text(&token), access("gen1"));
    let status = session.status();
    assert!(!status.saved, "{status:?}");
    assert!(
        matches!(status.last_error, Some(Error::Store { .. })),
        "{status:?}"
    );

    for _ in 0..10 {
        advance(Duration::from_secs(1)).await;
    }
    assert!(
        session.status().saved,
        "the save was retried until it worked"
    );
    let stored = store
        .saved
        .lock()
        .expect("not poisoned")
        .clone()
        .expect("saved");
    assert_eq!(stored.refresh_token().expose_secret(), refresh("gen1"));
    assert_eq!(refresher.calls(), 1, "saving again did not refresh again");
}

#[tokio::test(start_paused = true)]
async fn each_session_adds_its_own_jitter_to_the_margin() {
    let refresher = Scripted::new(Duration::ZERO, []);
    let refresh_ins: Vec<Duration> = (0..200)
        .map(|_| {
            SubscriberSession::builder(refresher.clone(), issued("first"))
                .refresh_ahead(MARGIN)
                .jitter(Duration::from_secs(60))
                .build()
                .status()
                .refresh_in
        })
        .collect();
    let earliest = Duration::from_secs(7200) - MARGIN - Duration::from_secs(60);
    let latest = Duration::from_secs(7200) - MARGIN;
    assert!(
        refresh_ins.iter().all(|d| *d > earliest && *d <= latest),
        "{refresh_ins:?}"
    );
    let mut distinct = refresh_ins.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() > 150,
        "sessions spread out: {} distinct of 200",
        distinct.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_token_is_refreshed_half_way_not_continuously() {
    let refresher = Scripted::new(Duration::ZERO, []);
    let pair = TokenPair::new(
        AccessToken::parse(access("short")).expect("valid"),
        RefreshToken::parse(refresh("short")).expect("valid"),
        Instant::now() + Duration::from_secs(60),
        Instant::now() + Duration::from_secs(7500),
    );
    let session = SubscriberSession::builder(refresher.clone(), pair)
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .build();
    assert_eq!(session.status().refresh_in, Duration::from_secs(30));
    advance(Duration::from_secs(29)).await;
    session.access_token().await.expect("cached");
    assert_eq!(refresher.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn auto_refresh_refreshes_on_schedule_and_stops_when_dropped() {
    let refresher = Scripted::new(Duration::ZERO, []);
    let session = new_session(&refresher);
    let auto = session.spawn_auto_refresh();

    advance(Duration::from_secs(7200) - MARGIN).await;
    tokio::task::yield_now().await;
    assert_eq!(refresher.calls(), 1, "refreshed with no caller asking");
    assert_eq!(session.status().refreshes, 1);

    drop(auto);
    advance(Duration::from_secs(7200)).await;
    tokio::task::yield_now().await;
    assert_eq!(refresher.calls(), 1, "nothing after the handle was dropped");
}

#[tokio::test(start_paused = true)]
async fn auto_refresh_stops_when_the_session_is_gone_or_ended() {
    let refresher = Scripted::new(
        Duration::ZERO,
        [Step::Fail(rejected(ErrorCode::TokenInvalid))],
    );
    let session = new_session(&refresher);
    let auto = session.spawn_auto_refresh();
    advance(Duration::from_secs(7200) - MARGIN).await;
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    assert!(session.status().ended);
    assert!(auto.is_finished(), "stopped once the session ended");

    let refresher = Scripted::new(Duration::ZERO, []);
    let session = new_session(&refresher);
    let auto = session.spawn_auto_refresh();
    drop(session);
    advance(Duration::from_secs(7200)).await;
    tokio::task::yield_now().await;
    assert!(
        auto.is_finished(),
        "stopped once every session handle was dropped"
    );
    assert_eq!(refresher.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_session_restored_from_its_file_has_the_same_pair_and_expiry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tokens.json");
    let refresher = Scripted::new(Duration::ZERO, []);
    let session = SubscriberSession::builder(refresher.clone(), issued("first"))
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .store(FileStore::new(&path))
        .build();
    advance(Duration::from_secs(7200) - MARGIN).await;
    session.access_token().await.expect("refreshed and saved");
    let before = session.status();
    drop(session);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path)
            .expect("written")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "only the owner may read the tokens");
    }
    let restored = SubscriberSession::restore(refresher.clone(), FileStore::new(&path))
        .await
        .expect("a pair is stored")
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .build();
    let token = restored.access_token().await.expect("cached");
    assert_eq!(token_text(&token), access("gen1"));
    let after = restored.status();
    assert!(after.saved);
    assert!(
        after.access_expires_in.abs_diff(before.access_expires_in) <= Duration::from_secs(1),
        "{after:?}"
    );
    assert!(after.refresh_expires_in.abs_diff(before.refresh_expires_in) <= Duration::from_secs(1));
    assert_eq!(refresher.calls(), 1);
}

#[tokio::test]
async fn restoring_from_an_empty_store_says_so() {
    let refresher = Scripted::new(Duration::ZERO, []);
    let error = SubscriberSession::restore(refresher, MemoryStore::new())
        .await
        .expect_err("empty");
    assert_eq!(
        error.to_string(),
        "token store: the store holds no pair to restore"
    );
}

#[tokio::test(start_paused = true)]
async fn status_and_debug_show_no_secret() {
    let refresher = Scripted::new(Duration::ZERO, [Step::Fail(unavailable())]);
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;
    session.access_token().await.expect("valid");
    let shown = format!("{session:?} {:?}", session.status());
    for secret in [access("first"), refresh("first")] {
        assert!(!shown.contains(&secret[..40]), "{shown}");
    }
    assert!(shown.contains("failed_attempts: 1"), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn a_refresh_token_is_sent_one_tick_before_its_expiry_but_not_at_it() {
    for (left, sent) in [(TICK, true), (Duration::ZERO, false)] {
        let refresher = Scripted::new(Duration::ZERO, []);
        let now = Instant::now();
        let pair = TokenPair::new(
            AccessToken::parse(access("old")).expect("valid"),
            RefreshToken::parse(refresh("old")).expect("valid"),
            now,
            now + left,
        );
        let session = SubscriberSession::builder(refresher.clone(), pair)
            .jitter(Duration::ZERO)
            .build();
        let result = session.access_token().await;
        assert_eq!(
            refresher.calls(),
            usize::from(sent),
            "refresh token with {left:?} left"
        );
        if sent {
            assert_eq!(token_text(&result.expect("refreshed")), access("gen1"));
        } else {
            assert!(
                matches!(
                    result,
                    Err(Error::SessionEnded {
                        reason: SessionEnd::RefreshTokenExpired,
                        cause: None,
                        ..
                    })
                ),
                "{result:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn refreshes_are_traced_with_attempts_and_durations_but_no_secret() {
    let (captured, _guard) = signalwire_fabric::testing::CapturedLogs::for_this_thread();

    let refresher = Scripted::new(
        Duration::from_millis(250),
        [
            Step::Fail(unavailable()),
            Step::Issue,
            Step::Fail(rejected(ErrorCode::TokenInvalid)),
        ],
    );
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;
    session.access_token().await.expect("still valid");
    for _ in 0..10 {
        advance(Duration::from_millis(500)).await;
    }
    assert_eq!(session.status().refreshes, 1);
    advance(Duration::from_secs(7200)).await;
    assert!(session.access_token().await.is_err(), "ended");

    let log = captured.text();
    let lines: Vec<&str> = log.lines().collect();
    let find = |needle: &str| lines.iter().filter(|line| line.contains(needle)).count();
    assert_eq!(find("subscriber token refresh started"), 3, "{log}");
    assert_eq!(
        find("subscriber token refresh failed; will retry"),
        1,
        "{log}"
    );
    assert_eq!(find("subscriber token refresh succeeded"), 1, "{log}");
    assert_eq!(
        find("subscriber token refresh refused; the session has ended"),
        1,
        "{log}"
    );
    assert!(
        lines.iter().any(|l| l.contains("succeeded")
            && l.contains("attempt=2")
            && l.contains("elapsed_ms=")),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("will retry") && l.contains("attempt=1") && l.contains("wait_ms=")),
        "{log}"
    );
    for seed in ["first", "gen1", "gen2", "gen3"] {
        for secret in [access(seed), refresh(seed)] {
            assert!(!log.contains(&secret[..40]), "a token leaked into the log");
        }
    }
}

fn unavailable_for(retry_after: Duration) -> Error {
    Error::server(503)
        .with_message("down for maintenance")
        .with_retry_after(retry_after)
}

/// Waits for `future` on the paused clock, failing the test if it would wait an hour:
/// a session that wedges shows up as this timeout instead of a hung test.
async fn within_an_hour<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(3600), future)
        .await
        .expect("the call returned instead of hanging")
}

#[tokio::test(start_paused = true)]
async fn a_huge_retry_after_neither_panics_nor_wedges_the_session() {
    let refresher = Scripted::new(Duration::ZERO, [Step::Fail(unavailable_for(Duration::MAX))]);
    let session = new_session(&refresher);
    advance(Duration::from_secs(7200) - MARGIN).await;
    let token = within_an_hour(session.access_token())
        .await
        .expect("still valid");
    assert_eq!(token_text(&token), access("first"));
    assert_eq!(refresher.calls(), 1);

    // The access token expires; the server asked for an endless wait. Callers get the
    // attempt's error at once, every time, instead of hanging.
    advance(MARGIN + TICK).await;
    for _ in 0..3 {
        let error = within_an_hour(session.access_token())
            .await
            .expect_err("expired");
        assert_eq!(error.status(), Some(503), "{error:?}");
        assert!(error.is_retryable());
    }
    assert!(!session.status().ended);
    assert_eq!(
        refresher.calls(),
        1,
        "the wait the server asked for is honoured"
    );

    // At the last safe moment before the refresh token expires, it tries once more.
    let refresh_left = Duration::from_secs(7500 - 7200) - TICK;
    advance(refresh_left - Duration::from_secs(30)).await;
    let token = within_an_hour(session.access_token())
        .await
        .expect("refreshed");
    assert_eq!(token_text(&token), access("gen2"));
    assert_eq!(refresher.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_refresh_tokens_life_gets_one_last_attempt_and_keeps_the_answer() {
    // Due in 5 minutes, with 35 minutes of refresh token left then; the server asks for
    // an hour, twice.
    let refresher = Scripted::new(
        Duration::ZERO,
        [
            Step::Fail(unavailable_for(Duration::from_secs(3600))),
            Step::Fail(unavailable_for(Duration::from_secs(3600))),
        ],
    );
    let now = Instant::now();
    let pair = TokenPair::new(
        AccessToken::parse(access("old")).expect("valid"),
        RefreshToken::parse(refresh("old")).expect("valid"),
        now + Duration::from_secs(10 * 60),
        now + Duration::from_secs(40 * 60),
    );
    let session = SubscriberSession::builder(refresher.clone(), pair)
        .refresh_ahead(Duration::from_secs(5 * 60))
        .jitter(Duration::ZERO)
        .build();
    advance(Duration::from_secs(5 * 60)).await;
    let token = within_an_hour(session.access_token()).await;
    assert!(token.is_ok(), "the access token is still valid: {token:?}");
    assert_eq!(refresher.calls(), 1);
    assert!(
        !session.status().ended,
        "the session does not end while its refresh token has 35 minutes left"
    );

    advance(Duration::from_secs(34 * 60)).await;
    tokio::task::yield_now().await;
    assert_eq!(refresher.calls(), 1, "nothing before the last safe moment");
    advance(Duration::from_secs(30)).await;
    let error = within_an_hour(session.access_token())
        .await
        .expect_err("ended");
    assert_eq!(
        refresher.calls(),
        2,
        "one last attempt 30 s before the expiry"
    );
    match &error {
        Error::SessionEnded {
            reason: SessionEnd::RefreshTokenExpired,
            cause: Some(cause),
            ..
        } => {
            assert_eq!(cause.status(), Some(503));
            assert_eq!(cause.retry_after(), Some(Duration::from_secs(3600)));
        }
        other => panic!("{other:?}"),
    }
    let shown = error.to_string();
    assert!(
        shown.contains("server error 503 (server says: down for maintenance)")
            && !shown.contains("has expired"),
        "{shown}"
    );
}

/// A refresher that panics on its first call, then issues pairs.
#[derive(Clone, Default)]
struct PanicsOnce(Arc<AtomicUsize>);

#[async_trait::async_trait]
impl Refresher for PanicsOnce {
    async fn refresh(&self, _refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        let call = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if call == 1 {
            panic!("a refresher bug");
        }
        Ok(issued(&format!("gen{call}")))
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_refresher_wakes_its_waiters_and_the_next_call_starts_again() {
    let refresher = PanicsOnce::default();
    let now = Instant::now();
    let expired = TokenPair::new(
        AccessToken::parse(access("old")).expect("valid"),
        RefreshToken::parse(refresh("old")).expect("valid"),
        now,
        now + Duration::from_secs(3600),
    );
    let session = SubscriberSession::builder(refresher.clone(), expired)
        .jitter(Duration::ZERO)
        .build();
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.access_token().await })
        })
        .collect();
    for waiter in waiters {
        let result = within_an_hour(waiter)
            .await
            .expect("the caller itself did not panic");
        assert!(
            matches!(result, Err(Error::RefreshInterrupted)),
            "{result:?}"
        );
    }
    assert!(Error::RefreshInterrupted.is_retryable());
    let token = within_an_hour(session.access_token())
        .await
        .expect("a new worker refreshes");
    assert_eq!(token_text(&token), access("gen2"));
    assert_eq!(refresher.0.load(Ordering::SeqCst), 2);
}

/// An "old" pair with ten minutes of access left (an hour of refresh), and when its
/// access token expires.
fn ten_minutes_left() -> (TokenPair, Instant) {
    let now = Instant::now();
    let expires = now + Duration::from_secs(600);
    let pair = TokenPair::new(
        AccessToken::parse(access("old")).expect("valid"),
        RefreshToken::parse(refresh("old")).expect("valid"),
        expires,
        now + Duration::from_secs(3600),
    );
    (pair, expires)
}

/// The same bug while the token is still valid: the next call answers that token and
/// starts the refresh again at once, ahead of expiry, rather than leaving it until the
/// token has run out.
#[tokio::test(start_paused = true)]
async fn a_refresh_that_panicked_while_the_token_is_valid_is_started_again_by_the_next_call() {
    let refresher = PanicsOnce::default();
    let (pair, expires) = ten_minutes_left();
    let session = SubscriberSession::builder(refresher.clone(), pair)
        .jitter(Duration::ZERO)
        .build();
    // Past its refresh point, still valid.
    let refresh_in = session.status().refresh_in;
    assert!(refresh_in < Duration::from_secs(590), "{refresh_in:?}");
    tokio::time::advance(refresh_in + Duration::from_secs(1)).await;
    let first = within_an_hour(session.access_token())
        .await
        .expect("the valid token, after the attempt that panicked");
    assert_eq!(token_text(&first), access("old"));
    assert_eq!(refresher.0.load(Ordering::SeqCst), 1);
    // The next call still gets the valid token, and the refresh starts again.
    let second = session.access_token().await.expect("the valid token");
    assert_eq!(token_text(&second), access("old"));
    // (After the lease the attempt that panicked held has run out.)
    tokio::time::sleep(DEFAULT_LEASE + Duration::from_secs(2)).await;
    assert!(Instant::now() < expires);
    assert_eq!(refresher.0.load(Ordering::SeqCst), 2, "refreshed again");
    assert_eq!(session.status().refreshes, 1);
    let third = session.access_token().await.expect("the new token");
    assert_eq!(token_text(&third), access("gen2"));
}

/// The same with 1, 2 and 3 siblings sharing the subscriber: after the holder's refresh
/// panicked, the holder's next call starts it again once the lease it held has run
/// out, and every sibling ends on that one new pair, ahead of expiry, with one refresh.
#[tokio::test(start_paused = true)]
async fn after_a_refresh_panicked_while_valid_one_two_or_three_siblings_share_one_new_pair() {
    let lease = Duration::from_secs(10);
    for siblings in 1..=3 {
        let refresher = PanicsOnce::default();
        let coordinator = signalwire_fabric::InProcessCoordinator::new();
        let key: signalwire_fabric::SessionKey =
            format!("panicked-{siblings}").parse().expect("a key");
        let (pair, expires) = ten_minutes_left();
        let mut sessions = vec![
            signalwire_fabric::testing::first_session(
                &refresher,
                coordinator.clone(),
                &key,
                pair,
                lease,
            )
            .await,
        ];
        for _ in 1..siblings {
            sessions.push(
                signalwire_fabric::testing::joined_session(
                    &refresher,
                    coordinator.clone(),
                    &key,
                    lease,
                )
                .await,
            );
        }
        advance(sessions[0].status().refresh_in + Duration::from_secs(1)).await;
        let first = within_an_hour(sessions[0].access_token())
            .await
            .expect("the valid token, after the attempt that panicked");
        assert_eq!(token_text(&first), access("old"), "{siblings} siblings");
        assert_eq!(refresher.0.load(Ordering::SeqCst), 1, "{siblings} siblings");
        sessions[0].access_token().await.expect("the valid token");
        tokio::time::sleep(lease + Duration::from_secs(5)).await;
        for (index, session) in sessions.iter().enumerate() {
            let token = session.access_token().await.expect("a token");
            assert_eq!(
                token_text(&token),
                access("gen2"),
                "{siblings} siblings: session {index}"
            );
        }
        assert!(Instant::now() < expires, "{siblings} siblings");
        assert_eq!(
            refresher.0.load(Ordering::SeqCst),
            2,
            "{siblings} siblings: one refresh after the one that panicked"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_store_leaves_the_session_able_to_save_again() {
    /// Panics on its first save, then keeps what it is given.
    #[derive(Clone, Default)]
    struct PanicsOnSave(Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>);
    #[async_trait::async_trait]
    impl TokenStore for PanicsOnSave {
        async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
            Ok(None)
        }
        async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
            if self.1.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("a store bug");
            }
            self.0
                .lock()
                .expect("not poisoned")
                .push(pair.refresh_token().expose_secret().to_owned());
            Ok(())
        }
    }
    let store = PanicsOnSave::default();
    let refresher = Scripted::new(Duration::ZERO, []);
    let session = SubscriberSession::builder(refresher.clone(), issued("first"))
        .store(store.clone())
        .jitter(Duration::ZERO)
        .build();
    // The first call saves the initial pair: the save panics, the caller still gets its
    // (valid) token, and the next call saves again.
    let first = within_an_hour(session.access_token()).await;
    assert_eq!(token_text(&first.expect("valid")), access("first"));
    tokio::task::yield_now().await;
    let _ = within_an_hour(session.access_token()).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        store.0.lock().expect("not poisoned").as_slice(),
        [refresh("first")]
    );
    assert!(session.status().saved);
}

#[tokio::test(start_paused = true)]
async fn a_memory_store_clone_shows_what_the_session_stored() {
    let store = MemoryStore::new();
    let refresher = Scripted::new(Duration::ZERO, []);
    let session = SubscriberSession::builder(refresher.clone(), issued("first"))
        .refresh_ahead(MARGIN)
        .jitter(Duration::ZERO)
        .store(store.clone())
        .build();
    assert!(
        store.pair().is_none(),
        "nothing is saved before the session is used"
    );
    session.access_token().await.expect("valid");
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let stored = store.pair().expect("the first pair is saved");
    assert_eq!(stored.refresh_token().expose_secret(), refresh("first"));

    advance(Duration::from_secs(7200) - MARGIN).await;
    session.access_token().await.expect("refreshed");
    let stored = store.pair().expect("the new pair is saved");
    assert_eq!(stored.refresh_token().expose_secret(), refresh("gen1"));
    assert_eq!(stored.access_token().expose_secret(), access("gen1"));
}

/// Tells [`child_saves_in_a_loop_until_killed`] where to save.
const SAVE_LOOP_PATH: &str = "SIGNALWIRE_FABRIC_TEST_SAVE_LOOP_PATH";

/// Not a test on its own: the child half of
/// `leftovers_of_saves_killed_midway_are_removed_by_the_next_load`, saving a pair to the
/// file named by [`SAVE_LOOP_PATH`] until it is killed.
#[tokio::test]
#[ignore = "run by leftovers_of_saves_killed_midway_are_removed_by_the_next_load"]
async fn child_saves_in_a_loop_until_killed() {
    let Ok(path) = std::env::var(SAVE_LOOP_PATH) else {
        return;
    };
    let store = FileStore::new(path);
    let stored = issued("looped").to_stored();
    loop {
        store.save(&stored).await.expect("saved");
    }
}

/// The temporary files a [`FileStore`] at `path` left next to it.
fn leftovers(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let name = path
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned();
    std::fs::read_dir(path.parent().expect("a directory"))
        .expect("readable")
        .flatten()
        .map(|entry| entry.path())
        .filter(|candidate| {
            let candidate = candidate.file_name().unwrap_or_default().to_string_lossy();
            candidate.starts_with(&format!(".{name}.")) && candidate.ends_with(".tmp")
        })
        .collect()
}

#[tokio::test]
async fn leftovers_of_saves_killed_midway_are_removed_by_the_next_load() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("tokens.json");
    // Kill a child that saves in a loop until kills have left temporary files behind.
    let mut kills = 0;
    while leftovers(&path).len() < 2 && kills < 200 {
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "session::child_saves_in_a_loop_until_killed",
                "--ignored",
            ])
            .env(SAVE_LOOP_PATH, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the test binary runs");
        while !path.exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(u64::from(fastrand::u8(0..20))));
        child.kill().expect("killed");
        child.wait().expect("reaped");
        kills += 1;
    }
    let left = leftovers(&path);
    assert!(left.len() >= 2, "{kills} kills left {} files", left.len());
    for file in &left {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            text.is_empty() || text.contains(&refresh("looped")),
            "a leftover is part of a pair"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(file)
                .expect("a leftover")
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "{}: readable by its owner only",
                file.display()
            );
        }
    }

    // A young leftover may be another process's save in progress: it stays.
    let store = FileStore::new(&path);
    let loaded = store.load().await.expect("loads");
    assert_eq!(
        loaded.expect("a pair").refresh_token().expose_secret(),
        refresh("looped")
    );
    assert_eq!(leftovers(&path).len(), left.len());

    // Once they are older than a save could take, the next load removes every one.
    let old = std::time::SystemTime::now() - signalwire_fabric::FILE_STORE_LEFTOVER_AGE;
    for file in &left {
        std::fs::File::options()
            .write(true)
            .open(file)
            .and_then(|file| file.set_modified(old))
            .expect("backdated");
    }
    let loaded = store.load().await.expect("loads");
    assert!(loaded.is_some());
    assert_eq!(leftovers(&path), Vec::<std::path::PathBuf>::new());

    // And a save does the same.
    let stale = dir.path().join(".tokens.json.AbCdEf.tmp");
    std::fs::write(&stale, "{}").expect("written");
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|file| file.set_modified(old))
        .expect("backdated");
    // Other stores' files, however alike their names, are not touched, old or not: the
    // store of `tokens.json.bak` in the same directory, and names that are not exactly
    // six random letters and digits.
    let others: Vec<_> = [
        ".other.json.AbCdEf.tmp",
        ".tokens.json.bak.OLD333.tmp",
        ".tokens.json.AbCdEfG.tmp",
        ".tokens.json.AbC-Ef.tmp",
    ]
    .into_iter()
    .map(|name| dir.path().join(name))
    .collect();
    for other in &others {
        std::fs::write(other, "{}").expect("written");
        std::fs::File::options()
            .write(true)
            .open(other)
            .and_then(|file| file.set_modified(old))
            .expect("backdated");
    }
    store
        .save(&issued("next").to_stored())
        .await
        .expect("saved");
    assert!(!stale.exists(), "the save removed the stale leftover");
    for other in &others {
        assert!(
            other.exists(),
            "{} belongs to another store",
            other.display()
        );
    }
}

#[tokio::test]
async fn a_corrupt_store_file_is_reported_without_quoting_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("tokens.json");
    let refresh_text = refresh("corrupt");
    let access_text = access("corrupt");
    // Each token sits where serde would quote it in its message: a number expected.
    for body in [
        serde_json::json!({
            "access_token": access_text, "refresh_token": refresh_text,
            "access_expires_at_unix": access_text, "refresh_expires_at_unix": refresh_text,
        })
        .to_string(),
        format!("{{\"access_token\": {refresh_text}}}"),
        format!("[\"{refresh_text}\"]"),
    ] {
        std::fs::write(&path, &body).expect("written");
        let error = FileStore::new(&path)
            .load()
            .await
            .expect_err("not a stored pair");
        let mut shown = format!("{error}\n{error:?}\n");
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            shown.push_str(&format!("{inner}\n{inner:?}\n"));
            source = inner.source();
        }
        assert!(shown.contains("does not hold a stored pair"), "{shown}");
        assert!(shown.contains("line 1"), "says where: {shown}");
        for token in [&refresh_text, &access_text] {
            assert!(!shown.contains(&token[..20]), "a token shows in {shown}");
        }
    }
}
