//! Secret token types, and the pair a create or refresh returns.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

/// How long an access token lives, counted from when its pair was issued.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);
/// How long a refresh token lives: the access token's lifetime plus 5 minutes to swap it.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60 + 5 * 60);
/// How far in the future a stored expiry may lie; later times are read as this far ahead,
/// so corrupt storage cannot overflow the clock.
const MAX_STORED_AHEAD: Duration = Duration::from_secs(366 * 24 * 60 * 60);
/// The longest token text accepted. Real tokens are 600 to 900 characters.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a token's readable protected header says it is (`typ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// `typ` "SAT": a subscriber access token.
    Access,
    /// `typ` "Refresh": a refresh token.
    Refresh,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenKind::Access => "an access token",
            TokenKind::Refresh => "a refresh token",
        })
    }
}

/// Why a text is not a usable token. Never contains the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenFormatError {
    /// The text is empty.
    #[error("is empty")]
    Empty,
    /// The text is longer than [`MAX_TOKEN_LEN`].
    #[error("is {0} bytes long, more than the {MAX_TOKEN_LEN} allowed")]
    TooLong(usize),
    /// A character outside base64url and `.` (whitespace, a line break, non-ASCII).
    #[error("has a character that is not base64url or '.' at byte {0}")]
    BadCharacter(usize),
    /// Not three (JWS) or five (JWE) dot-separated segments.
    #[error("has {0} dot-separated segments; a JWT has 3 (signed) or 5 (encrypted)")]
    SegmentCount(usize),
    /// The first segment, the protected header, is empty.
    #[error("has an empty protected header")]
    EmptyHeader,
    /// The header says this is the other kind of token.
    #[error("is {found}, not {expected}")]
    WrongKind {
        /// The kind that belongs here.
        expected: TokenKind,
        /// The kind the header names.
        found: TokenKind,
    },
}

/// Checks the shape of a token and reads its kind from the protected header when the
/// header is readable JSON with a known `typ`.
fn inspect(text: &str) -> Result<Option<TokenKind>, TokenFormatError> {
    if text.is_empty() {
        return Err(TokenFormatError::Empty);
    }
    if text.len() > MAX_TOKEN_LEN {
        return Err(TokenFormatError::TooLong(text.len()));
    }
    // Written without early exits so the compiler can check many bytes at once; the
    // position of a bad byte is only looked for once one is known to exist.
    let allowed = |b: u8| b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_') | (b == b'.');
    if !text.bytes().fold(true, |all, b| all & allowed(b)) {
        let at = text.bytes().position(|b| !allowed(b)).unwrap_or_default();
        return Err(TokenFormatError::BadCharacter(at));
    }
    // Dots are few: finding them with memchr beats looking at every byte again.
    let dots = text.matches('.').count();
    let segments = dots + 1;
    if segments != 3 && segments != 5 {
        return Err(TokenFormatError::SegmentCount(segments));
    }
    let header = text.split('.').next().unwrap_or_default();
    if header.is_empty() {
        return Err(TokenFormatError::EmptyHeader);
    }
    Ok(kind_from_header(header))
}

fn kind_from_header(header: &str) -> Option<TokenKind> {
    #[derive(serde::Deserialize)]
    struct Header<'a> {
        #[serde(borrow)]
        typ: Option<std::borrow::Cow<'a, str>>,
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Header<'_> = serde_json::from_slice(&json).ok()?;
    match header.typ.as_deref()? {
        "SAT" => Some(TokenKind::Access),
        "Refresh" => Some(TokenKind::Refresh),
        _ => None,
    }
}

macro_rules! secret_token {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        ///
        /// Clones share one copy of the text (cloning is a reference-count increment).
        #[derive(Clone)]
        pub struct $name {
            secret: Arc<SecretString>,
            kind: Option<TokenKind>,
        }

        impl $name {
            /// Checks `text` and wraps it. Accepted: 1 to [`MAX_TOKEN_LEN`] characters of
            /// base64url in three or five dot-separated segments, with a non-empty first
            /// segment. For access and refresh tokens, a readable header naming the other
            /// kind of token is refused.
            pub fn parse(text: impl Into<String>) -> Result<Self, TokenFormatError> {
                let text = text.into();
                let secret = SecretString::from(text);
                let kind = inspect(secret.expose_secret())?;
                let expected: Option<TokenKind> = $kind;
                if let (Some(expected), Some(found)) = (expected, kind) {
                    if found != expected {
                        return Err(TokenFormatError::WrongKind { expected, found });
                    }
                }
                Ok(Self { secret: Arc::new(secret), kind })
            }

            /// The token text, for sending it somewhere. Handle it as a secret.
            pub fn expose_secret(&self) -> &str {
                self.secret.expose_secret()
            }

            /// The kind the protected header names, when it is readable.
            pub fn kind(&self) -> Option<TokenKind> {
                self.kind
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl FromStr for $name {
            type Err = TokenFormatError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose_secret() == other.expose_secret()
            }
        }

        impl Eq for $name {}
    };
}

secret_token!(
    /// A subscriber access token (`typ` "SAT"): what a subscriber's app presents to
    /// SignalWire. A secret: `Debug` prints `AccessToken([redacted])`, there is no
    /// `Display`, and the text is zeroed when dropped.
    ///
    /// ```
    /// use signalwire_fabric::AccessToken;
    ///
    /// // header {"alg":"dir","enc":"A256GCM","typ":"SAT"}
    /// let token: AccessToken = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwidHlwIjoiU0FUIn0..aXY.Y2lwaGVy.dGFn".parse()?;
    /// assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
    /// assert_eq!(token.kind(), Some(signalwire_fabric::TokenKind::Access));
    /// # Ok::<(), signalwire_fabric::TokenFormatError>(())
    /// ```
    AccessToken,
    Some(TokenKind::Access)
);

secret_token!(
    /// A refresh token (`typ` "Refresh"): exchanged once for a new pair. A secret:
    /// `Debug` prints `RefreshToken([redacted])`, there is no `Display`, and the text is
    /// zeroed when dropped.
    ///
    /// An access token is refused when its header says so, before anything is sent:
    ///
    /// ```
    /// use signalwire_fabric::{RefreshToken, TokenFormatError, TokenKind};
    ///
    /// let access = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwidHlwIjoiU0FUIn0..aXY.Y2lwaGVy.dGFn";
    /// assert_eq!(
    ///     RefreshToken::parse(access).unwrap_err(),
    ///     TokenFormatError::WrongKind { expected: TokenKind::Refresh, found: TokenKind::Access },
    /// );
    /// ```
    RefreshToken,
    Some(TokenKind::Refresh)
);

secret_token!(
    /// An invite token: lets its holder join one of a subscriber's addresses. Made by
    /// [`SubscriberSession::invite_token`](crate::SubscriberSession::invite_token). A
    /// secret: `Debug` prints `InviteToken([redacted])`, there is no `Display`.
    InviteToken,
    None
);

secret_token!(
    /// An embed token: what a click-to-call widget connects with. Made by
    /// [`EmbedTokens::create`](crate::EmbedTokens::create). A secret: `Debug` prints
    /// `EmbedToken([redacted])`, there is no `Display`.
    EmbedToken,
    None
);

/// An access token and a refresh token issued together, with when each expires.
///
/// The tokens are encrypted, so their expiry cannot be read from them: it is the
/// documented lifetime ([`ACCESS_TOKEN_LIFETIME`], [`REFRESH_TOKEN_LIFETIME`]) counted
/// from when the response arrived on tokio's clock, or the `expire_at` the caller asked
/// for. `Debug` redacts both tokens. To store a pair, convert it explicitly with
/// [`TokenPair::to_stored`].
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    access_token: AccessToken,
    refresh_token: RefreshToken,
    access_expires_at: Instant,
    refresh_expires_at: Instant,
}

impl TokenPair {
    /// A pair with explicit expiry instants (on tokio's clock).
    pub fn new(
        access_token: AccessToken,
        refresh_token: RefreshToken,
        access_expires_at: Instant,
        refresh_expires_at: Instant,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            access_expires_at,
            refresh_expires_at,
        }
    }

    /// A pair issued at `issued_at` with the documented lifetimes.
    pub fn issued_at(
        access_token: AccessToken,
        refresh_token: RefreshToken,
        issued_at: Instant,
    ) -> Self {
        Self::new(
            access_token,
            refresh_token,
            crate::clock::later(issued_at, ACCESS_TOKEN_LIFETIME),
            crate::clock::later(issued_at, REFRESH_TOKEN_LIFETIME),
        )
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The refresh token.
    pub fn refresh_token(&self) -> &RefreshToken {
        &self.refresh_token
    }

    /// When the access token expires, on tokio's clock.
    pub fn access_expires_at(&self) -> Instant {
        self.access_expires_at
    }

    /// When the refresh token expires, on tokio's clock.
    pub fn refresh_expires_at(&self) -> Instant {
        self.refresh_expires_at
    }

    /// Time the access token has left (zero once expired).
    pub fn access_expires_in(&self) -> Duration {
        self.access_expires_at
            .saturating_duration_since(Instant::now())
    }

    /// Time the refresh token has left (zero once expired).
    pub fn refresh_expires_in(&self) -> Duration {
        self.refresh_expires_at
            .saturating_duration_since(Instant::now())
    }

    /// Splits the pair into its tokens.
    pub fn into_tokens(self) -> (AccessToken, RefreshToken) {
        (self.access_token, self.refresh_token)
    }

    /// The form to store the pair in: both token texts and the absolute (wall-clock)
    /// expiry times. Storing tokens is deliberate: keep what this returns as secret as the
    /// tokens themselves.
    pub fn to_stored(&self) -> StoredTokenPair {
        StoredTokenPair {
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            access_expires_at_unix: to_unix(self.access_expires_at),
            refresh_expires_at_unix: to_unix(self.refresh_expires_at),
        }
    }

    /// Rebuilds a pair from its stored form, mapping the wall-clock expiry times back onto
    /// tokio's clock.
    pub fn from_stored(stored: StoredTokenPair) -> Self {
        Self {
            access_expires_at: from_unix(stored.access_expires_at_unix),
            refresh_expires_at: from_unix(stored.refresh_expires_at_unix),
            access_token: stored.access_token,
            refresh_token: stored.refresh_token,
        }
    }
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("access_expires_in", &self.access_expires_in())
            .field("refresh_expires_in", &self.refresh_expires_in())
            .finish()
    }
}

/// A [`TokenPair`] in the form meant for storage: serde-serializable, with absolute
/// expiry times in unix seconds.
///
/// This is the only serializable form of a pair, so that writing tokens anywhere is a
/// deliberate step. The serialized form holds the token texts: protect it like them.
///
/// ```
/// # use signalwire_fabric::{StoredTokenPair, TokenPair};
/// # fn store(pair: &TokenPair) -> serde_json::Result<String> {
/// let json = serde_json::to_string(&pair.to_stored())?;
/// let back = TokenPair::from_stored(serde_json::from_str::<StoredTokenPair>(&json)?);
/// # Ok(json) }
/// ```
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredTokenPair {
    #[serde(serialize_with = "expose", deserialize_with = "parse_token")]
    access_token: AccessToken,
    #[serde(serialize_with = "expose", deserialize_with = "parse_token")]
    refresh_token: RefreshToken,
    /// When the access token expires, in unix seconds.
    pub access_expires_at_unix: u64,
    /// When the refresh token expires, in unix seconds.
    pub refresh_expires_at_unix: u64,
}

impl StoredTokenPair {
    /// The stored access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The stored refresh token.
    pub fn refresh_token(&self) -> &RefreshToken {
        &self.refresh_token
    }

    /// Time the stored refresh token has left by this machine's wall clock (zero once
    /// expired): how long a store needs to keep the pair.
    pub fn refresh_expires_in(&self) -> Duration {
        from_unix(self.refresh_expires_at_unix).saturating_duration_since(Instant::now())
    }
}

impl fmt::Debug for StoredTokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokenPair")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("access_expires_at_unix", &self.access_expires_at_unix)
            .field("refresh_expires_at_unix", &self.refresh_expires_at_unix)
            .finish()
    }
}

trait ExposeText {
    fn text(&self) -> &str;
}
impl ExposeText for AccessToken {
    fn text(&self) -> &str {
        self.expose_secret()
    }
}
impl ExposeText for RefreshToken {
    fn text(&self) -> &str {
        self.expose_secret()
    }
}

fn expose<T: ExposeText, S: serde::Serializer>(
    token: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(token.text())
}

fn parse_token<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: FromStr<Err = TokenFormatError>,
    D: serde::Deserializer<'de>,
{
    let text: String = serde::Deserialize::deserialize(deserializer)?;
    text.parse()
        .map_err(|error: TokenFormatError| serde::de::Error::custom(format!("the token {error}")))
}

fn to_unix(at: Instant) -> u64 {
    let now = Instant::now();
    let wall = if at >= now {
        SystemTime::now()
            .checked_add(at - now)
            .unwrap_or_else(SystemTime::now)
    } else {
        SystemTime::now()
            .checked_sub(now - at)
            .unwrap_or(UNIX_EPOCH)
    };
    wall.duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0)
}

fn from_unix(unix: u64) -> Instant {
    let now = Instant::now();
    let Some(wall) = UNIX_EPOCH.checked_add(Duration::from_secs(unix)) else {
        return crate::clock::later(now, MAX_STORED_AHEAD);
    };
    match wall.duration_since(SystemTime::now()) {
        Ok(ahead) => crate::clock::later(now, ahead.min(MAX_STORED_AHEAD)),
        // Already past: anything at or before now reads as expired.
        Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
    }
}
