//! Sealing stored pairs with a key the app supplies: XChaCha20-Poly1305, a random 24-byte
//! nonce per write, and the pair's Redis key as associated data.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox};
use signalwire_fabric::{Error, StoredTokenPair};

/// The first byte of a sealed value: the format's version. A pair stored as JSON starts
/// with `{`, so the two cannot be mistaken for each other.
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bound into every seal with the Redis key, so a value sealed for another purpose with
/// the same key does not open here.
const CONTEXT: &[u8] = b"signalwire-fabric-redis sealed pair v1\0";

/// A 32-byte key that seals the pairs a [`RedisCoordinator`](crate::RedisCoordinator)
/// stores (XChaCha20-Poly1305). Keep it where the app keeps its other secrets, not in
/// Redis; every instance that shares a subscriber needs the same key.
///
/// `Debug` prints `[redacted]`, there is no `Display`, and the key is zeroed when dropped.
///
/// ```
/// use signalwire_fabric_redis::SealingKey;
///
/// let key = SealingKey::generate()?;
/// let text = key.to_base64(); // store this as the app's secret...
/// let same = SealingKey::from_base64(&text)?; // ...and load it in every instance
/// assert_eq!(format!("{same:?}"), "SealingKey([redacted])");
/// # Ok::<(), signalwire_fabric::Error>(())
/// ```
pub struct SealingKey(SecretBox<[u8; 32]>);

impl SealingKey {
    /// The key's length in bytes.
    pub const LEN: usize = 32;

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }

    /// A key from standard base64 (with or without padding) of 32 bytes. The error names
    /// the field `sealing_key` and never quotes the text.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let text = text.trim().trim_end_matches('=');
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text)
                .map_err(|_| Error::invalid_input("sealing_key", "is not base64"))?,
        );
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::invalid_input(
                "sealing_key",
                format!("is {} bytes long; it must be 32", bytes.len()),
            )
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        getrandom_fill(&mut bytes)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as standard base64 (44 characters), to store it as a secret.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.expose_secret())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose_secret().into())
    }
}

impl Clone for SealingKey {
    fn clone(&self) -> Self {
        Self::from_bytes(*self.0.expose_secret())
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

fn getrandom_fill(bytes: &mut [u8]) -> Result<(), Error> {
    // A nonce-sized value from the same generator the cipher crate uses.
    for chunk in bytes.chunks_mut(NONCE_LEN) {
        let random = XNonce::try_generate().map_err(|_| {
            Error::coordinator("the operating system's random number generator failed")
        })?;
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
    Ok(())
}

/// How pairs are written to and read from Redis.
#[derive(Clone, Default)]
pub(crate) struct Sealing {
    /// Seals every write and opens reads; `None` stores JSON.
    current: Option<SealingKey>,
    /// Older keys that may still open what was stored before a key change.
    previous: Vec<SealingKey>,
}

impl fmt::Debug for Sealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealing")
            .field("sealed", &self.current.is_some())
            .field("previous_keys", &self.previous.len())
            .finish()
    }
}

impl Sealing {
    pub(crate) fn new(current: Option<SealingKey>, previous: Vec<SealingKey>) -> Self {
        Self { current, previous }
    }

    pub(crate) fn is_sealed(&self) -> bool {
        self.current.is_some()
    }

    /// The bytes to store for `pair` under the Redis key `name`.
    pub(crate) fn seal(&self, name: &str, pair: &StoredTokenPair) -> Result<Vec<u8>, Error> {
        let json = Zeroizing::new(
            serde_json::to_vec(pair)
                .map_err(|_| Error::coordinator("the pair could not be written as JSON"))?,
        );
        let Some(key) = &self.current else {
            return Ok(json.to_vec());
        };
        let nonce = XNonce::try_generate().map_err(|_| {
            Error::coordinator("the operating system's random number generator failed")
        })?;
        let aad = associated_data(name);
        let sealed = key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: &json,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::coordinator("sealing the pair failed"))?;
        let mut value = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        value.push(SEALED_V1);
        value.extend_from_slice(&nonce);
        value.extend_from_slice(&sealed);
        Ok(value)
    }

    /// The pair stored under the Redis key `name` as `value`. Errors say what is wrong
    /// with the value, never what it holds.
    pub(crate) fn open(&self, name: &str, value: &[u8]) -> Result<StoredTokenPair, Error> {
        let json = match (value.first(), &self.current) {
            (Some(&SEALED_V1), Some(current)) => {
                if value.len() < 1 + NONCE_LEN + TAG_LEN {
                    return Err(Error::coordinator(format!(
                        "the pair stored at {name} is too short to be sealed"
                    )));
                }
                let (nonce, sealed) = value[1..].split_at(NONCE_LEN);
                let nonce = XNonce::try_from(nonce).map_err(|_| {
                    Error::coordinator(format!("the pair stored at {name} has no nonce"))
                })?;
                let aad = associated_data(name);
                std::iter::once(current)
                    .chain(&self.previous)
                    .find_map(|key| {
                        key.cipher()
                            .decrypt(
                                &nonce,
                                Payload {
                                    msg: sealed,
                                    aad: &aad,
                                },
                            )
                            .ok()
                    })
                    .map(Zeroizing::new)
                    .ok_or_else(|| {
                        Error::coordinator(format!(
                            "the pair stored at {name} could not be opened: it was sealed \
                             with another key or for another subscriber, or was changed"
                        ))
                    })?
            }
            (Some(&SEALED_V1), None) => {
                return Err(Error::coordinator(format!(
                    "the pair stored at {name} is sealed, and this coordinator has no sealing \
                     key"
                )));
            }
            (_, Some(_)) => {
                return Err(Error::coordinator(format!(
                    "the pair stored at {name} is not sealed, and this coordinator only \
                     accepts sealed pairs"
                )));
            }
            (_, None) => Zeroizing::new(value.to_vec()),
        };
        // The parse error is not passed on: it may quote part of the value.
        serde_json::from_slice(&json).map_err(|_| {
            Error::coordinator(format!(
                "the value stored at {name} is not a token pair this crate wrote"
            ))
        })
    }
}

fn associated_data(name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(CONTEXT.len() + name.len());
    aad.extend_from_slice(CONTEXT);
    aad.extend_from_slice(name.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use signalwire_fabric::testing;

    fn sealing(key: &SealingKey) -> Sealing {
        Sealing::new(Some(key.clone()), Vec::new())
    }

    fn stored(seed: &str) -> StoredTokenPair {
        testing::pair(seed).to_stored()
    }

    #[test]
    fn a_sealed_pair_opens_with_its_key_and_name_and_holds_no_token_text() {
        let key = SealingKey::generate().expect("random");
        let pair = stored("alice");
        let value = sealing(&key).seal("p:{a}:pair", &pair).expect("sealed");
        let access = pair.access_token().expose_secret();
        assert!(
            !value
                .windows(16)
                .any(|w| access.as_bytes().windows(16).any(|a| a == w)),
            "no run of the token is stored in the clear"
        );
        assert_eq!(value[0], SEALED_V1);
        let opened = sealing(&key).open("p:{a}:pair", &value).expect("opens");
        assert_eq!(opened, pair);
        // Two seals of one pair differ: each has its own nonce.
        let again = sealing(&key).seal("p:{a}:pair", &pair).expect("sealed");
        assert_ne!(value, again);
        assert_ne!(value[1..1 + NONCE_LEN], again[1..1 + NONCE_LEN]);
    }

    #[test]
    fn a_sealed_pair_does_not_open_under_another_name_or_key_or_when_changed() {
        let key = SealingKey::generate().expect("random");
        let value = sealing(&key)
            .seal("p:{a}:pair", &stored("alice"))
            .expect("sealed");
        let moved = sealing(&key).open("p:{b}:pair", &value).expect_err("moved");
        assert!(moved.to_string().contains("could not be opened"), "{moved}");
        let other = SealingKey::generate().expect("random");
        assert!(sealing(&other).open("p:{a}:pair", &value).is_err());
        let mut flipped = value.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(sealing(&key).open("p:{a}:pair", &flipped).is_err());
        assert!(sealing(&key).open("p:{a}:pair", &value[..20]).is_err());
    }

    #[test]
    fn a_previous_key_still_opens_and_the_current_one_seals() {
        let old = SealingKey::generate().expect("random");
        let new = SealingKey::generate().expect("random");
        let value = sealing(&old).seal("k", &stored("alice")).expect("sealed");
        let rotated = Sealing::new(Some(new.clone()), vec![old.clone()]);
        assert_eq!(rotated.open("k", &value).expect("opens"), stored("alice"));
        let resealed = rotated.seal("k", &stored("alice")).expect("sealed");
        assert!(sealing(&old).open("k", &resealed).is_err());
        assert!(sealing(&new).open("k", &resealed).is_ok());
    }

    #[test]
    fn sealed_and_plain_values_are_not_mistaken_for_each_other() {
        let key = SealingKey::generate().expect("random");
        let plain = Sealing::default()
            .seal("k", &stored("alice"))
            .expect("json");
        assert_eq!(plain[0], b'{');
        let error = sealing(&key).open("k", &plain).expect_err("not sealed");
        assert!(error.to_string().contains("not sealed"), "{error}");
        let sealed = sealing(&key).seal("k", &stored("alice")).expect("sealed");
        let error = Sealing::default().open("k", &sealed).expect_err("sealed");
        assert!(error.to_string().contains("no sealing key"), "{error}");
        let error = Sealing::default()
            .open("k", b"{\"access_token\":\"x\"}")
            .expect_err("bad");
        assert!(!error.to_string().contains("\"x\""), "{error}");
    }

    #[test]
    fn keys_round_trip_through_base64_and_bad_text_is_refused_without_quoting_it() {
        let key = SealingKey::generate().expect("random");
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        let back = SealingKey::from_base64(&text).expect("parses");
        let value = sealing(&key).seal("k", &stored("a")).expect("sealed");
        assert!(sealing(&back).open("k", &value).is_ok());
        assert!(SealingKey::from_base64(text.trim_end_matches('=')).is_ok());
        for bad in ["not base64 at all!", "c2hvcnQ=", ""] {
            let error = SealingKey::from_base64(bad).expect_err("refused");
            assert!(
                matches!(
                    error,
                    Error::InvalidInput {
                        field: "sealing_key",
                        ..
                    }
                ),
                "{error:?}"
            );
            if !bad.is_empty() {
                assert!(!error.to_string().contains(bad));
            }
        }
        assert_eq!(format!("{key:?}"), "SealingKey([redacted])");
        assert!(!format!("{:?}", sealing(&key)).contains(&text));
    }
}
