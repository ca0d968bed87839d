//! Every public type and error, formatted with `{:?}` and (where it has one) `{}`, shows no
//! secret.

use crate::common::{API_TOKEN, access, refresh};
use signalwire_fabric::{
    AccessToken, ApiToken, Client, CreateSubscriberToken, Delivery, Error, RefreshToken, Space,
    TokenPair,
};

const PASSWORD: &str = "subscriber-password-value";

/// Every public type that holds a secret, and the errors made without a server. What a
/// server can put into an error is checked in
/// `tests/tests/hardening/leaks.rs::a_server_echoing_each_secret_into_every_error_field_shows_none_of_them`.
#[tokio::test]
async fn nothing_formatted_contains_a_secret() {
    let access_text = access("leak-check");
    let refresh_text = refresh("leak-check");
    let access_token = AccessToken::parse(access_text.clone()).expect("valid");
    let refresh_token = RefreshToken::parse(refresh_text.clone()).expect("valid");
    let pair = TokenPair::issued_at(
        access_token.clone(),
        refresh_token.clone(),
        tokio::time::Instant::now(),
    );
    let client = Client::builder()
        .space("example")
        .project_id("project")
        .api_token(API_TOKEN)
        .build()
        .expect("valid");
    let builder = Client::builder().api_token(API_TOKEN);
    // A password in a URL's user info is refused, and never quoted while refusing it.
    let with_user_info = Client::builder()
        .base_url(format!("https://user:{PASSWORD}@example.com"))
        .proxy(format!("http://user:{PASSWORD}@127.0.0.1:3128"))
        .api_token(API_TOKEN);
    let space_with_user_info =
        Client::builder().space(format!("https://user:{PASSWORD}@example.signalwire.com"));
    let request = CreateSubscriberToken::new("alice@example.com").password(PASSWORD);

    let errors = vec![
        Space::parse("").expect_err("empty"),
        Error::unauthorized().with_message("Unauthorized"),
        Error::transport("timed out", Delivery::Unknown),
        ApiToken::parse(format!("{API_TOKEN}\n"))
            .map(|_| ())
            .expect_err("control character"),
        Space::parse(&format!("https://user:{PASSWORD}@example.signalwire.com"))
            .expect_err("user info"),
        Client::builder()
            .base_url(format!("https://user:{PASSWORD}@example.com"))
            .project_id("project")
            .api_token(API_TOKEN)
            .build()
            .expect_err("user info in the base URL"),
        Client::builder()
            .base_url("https://example.com")
            .project_id("project")
            .api_token(API_TOKEN)
            .proxy(format!("http://user:{PASSWORD}@127.0.0.1:3128"))
            .build()
            .expect_err("user info in the proxy"),
        Client::builder()
            .base_url(format!("https://{PASSWORD}@example.com/not a url"))
            .project_id("project")
            .api_token(API_TOKEN)
            .build()
            .expect_err("whitespace"),
    ];

    let mut shown = vec![
        format!("{access_token:?}"),
        format!("{refresh_token:?}"),
        format!("{pair:?}"),
        format!("{:?}", pair.to_stored()),
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{with_user_info:?}"),
        format!("{space_with_user_info:?}"),
        format!("{request:?}"),
        format!("{:?}", ApiToken::parse(API_TOKEN).expect("valid")),
        format!(
            "{:?} {}",
            Space::parse("example").expect("valid"),
            Space::parse("example").expect("valid")
        ),
        {
            let wrong_kind = RefreshToken::parse(access_text.clone()).expect_err("wrong kind");
            format!("{wrong_kind:?} {wrong_kind}")
        },
    ];
    for error in &errors {
        shown.push(format!("{error:?}"));
        shown.push(error.to_string());
    }

    let secrets = [
        access_text.as_str(),
        refresh_text.as_str(),
        API_TOKEN,
        PASSWORD,
    ];
    for text in &shown {
        for secret in secrets {
            // Any 16-character window of a secret counts as a leak.
            let leaked = (0..=secret.len() - 16).any(|at| text.contains(&secret[at..at + 16]));
            assert!(!leaked, "a secret leaked into: {text}");
        }
    }
    assert_eq!(
        shown.len(),
        12 + 2 * errors.len(),
        "every value was formatted"
    );
}
