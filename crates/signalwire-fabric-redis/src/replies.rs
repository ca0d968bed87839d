//! What Redis answers each operation, read into what it means, one function per
//! operation: [`load`], [`try_lease`], [`commit`], [`release`] and [`publish`]. The shapes
//! are the ones [`scripts`](crate::scripts) documents for each script. A stored pair is
//! handed back as the bytes Redis holds (sealed or JSON): opening it is the coordinator's.
//!
//! An answer of another shape (another program writing to the same keys, say) is
//! [`Unexpected`], which says what was wrong with it and never quotes it.

use std::time::Duration;

use redis::Value;
use signalwire_fabric::Released;

/// What was wrong with an answer, for the error the coordinator makes of it.
pub(crate) type Unexpected = &'static str;

const NO_GENERATION: Unexpected = "a generation that is no number";

/// A stored pair as Redis holds it, with its generation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stored<'a> {
    pub(crate) generation: u64,
    /// The pair's stored bytes, sealed or JSON, not yet opened.
    pub(crate) bytes: &'a [u8],
}

/// What the `try_lease` script answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TryLeaseReply<'a> {
    /// `{"newer", generation, pair}`: a generation above the one seen is stored; adopt it.
    Newer(Stored<'a>),
    /// `{"held", milliseconds left}`: another holder's lease is live.
    Held { expires_in: Option<Duration> },
    /// `{"granted", generation, taken_over}`: the lease, on the stored generation (its
    /// base), and whether another holder's in-flight mark was there.
    Granted { base: u64, taken_over: bool },
}

/// What the `commit` script answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CommitReply<'a> {
    /// `{"committed", generation}`: the pair is stored as that generation.
    Committed { generation: u64 },
    /// `{"superseded", generation, pair}`: a generation above the one refreshed is stored
    /// (the fence); nothing was written, and that pair is to be adopted.
    Superseded(Stored<'a>),
}

/// `HMGET pair generation pair`: the stored pair, or `None` when nothing is stored.
pub(crate) fn load(answer: &Value) -> Result<Option<Stored<'_>>, Unexpected> {
    let Value::Array(fields) = answer else {
        return Err("not an array");
    };
    match fields.as_slice() {
        [Value::Nil, _] => Ok(None),
        [generation, pair] => {
            let generation = whole_number(generation)
                .filter(|generation| *generation > 0)
                .ok_or(NO_GENERATION)?;
            stored(generation, pair).map(Some)
        }
        _ => Err("not two fields"),
    }
}

/// The `try_lease` script's answer.
pub(crate) fn try_lease(answer: &Value) -> Result<TryLeaseReply<'_>, Unexpected> {
    let Value::Array(parts) = answer else {
        return Err("try_lease answered no array");
    };
    match parts.as_slice() {
        [reply, generation, pair] if kind(reply) == Some(b"newer") => {
            let generation = whole_number(generation).ok_or(NO_GENERATION)?;
            Ok(TryLeaseReply::Newer(stored(generation, pair)?))
        }
        [reply, left] if kind(reply) == Some(b"held") => Ok(TryLeaseReply::Held {
            expires_in: milliseconds(left),
        }),
        [reply, base, taken_over] if kind(reply) == Some(b"granted") => {
            Ok(TryLeaseReply::Granted {
                base: whole_number(base).ok_or(NO_GENERATION)?,
                taken_over: is_one(taken_over),
            })
        }
        _ => Err("try_lease answered something else"),
    }
}

/// Whether a `try_lease` answer grants a lease: a lease that may be lost in a failover
/// must not be used (another instance could be granted it on the promoted replica), so
/// this answer is the one that must reach the replicas when writes wait for them.
pub(crate) fn grants_a_lease(answer: &Value) -> bool {
    matches!(answer, Value::Array(parts) if parts.first().and_then(kind) == Some(&b"granted"[..]))
}

/// The `commit` script's answer.
pub(crate) fn commit(answer: &Value) -> Result<CommitReply<'_>, Unexpected> {
    let Value::Array(parts) = answer else {
        return Err("commit answered no array");
    };
    match parts.as_slice() {
        [reply, generation] if kind(reply) == Some(b"committed") => Ok(CommitReply::Committed {
            generation: whole_number(generation).ok_or(NO_GENERATION)?,
        }),
        [reply, generation, pair] if kind(reply) == Some(b"superseded") => {
            let generation = whole_number(generation).ok_or(NO_GENERATION)?;
            Ok(CommitReply::Superseded(stored(generation, pair)?))
        }
        _ => Err("commit answered something else"),
    }
}

/// The `release` script's answer, `{others, left}`: whether another in-flight mark is
/// left, and how long another holder's lease lasts (its `PTTL`: negative when there is
/// none).
pub(crate) fn release(answer: &Value) -> Result<Released, Unexpected> {
    let Value::Array(parts) = answer else {
        return Err("release answered no array");
    };
    match parts.as_slice() {
        [others, left] => Ok(Released::new(
            is_one(others),
            milliseconds(left).filter(|left| !left.is_zero()),
        )),
        _ => Err("release answered something else"),
    }
}

/// The `publish` script's answer: the generation the pair was stored as.
pub(crate) fn publish(answer: &Value) -> Result<u64, Unexpected> {
    whole_number(answer).ok_or("publish answered no number")
}

/// The word a script's answer starts with, which says which answer it is (`"granted"`,
/// `"held"`, ...).
fn kind(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// A number that is not negative: an integer, or one written as text.
fn whole_number(value: &Value) -> Option<u64> {
    match value {
        Value::Int(number) => u64::try_from(*number).ok(),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        _ => None,
    }
}

/// A number of milliseconds (a `PTTL`); `None` when negative (no key, or no expiry).
fn milliseconds(value: &Value) -> Option<Duration> {
    whole_number(value).map(Duration::from_millis)
}

/// A flag the scripts answer as 1 (set) or 0; anything but 1 is not set.
fn is_one(value: &Value) -> bool {
    whole_number(value) == Some(1)
}

/// The pair stored as `generation`: the bytes Redis holds.
fn stored(generation: u64, pair: &Value) -> Result<Stored<'_>, Unexpected> {
    match pair {
        Value::BulkString(bytes) => Ok(Stored { generation, bytes }),
        _ => Err("a generation without a pair"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn array(parts: impl IntoIterator<Item = Value>) -> Value {
        Value::Array(parts.into_iter().collect())
    }

    #[test]
    fn a_load_answers_the_stored_pair_or_nothing() {
        let found = array([text("7"), text("{sealed}")]);
        assert_eq!(
            load(&found),
            Ok(Some(Stored {
                generation: 7,
                bytes: b"{sealed}"
            }))
        );
        assert_eq!(load(&array([Value::Nil, Value::Nil])), Ok(None));
        assert_eq!(
            load(&array([text("0"), text("pair")])),
            Err(NO_GENERATION),
            "generations start at 1"
        );
        assert_eq!(
            load(&array([text("2"), Value::Nil])),
            Err("a generation without a pair")
        );
        assert_eq!(load(&array([text("2")])), Err("not two fields"));
        assert_eq!(load(&Value::Int(2)), Err("not an array"));
    }

    #[test]
    fn each_try_lease_answer_is_told_apart_by_its_first_word() {
        assert_eq!(
            try_lease(&array([text("newer"), Value::Int(3), text("pair")])),
            Ok(TryLeaseReply::Newer(Stored {
                generation: 3,
                bytes: b"pair"
            }))
        );
        assert_eq!(
            try_lease(&array([
                Value::SimpleString("held".to_owned()),
                Value::Int(1500)
            ])),
            Ok(TryLeaseReply::Held {
                expires_in: Some(Duration::from_millis(1500))
            })
        );
        assert_eq!(
            try_lease(&array([text("held"), Value::Int(-2)])),
            Ok(TryLeaseReply::Held { expires_in: None })
        );
        for (flag, taken_over) in [(1, true), (0, false)] {
            assert_eq!(
                try_lease(&array([text("granted"), Value::Int(4), Value::Int(flag)])),
                Ok(TryLeaseReply::Granted {
                    base: 4,
                    taken_over
                })
            );
        }
        assert_eq!(
            try_lease(&array([text("granted"), text("four"), Value::Int(0)])),
            Err(NO_GENERATION)
        );
        assert_eq!(
            try_lease(&array([text("granted"), Value::Int(4)])),
            Err("try_lease answered something else")
        );
        assert_eq!(
            try_lease(&text("granted")),
            Err("try_lease answered no array")
        );
    }

    #[test]
    fn only_a_granted_answer_grants_a_lease() {
        assert!(grants_a_lease(&array([
            text("granted"),
            Value::Int(0),
            Value::Int(0)
        ])));
        assert!(!grants_a_lease(&array([text("held"), Value::Int(10)])));
        assert!(!grants_a_lease(&array([
            text("newer"),
            Value::Int(2),
            text("pair")
        ])));
        assert!(!grants_a_lease(&text("granted")));
    }

    #[test]
    fn a_commit_is_committed_or_superseded_by_a_stored_pair() {
        assert_eq!(
            commit(&array([text("committed"), Value::Int(9)])),
            Ok(CommitReply::Committed { generation: 9 })
        );
        assert_eq!(
            commit(&array([text("superseded"), text("10"), text("newer pair")])),
            Ok(CommitReply::Superseded(Stored {
                generation: 10,
                bytes: b"newer pair"
            }))
        );
        assert_eq!(
            commit(&array([text("committed"), Value::Nil])),
            Err(NO_GENERATION)
        );
        assert_eq!(
            commit(&array([text("superseded"), Value::Int(10)])),
            Err("commit answered something else")
        );
        assert_eq!(commit(&Value::Nil), Err("commit answered no array"));
    }

    #[test]
    fn a_release_says_who_else_is_in_flight_and_for_how_long() {
        assert_eq!(
            release(&array([Value::Int(1), Value::Int(2500)])),
            Ok(Released::new(true, Some(Duration::from_millis(2500))))
        );
        // `PTTL` answers -2 when no lease is live; 0 is no time left either.
        for left in [-2, 0] {
            assert_eq!(
                release(&array([Value::Int(0), Value::Int(left)])),
                Ok(Released::new(false, None))
            );
        }
        assert_eq!(
            release(&array([Value::Int(1)])),
            Err("release answered something else")
        );
        assert_eq!(release(&Value::Okay), Err("release answered no array"));
    }

    #[test]
    fn a_publish_answers_the_new_generation() {
        assert_eq!(publish(&Value::Int(12)), Ok(12));
        assert_eq!(publish(&text("12")), Ok(12));
        assert_eq!(publish(&Value::Int(-1)), Err("publish answered no number"));
    }
}
