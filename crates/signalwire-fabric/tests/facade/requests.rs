//! What the facade sends, and what it refuses to send.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{
    API_TOKEN, CREATE_PATH, PROJECT_ID, REFRESH_PATH, access, client_for, refresh,
};
use base64::Engine as _;
use serde_json::json;
use signalwire_fabric::{CreateSubscriberToken, Error, Region, Scope};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const FINGERPRINT: &str = "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE";
const APPLICATION_ID: &str = "6f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10";
const SUBSCRIBER_ID: &str = "2c9f4b1e-8a3d-4f6b-b7e2-5d1a9c0e3f48";

async fn server_answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn created_body() -> serde_json::Value {
    json!({"subscriber_id": SUBSCRIBER_ID, "token": access("c"), "refresh_token": refresh("c")})
}

#[tokio::test]
async fn refresh_sends_one_authenticated_json_post_with_only_the_refresh_token() {
    let server = server_answering(
        201,
        json!({"token": access("n"), "refresh_token": refresh("n")}),
    )
    .await;
    let token = refresh("old").parse().expect("valid");
    client_for(&server)
        .subscriber_tokens()
        .refresh(&token)
        .await
        .expect("201");

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), REFRESH_PATH);
    assert_eq!(request.url.query(), None);
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT_ID}:{API_TOKEN}"))
    );
    assert_eq!(header("authorization"), Some(expected_auth));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    assert_eq!(
        header("user-agent"),
        Some(format!("signalwire-fabric/{}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(header("api-version"), None);
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON");
    assert_eq!(body, json!({"refresh_token": refresh("old")}));
}

#[tokio::test]
async fn create_sends_every_field_it_was_given_in_wire_form() {
    let server = server_answering(200, created_body()).await;
    let expire_at = SystemTime::now() + Duration::from_secs(3600);
    let request = CreateSubscriberToken::new("alice@example.com")
        .expire_at(expire_at)
        .application_id(APPLICATION_ID)
        .password("correct horse battery staple")
        .fingerprint(FINGERPRINT)
        .scope(Scope::SatRefresh)
        .first_name("Alice")
        .last_name("Lind")
        .display_name("Alice L.")
        .job_title("Engineer")
        .time_zone("Europe/Stockholm")
        .country("SE")
        .company_name("Example AB")
        .region(Region::UsCentral);
    let created = client_for(&server)
        .subscriber_tokens()
        .create(request)
        .await
        .expect("200");
    assert_eq!(created.subscriber_id.as_str(), SUBSCRIBER_ID);
    assert_eq!(created.pair.refresh_token().expose_secret(), refresh("c"));
    let left = created.pair.access_expires_in();
    assert!(
        left <= Duration::from_secs(3600) && left > Duration::from_secs(3500),
        "expire_at is honoured: {left:?}"
    );

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests[0].url.path(), CREATE_PATH);
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("JSON");
    let unix = expire_at
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert_eq!(
        body,
        json!({
            "reference": "alice@example.com", "expire_at": unix, "application_id": APPLICATION_ID,
            "password": "correct horse battery staple", "fingerprint": FINGERPRINT, "scope": "sat:refresh",
            "first_name": "Alice", "last_name": "Lind", "display_name": "Alice L.", "job_title": "Engineer",
            "time_zone": "Europe/Stockholm", "country": "SE", "company_name": "Example AB", "region": "us-central",
        })
    );
}

#[tokio::test]
async fn a_minimal_create_sends_only_the_reference_and_gets_two_hours() {
    let server = server_answering(201, created_body()).await;
    let created = client_for(&server)
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("bob@example.com"))
        .await
        .expect("201 is accepted too");
    let left = created.pair.access_expires_in();
    assert!(
        left > Duration::from_secs(7100) && left <= Duration::from_secs(7200),
        "{left:?}"
    );
    let requests = server.received_requests().await.expect("recording");
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("JSON");
    assert_eq!(body, json!({"reference": "bob@example.com"}));
}

#[tokio::test]
async fn a_scope_without_a_fingerprint_gives_a_sixty_second_token() {
    let server = server_answering(200, created_body()).await;
    let created = client_for(&server)
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("carol@example.com").scope(Scope::SatRefresh))
        .await
        .expect("200");
    let left = created.pair.access_expires_in();
    assert!(
        left > Duration::from_secs(50) && left <= Duration::from_secs(60),
        "{left:?}"
    );
}

#[tokio::test]
async fn invalid_create_fields_are_refused_by_name_and_nothing_is_sent() {
    let server = server_answering(200, created_body()).await;
    let client = client_for(&server);
    let base = || CreateSubscriberToken::new("alice@example.com");
    let cases = [
        (CreateSubscriberToken::new(""), "reference", "is empty"),
        (CreateSubscriberToken::new("   "), "reference", "is empty"),
        (
            base().fingerprint("short"),
            "fingerprint",
            "is 5 characters long; it must be exactly 43",
        ),
        (
            base().fingerprint(format!("{}!", &FINGERPRINT[..42])),
            "fingerprint",
            "outside [A-Za-z0-9_-] at byte 42",
        ),
        (
            base().fingerprint(format!("{FINGERPRINT}A")),
            "fingerprint",
            "is 44 characters long",
        ),
        (
            base().application_id("not-a-uuid"),
            "application_id",
            "is not a UUID",
        ),
        (
            base().expire_at(SystemTime::now() - Duration::from_secs(1)),
            "expire_at",
            "is not in the future",
        ),
    ];
    for (request, expected_field, expected_reason) in cases {
        match client.subscriber_tokens().create(request).await {
            Err(Error::InvalidInput { field, reason, .. }) => {
                assert_eq!(field, expected_field);
                assert!(reason.contains(expected_reason), "{field}: {reason}");
            }
            other => panic!("{expected_field}: {other:?}"),
        }
    }
    let sent = server.received_requests().await.expect("recording").len();
    assert_eq!(sent, 0, "nothing may be sent for invalid input");
}

#[tokio::test]
async fn an_access_token_cannot_even_be_made_into_a_refresh_token() {
    let error = access("a")
        .parse::<signalwire_fabric::RefreshToken>()
        .expect_err("wrong kind");
    assert_eq!(error.to_string(), "is an access token, not a refresh token");
}

#[tokio::test]
async fn a_client_without_credentials_refuses_project_operations_before_sending() {
    let server = server_answering(
        201,
        json!({"token": access("n"), "refresh_token": refresh("n")}),
    )
    .await;
    let anonymous = signalwire_fabric::Client::builder()
        .base_url(server.uri())
        .build()
        .expect("credentials are optional");
    let token = refresh("old").parse().expect("valid");
    match anonymous.subscriber_tokens().refresh(&token).await {
        Err(Error::InvalidInput {
            field: "api_token",
            reason,
            ..
        }) => {
            assert!(
                reason.contains("needs the project's credentials"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(
        server
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );
}

/// Every spelling of the proxy variables reqwest (and curl) read.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];
/// Tells [`child_refresh_under_proxy_variables`] which case to run.
const CHILD_CASE: &str = "SIGNALWIRE_FABRIC_TEST_PROXY_CASE";

/// Runs [`child_refresh_under_proxy_variables`] in a child process whose environment
/// names `proxy` in every proxy variable (a test cannot set its own environment safely).
fn run_child_with_proxy_variables(case: &str, proxy: &str) -> std::process::Output {
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"));
    child
        .args([
            "--exact",
            "requests::child_refresh_under_proxy_variables",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_CASE, case)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for name in PROXY_VARIABLES {
        child.env(name, proxy);
    }
    child.output().expect("the test binary runs")
}

/// Not a test on its own: the child half of
/// `proxy_variables_are_ignored_unless_the_client_opts_in`, run with the proxy variables
/// set. It refreshes against a loopback server and checks whose pair came back.
#[tokio::test]
#[ignore = "run by proxy_variables_are_ignored_unless_the_client_opts_in in a child process"]
async fn child_refresh_under_proxy_variables() {
    let Ok(case) = std::env::var(CHILD_CASE) else {
        return;
    };
    let server = server_answering(
        201,
        json!({"token": access("real"), "refresh_token": refresh("real")}),
    )
    .await;
    let builder = signalwire_fabric::Client::builder()
        .base_url(server.uri())
        .project_id(PROJECT_ID)
        .api_token(API_TOKEN);
    let builder = match case.as_str() {
        "ignored" => builder,
        "opted-in" => builder.proxy_from_env(),
        other => panic!("unknown case {other}"),
    };
    let token = refresh("old").parse().expect("valid");
    let pair = builder
        .build()
        .expect("valid")
        .subscriber_tokens()
        .refresh(&token)
        .await
        .expect("an answer");
    let reached = server.received_requests().await.expect("recording").len();
    match case.as_str() {
        "ignored" => {
            assert_eq!(pair.access_token().expose_secret(), access("real"));
            assert_eq!(reached, 1);
        }
        _ => {
            assert_eq!(
                pair.access_token().expose_secret(),
                crate::common::invented_access()
            );
            assert_eq!(reached, 0);
        }
    }
    println!("child case {case}: checked");
}

#[tokio::test]
async fn proxy_variables_are_ignored_unless_the_client_opts_in() {
    let proxy = crate::common::RecordingProxy::start();

    let ignored = tokio::task::spawn_blocking({
        let url = proxy.url();
        move || run_child_with_proxy_variables("ignored", &url)
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&ignored.stdout);
    assert!(
        ignored.status.success() && stdout.contains("child case ignored: checked"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ignored.stderr)
    );
    assert_eq!(
        proxy.requests(),
        Vec::<String>::new(),
        "the proxy saw a request"
    );

    let opted_in = tokio::task::spawn_blocking({
        let url = proxy.url();
        move || run_child_with_proxy_variables("opted-in", &url)
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&opted_in.stdout);
    assert!(
        opted_in.status.success() && stdout.contains("child case opted-in: checked"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&opted_in.stderr)
    );
    assert_eq!(proxy.requests().len(), 1);
}

#[tokio::test]
async fn an_explicit_proxy_carries_the_request_in_absolute_form() {
    let proxy = crate::common::RecordingProxy::start();
    let server = server_answering(
        201,
        json!({"token": access("real"), "refresh_token": refresh("real")}),
    )
    .await;
    let client = signalwire_fabric::Client::builder()
        .base_url(server.uri())
        .project_id(PROJECT_ID)
        .api_token(API_TOKEN)
        .proxy(proxy.url())
        .build()
        .expect("a loopback proxy for a loopback base URL");
    let token = refresh("old").parse().expect("valid");
    client
        .subscriber_tokens()
        .refresh(&token)
        .await
        .expect("the proxy answers");
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    let request_line = requests[0].lines().next().unwrap_or_default();
    assert_eq!(
        request_line,
        format!("POST {}{REFRESH_PATH} HTTP/1.1", server.uri())
    );
    assert_eq!(
        server.received_requests().await.expect("recording").len(),
        0
    );
}
