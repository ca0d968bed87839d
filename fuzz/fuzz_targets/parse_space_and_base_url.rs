//! Space names and base URLs: never panic, and whatever is accepted sends credentials
//! only to a SignalWire host (space) or to an https / loopback-http URL without user
//! info, query or fragment (base URL).
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalwire_fabric::Space;
use signalwire_fabric::fuzzing::base_url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(space) = Space::parse(text) {
        let name = space.name();
        assert!((1..=63).contains(&name.len()));
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
        assert_eq!(space.base_url(), format!("https://{name}.signalwire.com"));
    }
    if let Ok(base) = base_url(text) {
        let base = base.as_str();
        assert!(
            base.starts_with("https://") || base.starts_with("http://"),
            "{base}"
        );
        assert!(!base.ends_with('/'));
        assert!(!base.contains('?') && !base.contains('#'), "{base}");
        let authority = base
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default();
        assert!(!authority.contains('@'), "{base}");
        if base.starts_with("http://") {
            let host = authority
                .rsplit_once(':')
                .map_or(authority, |(host, _)| host);
            assert!(
                host == "localhost" || host.starts_with("127.") || host == "[::1]",
                "{base}"
            );
        }
    }
});
