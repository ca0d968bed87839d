use std::io::ErrorKind;
use std::net::Ipv4Addr;

use signalwire_fabric_fake::FakeSpace;

use crate::common::create;

#[tokio::test]
async fn a_default_fake_listens_on_loopback_with_generated_credentials() {
    let one = FakeSpace::start().await;
    let two = FakeSpace::start().await;
    assert_eq!(one.address().ip(), Ipv4Addr::LOCALHOST);
    assert_eq!(
        one.base_url(),
        format!("http://127.0.0.1:{}", one.address().port())
    );
    assert_ne!(one.address().port(), two.address().port());
    assert!(
        uuid::Uuid::parse_str(one.project_id()).is_ok(),
        "{}",
        one.project_id()
    );
    assert!(one.api_token().starts_with("PT") && one.api_token().len() == 50);
    assert_ne!(one.api_token(), two.api_token());
    assert_eq!(create(&one, "alice@example.com").await.status, 200);
}

#[tokio::test]
async fn given_credentials_are_the_ones_accepted() {
    let fake = FakeSpace::builder()
        .project_id("project-1")
        .api_token("PTgiven")
        .start()
        .await
        .expect("a random loopback port");
    assert_eq!(
        (fake.project_id(), fake.api_token()),
        ("project-1", "PTgiven")
    );
    assert_eq!(create(&fake, "alice@example.com").await.status, 200);
}

#[tokio::test]
async fn a_fixed_port_is_used_and_a_taken_one_is_an_error() {
    let free_port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let fake = FakeSpace::builder()
        .port(free_port)
        .start()
        .await
        .expect("the port was free a moment ago");
    assert_eq!(fake.address().port(), free_port);

    let error = FakeSpace::builder()
        .port(free_port)
        .start()
        .await
        .expect_err("the port is taken");
    assert_eq!(error.kind(), ErrorKind::AddrInUse);
}

#[tokio::test]
async fn credentials_a_client_cannot_send_are_refused() {
    for (project_id, api_token) in [("", "PT"), ("a:b", "PT"), ("p", ""), ("p", "PT\r\nX: y")] {
        let error = FakeSpace::builder()
            .project_id(project_id)
            .api_token(api_token)
            .start()
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{project_id:?}");
        assert!(!error.to_string().contains("PT\r\n"), "{error}");
    }
}
