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
        ("GET", "/api/fabric/guests/tokens"),
        ("POST", "/"),
        ("GET", "/api/fabric/subscribers/tokens/refresh/extra"),
        (
            "PATCH",
            "/api/fabric/resources/subscribers/b997405e-c510-45cf-b599-261bd6dd6d8c",
        ),
        (
            "POST",
            "/api/fabric/resources/subscribers/b997405e-c510-45cf-b599-261bd6dd6d8c",
        ),
        ("GET", "/api/fabric/resources/subscribers/"),
        ("GET", "/api/fabric/resources/subscribers//addresses"),
        ("DELETE", "/api/fabric/resources/subscribers"),
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
    assert_eq!(journal.len(), 12);
    assert!(
        journal
            .iter()
            .all(|entry| entry.operation.is_none() && entry.credentials_valid)
    );
    assert_eq!(journal[0].method, "GET");
    assert_eq!(journal[3].path, "/api/fabric/subscribers/tokens/");
}

#[tokio::test]
async fn basic_operations_refuse_missing_wrong_and_bearer_credentials_and_change_nothing() {
    let fake = FakeSpace::start().await;
    let alice = fake.create_subscriber("alice@example.com");
    let pair = fake.create_subscriber_token("alice@example.com");
    let id = alice.resource_id.to_string();
    let wrong = basic(fake.project_id(), "PTnot-the-token");
    let access = format!("Bearer {}", pair.token).into_bytes();
    let body = json!({
        "email": "bob@example.com",
        "reference": "bob@example.com",
        "allowed_addresses": [alice.address_ids[0]],
        "refresh_token": pair.refresh_token,
    })
    .to_string();
    let basic_operations: Vec<Operation> = Operation::ALL
        .into_iter()
        .filter(|operation| !matches!(operation, Operation::InviteToken | Operation::EmbedToken))
        .collect();
    assert_eq!(basic_operations.len(), 9);
    for operation in basic_operations {
        for auth in [Auth::None, Auth::Header(&wrong), Auth::Header(&access)] {
            let answer = send(
                &fake,
                operation.method(),
                &operation.path_for(&id),
                auth,
                body.clone(),
            )
            .await;
            assert_eq!(answer.status, 401, "{operation:?}");
            assert_eq!(answer.json(), json!({"error": "Unauthorized"}));
        }
    }
    assert_eq!(
        fake.subscribers(),
        [alice],
        "nothing was created or deleted"
    );
    assert_eq!(fake.subscriber_id("bob@example.com"), None);
    let journal = fake.journal();
    assert_eq!(journal.len(), 27);
    assert!(journal.iter().all(|entry| !entry.credentials_valid));
    assert_eq!(
        journal
            .iter()
            .filter(|entry| entry.authorization_sent)
            .count(),
        18
    );
}
