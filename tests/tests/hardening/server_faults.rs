//! Servers that misbehave below the level of a well-formed HTTP answer.

use std::time::Duration;

use signalwire_fabric::{
    Client, DEFAULT_MAX_RESPONSE_BYTES, Delivery, Error, RefreshToken, testing,
};
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
        .project_id(testing::PROJECT_ID)
        .api_token(testing::API_TOKEN)
        .timeout(timeout)
        .build()
        .expect("loopback URL")
}

/// How a never-ending answer says how long it is.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Chunked,
    /// A `Content-Length` of 1 TiB.
    HugeLength,
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_limit() {
    // Real sockets, so the real clock: the bound is the client's own timeout. A client that
    // read a body to its end before judging its length would never finish reading this
    // one, and would time out instead.
    const BOUND: Duration = Duration::from_secs(20);
    // The server stops (and waits, without ending the body) after this much, so that a
    // client that does read on cannot fill memory.
    const CAP: usize = 256 * 1024 * 1024;
    for framing in [Framing::Chunked, Framing::HugeLength] {
        let (written_tx, written_rx) = tokio::sync::oneshot::channel();
        let base_url = one_connection(move |socket| async move {
            let _ = written_tx.send(write_endlessly(socket, framing, CAP).await);
        })
        .await;
        let started = std::time::Instant::now();
        let error = client(&base_url, BOUND)
            .subscriber_tokens()
            .refresh(&refresh_token())
            .await
            .expect_err("too large");
        let took = started.elapsed();
        assert!(
            matches!(error, Error::ResponseTooLarge { status: 201, limit, .. } if limit == DEFAULT_MAX_RESPONSE_BYTES),
            "{framing:?}: {error:?} after {took:?}"
        );
        // The client hung up: the server's next write failed, long before its cap.
        let written = tokio::time::timeout(BOUND, written_rx)
            .await
            .unwrap_or_else(|_| panic!("{framing:?}: the client never hung up"))
            .expect("the server reports");
        eprintln!(
            "{framing:?}: ResponseTooLarge after {took:?}; the server wrote {written} bytes before the client hung up"
        );
        // What was written past the limit sat in the sockets' buffers (some MiB on
        // loopback); a client that read on would have taken the whole cap.
        assert!(
            written < CAP / 4,
            "{framing:?}: the server wrote {written} bytes"
        );
    }
}

/// Answers 201 with a body that never ends, framed as `framing`, until writing fails (the
/// client hung up); returns how many body bytes were written. After `cap` bytes it stops
/// writing but keeps the body open, waiting for the client to hang up.
async fn write_endlessly(mut socket: tokio::net::TcpStream, framing: Framing, cap: usize) -> usize {
    const PIECE: usize = 64 * 1024;
    let length = match framing {
        Framing::Chunked => "transfer-encoding: chunked".to_owned(),
        Framing::HugeLength => format!("content-length: {}", 1u64 << 40),
    };
    let head =
        format!("HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n{length}\r\n\r\n");
    if socket.write_all(head.as_bytes()).await.is_err() {
        return 0;
    }
    let piece = match framing {
        Framing::Chunked => [
            format!("{PIECE:x}\r\n").into_bytes(),
            vec![b' '; PIECE],
            b"\r\n".to_vec(),
        ]
        .concat(),
        Framing::HugeLength => vec![b' '; PIECE],
    };
    let mut written = 0;
    while written < cap {
        if socket.write_all(&piece).await.is_err() {
            return written;
        }
        written += PIECE;
    }
    // The whole cap went out: wait (at most a minute) for the client to close.
    let mut rest = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while matches!(socket.read(&mut rest).await, Ok(n) if n > 0) {}
    })
    .await;
    written
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
