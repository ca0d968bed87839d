//! Where requests go and who they are from: the space, a base URL override, the project
//! credentials. Each is checked when it is built, so a bad value is refused before
//! anything is sent and credentials can only ever go to the host the caller meant.

use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use crate::Error;

const SIGNALWIRE_DOMAIN: &str = ".signalwire.com";
const MAX_LABEL_LEN: usize = 63;

/// A SignalWire space: one DNS label, e.g. `example` for `https://example.signalwire.com`.
///
/// Accepted spellings: `example`, `example.signalwire.com` and
/// `https://example.signalwire.com` (with or without a trailing `/`), in any letter case.
/// Anything else is refused with the reason, so a space name can never point the
/// credentials at another host.
///
/// ```
/// use signalwire_fabric::Space;
///
/// let space: Space = "https://Example.signalwire.com/".parse()?;
/// assert_eq!(space.name(), "example");
/// assert_eq!(space.base_url(), "https://example.signalwire.com");
/// assert!("example.signalwire.com.evil.com".parse::<Space>().is_err());
/// assert!("user@example".parse::<Space>().is_err());
/// # Ok::<(), signalwire_fabric::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Space {
    name: String,
}

impl Space {
    /// Checks and normalizes a space name (see the type's docs for the spellings).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let refuse =
            |reason: String| Error::invalid_input("space", format!("{}: {reason}", shown(input)));
        let mut name = input;
        if let Some(rest) = strip_prefix_ignore_case(name, "https://") {
            name = rest.strip_suffix('/').unwrap_or(rest);
            if strip_suffix_ignore_case(name, SIGNALWIRE_DOMAIN).is_none() {
                return Err(refuse(format!(
                    "a URL must be https://<space>{SIGNALWIRE_DOMAIN}; use base_url() for other hosts"
                )));
            }
        } else if strip_prefix_ignore_case(name, "http://").is_some() {
            return Err(refuse("SignalWire is reached over https only".to_owned()));
        }
        if let Some(label) = strip_suffix_ignore_case(name, SIGNALWIRE_DOMAIN) {
            name = label;
        }
        check_label(name).map_err(refuse)?;
        Ok(Self {
            name: name.to_ascii_lowercase(),
        })
    }

    /// The space name, lower case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `https://<name>.signalwire.com`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("https://{}{SIGNALWIRE_DOMAIN}", self.name)
    }
}

impl std::str::FromStr for Space {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        Self::parse(input)
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("is empty".to_owned());
    }
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let what = match bad {
            '.' => "'.': a space is a single DNS label, not a domain".to_owned(),
            '/' | '@' | ':' | '?' | '#' | '%' | '\\' => format!(
                "{bad:?} is not allowed: a space is a single DNS label (letters, digits, '-')"
            ),
            c if c.is_whitespace() || c.is_control() => {
                "whitespace and control characters are not allowed".to_owned()
            }
            c if !c.is_ascii() => {
                format!("{c:?} is not ASCII: a space is letters a-z, digits and '-' only")
            }
            c => format!("{c:?} is not allowed: use letters, digits and '-'"),
        };
        return Err(format!("contains {what}"));
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(format!(
            "is {} characters long; a DNS label has at most {MAX_LABEL_LEN}",
            label.len()
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("starts or ends with '-'".to_owned());
    }
    Ok(())
}

/// Quotes a caller's input for an error message, cut short when it is long.
fn shown(input: &str) -> String {
    const MAX: usize = 80;
    let input = without_user_info(input);
    match input.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &input[..cut]),
        None => format!("{input:?}"),
    }
}

/// `input` with any user info of its authority (`user:password@`) replaced by
/// `[redacted]@`, so a URL can be quoted in an error or `Debug` without its password.
/// Works on text that is not a valid URL too (the authority is what follows `://`, or
/// the start, up to the first `/`, `?` or `#`).
pub(crate) fn without_user_info(input: &str) -> std::borrow::Cow<'_, str> {
    let start = input.find("://").map_or(0, |at| at + 3);
    let rest = &input[start..];
    let end = rest
        .find(['/', '?', '#'])
        .map_or(input.len(), |at| start + at);
    match input[start..end].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &input[..start], &input[start + at..]).into(),
        None => input.into(),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let start = text.len().checked_sub(suffix.len())?;
    let tail = text.get(start..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..start])
}

/// Checks a base URL given instead of a space (for fakes and proxies) and returns it
/// without a trailing slash.
///
/// `https` is required, except that `http` is allowed for loopback hosts (`localhost`,
/// `127.0.0.0/8`, `::1`). User info, a query and a fragment are refused; a path prefix
/// is kept.
pub(crate) fn check_base_url(input: &str) -> Result<String, Error> {
    let refuse =
        |reason: &str| Error::invalid_input("base_url", format!("{}: {reason}", shown(input)));
    let url = parse_url(input).map_err(|reason| refuse(&reason))?;
    let loopback = is_loopback(&url).ok_or_else(|| refuse("has no host"))?;
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(refuse(
                "http is allowed only for loopback hosts (localhost, 127.0.0.1, ::1); use https",
            ));
        }
        _ => {
            return Err(refuse(
                "the scheme must be https (or http for a loopback host)",
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "must not carry user info; give credentials with project_id() and api_token()",
        ));
    }
    if url.query().is_some() {
        return Err(refuse("must not have a query"));
    }
    if url.fragment().is_some() {
        return Err(refuse("must not have a fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Parses a URL the caller gave, refusing whitespace and control characters anywhere in
/// it: the URL standard silently drops tabs and newlines and trims spaces, so
/// `"https://ex\nample.com"` would otherwise name `example.com`, a host nobody wrote.
fn parse_url(input: &str) -> Result<reqwest::Url, String> {
    if let Some((at, _)) = input
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "contains whitespace or a control character at byte {at}; URLs are taken exactly as written"
        ));
    }
    reqwest::Url::parse(input).map_err(|error| format!("not a URL ({error})"))
}

/// Whether the URL's host is loopback (`localhost`, `127.0.0.0/8`, `::1`); `None` when it
/// has no host.
fn is_loopback(url: &reqwest::Url) -> Option<bool> {
    Some(match url.host()? {
        url::Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(ip).is_loopback(),
    })
}

/// Checks a proxy URL for a client whose base URL is `base_url` (already checked).
///
/// The proxy must be `http://` or `https://` with a host and nothing after it (no user
/// info, path, query or fragment). When the base URL is plain `http` (a loopback fake),
/// requests cross the proxy unencrypted with the project's credentials, so the proxy must
/// be on loopback too: credentials travel in the clear only on this machine. An `https`
/// base URL is reached through the proxy with `CONNECT`, and TLS runs end to end.
pub(crate) fn check_proxy(input: &str, base_url: &str) -> Result<reqwest::Url, Error> {
    let refuse =
        |reason: &str| Error::invalid_input("proxy", format!("{}: {reason}", shown(input)));
    let url = parse_url(input).map_err(|reason| refuse(&reason))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("the scheme must be http or https"));
    }
    let loopback = is_loopback(&url).ok_or_else(|| refuse("has no host"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "must not carry user info: proxies that need credentials are not supported",
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("must be only a scheme, a host and a port"));
    }
    if base_url.starts_with("http://") && !loopback {
        return Err(refuse(
            "the base URL is plain http, so the project's credentials would cross this proxy \
             unencrypted; with an http base URL only a loopback proxy is allowed",
        ));
    }
    Ok(url)
}

/// A SignalWire project id: the user name of the Basic credentials.
///
/// Not a secret, but it must be non-empty and free of `:` (which would split Basic
/// credentials) and control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ProjectId(String);

impl ProjectId {
    /// Checks a project id.
    pub fn parse(input: &str) -> Result<Self, Error> {
        if input.is_empty() {
            return Err(Error::invalid_input("project_id", "is empty"));
        }
        if input.contains(':') {
            return Err(Error::invalid_input(
                "project_id",
                "contains ':', which cannot appear in Basic credentials' user name",
            ));
        }
        if input.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "project_id",
                "contains a control character",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SignalWire API token: the password of the Basic credentials. A secret: `Debug`
/// prints `ApiToken([redacted])`, there is no `Display`, and it is zeroed when dropped.
#[derive(Clone)]
pub struct ApiToken(SecretString);

impl ApiToken {
    /// Checks an API token: non-empty, no control characters.
    pub fn parse(input: impl Into<String>) -> Result<Self, Error> {
        let secret = SecretString::from(input.into());
        let text = secret.expose_secret();
        if text.is_empty() {
            return Err(Error::invalid_input("api_token", "is empty"));
        }
        if text.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "api_token",
                "contains a control character",
            ));
        }
        Ok(Self(secret))
    }

    /// The token text. Handle it as a secret.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space_error(input: &str) -> String {
        match Space::parse(input) {
            Err(Error::InvalidInput {
                field: "space",
                reason,
            }) => reason,
            other => panic!("{input:?}: expected a space error, got {other:?}"),
        }
    }

    #[test]
    fn every_accepted_spelling_gives_the_same_space() {
        for input in [
            "example",
            "EXAMPLE",
            "example.signalwire.com",
            "Example.SignalWire.com",
            "https://example.signalwire.com",
            "https://example.signalwire.com/",
            "HTTPS://example.signalwire.com",
        ] {
            let space = Space::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(space.name(), "example", "{input:?}");
            assert_eq!(space.base_url(), "https://example.signalwire.com");
        }
    }

    #[test]
    fn labels_at_the_length_limit_are_accepted_and_past_it_refused() {
        assert_eq!(
            Space::parse(&"a".repeat(63)).map(|s| s.name().len()).ok(),
            Some(63)
        );
        assert!(space_error(&"a".repeat(64)).contains("64 characters long"));
        assert_eq!(
            Space::parse("a-1").map(|s| s.to_string()).ok(),
            Some("a-1".to_owned())
        );
    }

    #[test]
    fn anything_that_could_reach_another_host_is_refused_with_its_reason() {
        let cases = [
            ("", "is empty"),
            ("a.b", "'.'"),
            ("evil.com#", "'.'"),
            ("example.signalwire.com.evil.com", "'.'"),
            ("evil.com/example", "'.'"),
            ("ex/ample", "'/'"),
            ("user@example", "'@'"),
            ("example:443", "':'"),
            ("ex%2Fample", "'%'"),
            ("ex ample", "whitespace"),
            ("example\n", "whitespace"),
            ("ехample", "not ASCII"), // Cyrillic 'е'
            ("127.0.0.1", "'.'"),
            ("[::1]", "'['"),
            ("-example", "starts or ends with '-'"),
            ("http://example.signalwire.com", "https only"),
            ("https://evil.com", "https://<space>.signalwire.com"),
            (
                "https://example.signalwire.com:8443",
                "https://<space>.signalwire.com",
            ),
            ("https://user@example.signalwire.com", "'@'"),
            (
                "https://example.signalwire.com/path",
                "https://<space>.signalwire.com",
            ),
        ];
        for (input, expected) in cases {
            let reason = space_error(input);
            assert!(
                reason.contains(expected),
                "{input:?}: {reason:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn base_urls_must_be_https_or_loopback_http_without_extras() {
        assert_eq!(
            check_base_url("https://proxy.example.com/").ok().as_deref(),
            Some("https://proxy.example.com")
        );
        assert_eq!(
            check_base_url("https://proxy.example.com/sw/")
                .ok()
                .as_deref(),
            Some("https://proxy.example.com/sw")
        );
        assert_eq!(
            check_base_url("http://127.0.0.1:8080").ok().as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            check_base_url("http://localhost:1").ok().as_deref(),
            Some("http://localhost:1")
        );
        assert_eq!(
            check_base_url("http://[::1]:9/").ok().as_deref(),
            Some("http://[::1]:9")
        );
        for (input, expected) in [
            ("http://example.com", "loopback"),
            ("http://10.0.0.1", "loopback"),
            ("ftp://localhost", "scheme"),
            ("https://user:pw@example.com", "user info"),
            ("https://example.com/?a=b", "query"),
            ("https://example.com/#frag", "fragment"),
            ("not-a-url", "not a URL"),
            // The URL standard would drop these silently and name another host.
            (
                "https://ex\nample.com",
                "whitespace or a control character at byte 10",
            ),
            ("https://ex\tample.com", "whitespace or a control character"),
            (
                " https://example.com",
                "whitespace or a control character at byte 0",
            ),
            (
                "https://example.com\r\n",
                "whitespace or a control character",
            ),
            ("not a url", "whitespace or a control character"),
        ] {
            match check_base_url(input) {
                Err(Error::InvalidInput {
                    field: "base_url",
                    reason,
                }) => {
                    assert!(reason.contains(expected), "{input}: {reason}")
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn proxies_are_http_or_https_hosts_and_loopback_for_a_plain_http_base_url() {
        let https_base = "https://example.signalwire.com";
        let http_base = "http://127.0.0.1:9";
        let accepted = [
            ("http://proxy.internal:3128", https_base),
            ("https://proxy.internal:3129/", https_base),
            ("http://127.0.0.1:3128", http_base),
            ("http://localhost:3128", http_base),
            ("http://[::1]:3128", http_base),
        ];
        for (proxy, base) in accepted {
            let url = check_proxy(proxy, base).unwrap_or_else(|e| panic!("{proxy}: {e}"));
            assert_eq!(url.path(), "/", "{proxy}");
        }
        let refused = [
            (
                "http://proxy.internal:3128",
                http_base,
                "only a loopback proxy",
            ),
            ("socks5://127.0.0.1:1080", https_base, "scheme"),
            ("http://user:pw@proxy.internal", https_base, "user info"),
            ("http://proxy.internal/path", https_base, "only a scheme"),
            ("http://proxy.internal/?a=b", https_base, "only a scheme"),
            ("http://proxy.internal/#f", https_base, "only a scheme"),
            ("http://pro\nxy.internal", https_base, "control character"),
            ("proxy.internal:3128", https_base, "scheme"),
        ];
        for (proxy, base, expected) in refused {
            match check_proxy(proxy, base) {
                Err(Error::InvalidInput {
                    field: "proxy",
                    reason,
                }) => assert!(reason.contains(expected), "{proxy}: {reason}"),
                other => panic!("{proxy}: {other:?}"),
            }
        }
    }

    #[test]
    fn project_ids_and_api_tokens_are_checked() {
        assert!(ProjectId::parse("9f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10").is_ok());
        for bad in ["", "a:b", "a\nb"] {
            assert!(
                matches!(
                    ProjectId::parse(bad),
                    Err(Error::InvalidInput {
                        field: "project_id",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(ApiToken::parse("PT0123456789abcdef").is_ok());
        for bad in ["", "PT\r\nX-Injected: 1", "\u{0}"] {
            assert!(
                matches!(
                    ApiToken::parse(bad),
                    Err(Error::InvalidInput {
                        field: "api_token",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_refused_api_token_is_not_echoed() {
        let secret = "PTsecret\u{7}value";
        let error = ApiToken::parse(secret).expect_err("control character");
        assert!(!format!("{error} {error:?}").contains("PTsecret"));
    }

    #[test]
    fn user_info_is_redacted_wherever_it_sits() {
        for (input, shown) in [
            ("https://u:pw@host/path", "https://[redacted]@host/path"),
            (
                "http://pw@127.0.0.1:3128",
                "http://[redacted]@127.0.0.1:3128",
            ),
            ("u:pw@host", "[redacted]@host"),
            ("https://a@b:pw@host?x=@y", "https://[redacted]@host?x=@y"),
            ("https://host/a@b", "https://host/a@b"),
            ("https://host#@x", "https://host#@x"),
            ("not a url", "not a url"),
            ("", ""),
        ] {
            assert_eq!(without_user_info(input), shown, "{input:?}");
        }
    }

    #[test]
    fn a_refused_url_is_quoted_without_its_password() {
        let base = check_base_url("https://u:hunter2hunter2@example.com").expect_err("user info");
        let proxy = check_proxy("http://u:hunter2hunter2@127.0.0.1:1", "https://example.com")
            .expect_err("user info");
        for error in [base, proxy] {
            let text = format!("{error} {error:?}");
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("[redacted]@"), "{text}");
        }
    }
}
