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
/// How long an invite token lives when the request gave no `expires_at` (SignalWire
/// does not document it; this is the fake's choice).
pub const INVITE_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How long an embed token lives (undocumented; the fake gives it an access token's two
/// hours).
pub const EMBED_TOKEN_LIFETIME: Duration = ACCESS_TOKEN_LIFETIME;
/// The `ch` (channel host) the fake writes in every token header.
pub const TOKEN_CHANNEL: &str = "fake.signalwire.test";

/// What a click-to-call token starts with; 32 hexadecimal digits follow.
const CLICK_TO_CALL_PREFIX: &str = "c2c_";
const CLICK_TO_CALL_DIGITS: usize = 32;

const IV_BYTES: usize = 12;
const CIPHERTEXT_BYTES: usize = 400;
const TAG_BYTES: usize = 16;

/// The kinds of token the fake issues, and the `typ` each one's header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A subscriber's or a guest's access token: `typ` "SAT".
    Access,
    /// A subscriber's or a guest's refresh token: `typ` "Refresh".
    Refresh,
    /// An invite token: `typ` "Invite" (the fake's choice; SignalWire's example shows no
    /// invite header).
    Invite,
    /// An embed token: `typ` "SAT", as the spec's example of one says.
    Embed,
}

impl Kind {
    pub(crate) fn typ(self) -> &'static str {
        match self {
            Kind::Access | Kind::Embed => "SAT",
            Kind::Refresh => "Refresh",
            Kind::Invite => "Invite",
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

/// A new click-to-call token: `c2c_` and 32 random lowercase hexadecimal digits.
pub(crate) fn click_to_call() -> String {
    let digits: String = std::iter::repeat_with(|| fastrand::digit(16))
        .take(CLICK_TO_CALL_DIGITS)
        .collect();
    format!("{CLICK_TO_CALL_PREFIX}{digits}")
}

/// True when `text` is shaped like a click-to-call token: `c2c_` and exactly 32
/// hexadecimal digits (either case).
pub(crate) fn is_click_to_call(text: &str) -> bool {
    text.strip_prefix(CLICK_TO_CALL_PREFIX)
        .is_some_and(|digits| {
            digits.len() == CLICK_TO_CALL_DIGITS && digits.bytes().all(|b| b.is_ascii_hexdigit())
        })
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

    #[test]
    fn every_kind_has_its_typ() {
        assert_eq!(header_typ(&mint(Kind::Invite)).as_deref(), Some("Invite"));
        assert_eq!(header_typ(&mint(Kind::Embed)).as_deref(), Some("SAT"));
    }

    #[test]
    fn click_to_call_tokens_are_c2c_and_32_hex_digits() {
        let token = click_to_call();
        assert!(is_click_to_call(&token), "{token}");
        assert_eq!(token.len(), 36);
        assert_ne!(click_to_call(), token);
        assert!(is_click_to_call("c2c_7A1E9D40B2C64F1E8D3B5A6C7E8F9012"));
        for bad in [
            "",
            "c2c_",
            "c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f901",
            "c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f90123",
            "c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f901g",
            "C2C_7a1e9d40b2c64f1e8d3b5a6c7e8f9012",
            "x2c_7a1e9d40b2c64f1e8d3b5a6c7e8f9012",
            " c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f9012",
        ] {
            assert!(!is_click_to_call(bad), "{bad}");
        }
    }
}
