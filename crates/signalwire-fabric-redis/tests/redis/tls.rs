//! `rediss://`: the coordinator over TLS to a `redis-server` serving a certificate made
//! here, signed by an authority made here: every rule of the protocol
//! (`tls::conformance::*`), sessions sharing a subscriber, and a certificate the client does
//! not trust. Skipped (visibly) when this `redis-server` was built without TLS.

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use signalwire_fabric::testing::conformance_tests;
use signalwire_fabric::{Coordinator, Error, SubscriberSession};
use signalwire_fabric_redis::RedisCoordinator;

use crate::errors::all_text;
use crate::support::doubles::{space, text};
use crate::support::sessions::until;
use crate::support::{RedisHarness, RedisServer, TlsFiles, session_key};

/// A certificate for `localhost` and 127.0.0.1, signed by a new authority, in `dir`.
fn certificates(dir: &std::path::Path) -> TlsFiles {
    let mut authority = CertificateParams::new(Vec::<String>::new()).expect("params");
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    authority
        .distinguished_name
        .push(DnType::CommonName, "signalwire-fabric-redis test authority");
    let authority = CertifiedIssuer::self_signed(authority, KeyPair::generate().expect("a key"))
        .expect("signed");
    let key = KeyPair::generate().expect("a key");
    let server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &authority)
        .expect("signed");
    let files = TlsFiles {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        authority: authority.pem(),
    };
    std::fs::write(&files.cert, server.pem()).expect("written");
    std::fs::write(&files.key, key.serialize_pem()).expect("written");
    files
}

/// A harness on a new `redis-server` that speaks only TLS, with a certificate made for
/// it; or `None` (said SKIPPED: no `redis-server`, or one built without TLS).
fn over_tls(test: &str) -> Option<RedisHarness> {
    let dir = tempfile::tempdir().expect("a directory");
    let server = RedisServer::start_tls(test, certificates(dir.path()))?;
    assert!(server.url().starts_with("rediss://"));
    let mut harness = RedisHarness::new(server, None);
    harness.files = Some(dir);
    Some(harness)
}

conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    conformance,
    over_tls
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rediss_sessions_share_a_subscriber() {
    let Some(harness) = over_tls("tls::over_rediss_sessions_share_a_subscriber") else {
        return;
    };
    let space = space();
    let key = session_key("tls");
    let first = SubscriberSession::builder(space.clone(), space.create())
        .coordinator(harness.make(), key.clone())
        .jitter(Duration::ZERO)
        .build();
    let old = first.access_token().await.expect("valid");
    until("published", || first.status().generation == 1).await;
    let second = SubscriberSession::join(space.clone(), harness.make(), key)
        .await
        .expect("answers over TLS")
        .expect("shared")
        .build();
    let new = first.refresh_if_current(&old).await.expect("refreshed");
    let adopted = second.refresh_if_current(&old).await.expect("adopted");
    assert_eq!(text(&new), text(&adopted));
    assert_eq!(space.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rediss_a_certificate_the_client_does_not_trust_is_refused() {
    let test = "tls::over_rediss_a_certificate_the_client_does_not_trust_is_refused";
    let dir = tempfile::tempdir().expect("a directory");
    let Some(server) = RedisServer::start_tls(test, certificates(dir.path())) else {
        return;
    };
    // The operating system's roots do not include the test's authority.
    let untrusting = RedisCoordinator::builder(server.url())
        .build()
        .expect("valid settings");
    let error = untrusting
        .load(&session_key("tls"))
        .await
        .expect_err("the certificate is not trusted");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    assert!(
        all_text(&error).contains("localhost"),
        "{}",
        all_text(&error)
    );
    // Plain text to the TLS port gets nowhere either.
    let plain = RedisCoordinator::builder(format!("redis://127.0.0.1:{}", server.port()))
        .response_timeout(Duration::from_millis(300))
        .build()
        .expect("valid settings");
    let error = plain.load(&session_key("tls")).await.expect_err("not TLS");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
}
