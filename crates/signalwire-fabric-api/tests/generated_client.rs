//! The generated client against a wiremock server: the request it sends, and what the
//! hand-written hooks do to the response.

use serde_json::json;
use signalwire_fabric_api::{CallContext, Client, ClientInfo, Error, body_limit_exceeded, types};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REFRESH_PATH: &str = "/api/fabric/subscribers/tokens/refresh";

fn client(server: &MockServer, body_limit: usize) -> Client {
    Client::new_with_client(
        &server.uri(),
        reqwest::Client::new(),
        CallContext::new(body_limit),
    )
}

fn refresh_body(token: &str) -> types::RefreshSubscriberTokenRequest {
    types::RefreshSubscriberTokenRequest {
        refresh_token: token.to_owned(),
    }
}

#[tokio::test]
async fn refresh_posts_the_refresh_token_as_json_to_the_refresh_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(REFRESH_PATH))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(body_json(json!({"refresh_token": "old.refresh.token"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "new.access.token",
            "refresh_token": "new.refresh.token",
        })))
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server, 1024);
    let answer = client
        .refresh_subscriber_token()
        .body(refresh_body("old.refresh.token"))
        .send()
        .await
        .expect("the mock answers 201 with a pair");

    assert_eq!(answer.status().as_u16(), 201);
    assert_eq!(answer.token, "new.access.token");
    assert_eq!(answer.refresh_token, "new.refresh.token");
    assert_eq!(client.inner().status().map(|s| s.as_u16()), Some(201));
}

#[tokio::test]
async fn the_api_version_header_progenitor_adds_is_not_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "a", "refresh_token": "r",
        })))
        .mount(&server)
        .await;

    client(&server, 1024)
        .refresh_subscriber_token()
        .body(refresh_body("r0"))
        .send()
        .await
        .expect("201");

    let received = server.received_requests().await.expect("recording is on");
    assert_eq!(received.len(), 1);
    assert!(
        !received[0].headers.contains_key("api-version"),
        "headers sent: {:?}",
        received[0].headers.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_body_over_the_limit_fails_to_read_and_the_status_is_still_known() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
        .mount(&server)
        .await;

    let client = client(&server, 1000);
    let error = client
        .refresh_subscriber_token()
        .body(refresh_body("r0"))
        .send()
        .await
        .expect_err("4096 bytes exceed the 1000-byte limit");

    let Error::ResponseBodyError(inner) = &error else {
        panic!("expected a body error, got {error:?}");
    };
    assert!(body_limit_exceeded(inner), "{inner:?}");
    assert_eq!(client.inner().status().map(|s| s.as_u16()), Some(200));
}

#[tokio::test]
async fn an_undecodable_error_body_keeps_its_status_in_the_exchange() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;

    let client = client(&server, 1024);
    let error = client
        .refresh_subscriber_token()
        .body(refresh_body("r0"))
        .send()
        .await
        .expect_err("HTML is not an error body");

    let Error::InvalidResponsePayload(bytes, _) = &error else {
        panic!("expected an undecodable payload, got {error:?}");
    };
    assert_eq!(&bytes[..], b"<html>oops</html>");
    assert_eq!(client.inner().status().map(|s| s.as_u16()), Some(500));
    assert!(!body_limit_exceeded(&error));
}
