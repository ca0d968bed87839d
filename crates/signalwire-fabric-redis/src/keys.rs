//! Where one subscriber's state lives in Redis.

use signalwire_fabric::{Error, SessionKey};

/// The key prefix used when the builder is given none.
pub const DEFAULT_KEY_PREFIX: &str = "signalwire-fabric:";

/// The longest key prefix accepted, in bytes.
pub const MAX_KEY_PREFIX_LEN: usize = 128;

/// The two Redis keys of one subscriber: `<prefix>{<key>}:pair` and
/// `<prefix>{<key>}:lease`. The braces make the whole session key a cluster hash tag,
/// so both keys hash to one slot and one script may touch both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubscriberKeys {
    pub(crate) pair: String,
    pub(crate) lease: String,
}

impl SubscriberKeys {
    pub(crate) fn new(prefix: &str, key: &SessionKey) -> Self {
        let tag = escape(key.as_str());
        Self {
            pair: format!("{prefix}{{{tag}}}:pair"),
            lease: format!("{prefix}{{{tag}}}:lease"),
        }
    }
}

/// `key` with `%`, `{` and `}` percent-encoded, so the hash tag cannot end early (a `}`
/// in the key would end it; a `{` in it is harmless in Redis but encoded too, so that
/// reading the key back is unambiguous), and two different keys never share a name.
pub(crate) fn escape(key: &str) -> String {
    let mut escaped = String::with_capacity(key.len());
    for c in key.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '{' => escaped.push_str("%7B"),
            '}' => escaped.push_str("%7D"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Checks a key prefix: at most [`MAX_KEY_PREFIX_LEN`] bytes, no braces (a `{` in the
/// prefix would become the hash tag instead of the session key) and no control
/// characters.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), Error> {
    let refuse = |why: String| Err(Error::invalid_input("key_prefix", why));
    if prefix.len() > MAX_KEY_PREFIX_LEN {
        return refuse(format!(
            "is {} bytes long; at most {MAX_KEY_PREFIX_LEN} are allowed",
            prefix.len()
        ));
    }
    if prefix.contains(['{', '}']) {
        return refuse(
            "contains '{' or '}', which would change the cluster hash tag of every key".to_owned(),
        );
    }
    if prefix.chars().any(char::is_control) {
        return refuse("contains a control character".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> SessionKey {
        SessionKey::new(text).expect("a valid key")
    }

    /// What Redis Cluster hashes: the text between the first `{` and the first `}` after
    /// it, when that is not empty; otherwise the whole key.
    fn hash_tag(name: &str) -> &str {
        if let Some(open) = name.find('{')
            && let Some(close) = name[open + 1..].find('}')
            && close > 0
        {
            return &name[open + 1..open + 1 + close];
        }
        name
    }

    #[test]
    fn both_keys_share_a_hash_tag_that_covers_the_whole_session_key() {
        for text in [
            "user-42", "a}b", "{x}", "}", "{", "100%", "%7D", "a{b}c}d", "é ü",
        ] {
            let keys = SubscriberKeys::new("app:", &key(text));
            assert_eq!(hash_tag(&keys.pair), hash_tag(&keys.lease), "{text}");
            assert_eq!(hash_tag(&keys.pair), escape(text), "{text}");
            assert!(keys.pair.starts_with("app:{") && keys.pair.ends_with("}:pair"));
            assert!(keys.lease.ends_with("}:lease"));
        }
        assert_eq!(
            SubscriberKeys::new("app:", &key("user-42")).pair,
            "app:{user-42}:pair"
        );
    }

    #[test]
    fn different_keys_never_share_a_name() {
        let texts = ["a}b", "a%7Db", "a%257Db", "a{b", "a%7Bb", "a%b", "a%25b"];
        let names: std::collections::HashSet<_> = texts
            .iter()
            .map(|text| SubscriberKeys::new("p:", &key(text)).pair)
            .collect();
        assert_eq!(names.len(), texts.len(), "{names:?}");
    }

    #[test]
    fn prefixes_with_braces_or_control_characters_or_too_long_are_refused() {
        for bad in ["a{", "}", "x\ny", &"p".repeat(MAX_KEY_PREFIX_LEN + 1)] {
            let error = check_prefix(bad).expect_err("refused");
            assert!(
                matches!(
                    error,
                    Error::InvalidInput {
                        field: "key_prefix",
                        ..
                    }
                ),
                "{error:?}"
            );
        }
        for good in [
            "",
            DEFAULT_KEY_PREFIX,
            "myapp:prod:",
            &"p".repeat(MAX_KEY_PREFIX_LEN),
        ] {
            check_prefix(good).expect("accepted");
        }
    }
}
