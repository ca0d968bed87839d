//! Whatever a client sends, the fake answers (and keeps answering).

use serde_json::json;
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{Auth, create, send};

#[tokio::test]
async fn arbitrary_bytes_get_a_422_and_never_break_the_fake() {
    let fake = FakeSpace::start().await;
    let mut rng = fastrand::Rng::with_seed(0x5157_11e5);
    let mut bodies: Vec<Vec<u8>> = (0..40)
        .map(|_| {
            let len = rng.usize(0..2048);
            std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
        })
        .collect();
    bodies.push(vec![0xff, 0xfe, b'{', 0x80]);
    bodies.push(b"{\"reference\": \"\xff\xfe\"}".to_vec());
    bodies.push("[".repeat(100_000).into_bytes());
    bodies.push(format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes());
    bodies.push(b"{\"refresh_token\": 1e999999}".to_vec());
    bodies.push(vec![b' '; 4 * 1024 * 1024]);

    // Every operation that takes a body, each with the credentials it is sent with.
    let pair = fake.create_subscriber_token("someone@example.com");
    let id = fake
        .subscriber("someone@example.com")
        .expect("made by the token")
        .resource_id
        .to_string();
    let access = format!("Bearer {}", pair.token).into_bytes();
    let with_body: [(Operation, Auth<'_>); 7] = [
        (Operation::Create, Auth::Fake),
        (Operation::Refresh, Auth::Fake),
        (Operation::GuestToken, Auth::Fake),
        (Operation::InviteToken, Auth::Header(&access)),
        (Operation::EmbedToken, Auth::None),
        (Operation::CreateSubscriber, Auth::Fake),
        (Operation::UpdateSubscriber, Auth::Fake),
    ];
    for body in bodies {
        for (operation, auth) in with_body {
            let path = operation.path_for(&id);
            let answer = send(&fake, operation.method(), &path, auth, body.clone()).await;
            assert_eq!(
                answer.status,
                422,
                "{operation:?} {:?}",
                &body[..body.len().min(40)]
            );
            assert_eq!(answer.code(), "missing_required_parameter");
        }
    }
    assert_eq!(create(&fake, "alice@example.com").await.status, 200);
    assert_eq!(fake.subscribers().len(), 2, "no bad body created anything");
}

#[tokio::test]
async fn huge_and_odd_values_get_a_422() {
    let fake = FakeSpace::start().await;
    let huge_token = "a".repeat(8 * 1024 * 1024);
    let answer = send(
        &fake,
        "POST",
        Operation::Refresh.path(),
        Auth::Fake,
        json!({ "refresh_token": huge_token }).to_string(),
    )
    .await;
    assert_eq!(answer.code(), "invalid_token_format");

    let huge_jwt = format!("{}.b.c", "a".repeat(4 * 1024 * 1024));
    let answer = send(
        &fake,
        "POST",
        Operation::Refresh.path(),
        Auth::Fake,
        json!({ "refresh_token": huge_jwt }).to_string(),
    )
    .await;
    assert_eq!(answer.code(), "token_invalid");

    for body in [
        json!({"reference": "a", "expire_at": u64::MAX}),
        json!({"reference": "a", "expire_at": -0.0}),
        json!({"reference": "a", "fingerprint": "é".repeat(43)}),
        json!({"reference": "a", "application_id": "ü".repeat(36)}),
    ] {
        let answer = send(
            &fake,
            "POST",
            Operation::Create.path(),
            Auth::Fake,
            body.to_string(),
        )
        .await;
        assert_eq!(answer.code(), "invalid_parameter", "{body}");
    }

    let far_future = json!({"reference": "a", "expire_at": i64::MAX});
    let answer = send(
        &fake,
        "POST",
        Operation::Create.path(),
        Auth::Fake,
        far_future.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[tokio::test]
async fn a_non_utf8_authorization_header_is_just_unauthorized() {
    let fake = FakeSpace::start().await;
    for header in [&b"Basic \xff\xfe"[..], b"\xc3\x28", b"Basic", b"Basic  "] {
        let answer = send(
            &fake,
            "POST",
            Operation::Create.path(),
            Auth::Header(header),
            "{}",
        )
        .await;
        assert_eq!(answer.status, 401, "{header:?}");
    }
    assert_eq!(create(&fake, "alice@example.com").await.status, 200);
}
