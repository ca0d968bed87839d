//! No secret ever leaks: a whole lifecycle with every log line captured at TRACE level and
//! every value formatted, searched for every secret involved.

use std::time::Duration;

use signalwire_fabric::{CreateSubscriberToken, Error, RetryPolicy, TokenPair};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};
use tokio::time::Instant;

use signalwire_fabric::testing::{self, due_now};

#[tokio::test]
async fn a_whole_lifecycle_logs_and_formats_no_secret() {
    let (captured, _guard) = signalwire_fabric::testing::CapturedLogs::for_this_thread();

    let fake = FakeSpace::start().await;
    let client = fake.client();
    let mut shown: Vec<String> = vec![format!("{client:?}"), format!("{fake:?}")];
    let mut pairs: Vec<TokenPair> = Vec::new();
    let mut errors: Vec<Error> = Vec::new();

    // Create, then refresh by hand.
    let created = client
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("frank@example.com").password("s3cret-password-value"))
        .await
        .expect("created");
    shown.push(format!("{created:?}"));
    pairs.push(created.pair.clone());
    let first = client
        .subscriber_tokens()
        .refresh(created.pair.refresh_token())
        .await
        .expect("refreshed");
    pairs.push(first.clone());

    // Failures: a spent token, wrong credentials, a server error page.
    errors.push(
        client
            .subscriber_tokens()
            .refresh(created.pair.refresh_token())
            .await
            .expect_err("spent"),
    );
    let wrong = fake
        .client_builder()
        .api_token("PTwrong-token-for-the-leak-test")
        .build()
        .expect("valid");
    errors.push(
        wrong
            .subscriber_tokens()
            .refresh(first.refresh_token())
            .await
            .expect_err("401"),
    );
    fake.inject(Operation::Refresh, Fault::status(503).html(), 1);
    errors.push(
        client
            .subscriber_tokens()
            .refresh(first.refresh_token())
            .await
            .expect_err("503"),
    );

    // A session that retries through two failures, then ends on a refusal.
    fake.inject(Operation::Refresh, Fault::status(500), 1);
    fake.inject(
        Operation::Refresh,
        Fault::rate_limited(Some(Duration::from_millis(0))),
        1,
    );
    let session = client
        .session(due_now(&first))
        .retry(RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(50),
        })
        .build();
    let token = session.access_token().await;
    shown.push(format!("{token:?}"));
    for _ in 0..100 {
        if session.status().refreshes == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = session.access_token().await;
    }
    assert_eq!(session.status().refreshes, 1, "refreshed after the retries");
    pairs.push(session.pair());
    shown.push(format!("{session:?} {:?}", session.status()));

    let spent = TokenPair::new(
        first.access_token().clone(),
        first.refresh_token().clone(),
        Instant::now(),
        first.refresh_expires_at(),
    );
    let ended = client.session(spent).build();
    errors.push(
        ended
            .access_token()
            .await
            .expect_err("spent: the session ends"),
    );
    shown.push(format!("{ended:?} {:?}", ended.status()));

    for pair in &pairs {
        shown.push(format!("{pair:?} {:?}", pair.to_stored()));
    }
    for error in &errors {
        shown.push(format!("{error} {error:?}"));
    }
    let log = captured.text();
    assert!(
        log.contains("subscriber token refresh failed; will retry"),
        "the log was captured: {log}"
    );

    let mut secrets: Vec<String> = vec![
        fake.api_token().to_owned(),
        "PTwrong-token-for-the-leak-test".to_owned(),
        "s3cret-password-value".to_owned(),
    ];
    for pair in &pairs {
        secrets.push(pair.access_token().expose_secret().to_owned());
        secrets.push(pair.refresh_token().expose_secret().to_owned());
    }
    assert!(secrets.len() >= 9);
    let everything = format!("{log}\n{}", shown.join("\n"));
    for secret in &secrets {
        // The first 24 characters of a token are its public header; look past them.
        let probe = if secret.len() > 64 {
            &secret[30..60]
        } else {
            secret.as_str()
        };
        assert!(!everything.contains(probe), "a secret leaked");
    }
}

/// A secret short enough to escape the "40 token characters in a row" rule, so only the
/// known-secret scrubbing can catch it.
const SHORT_API_TOKEN: &str = "PTshort-Key9";
const PASSWORD: &str = "hunter2-pw";

/// Every error shape a server can answer with, each carrying `secret` in every field it
/// has: the `error` text, every field of a 422 entry, extra fields, headers, a next link.
fn echoing_answers(secret: &str) -> Vec<wiremock::ResponseTemplate> {
    use serde_json::json;
    use wiremock::ResponseTemplate;

    let error_body = json!({"error": secret, "statusCode": secret});
    let rejection = json!({
        "errors": [{
            "type": secret, "code": secret, "message": secret,
            "attribute": secret, "url": format!("https://docs.example/{secret}")
        }],
        "statusCode": secret,
    });
    let mut answers: Vec<ResponseTemplate> = [401, 403, 404, 418, 500, 503]
        .into_iter()
        .map(|status| ResponseTemplate::new(status).set_body_json(&error_body))
        .collect();
    answers.extend([
        ResponseTemplate::new(422).set_body_json(&rejection),
        ResponseTemplate::new(422).set_body_string(format!("not json: {secret}")),
        ResponseTemplate::new(429)
            .insert_header("retry-after", secret)
            .set_body_string(secret),
        ResponseTemplate::new(502)
            .insert_header("content-type", "text/html")
            .set_body_string(format!("<h1>Bad Gateway</h1><p>{secret}</p>")),
        ResponseTemplate::new(302)
            .insert_header("location", format!("https://evil.example/?t={secret}"))
            .insert_header("content-type", format!("text/html; x={secret}"))
            .set_body_string(secret),
        ResponseTemplate::new(200).set_body_json(json!({"token": secret, "refresh_token": secret})),
        ResponseTemplate::new(200).set_body_json(json!({"token": 7, "refresh_token": [secret]})),
        ResponseTemplate::new(200).set_body_string(format!(r#"{{"token": "{secret}"#)),
        ResponseTemplate::new(201).set_body_json(json!({"subscriber_id": secret, "token": secret})),
    ]);
    answers
}

/// Every text an error offers: `Display`, `Debug`, its sources, its 422 entries.
fn everything_shown(error: &Error) -> String {
    let mut shown = format!("{error}\n{error:?}\n");
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        shown.push_str(&format!("{inner}\n{inner:?}\n"));
        source = inner.source();
    }
    for entry in error.field_errors() {
        shown.push_str(&format!("{entry}\n{entry:?}\n{}\n", entry.code));
    }
    shown
}

#[tokio::test]
async fn a_server_echoing_each_secret_into_every_error_field_shows_none_of_them() {
    use futures_util::TryStreamExt as _;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let refresh_token: signalwire_fabric::RefreshToken = signalwire_fabric_fake::FakeSpace::start()
        .await
        .create_subscriber_token("echo@example.com")
        .refresh_token
        .parse()
        .expect("the fake issues refresh tokens");
    let secrets = [
        SHORT_API_TOKEN.to_owned(),
        PASSWORD.to_owned(),
        refresh_token.expose_secret().to_owned(),
    ];
    let mut checked = 0;
    for secret in &secrets {
        for answer in echoing_answers(secret) {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(answer.clone())
                .mount(&server)
                .await;
            // A list whose next link leaves the host, carrying the secret.
            let page = serde_json::json!({
                "data": [],
                "links": {"self": "x", "first": "x", "next": format!("https://evil.example/?t={secret}")},
            });
            Mock::given(method("GET"))
                .and(path("/api/fabric/resources/subscribers"))
                .respond_with(ResponseTemplate::new(200).set_body_json(page))
                .mount(&server)
                .await;
            let client = signalwire_fabric::Client::builder()
                .base_url(server.uri())
                .project_id(testing::PROJECT_ID)
                .api_token(SHORT_API_TOKEN)
                .build()
                .expect("valid");
            // Each call with the secrets it handles: the API token always, plus what the
            // call sent (a call cannot know a secret it never held).
            let refresh_secret = refresh_token.expose_secret();
            let mut errors: Vec<(Error, Vec<&str>)> = Vec::new();
            if let Err(error) = client.subscriber_tokens().refresh(&refresh_token).await {
                errors.push((error, vec![SHORT_API_TOKEN, refresh_secret]));
            }
            if let Err(error) = client
                .subscriber_tokens()
                .create(CreateSubscriberToken::new("echo@example.com").password(PASSWORD))
                .await
            {
                errors.push((error, vec![SHORT_API_TOKEN, PASSWORD, refresh_secret]));
            }
            if let Err(error) = client.subscribers().list().try_collect::<Vec<_>>().await {
                errors.push((error, vec![SHORT_API_TOKEN, refresh_secret]));
            }
            assert!(
                !errors.is_empty(),
                "every answer here is an error to some call"
            );
            for (error, probes) in &errors {
                let shown = everything_shown(error);
                for probe in probes {
                    // The whole secret, and a slice from inside it: a snippet is cut at
                    // 256 bytes, so a leaked long token would only ever show in part.
                    let inner = &probe[probe.len() / 3..(probe.len() / 3 + 8).min(probe.len())];
                    assert!(!shown.contains(probe), "a secret shows in {shown}");
                    assert!(
                        probe.len() < 24 || !shown.contains(inner),
                        "part of a secret shows in {shown}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 3 * 14 * 2, "only {checked} errors were checked");
}

/// Passwords a scrubber matching only the exact text would miss once a server has
/// written them back: runs of whitespace, JSON escapes, HTML-safe `\u` escapes,
/// non-ASCII, an escaped `/`, percent-encoding.
#[tokio::test]
async fn a_password_echoed_in_any_common_escaping_shows_in_no_error() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let passwords = [
        "correct  horse\tbattery",
        "quo\"te\\pw-1234",
        "a<b>&c123/x'y",
        "p\u{e4}ssw\u{f6}rd-\u{1F600}",
    ];
    let mut checked = 0;
    for password in passwords {
        let json = serde_json::to_string(password).expect("JSON");
        let html_safe: String = password
            .chars()
            .map(|c| match c {
                '<' | '>' | '&' | '\'' => format!("\\u{:04x}", c as u32),
                c if !c.is_ascii() => c
                    .encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|unit| format!("\\u{unit:04x}"))
                    .collect(),
                '"' => "\\\"".to_owned(),
                '\\' => "\\\\".to_owned(),
                '\t' => "\\t".to_owned(),
                c => c.to_string(),
            })
            .collect();
        let slashed = json.replace('/', "\\/");
        let form: String = url::form_urlencoded::byte_serialize(password.as_bytes()).collect();
        // How each spelling might be recognised in what an error shows.
        let mut probes = vec![
            password.to_owned(),
            password.split_whitespace().collect::<Vec<_>>().join(" "),
            json.trim_matches('"').to_owned(),
            html_safe.clone(),
            slashed.trim_matches('"').to_owned(),
            form.clone(),
        ];
        probes.retain(|probe| probe.len() >= 8);
        let bodies = [
            ResponseTemplate::new(500).set_body_string(format!("echo: {password}")),
            ResponseTemplate::new(500).set_body_string(format!(r#"{{"errors":{json}}}"#)),
            ResponseTemplate::new(500).set_body_string(format!(r#"{{"errors":"{html_safe}"}}"#)),
            ResponseTemplate::new(503).set_body_string(format!(r#"{{"errors":{slashed}}}"#)),
            ResponseTemplate::new(502).set_body_string(format!("password={form}")),
            ResponseTemplate::new(200).set_body_string(format!(r#"{{"token":{json}"#)),
        ];
        for answer in bodies {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(answer)
                .mount(&server)
                .await;
            let client = signalwire_fabric::Client::builder()
                .base_url(server.uri())
                .project_id(testing::PROJECT_ID)
                .api_token(SHORT_API_TOKEN)
                .build()
                .expect("valid");
            let error = client
                .subscriber_tokens()
                .create(CreateSubscriberToken::new("echo@example.com").password(password))
                .await
                .expect_err("every answer here is an error");
            let shown = everything_shown(&error);
            for probe in &probes {
                assert!(
                    !shown.contains(probe.as_str()),
                    "{probe:?} shows in {shown}"
                );
            }
            assert!(shown.contains("[redacted]"), "the echo was there: {shown}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 6);
}

#[tokio::test]
async fn a_session_failing_on_echoed_secrets_logs_none_of_them() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let (captured, _guard) = signalwire_fabric::testing::CapturedLogs::for_this_thread();

    let fake = FakeSpace::start().await;
    let seeded = fake.create_subscriber_token("echo@example.com");
    let pair = TokenPair::issued_at(
        seeded.token.parse().expect("access"),
        seeded.refresh_token.parse().expect("refresh"),
        Instant::now(),
    );
    let refresh_secret = pair.refresh_token().expose_secret().to_owned();
    let server = MockServer::start().await;
    // A 503 echoing the refresh token, then a 422 whose unknown code is the API token.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(serde_json::json!({"error": format!("busy {refresh_secret}")})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(serde_json::json!({
            "errors": [{"type": "validation_error", "code": SHORT_API_TOKEN,
                        "message": "no", "attribute": null, "url": SHORT_API_TOKEN}]
        })))
        .mount(&server)
        .await;
    let client = signalwire_fabric::Client::builder()
        .base_url(server.uri())
        .project_id(testing::PROJECT_ID)
        .api_token(SHORT_API_TOKEN)
        .build()
        .expect("valid");
    let session = client
        .session(due_now(&pair))
        .retry(RetryPolicy {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
        })
        .build();
    let mut shown = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !session.status().ended && Instant::now() < deadline {
        if let Err(error) = session.access_token().await {
            shown.push(everything_shown(&error));
        }
    }
    assert!(session.status().ended, "the 422 ends the session");
    assert!(
        server.received_requests().await.expect("recording").len() >= 2,
        "the 503 and the 422 were both answered"
    );
    shown.push(format!("{:?}", session.status()));
    let logs = captured.text();
    assert!(
        logs.contains("refresh"),
        "the session logged its attempts: {logs}"
    );
    let everything = format!("{logs}\n{}", shown.join("\n"));
    for probe in [SHORT_API_TOKEN, refresh_secret.as_str()] {
        assert!(!everything.contains(probe), "a secret leaked: {everything}");
    }
}
