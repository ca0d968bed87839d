use std::time::Duration;

use serde_json::{Value, json};
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{Auth, call, fake_unix_now, foreign_token, refresh, send};

const FINGERPRINT: &str = "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE";

#[tokio::test]
async fn a_422_has_the_documented_shape() {
    let fake = FakeSpace::start().await;
    let answer = call(&fake, Operation::Create, json!({})).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    let body = answer.json();
    assert_eq!(body.as_object().map(|body| body.len()), Some(1), "{body}");
    let errors = body["errors"].as_array().expect("an errors array");
    assert_eq!(errors.len(), 1);
    let error = &errors[0];
    assert_eq!(error["type"], "validation_error");
    assert_eq!(error["code"], "missing_required_parameter");
    assert_eq!(error["attribute"], "reference");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        error["url"],
        "https://developer.signalwire.com/rest/overview/error-codes#missing_required_parameter"
    );
    // It also fits the fake's own wire type.
    let typed: signalwire_fabric_fake::wire::ErrorResponse =
        serde_json::from_value(body).expect("an ErrorResponse");
    assert_eq!(typed.error, None);
}

#[tokio::test]
async fn create_without_a_reference_is_missing_required_parameter() {
    let fake = FakeSpace::start().await;
    for body in [
        json!({}),
        json!({"reference": ""}),
        json!({"reference": null}),
        json!({"display_name": "Alice"}),
    ] {
        let answer = call(&fake, Operation::Create, body.clone()).await;
        assert_eq!(answer.code(), "missing_required_parameter", "{body}");
        assert_eq!(answer.attribute().as_deref(), Some("reference"), "{body}");
    }
    for body in [
        "[]",
        "\"alice\"",
        "42",
        "null",
        "",
        "reference=alice",
        "{\"reference\":",
    ] {
        let answer = send(&fake, "POST", Operation::Create.path(), Auth::Fake, body).await;
        assert_eq!(answer.code(), "missing_required_parameter", "{body:?}");
        assert_eq!(answer.attribute(), None, "{body:?}");
    }
}

#[tokio::test]
async fn each_malformed_create_field_is_invalid_parameter_naming_the_field() {
    let fake = FakeSpace::start().await;
    let cases: Vec<(&str, Value)> = vec![
        ("reference", json!(42)),
        ("expire_at", json!("1795000000")),
        ("expire_at", json!(1.5)),
        ("application_id", json!("6f1c2b9e-4d7a-4c3e-9a51")),
        ("application_id", json!("6f1c2b9e4d7a4c3e9a510b8e2f7d4c10")),
        ("application_id", json!(7)),
        ("fingerprint", json!(&FINGERPRINT[..42])),
        ("fingerprint", json!(format!("{FINGERPRINT}x"))),
        ("fingerprint", json!(format!("{}+", &FINGERPRINT[..42]))),
        ("fingerprint", json!(format!("{}=", &FINGERPRINT[..42]))),
        ("scope", json!("sat:refresh ")),
        ("scope", json!(["sat:refresh"])),
        ("region", json!("eu-west")),
        ("password", json!(12345678)),
        ("time_zone", json!({"name": "UTC"})),
    ];
    for (field, value) in cases {
        let mut body = json!({"reference": "alice@example.com"});
        body[field] = value.clone();
        let answer = call(&fake, Operation::Create, body).await;
        assert_eq!(answer.code(), "invalid_parameter", "{field}: {value}");
        assert_eq!(
            answer.attribute().as_deref(),
            Some(field),
            "{field}: {value}"
        );
    }
    assert_eq!(fake.subscriber_id("alice@example.com"), None);
}

#[tokio::test]
async fn every_documented_create_field_is_accepted() {
    let fake = FakeSpace::start().await;
    let answer = call(
        &fake,
        Operation::Create,
        json!({
            "reference": "alice@example.com",
            "expire_at": fake_unix_now(&fake) + 600,
            "application_id": "6f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10",
            "password": "correct horse battery staple",
            "fingerprint": FINGERPRINT,
            "scope": "sat:refresh",
            "first_name": "Alice",
            "last_name": "Lind",
            "display_name": "Alice L.",
            "job_title": "Field engineer",
            "time_zone": "Europe/Stockholm",
            "country": "SE",
            "company_name": "Example AB",
            "region": "us-central",
            "not_in_the_spec": true,
        }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[tokio::test]
async fn an_expire_at_the_fakes_clock_has_passed_gives_an_access_token_expired_already() {
    let fake = FakeSpace::start().await;
    let in_an_hour = fake_unix_now(&fake) + 3600;
    let body = json!({"reference": "alice@example.com", "expire_at": in_an_hour});
    let live = call(&fake, Operation::Create, body.clone()).await;
    assert_eq!(live.status, 200, "{}", live.text());
    fake.clock().advance(Duration::from_secs(2 * 3600));
    let late = call(&fake, Operation::Create, body).await;
    assert_eq!(late.status, 200, "{}", late.text());
    let token = late.json()["token"].as_str().expect("a token").to_owned();
    let expires_at = fake.token_expires_at(&token).expect("issued");
    assert!(expires_at <= fake.clock().now(), "already expired");
}

#[tokio::test]
async fn refresh_without_a_token_is_missing_required_parameter() {
    let fake = FakeSpace::start().await;
    for body in [
        json!({}),
        json!({"refresh_token": ""}),
        json!({"refresh_token": null}),
        json!({"token": "a.b.c"}),
    ] {
        let answer = call(&fake, Operation::Refresh, body.clone()).await;
        assert_eq!(answer.code(), "missing_required_parameter", "{body}");
        assert_eq!(answer.attribute().as_deref(), Some("refresh_token"));
    }
    for body in ["", "[]", "not json", "\"a.b.c\""] {
        let answer = send(&fake, "POST", Operation::Refresh.path(), Auth::Fake, body).await;
        assert_eq!(answer.code(), "missing_required_parameter", "{body:?}");
    }
    let answer = call(&fake, Operation::Refresh, json!({"refresh_token": 42})).await;
    assert_eq!(answer.code(), "invalid_parameter");
}

#[tokio::test]
async fn a_refresh_token_that_is_not_a_jwt_is_invalid_token_format() {
    let fake = FakeSpace::start().await;
    for text in [
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e.f",
        ".b.c",
        "a b.c.d",
        "a.b.c\n",
        "ey+J.b.c",
        "eyJ=.b.c",
        "ä.b.c",
    ] {
        let answer = refresh(&fake, text).await;
        assert_eq!(answer.code(), "invalid_token_format", "{text:?}");
        assert_eq!(answer.attribute().as_deref(), Some("refresh_token"));
    }
}

#[tokio::test]
async fn an_access_token_sent_to_refresh_is_not_a_refresh_token() {
    let fake = FakeSpace::start().await;
    let issued = fake.create_subscriber_token("alice@example.com");
    assert_eq!(
        refresh(&fake, &issued.token).await.code(),
        "not_a_refresh_token"
    );
    // One the fake never issued, recognised by its readable header.
    assert_eq!(
        refresh(&fake, &foreign_token("SAT")).await.code(),
        "not_a_refresh_token"
    );
    // The pair's refresh token is untouched by those attempts.
    assert_eq!(refresh(&fake, &issued.refresh_token).await.status, 201);
}

#[tokio::test]
async fn a_token_the_fake_never_issued_is_token_invalid() {
    let fake = FakeSpace::start().await;
    for text in [
        foreign_token("Refresh"),
        foreign_token("something-else"),
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl".to_owned(),
        "bm90IGpzb24..aXY.Y3Q.dGFn".to_owned(),
    ] {
        let answer = refresh(&fake, &text).await;
        assert_eq!(answer.code(), "token_invalid", "{text}");
        assert_eq!(answer.attribute().as_deref(), Some("refresh_token"));
    }
}
