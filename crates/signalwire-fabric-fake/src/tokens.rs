//! Making tokens shaped like SignalWire's, and reading what little of them is readable.
//!
//! A real token is a JWE compact serialisation, `header..iv.ciphertext.tag`: the header
//! is base64url JSON, the key segment is empty (`"alg":"dir"`), and the rest is
//! encrypted. The fake's tokens have the same shape and a real-looking header; the other
//! segments are random bytes, since nobody can decrypt them anyway.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long an access token lives unless the request said otherwise.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);
/// How long a refresh token lives: the access token's two hours plus five minutes.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60 + 5 * 60);
/// How long an access token lives when `scope` is set without a `fingerprint`.
pub const SCOPED_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// The `ch` (channel host) the fake writes in every token header.
pub const TOKEN_CHANNEL: &str = "fake.signalwire.test";

const IV_BYTES: usize = 12;
const CIPHERTEXT_BYTES: usize = 400;
const TAG_BYTES: usize = 16;

/// The two kinds of token, as their header's `typ` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `typ` "SAT".
    Access,
    /// `typ` "Refresh".
    Refresh,
}

impl Kind {
    fn typ(self) -> &'static str {
        match self {
            Kind::Access => "SAT",
            Kind::Refresh => "Refresh",
        }
    }
}

/// A new token of `kind`, unique with overwhelming likelihood.
pub(crate) fn mint(kind: Kind) -> String {
    let header = serde_json::json!({
        "alg": "dir",
        "enc": "A256GCM",
        "typ": kind.typ(),
        "ch": TOKEN_CHANNEL,
    });
    let random = |len: usize| {
        let mut bytes = vec![0u8; len];
        fastrand::fill(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    };
    format!(
        "{}..{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        random(IV_BYTES),
        random(CIPHERTEXT_BYTES),
        random(TAG_BYTES),
    )
}

/// True when `text` looks like a JWT: three (JWS) or five (JWE) dot-separated segments
/// of base64url characters, the first one (the header) not empty.
pub(crate) fn has_token_format(text: &str) -> bool {
    let base64url = |segment: &str| {
        segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let segments: Vec<&str> = text.split('.').collect();
    matches!(segments.len(), 3 | 5)
        && segments.iter().all(|segment| base64url(segment))
        && segments.first().is_some_and(|header| !header.is_empty())
}

/// The `typ` the token's header names, when the header is readable JSON.
pub(crate) fn header_typ(text: &str) -> Option<String> {
    let header = text.split('.').next()?;
    let json = URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&json).ok()?;
    header.get("typ")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_have_the_real_shape() {
        let token = mint(Kind::Refresh);
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(segments.len(), 5);
        assert_eq!(segments[1], "", "the key segment of a dir JWE is empty");
        assert_eq!(URL_SAFE_NO_PAD.decode(segments[2]).map(|b| b.len()), Ok(12));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(segments[3]).map(|b| b.len()),
            Ok(400)
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(segments[4]).map(|b| b.len()), Ok(16));
        assert!((600..=900).contains(&token.len()), "{}", token.len());
        assert!(has_token_format(&token));
        assert_eq!(header_typ(&token).as_deref(), Some("Refresh"));
        assert_eq!(header_typ(&mint(Kind::Access)).as_deref(), Some("SAT"));
        assert_ne!(mint(Kind::Access), mint(Kind::Access));
    }

    #[test]
    fn the_format_check_wants_three_or_five_base64url_segments() {
        for good in ["a.b.c", "a..c.d.e", "eyJ.x_-.y"] {
            assert!(has_token_format(good), "{good}");
        }
        for bad in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            ".b.c",
            "a.b.c.d.e.f",
            "a.b+.c",
            "a.b.c ",
        ] {
            assert!(!has_token_format(bad), "{bad}");
        }
        assert_eq!(header_typ("not-base64!.x.y"), None);
    }
}
