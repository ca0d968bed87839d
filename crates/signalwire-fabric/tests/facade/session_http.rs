//! SubscriberSession against a real (loopback) HTTP server, on real time: the server
//! counts what it receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{REFRESH_PATH, access, client_for, refresh};
use serde_json::json;
use signalwire_fabric::{AccessToken, RefreshToken, TokenPair};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers every refresh with a new, numbered pair after a short delay, counting requests.
struct CountingRefresh {
    count: Arc<AtomicUsize>,
}

impl Respond for CountingRefresh {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(201)
            .set_delay(Duration::from_millis(200))
            .set_body_json(json!({"token": access(&format!("srv{n}")), "refresh_token": refresh(&format!("srv{n}"))}))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_at_expiry_send_exactly_one_refresh_request() {
    let server = MockServer::start().await;
    let count = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path(REFRESH_PATH))
        .respond_with(CountingRefresh {
            count: Arc::clone(&count),
        })
        .mount(&server)
        .await;
    let now = Instant::now();
    let expired = TokenPair::new(
        AccessToken::parse(access("old")).expect("valid"),
        RefreshToken::parse(refresh("old")).expect("valid"),
        now,
        now + Duration::from_secs(300),
    );
    let session = client_for(&server).session(expired).build();

    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.access_token().await })
        })
        .collect();
    for caller in callers {
        let token = caller.await.expect("no panic").expect("a token");
        assert_eq!(token.expose_secret(), access("srv1"));
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "one refresh request for 1,000 callers"
    );
    let received = server.received_requests().await.expect("recording");
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).expect("JSON");
    assert_eq!(body, json!({"refresh_token": refresh("old")}));
}
