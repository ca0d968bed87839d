//! No `Debug` output of the fake's public types shows a token (access, refresh, guest,
//! invite, embed), the API token, the click-to-call token or a password.

use std::time::Duration;

use serde_json::json;
use signalwire_fabric::testing::API_TOKEN;
use signalwire_fabric_fake::wire::{
    GuestEmbedTokenRequest, GuestEmbedTokenResponse, RefreshSubscriberTokenRequest,
    RefreshSubscriberTokenResponse, SubscriberGuestTokenResponse, SubscriberInviteTokenResponse,
    SubscriberRequest, SubscriberTokenRequest, SubscriberTokenResponse,
};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};

use crate::common::{basic, call, embed, invite, refresh};

const PASSWORD: &str = "hunter2-but-longer";
const SUBSCRIBER_PASSWORD: &str = "another-secret-passphrase";
const C2C: &str = "c2c_0123456789abcdef0123456789abcdef";

fn assert_hidden(shown: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!shown.contains(secret), "{shown} shows a secret");
    }
}

#[tokio::test]
async fn debug_output_never_shows_secrets() {
    let builder = FakeSpace::builder()
        .api_token(API_TOKEN)
        .click_to_call_token(C2C);
    let builder_shown = format!("{builder:?}");
    let fake = builder.start().await.expect("a random loopback port");
    let credentials = String::from_utf8(basic(fake.project_id(), API_TOKEN)).expect("ASCII");

    let seeded = fake.create_subscriber_token("alice@example.com");
    let alice = fake.subscriber("alice@example.com").expect("alice");
    let created = call(
        &fake,
        Operation::Create,
        json!({"reference": "bob@example.com", "password": PASSWORD}),
    )
    .await
    .json();
    let refreshed = refresh(&fake, &seeded.refresh_token).await.json();
    let subscriber = call(
        &fake,
        Operation::CreateSubscriber,
        json!({"email": "carol@example.com", "password": SUBSCRIBER_PASSWORD}),
    )
    .await
    .json();
    assert!(subscriber.get("id").is_some(), "{subscriber}");
    let guest = call(
        &fake,
        Operation::GuestToken,
        json!({"allowed_addresses": [alice.address_ids[0]]}),
    )
    .await
    .json();
    let invited = invite(
        &fake,
        &seeded.token,
        json!({"address_id": alice.address_ids[0]}),
    )
    .await
    .json();
    let embedded = embed(&fake, json!({"token": C2C})).await.json();
    fake.inject(
        Operation::Refresh,
        Fault::delay(Duration::from_millis(1)),
        1,
    );

    let text = |value: &serde_json::Value| value.as_str().expect("a token").to_owned();
    let mut secrets = vec![
        API_TOKEN.to_owned(),
        credentials["Basic ".len()..].to_owned(),
        PASSWORD.to_owned(),
        SUBSCRIBER_PASSWORD.to_owned(),
        C2C.to_owned(),
        C2C["c2c_".len()..].to_owned(),
        seeded.token.clone(),
        seeded.refresh_token.clone(),
        text(&created["token"]),
        text(&created["refresh_token"]),
        text(&refreshed["token"]),
        text(&refreshed["refresh_token"]),
        text(&guest["token"]),
        text(&guest["refresh_token"]),
        text(&invited["token"]),
        text(&embedded["token"]),
    ];
    // A prefix is enough to leak a token: check the random part of each.
    for token in secrets.clone().iter().filter(|token| token.contains("..")) {
        let random_part = token.split("..").nth(1).expect("after the header");
        secrets.push(random_part[..20].to_owned());
    }
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();

    let journal = fake.journal();
    assert_eq!(journal.len(), 6);
    assert!(
        journal.iter().all(|entry| entry.status < 300),
        "{journal:?}"
    );
    let wire_request: SubscriberTokenRequest = serde_json::from_value(json!({
        "reference": "bob@example.com", "password": PASSWORD
    }))
    .expect("a request");
    let subscriber_request: SubscriberRequest = serde_json::from_value(json!({
        "email": "carol@example.com", "password": SUBSCRIBER_PASSWORD
    }))
    .expect("a request");
    let shown = [
        builder_shown,
        format!("{fake:?}"),
        format!("{seeded:?}"),
        format!("{journal:?}"),
        format!("{:?}", fake.clock()),
        format!("{:?}", Fault::status(503).html()),
        format!("{wire_request:?}"),
        format!("{subscriber_request:?}"),
        format!("{:?}", fake.subscribers()),
        format!(
            "{:?}",
            RefreshSubscriberTokenRequest {
                refresh_token: seeded.refresh_token.clone(),
            }
        ),
        format!(
            "{:?}",
            serde_json::from_value::<SubscriberTokenResponse>(created.clone()).expect("a response")
        ),
        format!(
            "{:?}",
            serde_json::from_value::<RefreshSubscriberTokenResponse>(refreshed.clone())
                .expect("a response")
        ),
        format!(
            "{:?}",
            serde_json::from_value::<SubscriberGuestTokenResponse>(guest.clone())
                .expect("a response")
        ),
        format!(
            "{:?}",
            serde_json::from_value::<SubscriberInviteTokenResponse>(invited.clone())
                .expect("a response")
        ),
        format!(
            "{:?}",
            GuestEmbedTokenRequest {
                token: C2C.to_owned()
            }
        ),
        format!(
            "{:?}",
            serde_json::from_value::<GuestEmbedTokenResponse>(embedded.clone())
                .expect("a response")
        ),
    ];
    for shown in &shown {
        assert_hidden(shown, &secrets);
    }
    // What is shown is still useful.
    assert!(shown[1].contains(fake.base_url()) && shown[1].contains(fake.project_id()));
    assert!(shown[2].contains(&seeded.subscriber_id.to_string()));
    assert!(
        shown[3].contains("/api/fabric/subscribers/tokens/refresh") && shown[3].contains("201")
    );
    assert!(shown[6].contains("bob@example.com"));
    assert!(shown[7].contains("carol@example.com"));
    assert!(shown[8].contains(&alice.resource_id.to_string()));
}
