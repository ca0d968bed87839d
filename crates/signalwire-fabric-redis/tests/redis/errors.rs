//! Every Redis failure is an `Error::Coordinator` that names what failed and never shows
//! a password from the URL, a sealing key or a token; bad settings are refused naming the
//! field.

use std::error::Error as _;
use std::time::{Duration, Instant};

use signalwire_fabric::testing;
use signalwire_fabric::{Coordinator, Error, SubscriberSession};
use signalwire_fabric_redis::{RedisCoordinator, SealingKey};

use crate::support::doubles::space;
use crate::support::{RedisServer, free_port, session_key};

/// Everything an error can show: `Display`, `Debug`, and the same for every source.
pub fn all_text(error: &Error) -> String {
    let mut text = format!("{error}\n{error:?}\n");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("{cause}\n{cause:?}\n"));
        source = cause.source();
    }
    text
}

const PASSWORD: &str = "hunter2-Secret-Redis-Password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_never_shows_when_redis_cannot_be_reached() {
    let port = free_port();
    let url = format!("redis://app:{PASSWORD}@127.0.0.1:{port}/0");
    let builder = RedisCoordinator::builder(url).connection_timeout(Duration::from_millis(300));
    // No URL at all in Debug: not the password, not the user, not even where it points.
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("app:"),
        "{shown}"
    );
    assert!(!shown.contains("redis://"), "{shown}");
    let coordinator = builder.build().expect("valid settings");
    let shown = format!("{coordinator:?}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("redis://"),
        "{shown}"
    );
    let started = Instant::now();
    let error = coordinator
        .load(&session_key("down"))
        .await
        .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    assert!(error.is_retryable());
    let text = all_text(&error);
    assert!(
        text.contains(&format!("127.0.0.1:{port}")),
        "it says where, host and port: {text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!text.contains("app:"), "{text}");

    // A URL the client cannot parse is refused without being quoted.
    for bad in [
        format!("redis://:{PASSWORD}@127.0.0.1:notaport"),
        format!("http://:{PASSWORD}@127.0.0.1:6379"),
        format!("rediss://:{PASSWORD}@127.0.0.1:6379/#insecure"),
    ] {
        let error = RedisCoordinator::builder(bad).build().expect_err("refused");
        assert!(
            matches!(
                error,
                Error::InvalidInput {
                    field: "redis_url",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!all_text(&error).contains(PASSWORD), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_without_showing_either_password() {
    let test = "errors::a_wrong_password_is_refused_without_showing_either_password";
    let Some(server) = RedisServer::start_with_password(test, PASSWORD) else {
        return;
    };
    let wrong = "not-the-Right-Password-42";
    let coordinator =
        RedisCoordinator::builder(format!("redis://:{wrong}@127.0.0.1:{}", server.port()))
            .build()
            .expect("valid settings");
    let error = coordinator
        .load(&session_key("auth"))
        .await
        .expect_err("refused");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    let text = all_text(&error);
    assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");

    let right =
        RedisCoordinator::builder(format!("redis://:{PASSWORD}@127.0.0.1:{}", server.port()))
            .build()
            .expect("valid settings");
    assert!(
        right
            .load(&session_key("auth"))
            .await
            .expect("answers")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_sealed_with_another_key_or_for_another_subscriber_is_refused_unseen() {
    let test = "errors::a_pair_sealed_with_another_key_or_for_another_subscriber_is_refused_unseen";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let right = SealingKey::generate().expect("random");
    let wrong = SealingKey::generate().expect("random");
    let sealed = |key: &SealingKey| {
        server
            .coordinator()
            .sealing_key(key.clone())
            .build()
            .expect("valid settings")
    };
    let pair = testing::pair("sealed-secret").to_stored();
    let key = session_key("alice");
    sealed(&right)
        .publish(&key, &pair)
        .await
        .expect("published");
    let secrets = [
        pair.access_token().expose_secret().to_owned(),
        pair.refresh_token().expose_secret().to_owned(),
        right.to_base64(),
        wrong.to_base64(),
    ];
    let shows_no_secret = |text: &str| secrets.iter().all(|secret| !text.contains(secret.as_str()));

    let error = sealed(&wrong).load(&key).await.expect_err("another key");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    assert!(error.to_string().contains("could not be opened"), "{error}");
    assert!(shows_no_secret(&all_text(&error)), "{error:?}");
    assert!(shows_no_secret(&format!("{:?}", sealed(&wrong))));

    let plain = server.coordinator().build().expect("valid settings");
    let error = plain.load(&key).await.expect_err("no key");
    assert!(error.to_string().contains("no sealing key"), "{error}");

    // The sealed value moved to another subscriber's key does not open there.
    let other = session_key("mallory");
    let from = sealed(&right).keys_of(&key).pair;
    let to = sealed(&right).keys_of(&other).pair;
    let signalwire_fabric_redis::redis::Value::BulkString(raw) =
        server.command(&[b"HGET", from.as_bytes(), b"pair"]).await
    else {
        panic!("a stored pair");
    };
    server
        .command(&[b"HSET", to.as_bytes(), b"generation", b"1", b"pair", &raw])
        .await;
    let error = sealed(&right).load(&other).await.expect_err("moved");
    assert!(error.to_string().contains("could not be opened"), "{error}");
    assert!(shows_no_secret(&all_text(&error)));
    // Where it belongs, it opens.
    assert_eq!(
        sealed(&right)
            .load(&key)
            .await
            .expect("opens")
            .expect("stored")
            .pair,
        pair
    );

    // A session that joins with the wrong key gets the same error, and sends nothing.
    let space = space();
    let error = SubscriberSession::join(space.clone(), sealed(&wrong), key)
        .await
        .expect_err("cannot open");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    assert_eq!(space.requests(), 0);
}

#[test]
fn bad_settings_are_refused_naming_the_field() {
    let url = "redis://127.0.0.1:6379";
    let field = |result: Result<RedisCoordinator, Error>| match result {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("refused: {other:?}"),
    };
    assert_eq!(
        field(RedisCoordinator::builder(url).key_prefix("app{1}:").build()),
        "key_prefix"
    );
    assert_eq!(
        field(
            RedisCoordinator::builder(url)
                .connection_timeout(Duration::ZERO)
                .build()
        ),
        "connection_timeout"
    );
    assert_eq!(
        field(
            RedisCoordinator::builder(url)
                .response_timeout(Duration::from_secs(3600))
                .build()
        ),
        "response_timeout"
    );
    assert_eq!(
        field(
            RedisCoordinator::builder(url)
                .previous_sealing_key(SealingKey::from_bytes([7; 32]))
                .build()
        ),
        "sealing_key"
    );
    assert_eq!(
        field(RedisCoordinator::builder("127.0.0.1:6379").build()),
        "redis_url"
    );
    let built = RedisCoordinator::builder("rediss://localhost:6380")
        .key_prefix("prod:")
        .sealing_key(SealingKey::from_bytes([7; 32]))
        .build()
        .expect("valid settings, nothing connected yet");
    assert!(built.is_sealed());
    assert_eq!(
        built.keys_of(&"u".parse().expect("valid")).pair,
        "prod:{u}:pair"
    );
}
