//! Properties of everything that parses untrusted text or bytes: it never panics, accepts
//! only what it should, and round-trips what it accepts.

use base64::Engine as _;
use proptest::prelude::*;
use signalwire_fabric::fuzzing::{Answer, refresh_response};
use signalwire_fabric::{
    AccessToken, Client, Error, MAX_TOKEN_LEN, RefreshToken, Space, TokenKind,
};

/// `cases` cases from a fixed seed, so every run (and CI) tries the same inputs; the
/// fuzz targets in fuzz/ are where inputs are explored. Set `PROPTEST_RNG_SEED` to try
/// another seed.
fn config(cases: u32) -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(20_261_125);
    ProptestConfig {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A DNS label: letters, digits and inner hyphens, 1 to 63 characters, in mixed case.
fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
}

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_accepted_space_is_a_signalwire_host(input in any::<String>()) {
        if let Ok(space) = Space::parse(&input) {
            let name = space.name();
            prop_assert!((1..=63).contains(&name.len()));
            prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(!name.starts_with('-') && !name.ends_with('-'));
            prop_assert_eq!(space.base_url(), format!("https://{name}.signalwire.com"));
        }
    }

    #[test]
    fn spaces_made_of_url_characters_are_refused_unless_they_are_one_label(
        input in "[a-zA-Z0-9./:@%#?\\[\\]-]{0,80}"
    ) {
        // A trailing '/' is part of the URL spelling only.
        let label_only = match input.strip_prefix("https://") {
            Some(rest) => rest.strip_suffix('/').unwrap_or(rest),
            None => input.as_str(),
        };
        let label_only = label_only
            .to_ascii_lowercase()
            .strip_suffix(".signalwire.com")
            .map(str::to_owned)
            .unwrap_or_else(|| label_only.to_ascii_lowercase());
        let one_label = !label_only.is_empty()
            && label_only.len() <= 63
            && label_only.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label_only.starts_with('-')
            && !label_only.ends_with('-')
            && (!input.starts_with("https://") || input.to_ascii_lowercase().trim_end_matches('/').ends_with(".signalwire.com"));
        prop_assert_eq!(Space::parse(&input).is_ok(), one_label, "{:?}", input);
    }

    #[test]
    fn every_spelling_of_a_label_names_the_same_space(label in label()) {
        let lower = label.to_ascii_lowercase();
        for spelling in [
            label.clone(),
            format!("{label}.signalwire.com"),
            format!("https://{label}.signalwire.com"),
            format!("https://{label}.SignalWire.com/"),
        ] {
            let space = Space::parse(&spelling).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(space.name(), lower.as_str());
        }
    }

    #[test]
    fn any_accepted_base_url_keeps_credentials_on_its_own_host(input in any::<String>()) {
        check_base_url_property(&input)?;
    }

    #[test]
    fn structured_base_urls_are_accepted_exactly_when_the_rules_allow(
        scheme in prop::sample::select(vec!["http", "https", "ftp"]),
        user in prop::option::of("[a-z]{1,5}(:[a-z]{1,5})?"),
        host in prop::sample::select(vec!["localhost", "127.0.0.1", "127.9.9.9", "[::1]", "example.com", "10.0.0.1", "[2001:db8::1]"]),
        port in prop::option::of(1u16..),
        path in "(/[a-z]{0,6}){0,3}",
        query in prop::option::of("[a-z=]{0,6}"),
        fragment in prop::option::of("[a-z]{0,6}"),
    ) {
        let mut url = format!("{scheme}://");
        if let Some(user) = &user { url.push_str(user); url.push('@'); }
        url.push_str(host);
        if let Some(port) = port { url.push_str(&format!(":{port}")); }
        url.push_str(&path);
        if let Some(query) = &query { url.push('?'); url.push_str(query); }
        if let Some(fragment) = &fragment { url.push('#'); url.push_str(fragment); }
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "127.9.9.9" | "[::1]");
        let allowed = (scheme == "https" || (scheme == "http" && loopback))
            && user.is_none() && query.is_none() && fragment.is_none();
        let built = Client::builder().base_url(&url).project_id("p").api_token("t").build();
        prop_assert_eq!(built.is_ok(), allowed, "{}: {:?}", url, built.err());
        check_base_url_property(&url)?;
    }

    #[test]
    fn token_parsing_accepts_only_the_jwt_grammar_and_round_trips(input in any::<String>()) {
        check_token_property(&input)?;
    }

    #[test]
    fn token_like_text_is_judged_by_its_segments(
        segments in prop::collection::vec("[A-Za-z0-9_-]{0,12}", 1..8),
        noise in prop::option::of(prop::sample::select(vec![" ", "\n", "\r\n", "+", "/", "=", "é"])),
    ) {
        let mut text = segments.join(".");
        if let Some(noise) = noise { text.push_str(noise); }
        let accepted = noise.is_none()
            && (segments.len() == 3 || segments.len() == 5)
            && !segments[0].is_empty();
        prop_assert_eq!(RefreshToken::parse(text.clone()).is_ok() || matches!(RefreshToken::parse(text.clone()), Err(signalwire_fabric::TokenFormatError::WrongKind { .. })), accepted, "{:?}", text);
        check_token_property(&text)?;
    }

    #[test]
    fn the_kind_is_read_from_the_protected_header(
        typ in prop::sample::select(vec!["SAT", "Refresh", "JWT", "sat", ""]),
        rest in prop::collection::vec("[A-Za-z0-9_-]{0,20}", 4),
    ) {
        let header = b64(format!(r#"{{"alg":"dir","enc":"A256GCM","typ":"{typ}"}}"#).as_bytes());
        let text = format!("{header}.{}", rest.join("."));
        let expected = match typ { "SAT" => Some(TokenKind::Access), "Refresh" => Some(TokenKind::Refresh), _ => None };
        let as_access = AccessToken::parse(text.clone());
        let as_refresh = RefreshToken::parse(text);
        prop_assert_eq!(as_access.is_ok(), expected != Some(TokenKind::Refresh));
        prop_assert_eq!(as_refresh.is_ok(), expected != Some(TokenKind::Access));
        if let Ok(token) = as_access { prop_assert_eq!(token.kind(), expected); }
        if let Ok(token) = as_refresh { prop_assert_eq!(token.kind(), expected); }
    }
}

fn check_base_url_property(input: &str) -> Result<(), TestCaseError> {
    let Ok(client) = Client::builder()
        .base_url(input)
        .project_id("p")
        .api_token("t")
        .build()
    else {
        return Ok(());
    };
    let base = client.base_url();
    let url = reqwest::Url::parse(base).map_err(|e| TestCaseError::fail(format!("{base}: {e}")))?;
    prop_assert!(
        url.username().is_empty() && url.password().is_none(),
        "{}",
        base
    );
    prop_assert!(
        url.query().is_none() && url.fragment().is_none(),
        "{}",
        base
    );
    prop_assert!(!base.ends_with('/'), "{}", base);
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            prop_assert!(loopback, "http to a non-loopback host: {}", base);
        }
        other => prop_assert!(false, "scheme {}", other),
    }
    Ok(())
}

fn check_token_property(input: &str) -> Result<(), TestCaseError> {
    let accepted = [
        AccessToken::parse(input).map(|t| t.expose_secret().to_owned()),
        RefreshToken::parse(input).map(|t| t.expose_secret().to_owned()),
    ];
    for text in accepted.into_iter().flatten() {
        prop_assert_eq!(text.as_str(), input);
        prop_assert!(!input.is_empty() && input.len() <= MAX_TOKEN_LEN);
        let segments: Vec<&str> = input.split('.').collect();
        prop_assert!(segments.len() == 3 || segments.len() == 5);
        prop_assert!(!segments[0].is_empty());
        prop_assert!(segments.iter().all(|s| is_base64url(s)));
    }
    Ok(())
}

/// Bodies worth trying: valid pairs (with extra fields), error shapes, and noise.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let token = |typ: &'static str| {
        "[A-Za-z0-9_-]{4,30}".prop_map(move |tail| {
            format!(
                "{}..aXY.{tail}.dGFn",
                b64(format!(r#"{{"typ":"{typ}"}}"#).as_bytes())
            )
        })
    };
    prop_oneof![
        (token("SAT"), token("Refresh"), "[a-z]{1,8}").prop_map(|(access, refresh, extra)| {
            serde_json::json!({"token": access, "refresh_token": refresh, extra: 1}).to_string().into_bytes()
        }),
        "[a-z_]{1,20}".prop_map(|code| {
            serde_json::json!({"errors": [{"type": "validation_error", "code": code, "message": "m", "url": "u"}]})
                .to_string()
                .into_bytes()
        }),
        ".{0,40}".prop_map(|text| serde_json::json!({"error": text}).to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn any_answer_to_a_refresh_becomes_a_pair_or_a_typed_error(
        status in 100u16..600,
        retry_after in prop::option::of(prop_oneof!["[0-9]{1,4}", ".{0,12}"]),
        content_type in prop::option::of(prop::sample::select(vec!["application/json", "text/html", "text/plain"])),
        body in body(),
        limit in prop::sample::select(vec![64usize, 4096, 1 << 20]),
    ) {
        let mut headers = Vec::new();
        if let Some(value) = &retry_after { headers.push(("retry-after".to_owned(), value.clone())); }
        if let Some(value) = content_type { headers.push(("content-type".to_owned(), value.to_owned())); }
        let answer = Answer { status, headers, body: body.clone() };
        let result = runtime().block_on(refresh_response(answer, limit));
        match result {
            Ok(pair) => {
                prop_assert!(status == 200 || status == 201, "success from {}", status);
                let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(pair.access_token().expose_secret(), json["token"].as_str().unwrap_or_default());
                prop_assert_eq!(pair.refresh_token().expose_secret(), json["refresh_token"].as_str().unwrap_or_default());
            }
            Err(error) => {
                // Every answer that arrived keeps its status, and errors format without panicking.
                prop_assert_eq!(error.status(), Some(status), "{:?}", error);
                let _ = format!("{error} {error:?}");
                if matches!(error, Error::ResponseTooLarge { .. }) {
                    prop_assert!(body.len() > limit);
                }
            }
        }
    }
}
