//! First smoke test of the contract: the spec's own examples decode through the generated
//! client, for every status the refresh operation documents.

use signalwire_fabric_api::{CallContext, Client, Error, types};
use signalwire_fabric_contract_tests::{response_examples, spec};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn every_documented_refresh_example_decodes_through_the_generated_client() {
    let spec = spec();
    let refresh = spec
        .operation("refresh_subscriber_token")
        .expect("refresh is in the spec");
    let mut checked = 0;
    for status in refresh.statuses() {
        for (name, example) in response_examples(&spec, &refresh.id, status) {
            let server = MockServer::start().await;
            Mock::given(method(refresh.method.as_str()))
                .and(path(refresh.path.as_str()))
                .respond_with(ResponseTemplate::new(status).set_body_json(&example))
                .expect(1)
                .mount(&server)
                .await;
            let client = Client::new_with_client(
                &server.uri(),
                reqwest::Client::new(),
                CallContext::new(1 << 16),
            );
            let result = client
                .refresh_subscriber_token()
                .body(types::RefreshSubscriberTokenRequest {
                    refresh_token: "a.b.c".to_owned(),
                })
                .send()
                .await;
            match (status, result) {
                (200 | 201, Ok(pair)) => {
                    assert_eq!(pair.token, example["token"], "{status} {name}");
                    assert_eq!(
                        pair.refresh_token, example["refresh_token"],
                        "{status} {name}"
                    );
                }
                (400.., Err(Error::ErrorResponse(body))) => {
                    assert_eq!(body.status().as_u16(), status, "{name}");
                    assert_eq!(
                        serde_json::to_value(body.into_inner()).expect("serializable"),
                        example,
                        "{status} {name}: the decoded error must keep every field"
                    );
                }
                (_, other) => panic!("{status} {name}: unexpected {other:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 6, "one example per documented status");
}
