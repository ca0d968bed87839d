//! The wiremock side: which mocks the fake mounts, and the [`Respond`] implementation
//! that hands each request to the shared state.

use std::sync::Arc;

use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::Operation;
use crate::reply::ReplyBody;
use crate::state::{Incoming, Shared};

/// Answers the requests one mock matched.
struct Endpoint {
    shared: Arc<Shared>,
    /// The operation the mock matched; `None` for the fallback.
    operation: Option<Operation>,
}

impl Respond for Endpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let reply = self.shared.handle(
            self.operation,
            Incoming {
                method: request.method.as_str(),
                path: request.url.path(),
                query: request.url.query(),
                query_pairs: request.url.query_pairs().into_owned().collect(),
                authorization: request
                    .headers
                    .get(http::header::AUTHORIZATION)
                    .map(|value| value.as_bytes()),
                host: request
                    .headers
                    .get(http::header::HOST)
                    .map(|value| value.as_bytes()),
                body: &request.body,
            },
        );
        let mut template = match reply.body {
            ReplyBody::Json(bytes) => {
                ResponseTemplate::new(reply.status).set_body_raw(bytes, "application/json")
            }
            ReplyBody::Html(page) => ResponseTemplate::new(reply.status)
                .set_body_raw(page.into_bytes(), "text/html; charset=utf-8"),
            ReplyBody::Empty => ResponseTemplate::new(reply.status),
        };
        if let Some(seconds) = reply.retry_after_seconds {
            template =
                template.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        if let Some(delay) = reply.delay {
            template = template.set_delay(delay);
        }
        template
    }
}

/// Mounts one mock per operation (a path with `{id}` matches any one segment there) and,
/// below them, a fallback that answers everything else (wiremock's own 404 has no body).
pub(crate) async fn mount(server: &MockServer, shared: &Arc<Shared>) {
    for operation in Operation::ALL {
        let mock = Mock::given(method(operation.method()));
        let mock = if operation.has_id() {
            mock.and(path_regex(operation.path_pattern()))
        } else {
            mock.and(path(operation.path()))
        };
        mock.respond_with(Endpoint {
            shared: Arc::clone(shared),
            operation: Some(operation),
        })
        .with_priority(1)
        .named(operation.operation_id())
        .mount(server)
        .await;
    }
    Mock::given(any())
        .respond_with(Endpoint {
            shared: Arc::clone(shared),
            operation: None,
        })
        .with_priority(u8::MAX)
        .named("fallback")
        .mount(server)
        .await;
}
