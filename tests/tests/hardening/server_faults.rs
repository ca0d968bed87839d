//! Servers that misbehave below the level of a well-formed HTTP answer.

use std::time::Duration;

use signalwire_fabric::{Client, DEFAULT_MAX_RESPONSE_BYTES, Delivery, Error, RefreshToken};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A refresh token shaped like a real one.
fn refresh_token() -> RefreshToken {
    signalwire_fabric::testing::refresh_token("hardening")
}

fn client(base_url: &str, timeout: Duration) -> Client {
    Client::builder()
        .base_url(base_url)
        .project_id("project")
        .api_token("PTsecret")
        .timeout(timeout)
        .build()
        .expect("loopback URL")
}

#[tokio::test]
async fn a_ten_mebibyte_body_is_cut_off_at_the_limit() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(201).set_body_bytes(vec![b'x'; 10 * 1024 * 1024]))
        .mount(&server)
        .await;
    let error = client(&server.uri(), Duration::from_secs(30))
        .subscriber_tokens()
        .refresh(&refresh_token())
        .await
        .expect_err("too large");
    assert!(
        matches!(error, Error::ResponseTooLarge { status: 201, limit, .. } if limit == DEFAULT_MAX_RESPONSE_BYTES),
        "{error:?}"
    );
}

/// Serves one connection on a loopback listener: reads the request head, then does
/// whatever `then` does with the socket.
async fn one_connection<F, Fut>(then: F) -> String
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            then(socket).await;
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_connection_reset_mid_response_is_a_transport_error_after_receipt() {
    let base_url = one_connection(|mut socket| async move {
        let head = "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(br#"{"token": "eyJ0eXAiOiJTQVQifQ..aXY"#).await;
        // Dropping the socket closes it with 960 body bytes still owed.
    })
    .await;
    let error = client(&base_url, Duration::from_secs(30))
        .subscriber_tokens()
        .refresh(&refresh_token())
        .await
        .expect_err("cut short");
    assert!(
        matches!(
            error,
            Error::Transport {
                delivery: Delivery::Received,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable() && error.may_have_reached_server());
}

#[tokio::test(start_paused = true)]
async fn a_server_that_accepts_and_never_answers_times_out() {
    // The listener runs on this (paused) runtime, so the only timer is the client's.
    let base_url = one_connection(|socket| async move {
        std::future::pending::<()>().await;
        drop(socket);
    })
    .await;
    let started = tokio::time::Instant::now();
    let error = client(&base_url, Duration::from_secs(5))
        .subscriber_tokens()
        .refresh(&refresh_token())
        .await
        .expect_err("times out");
    assert!(
        matches!(
            error,
            Error::Transport {
                delivery: Delivery::Unknown,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "gave up exactly at the timeout"
    );
    assert!(error.may_have_reached_server() && error.is_retryable());
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn slow_headers_past_the_timeout_time_out() {
    let base_url = one_connection(|mut socket| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let _ = socket
            .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}")
            .await;
    })
    .await;
    let started = tokio::time::Instant::now();
    let error = client(&base_url, Duration::from_secs(5))
        .subscriber_tokens()
        .refresh(&refresh_token())
        .await
        .expect_err("times out");
    assert!(
        matches!(
            error,
            Error::Transport {
                delivery: Delivery::Unknown,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "gave up at the timeout, not when the headers came"
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_never_carries_the_credentials_there() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    for status in [301, 302, 307, 308] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("location", format!("{}/collect", elsewhere.uri()).as_str()),
            )
            .mount(&server)
            .await;
        let error = client(&server.uri(), Duration::from_secs(30))
            .subscriber_tokens()
            .refresh(&refresh_token())
            .await
            .expect_err("not followed");
        assert_eq!(error.status(), Some(status));
        let sent = server.received_requests().await.expect("recording");
        assert!(
            sent[0].headers.contains_key("authorization"),
            "the configured host gets them"
        );
    }
    let leaked = elsewhere.received_requests().await.expect("recording");
    assert!(
        leaked.is_empty(),
        "the other host received {} requests",
        leaked.len()
    );
}
