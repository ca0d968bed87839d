//! Token parsing: never panics, and what it accepts matches the JWT grammar and
//! round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalwire_fabric::{AccessToken, RefreshToken, TokenKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let access = AccessToken::parse(text);
    let refresh = RefreshToken::parse(text);
    for accepted in [
        access.as_ref().map(|t| t.expose_secret()),
        refresh.as_ref().map(|t| t.expose_secret()),
    ]
    .into_iter()
    .flatten()
    {
        assert_eq!(accepted, text);
        let segments: Vec<&str> = text.split('.').collect();
        assert!(segments.len() == 3 || segments.len() == 5);
        assert!(!segments[0].is_empty());
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
    }
    if let Ok(token) = &access {
        assert_ne!(token.kind(), Some(TokenKind::Refresh));
    }
    if let Ok(token) = &refresh {
        assert_ne!(token.kind(), Some(TokenKind::Access));
    }
    let _ = format!("{access:?} {refresh:?}");
});
