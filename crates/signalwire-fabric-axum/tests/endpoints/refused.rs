//! `POST {mount}/refresh` with `{"refused": "<access token>"}`: the app's report that
//! SignalWire refused the token its browser SDK holds. The user's session refreshes now
//! if that is its current token (once, however many tabs and instances report it) and
//! otherwise answers its current token; it never touches another user's session.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::json;
use signalwire_fabric::{InProcessCoordinator, testing};
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{Answer, Harness, http_client, reference};
use crate::demo::{Demo, DemoSettings, Instance, TOKENS_MOUNT};
use crate::sign_in::{session_cookie, sign_in_request};

/// `count` instances of the demo sharing a coordinator; alice signs in, gets a token,
/// and `2 × count` tabs spread over the instances report it refused, all at once.
async fn reported_by_tabs_on(count: usize) {
    let fake = FakeSpace::start().await;
    let demo = Demo::new(
        fake.client(),
        Arc::new(InProcessCoordinator::new()),
        DemoSettings::default(),
    );
    let mut instances: Vec<Instance> = Vec::new();
    for _ in 0..count {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        instances.push(demo.serve(any_port).await.expect("an instance starts"));
    }
    let http = http_client();
    let login = sign_in_request(&http, &instances[0].url(), "alice")
        .send()
        .await
        .expect("signed in");
    let cookie = session_cookie(&login);
    let ask = |instance: &Instance, endpoint: &str, body: serde_json::Value| {
        let request = http
            .post(format!("{}{TOKENS_MOUNT}/{endpoint}", instance.url()))
            .header("content-type", "application/json")
            .header("cookie", &cookie)
            .body(body.to_string());
        async move { Answer::read(request.send().await.expect("answered")).await }
    };

    let first = ask(&instances[count - 1], "authenticate", json!({})).await;
    let refused = first.token().to_owned();
    // The token has most of its life left: nothing is due.
    let reports = (0..2 * count).map(|tab| {
        ask(
            &instances[tab % count],
            "refresh",
            json!({ "refused": refused }),
        )
    });
    let answers = futures_util::future::join_all(reports).await;
    let newer = answers[0].token().to_owned();
    // Compared without printing: a failure message must not show a token.
    assert!(newer != refused, "{count} instances: a new token");
    for (tab, answer) in answers.iter().enumerate() {
        assert!(
            answer.token() == newer,
            "{count} instances: tab {tab} got another token"
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"));
    }
    assert!(answers[0].expiry_at() > first.expiry_at());
    assert_eq!(
        fake.answered_count(Operation::Refresh, 201),
        1,
        "{count} instances: one refresh for every report"
    );

    // A late report of the same token, and a plain refresh: the newer token, nothing sent.
    for (number, instance) in instances.iter().enumerate() {
        let late = ask(instance, "refresh", json!({ "refused": refused })).await;
        assert!(late.token() == newer, "instance {number}: the newer token");
        let plain = ask(instance, "refresh", json!({})).await;
        assert!(plain.token() == newer, "instance {number}: the newer token");
    }
    assert_eq!(fake.refresh_count(), 1);

    // Refused in its turn, the newer one is refreshed too.
    let again = ask(&instances[0], "refresh", json!({ "refused": newer })).await;
    assert!(again.token() != newer && again.token() != refused);
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 2);
    assert_eq!(
        fake.request_count(Operation::Create),
        1,
        "one subscriber token"
    );
}

#[tokio::test]
async fn a_token_reported_refused_is_refreshed_once_by_one_instance() {
    reported_by_tabs_on(1).await;
}

#[tokio::test]
async fn a_token_reported_refused_is_refreshed_once_by_two_instances() {
    reported_by_tabs_on(2).await;
}

#[tokio::test]
async fn a_token_reported_refused_is_refreshed_once_by_three_instances() {
    reported_by_tabs_on(3).await;
}

#[tokio::test]
async fn a_report_naming_a_token_that_is_not_the_users_current_one_refreshes_nothing() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    let bob = h.users.sign_in("bob");
    let alices = h.post("/authenticate", Some(&alice), json!({})).await;
    let bobs = h.post("/authenticate", Some(&bob), json!({})).await;
    // Bob names alice's token: he gets his own, and alice's session is untouched.
    let answer = h
        .post("/refresh", Some(&bob), json!({ "refused": alices.token() }))
        .await;
    assert!(answer.token() == bobs.token(), "bob gets his own token");
    // A well-formed token nobody issued, and a client-bound token of alice's own.
    let stranger = testing::access_token("never-issued");
    let answer = h
        .post(
            "/refresh",
            Some(&alice),
            json!({ "refused": stranger.expose_secret() }),
        )
        .await;
    assert!(answer.token() == alices.token(), "alice keeps her token");
    let fingerprint = "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE";
    let bound = h
        .post(
            "/authenticate",
            Some(&alice),
            json!({ "fingerprint": fingerprint }),
        )
        .await;
    let answer = h
        .post(
            "/refresh",
            Some(&alice),
            json!({ "refused": bound.token() }),
        )
        .await;
    assert!(
        answer.token() == alices.token(),
        "a client-bound token is not the session's: its current token answers"
    );
    assert_eq!(h.fake.refresh_count(), 0, "nothing was refreshed");
    assert_eq!(
        h.fake.token_subscriber(answer.token()),
        h.fake.subscriber_id(&reference("alice"))
    );
}

#[tokio::test]
async fn a_refused_field_that_is_not_an_access_token_is_invalid_body_and_not_quoted() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    let refresh_token = testing::refresh_token("alice");
    for refused in [
        json!(42),
        json!("not a token"),
        json!(refresh_token.expose_secret()),
    ] {
        let answer = h
            .post("/refresh", Some(&alice), json!({ "refused": refused }))
            .await;
        assert_eq!(answer.status, 400, "{refused}");
        assert_eq!(answer.code(), "invalid_body");
        assert_eq!(answer.body["error"]["field"], "refused");
        let text = answer.body.to_string();
        assert!(
            !text.contains("not a token") && !text.contains(refresh_token.expose_secret()),
            "the refusal does not quote the field"
        );
    }
    // authenticate takes no such field.
    let answer = h
        .post("/authenticate", Some(&alice), json!({ "refused": "x.y.z" }))
        .await;
    assert_eq!(answer.code(), "invalid_body");
    assert_eq!(answer.body["error"]["field"], "refused");
    assert!(
        h.fake.journal().is_empty(),
        "nothing was sent to SignalWire"
    );
}
