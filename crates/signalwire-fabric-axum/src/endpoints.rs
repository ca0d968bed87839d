//! The router: two `POST` endpoints, what each does once a request is admitted, and the
//! answers to everything else under the mount point (other methods, other paths, `OPTIONS`
//! that are not CORS preflights), every one with `Cache-Control: no-store`.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, CACHE_CONTROL};
use http::{HeaderValue, Method};
use signalwire_fabric::AccessToken;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::TokenService;
use crate::admission::optional_text;
use crate::failure::{ErrorCode, Failure};
use crate::metrics::{self, Endpoint};

/// Where the authenticate endpoint is, under the router's mount point.
pub const AUTHENTICATE_PATH: &str = "/authenticate";
/// Where the refresh endpoint is, under the router's mount point.
pub const REFRESH_PATH: &str = "/refresh";

/// The endpoints of `service` (see [`TokenService::router`]).
pub(crate) fn router(service: TokenService) -> Router {
    let cors = service.inner.origins.cors_layer();
    let router = Router::new()
        .route(
            AUTHENTICATE_PATH,
            post(authenticate).fallback(method_not_allowed),
        )
        .route(REFRESH_PATH, post(refresh).fallback(method_not_allowed))
        .fallback(not_found)
        .with_state(service);
    let router = match cors {
        // tower-http takes every OPTIONS for a preflight; one without
        // Access-Control-Request-Method is not one, and is refused before it.
        Some(cors) => router
            .layer(cors)
            .layer(axum::middleware::from_fn(only_preflights_as_options)),
        None => router,
    };
    router.layer(SetResponseHeaderLayer::overriding(
        CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
}

/// `authenticate({fingerprint})`: a client-bound token with a fingerprint, else the
/// user's session token.
async fn authenticate(State(service): State<TokenService>, request: Request) -> Response {
    let inner = &service.inner;
    let answer = async {
        let (profile, fields) = inner.admission.admit(request, &["fingerprint"]).await?;
        match optional_text(&fields, "fingerprint")? {
            Some(fingerprint) => inner.tokens.client_bound(&profile, fingerprint).await,
            None => inner.sessions.token(&profile, None).await,
        }
    };
    counted(Endpoint::Authenticate, answer.await)
}

/// `refresh()`: the user's session token; with `refused`, after refreshing it if that is
/// the session's current token.
async fn refresh(State(service): State<TokenService>, request: Request) -> Response {
    let inner = &service.inner;
    let answer = async {
        let (profile, fields) = inner.admission.admit(request, &["refused"]).await?;
        let refused = match optional_text(&fields, "refused")? {
            // The token is never quoted back, nor logged.
            Some(text) => Some(AccessToken::parse(text).map_err(|_| {
                Failure::new(
                    ErrorCode::InvalidBody,
                    "refused must be an access token (dot-separated base64url segments)",
                )
                .field("refused")
            })?),
            None => None,
        };
        if let Some(refused) = &refused {
            // A client-bound token reported refused is not answered again.
            inner.tokens.forget_refused(profile.key(), refused);
        }
        inner.sessions.token(&profile, refused.as_ref()).await
    };
    counted(Endpoint::Refresh, answer.await)
}

/// The answer, counted by endpoint and code.
fn counted(endpoint: Endpoint, answer: Result<Response, Failure>) -> Response {
    match answer {
        Ok(response) => {
            metrics::answered(endpoint, None);
            response
        }
        Err(failure) => {
            metrics::answered(endpoint, Some(failure.code));
            failure.into_response()
        }
    }
}

/// Passes an `OPTIONS` on only when it is a CORS preflight (it names the method it asks
/// for) for one of the endpoints; answers one for another path 404, as any method there
/// is, and any other 405, as every method but `POST` is. (Below a mount point the path
/// seen here has the mount point stripped.)
async fn only_preflights_as_options(request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        if !matches!(request.uri().path(), AUTHENTICATE_PATH | REFRESH_PATH) {
            return not_found().await;
        }
        if !request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return method_not_allowed().await;
        }
    }
    next.run(request).await
}

async fn not_found() -> Response {
    metrics::answered(Endpoint::Other, Some(ErrorCode::NotFound));
    Failure::new(
        ErrorCode::NotFound,
        "no endpoint here: the token endpoints are authenticate and refresh",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    metrics::answered(Endpoint::Other, Some(ErrorCode::MethodNotAllowed));
    Failure::new(
        ErrorCode::MethodNotAllowed,
        "the token endpoints answer POST only",
    )
    .into_response()
}
