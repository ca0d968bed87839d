//! Every way a server can answer a refresh, and the typed result the facade gives.

use std::time::Duration;

use crate::common::{API_TOKEN, PROJECT_ID, REFRESH_PATH, access, client_for, refresh};
use serde_json::json;
use signalwire_fabric::{Client, Delivery, Error, ErrorCode, RefreshToken, TokenPair};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn old_refresh_token() -> RefreshToken {
    RefreshToken::parse(refresh("old")).expect("valid")
}

/// Serves `response` to the refresh path and returns what the facade makes of it.
async fn refresh_against(response: ResponseTemplate) -> Result<TokenPair, Error> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(REFRESH_PATH))
        .respond_with(response)
        .mount(&server)
        .await;
    client_for(&server)
        .subscriber_tokens()
        .refresh(&old_refresh_token())
        .await
}

async fn refresh_error(response: ResponseTemplate) -> Error {
    refresh_against(response)
        .await
        .expect_err("the response is a failure")
}

fn new_pair_json() -> serde_json::Value {
    json!({"token": access("new"), "refresh_token": refresh("new")})
}

#[tokio::test]
async fn success_is_accepted_as_201_and_as_200() {
    for status in [201, 200] {
        let pair = refresh_against(ResponseTemplate::new(status).set_body_json(new_pair_json()))
            .await
            .unwrap_or_else(|error| panic!("{status}: {error}"));
        assert_eq!(pair.access_token().expose_secret(), access("new"));
        assert_eq!(pair.refresh_token().expose_secret(), refresh("new"));
        let left = pair.access_expires_in();
        assert!(
            left <= signalwire_fabric::ACCESS_TOKEN_LIFETIME
                && left > signalwire_fabric::ACCESS_TOKEN_LIFETIME - Duration::from_secs(60),
            "{left:?}"
        );
    }
}

#[tokio::test]
async fn unknown_fields_in_success_and_error_bodies_are_ignored() {
    let mut body = new_pair_json();
    body["statusCode"] = json!(201);
    body["subscriber"] = json!({"nested": true});
    assert!(
        refresh_against(ResponseTemplate::new(201).set_body_json(body))
            .await
            .is_ok()
    );
    let error = refresh_error(
        ResponseTemplate::new(401)
            .set_body_json(json!({"error": "Unauthorized", "statusCode": 401})),
    )
    .await;
    assert!(
        matches!(error, Error::Unauthorized { message: Some(ref m), .. } if m == "Unauthorized"),
        "{error:?}"
    );
}

#[tokio::test]
async fn documented_error_statuses_map_to_their_variants() {
    let error =
        refresh_error(ResponseTemplate::new(404).set_body_json(json!({"error": "Not Found"})))
            .await;
    assert!(
        matches!(error, Error::NotFound { message: Some(ref m), .. } if m == "Not Found"),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(404));
    assert!(!error.is_retryable());

    let error = refresh_error(
        ResponseTemplate::new(500).set_body_json(json!({"error": "Internal Server Error"})),
    )
    .await;
    assert!(
        matches!(error, Error::Server { status: 500, message: Some(ref m), body: None, .. } if m == "Internal Server Error"),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_422_lists_each_field_error_with_a_typed_code() {
    let body = json!({"errors": [
        {"type": "validation_error", "code": "token_expired", "message": "Token has expired.",
         "attribute": "refresh_token", "url": "https://example.invalid/codes#token_expired"},
        {"type": "validation_error", "code": "brand_new_code", "message": "Something new.",
         "attribute": null, "url": "https://example.invalid/codes"},
    ]});
    let error = refresh_error(ResponseTemplate::new(422).set_body_json(body)).await;
    let errors = error.field_errors();
    assert_eq!(errors.len(), 2, "{error:?}");
    assert_eq!(errors[0].code, ErrorCode::TokenExpired);
    assert_eq!(errors[0].attribute.as_deref(), Some("refresh_token"));
    assert_eq!(errors[0].message, "Token has expired.");
    assert_eq!(errors[0].kind, "validation_error");
    assert_eq!(
        errors[1].code,
        ErrorCode::Other("brand_new_code".to_owned())
    );
    assert_eq!(errors[1].attribute, None);
    assert!(error.requires_new_subscriber_token());
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("create a new subscriber token"),
        "{error}"
    );
}

#[tokio::test]
async fn each_dead_token_code_says_a_new_subscriber_token_is_needed() {
    for (code, typed) in [
        ("token_expired", ErrorCode::TokenExpired),
        ("not_a_refresh_token", ErrorCode::NotARefreshToken),
        ("token_invalid", ErrorCode::TokenInvalid),
        ("invalid_token_format", ErrorCode::InvalidTokenFormat),
    ] {
        let body = json!({"errors": [{"type": "validation_error", "code": code, "message": "m", "url": "u"}]});
        let error = refresh_error(ResponseTemplate::new(422).set_body_json(body)).await;
        assert_eq!(error.field_errors()[0].code, typed);
        assert!(error.requires_new_subscriber_token(), "{code}");
    }
    for code in [
        "missing_required_parameter",
        "invalid_parameter",
        "must_belong_to_project",
    ] {
        let body = json!({"errors": [{"type": "validation_error", "code": code, "message": "m", "url": "u"}]});
        let error = refresh_error(ResponseTemplate::new(422).set_body_json(body)).await;
        assert_eq!(error.field_errors()[0].code.as_str(), code);
        assert!(!error.requires_new_subscriber_token(), "{code}");
    }
}

#[tokio::test]
async fn rate_limits_keep_retry_after() {
    let error = refresh_error(ResponseTemplate::new(429).insert_header("retry-after", "7")).await;
    assert!(
        matches!(error, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    let error = refresh_error(ResponseTemplate::new(429).set_body_string("slow down")).await;
    assert!(
        matches!(
            error,
            Error::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn every_retryable_answer_keeps_its_retry_after() {
    let rate_limit_422 = json!({"errors": [{
        "type": "validation_error", "code": "rate_limit_exceeded", "message": "Slow down.",
        "attribute": null, "url": "https://developer.signalwire.com"
    }]});
    let answers = [
        ResponseTemplate::new(422).set_body_json(&rate_limit_422),
        ResponseTemplate::new(408).set_body_string("request timeout"),
        ResponseTemplate::new(429),
        ResponseTemplate::new(503).set_body_string("down"),
    ];
    for answer in answers {
        let error = refresh_error(answer.insert_header("retry-after", "11")).await;
        assert!(error.is_retryable(), "{error:?}");
        assert_eq!(
            error.retry_after(),
            Some(Duration::from_secs(11)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn proxy_errors_with_html_bodies_keep_status_and_a_snippet() {
    for status in [502, 503, 500] {
        let html = "<html><body><h1>Bad   Gateway</h1>\n<p>upstream went away</p></body></html>";
        let error = refresh_error(
            ResponseTemplate::new(status)
                .insert_header("retry-after", "3")
                .set_body_raw(html, "text/html"),
        )
        .await;
        let Error::Server {
            status: got,
            body: Some(body),
            ..
        } = &error
        else {
            panic!("{status}: {error:?}");
        };
        assert_eq!(*got, status);
        assert_eq!(
            body,
            "<html><body><h1>Bad Gateway</h1> <p>upstream went away</p></body></html>"
        );
        assert!(error.is_retryable());
    }
}

#[tokio::test]
async fn redirects_are_not_followed_and_the_other_host_sees_nothing() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(new_pair_json()))
        .mount(&elsewhere)
        .await;
    for status in [301, 302, 307, 308] {
        let location = format!("{}/steal", elsewhere.uri());
        let error = refresh_error(
            ResponseTemplate::new(status).insert_header("location", location.as_str()),
        )
        .await;
        let Error::UnexpectedResponse {
            status: got,
            location: Some(got_location),
            ..
        } = &error
        else {
            panic!("{status}: {error:?}");
        };
        assert_eq!((*got, got_location.as_str()), (status, location.as_str()));
    }
    let seen = elsewhere.received_requests().await.expect("recording");
    assert!(
        seen.is_empty(),
        "the other host received {} requests",
        seen.len()
    );
}

#[tokio::test]
async fn success_bodies_of_the_wrong_shape_are_decode_errors() {
    let cases = [
        (
            "missing token",
            ResponseTemplate::new(201).set_body_json(json!({"refresh_token": refresh("n")})),
            "missing field `token`",
        ),
        (
            "an error body",
            ResponseTemplate::new(200).set_body_json(json!({"error": "Unauthorized"})),
            "missing field",
        ),
        (
            "truncated",
            ResponseTemplate::new(201)
                .set_body_raw(r#"{"token": "abc", "refresh_"#, "application/json"),
            "EOF",
        ),
        ("empty", ResponseTemplate::new(201), "EOF"),
        (
            "html",
            ResponseTemplate::new(201).set_body_raw("<html>ok</html>", "text/html"),
            "expected value",
        ),
        (
            "not a token",
            ResponseTemplate::new(201)
                .set_body_json(json!({"token": "nope", "refresh_token": refresh("n")})),
            "`token` has 1 dot-separated segments",
        ),
        (
            "kinds swapped",
            ResponseTemplate::new(201)
                .set_body_json(json!({"token": refresh("n"), "refresh_token": access("n")})),
            "`token` is a refresh token, not an access token",
        ),
    ];
    for (name, response, reason_part) in cases {
        let error = refresh_error(response).await;
        let Error::Decode {
            reason, expected, ..
        } = &error
        else {
            panic!("{name}: {error:?}");
        };
        assert_eq!(*expected, "a token pair", "{name}");
        assert!(reason.contains(reason_part), "{name}: {reason:?}");
        assert!(!error.is_retryable(), "{name}");
    }
}

#[tokio::test]
async fn valid_json_with_a_wrong_content_type_is_still_read() {
    let body = serde_json::to_string(&new_pair_json()).expect("serializable");
    let pair = refresh_against(ResponseTemplate::new(201).set_body_raw(body, "text/plain")).await;
    assert!(pair.is_ok(), "{pair:?}");
}

#[tokio::test]
async fn undocumented_statuses_are_unexpected_with_a_snippet() {
    let error = refresh_error(ResponseTemplate::new(204)).await;
    assert!(
        matches!(
            error,
            Error::UnexpectedResponse {
                status: 204,
                body: None,
                ..
            }
        ),
        "{error:?}"
    );
    let error =
        refresh_error(ResponseTemplate::new(418).set_body_raw("short and stout", "text/plain"))
            .await;
    let Error::UnexpectedResponse {
        status: 418,
        content_type,
        body,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(content_type.as_deref(), Some("text/plain"));
    assert_eq!(body.as_deref(), Some("short and stout"));
}

/// The error and the configured limit; that the read stops there, even for a body that
/// never ends, is `tests/tests/hardening/server_faults.rs::an_endless_body_is_cut_off_at_the_limit`.
#[tokio::test]
async fn a_body_over_a_configured_limit_is_response_too_large() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_string("x".repeat(64 * 1024)))
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(server.uri())
        .project_id(PROJECT_ID)
        .api_token(API_TOKEN)
        .max_response_bytes(4096)
        .build()
        .expect("valid");
    let error = client
        .subscriber_tokens()
        .refresh(&old_refresh_token())
        .await
        .expect_err("too large");
    assert!(
        matches!(
            error,
            Error::ResponseTooLarge {
                status: 201,
                limit: 4096,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_echoed_secret_in_an_error_body_is_scrubbed() {
    let echoed = format!("bad token {} for {}", refresh("old"), API_TOKEN);
    let error = refresh_error(ResponseTemplate::new(503).set_body_string(echoed)).await;
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains(&refresh("old")[..40]) && !shown.contains(API_TOKEN),
        "{shown}"
    );
    assert!(
        shown.contains("bad token [redacted] for [redacted]"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_that_was_not_sent() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .project_id(PROJECT_ID)
        .api_token(API_TOKEN)
        .build()
        .expect("valid");
    let error = client
        .subscriber_tokens()
        .refresh(&old_refresh_token())
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(
            error,
            Error::Transport {
                delivery: Delivery::NotSent,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(!error.may_have_reached_server());
}

#[tokio::test]
async fn an_undocumented_5xx_in_our_error_shape_keeps_its_message() {
    let error = refresh_error(
        ResponseTemplate::new(503).set_body_json(json!({"error": "Service Unavailable"})),
    )
    .await;
    assert!(
        matches!(&error, Error::Server { status: 503, message: Some(m), body: None, .. } if m == "Service Unavailable"),
        "{error:?}"
    );
}
