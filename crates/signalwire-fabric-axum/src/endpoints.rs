//! The router: two `POST` endpoints and the checks every request goes through.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::header::{
    ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE,
};
use http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use signalwire_fabric::AccessToken;

use crate::TokenService;
use crate::answer::{ErrorCode, Failure};

/// Where the authenticate endpoint is, under the router's mount point.
pub const AUTHENTICATE_PATH: &str = "/authenticate";
/// Where the refresh endpoint is, under the router's mount point.
pub const REFRESH_PATH: &str = "/refresh";

/// The longest unknown field name quoted back in an error.
const MAX_QUOTED_FIELD: usize = 64;

impl TokenService {
    /// The endpoints, to mount anywhere with [`Router::nest`]:
    ///
    /// - `POST {mount}/authenticate` with `{}` or `{"fingerprint": "..."}`: the browser
    ///   SDK's `authenticate({fingerprint})`;
    /// - `POST {mount}/refresh` with `{}`: its `refresh()`; with `{"refused": "<access
    ///   token>"}`, the app's report that SignalWire refused that token (see the crate's
    ///   docs, "A token SignalWire refused"): the user's session refreshes now if it is its
    ///   current token, once however many tabs and instances report it.
    ///
    /// Both answer `200 {"token": "...", "expiry_at": <ms since the epoch>}` or a JSON
    /// error (see [`ErrorCode`]), always with `Cache-Control: no-store`. Requests must
    /// say `Content-Type: application/json`; other methods are answered 405. With
    /// origins allowed ([`TokenServiceBuilder::allow_origin`](crate::TokenServiceBuilder::allow_origin)),
    /// an `OPTIONS` carrying `Access-Control-Request-Method` is a CORS preflight,
    /// answered by the CORS rules; any other `OPTIONS` is 405 too. Any other path below
    /// the mount point (`{mount}/anything`, and `{mount}` itself) is answered 404, for
    /// every method, preflights included,
    /// `not_found`, with `no-store` as well; `{mount}/` with nothing after it is not
    /// nested by axum, so the app's own fallback answers it.
    ///
    /// Mount it with [`Router::nest`]: the 404 is the router's own fallback, which a
    /// nested router keeps to its own paths (merged into another router with
    /// [`Router::merge`], it would answer that router's unknown paths too).
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route(
                AUTHENTICATE_PATH,
                post(authenticate).fallback(method_not_allowed),
            )
            .route(REFRESH_PATH, post(refresh).fallback(method_not_allowed))
            .fallback(not_found)
            .with_state(self.clone());
        let router = match self.cors() {
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

    fn cors(&self) -> Option<CorsLayer> {
        let origins = &self.inner.allowed_origins;
        if origins.is_empty() {
            return None;
        }
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins.iter().cloned()))
                .allow_methods([Method::POST])
                .allow_headers([CONTENT_TYPE, AUTHORIZATION])
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        )
    }

    /// Everything a request goes through before its endpoint's own work: the content
    /// type, the app's authentication, the user's rate limit, then the bounded body.
    async fn admit(
        &self,
        request: Request,
        known: &[&'static str],
    ) -> Result<(crate::SubscriberProfile, Fields), Failure> {
        let (parts, body) = request.into_parts();
        if !is_json(parts.headers.get(CONTENT_TYPE)) {
            return Err(Failure::new(
                ErrorCode::UnsupportedMediaType,
                "send the request as Content-Type: application/json",
            ));
        }
        let profile = self.authenticate_user(&parts).await?;
        self.count_request(&profile)?;
        let limit = self.inner.max_body_bytes;
        let too_large = || {
            Failure::new(
                ErrorCode::BodyTooLarge,
                format!("the body is longer than {limit} bytes"),
            )
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| too_large())?;
        let fields = parse(&bytes, known)?;
        Ok((profile, fields))
    }
}

/// Whether a `Content-Type` is `application/json`, with or without parameters.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

type Fields = serde_json::Map<String, serde_json::Value>;

/// The body as a JSON object holding only `known` fields. No body at all is an empty
/// object. Anything else (not JSON, not an object, an unknown field) is refused.
fn parse(bytes: &[u8], known: &[&'static str]) -> Result<Fields, Failure> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::new());
    }
    let fields = match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Object(fields)) => fields,
        Ok(_) => {
            return Err(Failure::new(
                ErrorCode::InvalidBody,
                "the body must be a JSON object",
            ));
        }
        Err(error) => {
            return Err(Failure::new(
                ErrorCode::InvalidBody,
                format!("the body is not JSON: {error}"),
            ));
        }
    };
    if let Some(unknown) = fields.keys().find(|name| !known.contains(&name.as_str())) {
        let quoted: String = unknown.chars().take(MAX_QUOTED_FIELD).collect();
        let takes = match known {
            [] => "no fields".to_owned(),
            known => format!("only {}", known.join(", ")),
        };
        return Err(Failure::new(
            ErrorCode::InvalidBody,
            format!(
                "unknown field {quoted:?}: this endpoint takes {takes}; the subscriber \
                 always comes from the signed-in user, never from the body"
            ),
        )
        .field(quoted));
    }
    Ok(fields)
}

/// The optional text field `name` of `fields`.
fn optional_text<'a>(fields: &'a Fields, name: &'static str) -> Result<Option<&'a str>, Failure> {
    match fields.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(
            Failure::new(ErrorCode::InvalidBody, format!("{name} must be a string")).field(name),
        ),
    }
}

async fn authenticate(State(service): State<TokenService>, request: Request) -> Response {
    let answer = async {
        let (profile, fields) = service.admit(request, &["fingerprint"]).await?;
        match optional_text(&fields, "fingerprint")? {
            Some(fingerprint) => service.client_bound_token(&profile, fingerprint).await,
            None => service.session_token(&profile, None).await,
        }
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

async fn refresh(State(service): State<TokenService>, request: Request) -> Response {
    let answer = async {
        let (profile, fields) = service.admit(request, &["refused"]).await?;
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
        service.session_token(&profile, refused.as_ref()).await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
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
    Failure::new(
        ErrorCode::NotFound,
        "no endpoint here: the token endpoints are authenticate and refresh",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    Failure::new(
        ErrorCode::MethodNotAllowed,
        "the token endpoints answer POST only",
    )
    .into_response()
}
