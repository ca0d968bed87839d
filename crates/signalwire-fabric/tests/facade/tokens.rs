//! Token parsing, kind detection, redaction and the stored form of a pair.

use std::time::Duration;

use crate::common::{access, jwe, refresh};
use signalwire_fabric::{
    AccessToken, MAX_TOKEN_LEN, RefreshToken, StoredTokenPair, TokenFormatError, TokenKind,
    TokenPair,
};

#[test]
fn real_shaped_tokens_parse_and_report_their_kind() {
    let access_token = AccessToken::parse(access("a")).expect("valid JWE");
    assert_eq!(access_token.kind(), Some(TokenKind::Access));
    assert_eq!(access_token.expose_secret(), access("a"));
    let refresh_token = RefreshToken::parse(refresh("r")).expect("valid JWE");
    assert_eq!(refresh_token.kind(), Some(TokenKind::Refresh));
}

#[test]
fn three_segment_jws_and_unreadable_headers_are_accepted_without_a_kind() {
    let jws = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    assert_eq!(
        RefreshToken::parse(jws).expect("a JWS is a JWT").kind(),
        None
    );
    let opaque = "bm90LWpzb24..aXY.Y3Q.dGFn"; // header "not-json"
    assert_eq!(
        AccessToken::parse(opaque).expect("shape is fine").kind(),
        None
    );
    let other_typ = jwe("JWT", "x");
    assert_eq!(
        RefreshToken::parse(other_typ).expect("unknown typ").kind(),
        None
    );
}

#[test]
fn the_wrong_kind_is_refused_when_the_header_says_so() {
    assert_eq!(
        RefreshToken::parse(access("a")).expect_err("an access token"),
        TokenFormatError::WrongKind {
            expected: TokenKind::Refresh,
            found: TokenKind::Access
        }
    );
    assert_eq!(
        AccessToken::parse(refresh("r")).expect_err("a refresh token"),
        TokenFormatError::WrongKind {
            expected: TokenKind::Access,
            found: TokenKind::Refresh
        }
    );
}

#[test]
fn malformed_text_is_refused_with_the_reason() {
    let cases: Vec<(String, TokenFormatError)> = vec![
        (String::new(), TokenFormatError::Empty),
        ("   ".to_owned(), TokenFormatError::BadCharacter(0)),
        (
            format!("{}\n", refresh("r")),
            TokenFormatError::BadCharacter(refresh("r").len()),
        ),
        (
            "a.b.c\r\nX-Evil: 1".to_owned(),
            TokenFormatError::BadCharacter(5),
        ),
        ("aé.b.c".to_owned(), TokenFormatError::BadCharacter(1)),
        ("a+b.c.d".to_owned(), TokenFormatError::BadCharacter(1)),
        ("abc".to_owned(), TokenFormatError::SegmentCount(1)),
        ("a.b.c.d".to_owned(), TokenFormatError::SegmentCount(4)),
        ("a.b.c.d.e.f".to_owned(), TokenFormatError::SegmentCount(6)),
        (".b.c".to_owned(), TokenFormatError::EmptyHeader),
        (
            "a".repeat(MAX_TOKEN_LEN + 1),
            TokenFormatError::TooLong(MAX_TOKEN_LEN + 1),
        ),
        (
            "a".repeat(1024 * 1024),
            TokenFormatError::TooLong(1024 * 1024),
        ),
    ];
    for (text, expected) in cases {
        let shown: String = text.chars().take(20).collect();
        assert_eq!(
            RefreshToken::parse(text.clone()).err(),
            Some(expected.clone()),
            "{shown:?}"
        );
        assert_eq!(
            text.parse::<AccessToken>().err(),
            Some(expected),
            "{shown:?}"
        );
    }
}

#[test]
fn debug_is_redacted_and_errors_never_quote_the_token() {
    let secret = refresh("very-secret");
    let token = RefreshToken::parse(secret.clone()).expect("valid");
    assert_eq!(format!("{token:?}"), "RefreshToken([redacted])");
    assert_eq!(
        format!("{:?}", AccessToken::parse(access("s")).expect("valid")),
        "AccessToken([redacted])"
    );
    let error = AccessToken::parse(secret.clone()).expect_err("wrong kind");
    assert!(!format!("{error} {error:?}").contains(&secret[..20]));
}

#[tokio::test(start_paused = true)]
async fn a_pair_expires_on_the_documented_lifetimes() {
    let issued = tokio::time::Instant::now();
    let pair = TokenPair::issued_at(
        AccessToken::parse(access("a")).expect("valid"),
        RefreshToken::parse(refresh("r")).expect("valid"),
        issued,
    );
    assert_eq!(pair.access_expires_in(), Duration::from_secs(7200));
    assert_eq!(pair.refresh_expires_in(), Duration::from_secs(7500));
    tokio::time::advance(Duration::from_secs(7200)).await;
    assert_eq!(pair.access_expires_in(), Duration::ZERO);
    assert_eq!(pair.refresh_expires_in(), Duration::from_secs(300));
    let shown = format!("{pair:?}");
    assert!(
        shown.contains("[redacted]") && !shown.contains(&access("a")[..30]),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_stored_form_round_trips_with_absolute_times_and_redacts_debug() {
    let pair = TokenPair::issued_at(
        AccessToken::parse(access("a")).expect("valid"),
        RefreshToken::parse(refresh("r")).expect("valid"),
        tokio::time::Instant::now(),
    );
    let stored = pair.to_stored();
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(
        stored.access_expires_at_unix.abs_diff(now_unix + 7200) <= 1,
        "{stored:?}"
    );
    assert!(
        stored.refresh_expires_at_unix.abs_diff(now_unix + 7500) <= 1,
        "{stored:?}"
    );
    assert!(!format!("{stored:?}").contains(&refresh("r")[..30]));

    let json = serde_json::to_value(&stored).expect("serializable");
    assert_eq!(
        json["refresh_token"],
        refresh("r"),
        "the stored form holds the real text"
    );
    let back =
        TokenPair::from_stored(serde_json::from_value::<StoredTokenPair>(json).expect("valid"));
    assert_eq!(back.access_token(), pair.access_token());
    assert_eq!(back.refresh_token(), pair.refresh_token());
    let drift = back
        .refresh_expires_in()
        .abs_diff(pair.refresh_expires_in());
    assert!(drift <= Duration::from_secs(1), "{drift:?}");
}

#[test]
fn a_stored_pair_with_a_bad_token_or_absurd_time_does_not_panic() {
    let bad = serde_json::json!({
        "access_token": "not a token", "refresh_token": refresh("r"),
        "access_expires_at_unix": 1, "refresh_expires_at_unix": 2,
    });
    let error = serde_json::from_value::<StoredTokenPair>(bad).expect_err("bad token");
    assert!(
        error.to_string().contains("the token has a character"),
        "{error}"
    );

    let absurd = serde_json::json!({
        "access_token": access("a"), "refresh_token": refresh("r"),
        "access_expires_at_unix": u64::MAX, "refresh_expires_at_unix": 0,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let pair = TokenPair::from_stored(serde_json::from_value(absurd).expect("valid shape"));
        assert!(pair.access_expires_in() > Duration::from_secs(365 * 24 * 3600));
        assert_eq!(pair.refresh_expires_in(), Duration::ZERO);
    });
}
