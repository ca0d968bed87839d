use std::time::Duration;

use signalwire_fabric_fake::{FakeSpace, RotationPolicy};

use crate::common::refresh;

/// The documented refresh-token lifetime, written out.
const TWO_HOURS_FIVE_MINUTES: Duration = Duration::from_secs(2 * 60 * 60 + 5 * 60);

async fn fake_with(rotation: RotationPolicy) -> FakeSpace {
    FakeSpace::builder()
        .rotation(rotation)
        .start()
        .await
        .expect("a random loopback port")
}

#[tokio::test]
async fn by_default_a_refresh_token_works_once() {
    let fake = FakeSpace::start().await;
    assert_eq!(fake.rotation(), RotationPolicy::SingleUse);
    let seeded = fake.create_subscriber_token("alice@example.com");
    let first = refresh(&fake, &seeded.refresh_token).await;
    assert_eq!(first.status, 201);
    let again = refresh(&fake, &seeded.refresh_token).await;
    assert_eq!(again.code(), "token_invalid");
    // The pair the first exchange gave is the one that works now.
    let next = first.json()["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    assert_eq!(refresh(&fake, &next).await.status, 201);
}

#[tokio::test]
async fn a_reusable_refresh_token_works_until_it_expires() {
    let fake = fake_with(RotationPolicy::Reusable).await;
    let seeded = fake.create_subscriber_token("alice@example.com");
    for _ in 0..3 {
        assert_eq!(refresh(&fake, &seeded.refresh_token).await.status, 201);
    }
    fake.clock().advance(TWO_HOURS_FIVE_MINUTES);
    assert_eq!(
        refresh(&fake, &seeded.refresh_token).await.code(),
        "token_expired"
    );
}

#[tokio::test]
async fn reusable_within_a_grace_window_only_inside_that_window() {
    let grace = Duration::from_secs(30);
    let fake = fake_with(RotationPolicy::ReusableWithin(grace)).await;
    let used = fake.create_subscriber_token("alice@example.com");
    let unused = fake.create_subscriber_token("alice@example.com");

    assert_eq!(refresh(&fake, &used.refresh_token).await.status, 201);
    assert_eq!(
        refresh(&fake, &used.refresh_token).await.status,
        201,
        "again within the window"
    );
    fake.clock().advance(grace + Duration::from_secs(1));
    assert_eq!(
        refresh(&fake, &used.refresh_token).await.code(),
        "token_invalid",
        "the window counts from the first use"
    );
    assert_eq!(
        refresh(&fake, &unused.refresh_token).await.status,
        201,
        "a token never used is not bound by any window"
    );
}
