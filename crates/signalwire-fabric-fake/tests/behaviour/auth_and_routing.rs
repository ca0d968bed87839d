use serde_json::json;
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{Auth, basic, send};

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_on_every_path() {
    let fake = FakeSpace::start().await;
    let wrong_token = basic(fake.project_id(), "PTnot-the-token");
    let wrong_project = basic("someone-else", fake.api_token());
    let bearer = format!("Bearer {}", fake.api_token()).into_bytes();
    let not_base64 = b"Basic %%%".to_vec();
    let body = json!({"reference": "alice@example.com"}).to_string();

    let mut expected_entries = 0;
    for auth in [
        Auth::None,
        Auth::Header(&wrong_token),
        Auth::Header(&wrong_project),
        Auth::Header(&bearer),
        Auth::Header(&not_base64),
    ] {
        for path in [
            Operation::Create.path(),
            Operation::Refresh.path(),
            "/api/fabric/unknown",
        ] {
            let answer = send(&fake, "POST", path, auth, body.clone()).await;
            assert_eq!(answer.status, 401, "{path}");
            assert_eq!(answer.json(), json!({"error": "Unauthorized"}), "{path}");
            assert_eq!(answer.content_type.as_deref(), Some("application/json"));
            expected_entries += 1;
        }
    }

    let journal = fake.journal();
    assert_eq!(journal.len(), expected_entries);
    assert!(journal.iter().all(|entry| !entry.credentials_valid));
    assert_eq!(
        fake.subscriber_id("alice@example.com"),
        None,
        "an unauthorized create must not create anything"
    );
}

#[tokio::test]
async fn the_right_credentials_are_accepted_whatever_the_scheme_case() {
    let fake = FakeSpace::start().await;
    let lower_case = {
        let mut header = basic(fake.project_id(), fake.api_token());
        header[..5].copy_from_slice(b"basic");
        header
    };
    let answer = send(
        &fake,
        "POST",
        Operation::Create.path(),
        Auth::Header(&lower_case),
        json!({"reference": "alice@example.com"}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(fake.journal()[0].credentials_valid);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_404_with_a_body() {
    let fake = FakeSpace::start().await;
    for (method, path) in [
        ("GET", Operation::Refresh.path()),
        ("PUT", Operation::Create.path()),
        ("DELETE", Operation::Create.path()),
        ("POST", "/api/fabric/subscribers/tokens/"),
        ("POST", "/api/fabric/guests/tokens"),
        ("POST", "/"),
        ("GET", "/api/fabric/subscribers/tokens/refresh/extra"),
    ] {
        let answer = send(&fake, method, path, Auth::Fake, "{}").await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(
            answer.json(),
            json!({"error": "Not Found"}),
            "{method} {path}"
        );
    }
    let journal = fake.journal();
    assert_eq!(journal.len(), 7);
    assert!(
        journal
            .iter()
            .all(|entry| entry.operation.is_none() && entry.credentials_valid)
    );
    assert_eq!(journal[0].method, "GET");
    assert_eq!(journal[3].path, "/api/fabric/subscribers/tokens/");
}
