//! The facade's guest, invite and embed tokens against the fake, each sent with the
//! credentials its operation takes.

use signalwire_fabric::testing::create_subscriber_token;
use signalwire_fabric::{CreateGuestToken, Error, ErrorCode, Region};
use signalwire_fabric_fake::{FakeSpace, Operation};

fn single_code(error: &Error) -> ErrorCode {
    match error {
        Error::Rejected { errors, .. } if errors.len() == 1 => errors[0].code.clone(),
        other => panic!("expected one 422 entry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_guest_pair_from_the_facade_refreshes_through_the_facade() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let alice = fake.create_subscriber("alice@example.com");
    let address = alice.address_ids[0].to_string();

    let pair = client
        .guest_tokens()
        .create(
            CreateGuestToken::new([address.as_str()])
                .region(Region::UsCentral)
                .ch(Region::UsCentral),
        )
        .await
        .expect("a guest pair");
    assert_eq!(fake.answered_count(Operation::GuestToken, 201), 1);
    assert_eq!(
        fake.token_allowed_addresses(pair.access_token().expose_secret()),
        Some(alice.address_ids.clone())
    );
    let entry = fake.journal().pop().expect("journaled");
    assert!(
        entry.credentials_valid,
        "sent with the project's credentials"
    );
    assert_eq!(
        entry.body,
        Some(serde_json::json!({
            "allowed_addresses": [address],
            "region": "us-central",
            "ch": "us-central",
        }))
    );

    let refreshed = client
        .subscriber_tokens()
        .refresh(pair.refresh_token())
        .await
        .expect("a guest's refresh token is exchanged like a subscriber's");
    assert_eq!(
        fake.token_allowed_addresses(refreshed.access_token().expose_secret()),
        Some(alice.address_ids.clone())
    );

    let error = client
        .guest_tokens()
        .create(CreateGuestToken::new([
            "f371a4d1-68fc-4be1-92ba-1728b766cf1c",
        ]))
        .await
        .expect_err("an address the fake does not hold");
    assert_eq!(single_code(&error), ErrorCode::MustBelongToProject);
    assert_eq!(
        error.field_errors()[0].attribute.as_deref(),
        Some("allowed_addresses")
    );
}

#[tokio::test]
async fn an_invite_from_the_facade_is_sent_with_the_subscribers_bearer_token_only() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let created = create_subscriber_token(&client, "alice@example.com").await;
    let alice = fake.subscriber("alice@example.com").expect("alice");
    let address = alice.address_ids[0].to_string();

    let invite = client
        .invite_tokens()
        .create(created.pair.access_token(), &address, None)
        .await
        .expect("an invite");
    let entry = fake.journal().pop().expect("journaled");
    assert_eq!(
        (entry.operation, entry.status),
        (Some(Operation::InviteToken), 201)
    );
    assert!(entry.credentials_valid && entry.authorization_sent);
    assert_eq!(
        fake.token_subscriber(invite.expose_secret()),
        Some(alice.subscriber_id)
    );

    // Bob's address is not Alice's to invite to.
    let bob = fake.create_subscriber("bob@example.com");
    let error = client
        .invite_tokens()
        .create(
            created.pair.access_token(),
            &bob.address_ids[0].to_string(),
            None,
        )
        .await
        .expect_err("another subscriber's address");
    assert_eq!(single_code(&error), ErrorCode::MustBelongToProject);
    assert_eq!(
        error.field_errors()[0].attribute.as_deref(),
        Some("address_id")
    );

    // The project's credentials would not have done: the fake wants the Bearer token.
    let project_only = fake.create_subscriber_token("carol@example.com");
    let carol = fake.subscriber("carol@example.com").expect("carol");
    fake.clock()
        .advance(signalwire_fabric_fake::ACCESS_TOKEN_LIFETIME);
    let stale = signalwire_fabric::AccessToken::parse(project_only.token).expect("an access token");
    let error = client
        .invite_tokens()
        .create(&stale, &carol.address_ids[0].to_string(), None)
        .await
        .expect_err("expired on the fake's clock");
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
}

#[tokio::test]
async fn a_session_makes_invites_with_its_current_access_token() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let created = create_subscriber_token(&client, "alice@example.com").await;
    let address = fake
        .subscriber("alice@example.com")
        .expect("alice")
        .address_ids[0]
        .to_string();
    let session = client.session(created.pair).build();

    let invite = session.invite_token(&address).await.expect("an invite");
    assert_eq!(
        fake.token_subscriber(invite.expose_secret())
            .map(|id| id.to_string()),
        Some(created.subscriber_id.as_str().to_owned())
    );
    assert_eq!(fake.answered_count(Operation::InviteToken, 201), 1);
    assert_eq!(fake.refresh_count(), 0, "the access token was still fresh");

    let error = session
        .invite_token("f371a4d1-68fc-4be1-92ba-1728b766cf1c")
        .await
        .expect_err("no such address");
    assert_eq!(single_code(&error), ErrorCode::MustBelongToProject);
}

#[tokio::test]
async fn an_embed_token_from_the_facade_is_sent_without_credentials() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let embed = client
        .embed_tokens()
        .create(fake.click_to_call_token())
        .await
        .expect("an embed token");
    assert!(fake.token_expires_at(embed.expose_secret()).is_some());
    let entry = fake.journal().pop().expect("journaled");
    assert_eq!(
        (entry.operation, entry.status),
        (Some(Operation::EmbedToken), 201)
    );
    assert!(
        !entry.authorization_sent,
        "no Authorization header, not even the project's"
    );

    let other = FakeSpace::start().await;
    let error = client
        .embed_tokens()
        .create(other.click_to_call_token())
        .await
        .expect_err("a click-to-call token this fake does not know");
    assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
    let error = client
        .embed_tokens()
        .create("not-a-click-to-call-token")
        .await
        .expect_err("any text is a click-to-call token the fake may not know");
    assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
    assert!(fake.journal().iter().all(|entry| !entry.authorization_sent));
}
