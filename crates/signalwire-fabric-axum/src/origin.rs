//! Which other origins' pages may call the endpoints, with their cookies: the origins the
//! app allows, kept as browsers send an `Origin`, and the CORS layer that admits exactly
//! those. Without any, no CORS header is sent.

use std::fmt;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The origins allowed to call the endpoints from another origin, as browsers send them.
#[derive(Clone, Default)]
pub(crate) struct AllowedOrigins(Vec<HeaderValue>);

impl AllowedOrigins {
    /// Allows `origin` (`http(s)://host[:port]`), written as browsers send it; anything
    /// else is ignored, and logged as an error (see
    /// [`TokenServiceBuilder::allow_origin`](crate::TokenServiceBuilder::allow_origin)).
    pub(crate) fn allow(&mut self, origin: &str) {
        match checked_origin(origin) {
            Some(value) => self.0.push(value),
            None => tracing::error!(
                origin,
                "an allowed origin must be http(s)://host[:port]; this one was ignored"
            ),
        }
    }

    /// The CORS layer that admits exactly these origins, with credentials, for `POST`; or
    /// `None` when no origin is allowed.
    pub(crate) fn cors_layer(&self) -> Option<CorsLayer> {
        if self.0.is_empty() {
            return None;
        }
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.0.iter().cloned()))
                .allow_methods([Method::POST])
                .allow_headers([CONTENT_TYPE, AUTHORIZATION])
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        )
    }
}

/// As the list of origins.
impl fmt::Debug for AllowedOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `http(s)://host[:port]` as a header value, written as browsers send an `Origin`
/// (scheme and host in lower case, no default port), or `None`.
fn checked_origin(origin: &str) -> Option<HeaderValue> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    // The host, and the port after it if any: `[v6]:port` or `name:port`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (address, after) = v6.split_once(']')?;
            let ok =
                !address.is_empty() && address.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
            if !ok {
                return None;
            }
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':')?),
            };
            (&authority[..address.len() + 2], port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if !ok {
                return None;
            }
            (host, port)
        }
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            match digits.parse::<u16>().ok()? {
                0 => return None,
                port if port == default_port => None,
                port => Some(port),
            }
        }
        Some(_) => return None,
    };
    let host = host.to_ascii_lowercase();
    let normal = match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    HeaderValue::from_str(&normal).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_origins_with_a_host_are_allowed() {
        for allowed in [
            "https://app.example.com",
            "https://app.example.com/",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
        ] {
            assert!(checked_origin(allowed).is_some(), "{allowed}");
        }
        for refused in [
            "*",
            "null",
            "https://",
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com?x",
            "https://*.example.com",
            "https://app.example.com\r\nX: y",
            "https://app.example.com:",
            "https://app.example.com:0",
            "https://app.example.com:65536",
            "https://app.example.com:44a",
            "https://app.example.com:443:443",
            "https://[::1]x",
            "https://[]",
            "https://[::1",
            "https://bücher.example",
        ] {
            assert!(checked_origin(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        for (configured, sent) in [
            ("https://APP2.example.com", "https://app2.example.com"),
            ("HTTPS://App.Example.COM/", "https://app.example.com"),
            ("https://app3.example.com:443", "https://app3.example.com"),
            ("http://localhost:80", "http://localhost"),
            ("http://app.example.com:443", "http://app.example.com:443"),
            ("https://app.example.com:80", "https://app.example.com:80"),
            (
                "https://app.example.com:08443",
                "https://app.example.com:8443",
            ),
            ("http://[::1]:80", "http://[::1]"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[FE80::1]", "http://[fe80::1]"),
        ] {
            assert_eq!(
                checked_origin(configured)
                    .as_ref()
                    .map(HeaderValue::as_bytes),
                Some(sent.as_bytes()),
                "{configured}"
            );
        }
    }
}
