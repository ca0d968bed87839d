//! Who gets which token: only a signed-in user, only their own subscriber's.

use std::time::Duration;

use serde_json::json;
use signalwire_fabric::Coordinator;
use signalwire_fabric_fake::Operation;

use crate::common::{Harness, key, now_ms, reference};

const FINGERPRINT: &str = "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE";

#[tokio::test]
async fn nobody_signed_in_gets_nothing_and_nothing_is_sent_upstream() {
    let h = Harness::start().await;
    for path in ["/authenticate", "/refresh"] {
        let anonymous = h.post(path, None, json!({})).await;
        assert_eq!(
            (anonymous.status, anonymous.code()),
            (401, "unauthenticated")
        );
        let forged = h.post(path, Some("test_session=alice"), json!({})).await;
        assert_eq!(
            (forged.status, forged.code()),
            (401, "unauthenticated"),
            "a user name is not a session"
        );
        let stale = h
            .post(
                path,
                Some("test_session=0123456789abcdef0123456789abcdef"),
                json!({}),
            )
            .await;
        assert_eq!(stale.status, 401);
    }
    let banned = h.users.sign_in("banned");
    let refused = h.post("/authenticate", Some(&banned), json!({})).await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    assert!(
        h.fake.journal().is_empty(),
        "nothing reached SignalWire: {:?}",
        h.fake.journal()
    );
}

#[tokio::test]
async fn authenticate_answers_the_users_own_subscriber_token_with_its_expiry_in_milliseconds() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    let before = now_ms();
    let first = h.post("/authenticate", Some(&alice), json!({})).await;
    let token = first.token().to_owned();
    assert_eq!(
        h.fake.token_subscriber(&token),
        h.fake.subscriber_id(&reference("alice")),
        "the token is alice's subscriber's"
    );
    let two_hours = Duration::from_secs(2 * 60 * 60).as_millis() as u64;
    let expiry = first.expiry_at();
    assert!(
        expiry >= before + two_hours - 5_000 && expiry <= now_ms() + two_hours + 1_000,
        "expiry_at is two hours ahead, in ms since the epoch: {expiry} (now {before})"
    );
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("cache-control"), Some("no-store"));
    // Only the access token leaves the server: two fields, and the token is an access token.
    let fields: Vec<&String> = first.body.as_object().expect("an object").keys().collect();
    assert_eq!(fields, ["expiry_at", "token"]);
    let kind = signalwire_fabric::AccessToken::parse(token.as_str())
        .ok()
        .and_then(|token| token.kind());
    assert_eq!(kind, Some(signalwire_fabric::TokenKind::Access));

    // The session is kept: asking again, from another tab or through refresh, gives the
    // same token without another request to SignalWire.
    let again = h.post("/authenticate", Some(&alice), json!({})).await;
    let refreshed = h.post("/refresh", Some(&alice), json!({})).await;
    let empty_body = h
        .request(reqwest::Method::POST, "/refresh")
        .header("content-type", "application/json")
        .header("cookie", &alice)
        .send()
        .await
        .expect("answered");
    let empty_body = crate::common::Answer::read(empty_body).await;
    for answer in [&again, &refreshed, &empty_body] {
        assert_eq!(answer.token(), token);
        assert!(
            answer.expiry_at().abs_diff(expiry) < 1_000,
            "{} vs {expiry}",
            answer.expiry_at()
        );
    }
    assert_eq!(h.fake.request_count(Operation::Create), 1);
    assert_eq!(h.fake.refresh_count(), 0);
    let create = &h.fake.journal()[0];
    assert_eq!(
        create.body.as_ref().and_then(|b| b["reference"].as_str()),
        Some("alice@example.com")
    );
    assert_eq!(
        create.body.as_ref().and_then(|b| b.get("fingerprint")),
        None
    );
    assert!(
        h.service.session(&key("alice")).is_some(),
        "the service keeps alice's session"
    );
}

#[tokio::test]
async fn users_only_ever_get_their_own_subscribers_tokens() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    let bob = h.users.sign_in("bob");
    let alices = h
        .post("/authenticate", Some(&alice), json!({}))
        .await
        .token()
        .to_owned();
    let bobs = h
        .post("/authenticate", Some(&bob), json!({}))
        .await
        .token()
        .to_owned();
    assert_ne!(alices, bobs);
    assert_eq!(
        h.fake.token_subscriber(&bobs),
        h.fake.subscriber_id(&reference("bob"))
    );
    assert_ne!(
        h.fake.subscriber_id(&reference("bob")),
        h.fake.subscriber_id(&reference("alice"))
    );

    // The body cannot name another subscriber, in any spelling, on either endpoint.
    let creates = h.fake.request_count(Operation::Create);
    for (path, body) in [
        ("/authenticate", json!({"reference": "alice@example.com"})),
        (
            "/authenticate",
            json!({"subscriber_id": h.fake.subscriber_id(&reference("alice"))}),
        ),
        (
            "/authenticate",
            json!({"fingerprint": null, "user": "alice"}),
        ),
        ("/refresh", json!({"reference": "alice@example.com"})),
        ("/refresh", json!({"key": "user-alice"})),
    ] {
        let answer = h.post(path, Some(&bob), body.clone()).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid_body"),
            "{path} {body}"
        );
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("never from the body")),
            "{answer:?}"
        );
        let field = answer.body["error"]["field"]
            .as_str()
            .expect("the field is named");
        assert!(body.get(field).is_some(), "{field} is the unknown field");
    }
    // Bob's refresh is bob's, however often he asks.
    for _ in 0..3 {
        assert_eq!(
            h.post("/refresh", Some(&bob), json!({})).await.token(),
            bobs
        );
    }
    assert_eq!(
        h.fake.request_count(Operation::Create),
        creates,
        "refused bodies sent nothing"
    );
}

#[tokio::test]
async fn a_fingerprint_gets_a_client_bound_token_and_the_server_keeps_nothing() {
    let coordinator = signalwire_fabric::InProcessCoordinator::new();
    let shared = coordinator.clone();
    let h = Harness::start_with(move |builder| builder.coordinator(shared)).await;
    let alice = h.users.sign_in("alice");
    let answer = h
        .post(
            "/authenticate",
            Some(&alice),
            json!({"fingerprint": FINGERPRINT}),
        )
        .await;
    let token = answer.token();
    assert_eq!(
        h.fake.token_subscriber(token),
        h.fake.subscriber_id(&reference("alice"))
    );
    let journal = h.fake.journal();
    assert_eq!(journal.len(), 1, "one create, nothing else: {journal:?}");
    let body = journal[0].body.clone().expect("a JSON body");
    assert_eq!(journal[0].operation, Some(Operation::Create));
    assert_eq!(body["fingerprint"], FINGERPRINT);
    assert_eq!(body["scope"], "sat:refresh");
    assert_eq!(body["reference"], "alice@example.com");
    assert!(
        h.service.session(&key("alice")).is_none(),
        "no session is kept"
    );
    assert!(
        coordinator
            .load(&key("alice"))
            .await
            .expect("load")
            .is_none(),
        "no pair is shared"
    );

    // A fingerprint that cannot be one is refused before anything is sent.
    for bad in [
        json!("short"),
        json!(format!("{}!", &FINGERPRINT[..42])),
        json!(42),
        json!(["a"]),
    ] {
        let refused = h
            .post("/authenticate", Some(&alice), json!({"fingerprint": bad}))
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (400, "invalid_body"),
            "{bad}"
        );
        assert_eq!(refused.body["error"]["field"], "fingerprint", "{refused:?}");
    }
    assert_eq!(h.fake.journal().len(), 1);
}
