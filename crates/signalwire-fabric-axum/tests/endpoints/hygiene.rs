//! What a credential-issuing endpoint owes the web: rate limits, no caching, JSON only,
//! CORS only as configured, bounded bodies, stable error shapes.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use signalwire_fabric_axum::{ErrorCode, RateLimit};
use signalwire_fabric_fake::{Fault, Operation, SimulatedTime};

use crate::common::{Answer, Backend, Harness};

fn assert_error_shape(answer: &Answer, code: &str) {
    assert_eq!(answer.code(), code, "{answer:?}");
    let expected = ErrorCode::ALL
        .into_iter()
        .find(|known| known.as_str() == code)
        .expect("a documented code");
    assert_eq!(
        answer.status,
        expected.status().as_u16(),
        "{code} has its own status"
    );
    let Value::Object(outer) = &answer.body else {
        panic!("{answer:?}")
    };
    assert_eq!(outer.keys().collect::<Vec<_>>(), ["error"], "{answer:?}");
    let Value::Object(error) = &answer.body["error"] else {
        panic!("{answer:?}")
    };
    assert!(
        error
            .keys()
            .all(|k| ["code", "message", "field"].contains(&k.as_str())),
        "{answer:?}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer:?}"
    );
    assert_eq!(
        answer.header("cache-control"),
        Some("no-store"),
        "{answer:?}"
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn each_user_has_a_rate_limit_answered_429_with_retry_after() {
    let limit = RateLimit::new(NonZeroU32::new(3).expect("3"), Duration::from_secs(60));
    let h = Harness::start_with(move |builder| builder.rate_limit(limit)).await;
    let alice = h.users.sign_in("alice");
    let bob = h.users.sign_in("bob");
    assert_eq!(
        h.post("/authenticate", Some(&alice), json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        h.post("/refresh", Some(&alice), json!({})).await.status,
        200
    );
    assert_eq!(
        h.post("/refresh", Some(&alice), json!({})).await.status,
        200
    );
    for path in ["/refresh", "/authenticate"] {
        let limited = h.post(path, Some(&alice), json!({})).await;
        assert_error_shape(&limited, "rate_limited");
        let wait: u64 = limited
            .header("retry-after")
            .and_then(|value| value.parse().ok())
            .expect("Retry-After in whole seconds");
        assert!(
            (1..=20).contains(&wait),
            "one request comes back every 20 s: {wait}"
        );
    }
    // A second session cookie for alice is still alice.
    let alice_elsewhere = h.users.sign_in("alice");
    assert_eq!(
        h.post("/refresh", Some(&alice_elsewhere), json!({}))
            .await
            .status,
        429
    );
    // Bob is not held back by alice.
    assert_eq!(
        h.post("/authenticate", Some(&bob), json!({})).await.status,
        200
    );
    assert_eq!(h.fake.request_count(Operation::Create), 2);
}

#[tokio::test]
async fn only_json_requests_are_looked_at() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    let refused_types: [Option<&str>; 6] = [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json-patch+json"),
        Some("text/json"),
    ];
    for path in ["/authenticate", "/refresh"] {
        for content_type in refused_types {
            let mut request = h
                .request(Method::POST, path)
                .header("cookie", &alice)
                .body("{}");
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let answer = Answer::read(request.send().await.expect("answered")).await;
            assert_error_shape(&answer, "unsupported_media_type");
        }
    }
    assert_eq!(h.users.asked(), 0, "the sign-in was not even asked");
    assert!(h.fake.journal().is_empty());
    let with_charset = h
        .request(Method::POST, "/authenticate")
        .header("cookie", &alice)
        .header("content-type", "Application/JSON; charset=utf-8")
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(with_charset.status(), 200);
}

#[tokio::test]
async fn only_post_is_answered() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        for path in ["/authenticate", "/refresh"] {
            let answer = h
                .request(method.clone(), path)
                .header("cookie", &alice)
                .header("content-type", "application/json")
                .send()
                .await
                .expect("answered");
            let answer = Answer::read(answer).await;
            assert_error_shape(&answer, "method_not_allowed");
            assert_eq!(answer.header("allow"), Some("POST"));
        }
    }
    assert!(h.fake.journal().is_empty());
}

async fn preflight(h: &Harness, origin: &str) -> reqwest::Response {
    h.request(Method::OPTIONS, "/authenticate")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("answered")
}

#[tokio::test]
async fn no_cors_headers_unless_origins_are_configured() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    let answer = preflight(&h, "https://app.example.com").await;
    assert_eq!(answer.headers().get("access-control-allow-origin"), None);
    assert_eq!(
        answer.headers().get("access-control-allow-credentials"),
        None
    );
    assert_ne!(answer.status(), 200, "no preflight succeeds");
    let post = h
        .request(Method::POST, "/authenticate")
        .header("origin", "https://app.example.com")
        .header("cookie", &alice)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(post.headers().get("access-control-allow-origin"), None);
}

#[tokio::test]
async fn cors_admits_exactly_the_configured_origins() {
    let h = Harness::start_with(|builder| builder.allow_origin("https://app.example.com/")).await;
    let alice = h.users.sign_in("alice");
    let allowed = preflight(&h, "https://app.example.com").await;
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-methods").as_deref(),
        Some("POST")
    );
    assert!(
        header(&allowed, "access-control-allow-headers")
            .is_some_and(|h| h.contains("content-type")),
        "{allowed:?}"
    );
    assert_eq!(
        header(&allowed, "cache-control").as_deref(),
        Some("no-store")
    );
    for other in [
        "https://evil.example.com",
        "http://app.example.com",
        "https://app.example.com.evil.com",
        "null",
    ] {
        let refused = preflight(&h, other).await;
        assert_eq!(
            header(&refused, "access-control-allow-origin"),
            None,
            "{other}"
        );
    }
    let post = h
        .request(Method::POST, "/authenticate")
        .header("origin", "https://app.example.com")
        .header("cookie", &alice)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(post.status(), 200);
    assert_eq!(
        header(&post, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
}

/// A request body that never ends: `chunk`-byte pieces of JSON whitespace, counted in
/// `pulled` as they are taken, until `cap` bytes have been taken; then it waits forever
/// without ending. (The cap only keeps a reader that wrongly reads on from filling memory:
/// such a reader never gets to the end, so it never answers.)
fn endless_body(
    pulled: Arc<AtomicUsize>,
    chunk: usize,
    cap: usize,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(pulled, move |pulled| async move {
        if pulled.load(Ordering::SeqCst) >= cap {
            std::future::pending::<()>().await;
        }
        pulled.fetch_add(chunk, Ordering::SeqCst);
        Some((Ok(vec![b' '; chunk]), pulled))
    })
}

/// Sends `request` to `router` in-process (no sockets, so every byte the router pulls from
/// the body is counted) and reads its answer; `None` if none comes within a minute of
/// tokio's (paused) clock.
async fn answer_in_process(
    router: axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> Option<(u16, Value)> {
    use tower::ServiceExt as _;
    let response = tokio::time::timeout(Duration::from_secs(60), router.oneshot(request))
        .await
        .ok()?
        .unwrap_or_else(|never| match never {});
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("the answer's body");
    Some((
        status,
        serde_json::from_slice(&bytes).expect("a JSON answer"),
    ))
}

#[tokio::test(start_paused = true)]
async fn bodies_over_the_limit_are_refused_without_reading_them_whole() {
    const LIMIT: usize = 256;
    const CHUNK: usize = 64;
    const CAP: usize = 1024 * 1024;
    let h = Harness::start_with(|builder| builder.max_body_bytes(LIMIT)).await;
    let alice = h.users.sign_in("alice");
    let post = |path: &str, cookie: Option<&str>, length: Option<usize>, pulled: &Arc<_>| {
        let mut request =
            axum::http::Request::post(path).header("content-type", "application/json");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(length) = length {
            request = request.header("content-length", length);
        }
        request
            .body(axum::body::Body::from_stream(endless_body(
                Arc::clone(pulled),
                CHUNK,
                CAP,
            )))
            .expect("a request")
    };
    // Signed in, no length declared, and a body that never ends: refused once the body
    // has passed the limit, having taken at most one piece more than the limit.
    for path in ["/authenticate", "/refresh"] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let answer =
            answer_in_process(h.service.router(), post(path, Some(&alice), None, &pulled)).await;
        let pulled = pulled.load(Ordering::SeqCst);
        let Some((status, body)) = answer else {
            panic!("{path}: no answer while the body went on ({pulled} bytes pulled)")
        };
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (413, Some("body_too_large")),
            "{path}: {body}"
        );
        assert!(
            (LIMIT..=LIMIT + CHUNK).contains(&pulled),
            "{path}: pulled {pulled} bytes with a {LIMIT}-byte limit"
        );
    }
    // A declared length over the limit is refused on its word: nothing past the limit is
    // taken.
    let pulled = Arc::new(AtomicUsize::new(0));
    let answer = answer_in_process(
        h.service.router(),
        post("/authenticate", Some(&alice), Some(10 * LIMIT), &pulled),
    )
    .await;
    let pulled = pulled.load(Ordering::SeqCst);
    let (status, body) = answer.unwrap_or_else(|| panic!("no answer ({pulled} bytes pulled)"));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );
    assert!(pulled <= LIMIT + CHUNK, "pulled {pulled} bytes");
    // Nobody signed in: refused before a byte of the body is taken, declared or not.
    for length in [None, Some(10 * LIMIT)] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let answer =
            answer_in_process(h.service.router(), post("/refresh", None, length, &pulled)).await;
        let pulled = pulled.load(Ordering::SeqCst);
        let (status, body) =
            answer.unwrap_or_else(|| panic!("{length:?}: no answer ({pulled} bytes pulled)"));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthenticated")),
            "{body}"
        );
        assert_eq!(pulled, 0, "{length:?}: the anonymous body was read");
    }
    assert!(h.fake.journal().is_empty());
}

#[tokio::test]
async fn an_endless_body_over_http_is_answered_without_waiting_for_its_end() {
    // Real sockets, so this runs on the real clock: the bound is what a client that never
    // stops sending waits. A server that read on would never answer (the body has no end).
    const BOUND: Duration = Duration::from_secs(20);
    let h = Harness::start_with(|builder| builder.max_body_bytes(256)).await;
    let alice = h.users.sign_in("alice");
    let padding = "x".repeat(300);
    let declared = h
        .post(
            "/authenticate",
            Some(&alice),
            json!({ "fingerprint": padding }),
        )
        .await;
    assert_error_shape(&declared, "body_too_large");
    for (cookie, code) in [(Some(&alice), "body_too_large"), (None, "unauthenticated")] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let mut request = h
            .request(Method::POST, "/refresh")
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(endless_body(
                Arc::clone(&pulled),
                16 * 1024,
                64 * 1024 * 1024,
            )));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(BOUND, async {
            Answer::read(request.send().await.expect("answered")).await
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{code}: no answer within {BOUND:?}; {} bytes sent",
                pulled.load(Ordering::SeqCst)
            )
        });
        assert_error_shape(&answer, code);
        eprintln!(
            "{code}: answered in {:?} with {} bytes sent",
            started.elapsed(),
            pulled.load(Ordering::SeqCst)
        );
    }
    assert!(h.fake.journal().is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_invalid_body() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    for body in [
        "{",
        "[]",
        "\"fingerprint\"",
        "null",
        "{\"fingerprint\": 1",
        "\u{0}",
    ] {
        let answer = h
            .request(Method::POST, "/authenticate")
            .header("cookie", &alice)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("answered");
        assert_error_shape(&Answer::read(answer).await, "invalid_body");
    }
    assert!(h.fake.journal().is_empty());
}

#[tokio::test]
async fn upstream_failures_have_their_own_codes_and_every_answer_says_no_store() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    h.fake.inject(
        Operation::Create,
        Fault::rate_limited(Some(Duration::from_secs(7))),
        1,
    );
    let limited_upstream = h.post("/authenticate", Some(&alice), json!({})).await;
    assert_error_shape(&limited_upstream, "upstream_unavailable");
    assert_eq!(limited_upstream.header("retry-after"), Some("7"));
    h.fake
        .inject(Operation::Create, Fault::status(503).html(), 1);
    assert_error_shape(
        &h.post("/authenticate", Some(&alice), json!({})).await,
        "upstream_unavailable",
    );
    h.fake.inject(Operation::Create, Fault::status(401), 1);
    let refused = h.post("/authenticate", Some(&alice), json!({})).await;
    assert_error_shape(&refused, "upstream_refused");
    assert!(!refused.body.to_string().contains(h.fake.api_token()));
    // A profile SignalWire would refuse is the app's fault, found before sending.
    let nameless = h.users.sign_in("nameless");
    assert_error_shape(
        &h.post("/authenticate", Some(&nameless), json!({})).await,
        "internal",
    );
    assert_eq!(
        h.fake.request_count(Operation::Create),
        3,
        "the nameless profile sent nothing"
    );
    // After the faults, alice gets her token: a failed start leaves nothing behind.
    let ok = h.post("/authenticate", Some(&alice), json!({})).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_wildcard_or_null_origin_is_ignored_rather_than_opened() {
    let h = Harness::start_with(|builder| {
        builder
            .allow_origin("*")
            .allow_origin("null")
            .allow_origin("https://app.example.com/path")
    })
    .await;
    for origin in [
        "https://evil.example.com",
        "null",
        "https://app.example.com",
    ] {
        let answer = preflight(&h, origin).await;
        assert_eq!(
            answer.headers().get("access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(
            answer.headers().get("access-control-allow-credentials"),
            None
        );
    }
    let alice = h.users.sign_in("alice");
    assert_eq!(
        h.post("/authenticate", Some(&alice), json!({}))
            .await
            .status,
        200
    );
}

/// How many users the service's rate limiter remembers, as its `Debug` says.
fn users_remembered(h: &Harness) -> usize {
    let debug = format!("{:?}", h.service);
    let (_, after) = debug
        .split_once("shared: InProcessRateLimiter { keys: ")
        .unwrap_or_else(|| panic!("the limiter in {debug}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a count")
}

#[tokio::test(start_paused = true)]
async fn the_limiter_forgets_users_who_never_got_a_session_once_their_buckets_refill() {
    let h = Harness::start().await;
    let time = SimulatedTime::new(&h.fake);
    // Signed-in users whose requests are all refused after the rate limit counted them
    // (a body that is not an object): none of them ever gets a session.
    let refused = |name: String| {
        let cookie = h.users.sign_in(&name);
        let request = h
            .request(Method::POST, "/authenticate")
            .header("cookie", cookie)
            .header("content-type", "application/json")
            .body("[]");
        async move { Answer::read(request.send().await.expect("answered")).await }
    };
    for n in 0..40 {
        let answer = time.hold(refused(format!("user{n}"))).await;
        assert_error_shape(&answer, "invalid_body");
    }
    assert_eq!(users_remembered(&h), 40);
    assert!(format!("{:?}", h.service).contains("sessions: 0"));

    // Their buckets are full again a minute on (the default limit refills over 60 s);
    // the next request, whoever sends it, has the limiter forget them.
    time.advance(Duration::from_secs(61)).await;
    let answer = time.hold(refused("late".to_owned())).await;
    assert_error_shape(&answer, "invalid_body");
    assert_eq!(users_remembered(&h), 1, "only the user who just asked");
    assert!(h.fake.journal().is_empty());
}

#[tokio::test]
async fn configured_origins_match_what_browsers_send() {
    let h = Harness::start_with(|builder| {
        builder
            .allow_origin("https://APP2.example.com")
            .allow_origin("https://app3.example.com:443")
            .allow_origin("HTTP://Localhost:80/")
    })
    .await;
    for origin in [
        "https://app2.example.com",
        "https://app3.example.com",
        "http://localhost",
    ] {
        let answer = preflight(&h, origin).await;
        assert_eq!(answer.status(), 200, "{origin}");
        assert_eq!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .and_then(|value| value.to_str().ok()),
            Some(origin),
            "{origin}"
        );
    }
    for other in [
        "https://app3.example.com:8443",
        "http://app2.example.com",
        "https://localhost",
    ] {
        let answer = preflight(&h, other).await;
        assert_eq!(
            answer.headers().get("access-control-allow-origin"),
            None,
            "{other}"
        );
    }
}

#[tokio::test]
async fn an_options_that_is_not_a_preflight_is_405_even_with_cors() {
    let h = Harness::start_with(|builder| builder.allow_origin("https://app.example.com")).await;
    for path in ["/authenticate", "/refresh"] {
        for origin in [None, Some("https://app.example.com")] {
            let mut request = h.request(Method::OPTIONS, path);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let answer = Answer::read(request.send().await.expect("answered")).await;
            assert_error_shape(&answer, "method_not_allowed");
            assert_eq!(answer.header("allow"), Some("POST"), "{path} {origin:?}");
        }
    }
    // A preflight (it names the method it asks for) is still answered by the CORS rules.
    let answer = preflight(&h, "https://app.example.com").await;
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().contains_key("access-control-allow-origin"));
    // Below the mount point but no endpoint: 404 for an OPTIONS too, preflight or not,
    // so no preflight promises a POST that would then be 404.
    for path in ["/nothing", "/authenticate/more", ""] {
        for asks in [None, Some("POST")] {
            let mut request = h
                .request(Method::OPTIONS, path)
                .header("origin", "https://app.example.com");
            if let Some(method) = asks {
                request = request.header("access-control-request-method", method);
            }
            let answer = Answer::read(request.send().await.expect("answered")).await;
            assert_error_shape(&answer, "not_found");
            assert_eq!(answer.status, 404, "{path} {asks:?}");
            assert_eq!(answer.header("access-control-allow-origin"), None);
        }
    }
}

#[tokio::test]
async fn other_paths_under_the_mount_are_json_404s_that_say_no_store_and_the_apps_are_its_own() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    // `/tokens` itself is the router's too; `/tokens/` is not nested by axum.
    for path in [
        "",
        "/nothing",
        "/authenticate/more",
        "/refresh.json",
        "/AUTHENTICATE",
    ] {
        for method in [Method::POST, Method::GET] {
            let answer = h
                .request(method.clone(), path)
                .header("cookie", &alice)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("answered");
            let answer = Answer::read(answer).await;
            assert_error_shape(&answer, "not_found");
            assert_eq!(answer.status, 404, "{method} {path}");
        }
    }
    assert!(h.fake.journal().is_empty());

    // Nested in an app with routes and a fallback of its own, the router answers only
    // under its mount point.
    async fn apps_404() -> (http::StatusCode, &'static str) {
        (http::StatusCode::NOT_FOUND, "the app's own page")
    }
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .nest("/tokens", h.service.router())
        .fallback(apps_404);
    let backend = Backend::serve(app).await;
    let http = crate::common::http_client();
    let get = |path: &str| http.get(backend.url(path)).send();
    let hello = get("/hello").await.expect("answered");
    assert_eq!(hello.status(), 200);
    assert_eq!(hello.headers().get("cache-control"), None);
    let elsewhere = get("/elsewhere").await.expect("answered");
    assert_eq!(elsewhere.status(), 404);
    assert_eq!(elsewhere.headers().get("cache-control"), None);
    assert_eq!(
        elsewhere.text().await.expect("a body"),
        "the app's own page"
    );
    let under = Answer::read(get("/tokens/elsewhere").await.expect("answered")).await;
    assert_error_shape(&under, "not_found");
}
