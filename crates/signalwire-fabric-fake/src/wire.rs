//! The JSON bodies the fake reads and writes, written by hand from the API's documented
//! rules (not taken from the generated client), so that the contract suite can compare
//! the fake, the client and the spec with each other.
//!
//! Each type is named like the component schema it stands for in
//! `openapi/fabric-subscribers.yaml` and derives [`schemars::JsonSchema`]:
//!
//! ```
//! use signalwire_fabric_fake::wire::RefreshSubscriberTokenRequest;
//!
//! let schema = schemars::schema_for!(RefreshSubscriberTokenRequest);
//! let json = serde_json::to_value(&schema)?;
//! assert_eq!(json["required"], serde_json::json!(["refresh_token"]));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! The fake never deserializes a request body straight into these types: it reads the
//! body as a [`serde_json::Value`] first and checks every rule itself, so a bad body gets
//! the 422 the API would send rather than a deserializer's message.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The body of `create_subscriber_token`: who the pair is for, and optional limits.
///
/// `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberTokenRequest {
    /// Names the subscriber (usually an email address); created on first use.
    #[schemars(length(min = 1))]
    pub reference: String,
    /// When the access token should expire, in unix seconds; two hours from now when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<i64>,
    /// The application the subscriber belongs to (a UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uuid"))]
    pub application_id: Option<String>,
    /// A new password for the subscriber; empty or absent leaves it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Binds the token to one device: exactly 43 characters of `[A-Za-z0-9_-]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(equal = 43), regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub fingerprint: Option<String>,
    /// What the token may do; without a fingerprint the access token lasts 60 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The subscriber's first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The subscriber's last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The name shown for the subscriber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The subscriber's job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// The subscriber's IANA time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The subscriber's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The subscriber's company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Where the subscriber's media is handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

// The variants below are documented by their wire names alone: a doc comment on a
// variant would make schemars describe the type as a `oneOf` of constants instead of the
// plain string `enum` the spec uses.

/// The one value `scope` may take: `sat:refresh`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline)]
pub enum Scope {
    #[serde(rename = "sat:refresh")]
    SatRefresh,
}

/// The one value `region` may take: `us-central`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline)]
pub enum Region {
    #[serde(rename = "us-central")]
    UsCentral,
}

/// The answer to `create_subscriber_token`: the subscriber and its new pair.
///
/// `Debug` does not show the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberTokenResponse {
    /// The subscriber the pair belongs to.
    #[schemars(extend("format" = "uuid"))]
    pub subscriber_id: String,
    /// The access token (`typ` "SAT").
    #[schemars(extend("format" = "jwt"))]
    pub token: String,
    /// The refresh token (`typ` "Refresh").
    #[schemars(extend("format" = "jwt"))]
    pub refresh_token: String,
}

/// The body of `refresh_subscriber_token`.
///
/// `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefreshSubscriberTokenRequest {
    /// The refresh token to exchange.
    #[schemars(extend("format" = "jwt"))]
    pub refresh_token: String,
}

/// The answer to `refresh_subscriber_token`: the pair that replaces the one whose refresh
/// token was sent.
///
/// `Debug` does not show the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefreshSubscriberTokenResponse {
    /// The new access token.
    #[schemars(extend("format" = "jwt"))]
    pub token: String,
    /// The new refresh token.
    #[schemars(extend("format" = "jwt"))]
    pub refresh_token: String,
}

/// The body of `create_subscriber_guest_token`: which addresses a guest may join.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberGuestTokenRequest {
    /// The address ids (UUIDs) the guest may join: 1 to 10.
    #[schemars(
        length(min = 1, max = 10),
        extend("items" = {"type": "string", "format": "uuid"})
    )]
    pub allowed_addresses: Vec<String>,
    /// When the guest's access token should expire, in unix seconds; two hours from now
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<i64>,
    /// Where the guest's media is handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// The channel region the guest connects through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ch: Option<Region>,
}

/// The answer to `create_subscriber_guest_token`: the guest's pair.
///
/// `Debug` does not show the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberGuestTokenResponse {
    /// The guest's access token (`typ` "SAT").
    #[schemars(extend("format" = "jwt"))]
    pub token: String,
    /// The guest's refresh token (`typ` "Refresh"), exchanged like a subscriber's.
    #[schemars(extend("format" = "jwt"))]
    pub refresh_token: String,
}

/// The body of `create_subscriber_invite_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberInviteTokenRequest {
    /// One of the calling subscriber's address ids (a UUID).
    #[schemars(extend("format" = "uuid"))]
    pub address_id: String,
    /// When the invite lapses, in unix seconds; a day from now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// The answer to `create_subscriber_invite_token`.
///
/// `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberInviteTokenResponse {
    /// The invite token (`typ` "Invite").
    #[schemars(extend("format" = "jwt"))]
    pub token: String,
}

/// The body of `create_guest_embed_token`.
///
/// `Debug` does not show the click-to-call token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GuestEmbedTokenRequest {
    /// The click-to-call token a widget was configured with (`c2c_...`).
    #[schemars(length(min = 1))]
    pub token: String,
}

/// The answer to `create_guest_embed_token`.
///
/// `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GuestEmbedTokenResponse {
    /// The embed token (`typ` "SAT").
    #[schemars(extend("format" = "jwt"))]
    pub token: String,
}

/// The body of `create_subscriber` and `update_subscriber`: a subscriber's details.
///
/// `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberRequest {
    /// The subscriber's email address; the fake keys subscribers by it.
    #[schemars(length(min = 1))]
    pub email: String,
    /// A password of 8 to 72 characters; a random one is set when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 8, max = 72))]
    pub password: Option<String>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The name shown for the subscriber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// IANA time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
}

/// The one value a resource's `type` takes here: `subscriber`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline)]
pub enum ResourceType {
    #[serde(rename = "subscriber")]
    Subscriber,
}

/// A subscriber resource, as `create_subscriber`, `get_subscriber`, `update_subscriber`
/// and `list_subscribers` answer it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberResponse {
    /// The resource id (a UUID in the fake), used in the resource paths.
    pub id: String,
    /// The project the subscriber belongs to (left out when the fake's project id is not
    /// a UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uuid"))]
    pub project_id: Option<String>,
    /// The name shown for the subscriber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Always `subscriber`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ResourceType>,
    /// When the resource was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub created_at: Option<String>,
    /// When the resource last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: Option<String>,
    /// The person behind the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<SubscriberDetails>,
}

/// The person behind a subscriber resource.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberDetails {
    /// The subscriber id: the one token responses name (not the resource id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uuid"))]
    pub id: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The name shown for the subscriber, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// IANA time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
}

/// An address a subscriber can be reached at.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberAddress {
    /// The address id: what invites and guest tokens name.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    /// The address name, e.g. `alice`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The name shown for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A cover image (the fake sets none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_url: Option<String>,
    /// A preview image (the fake sets none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    /// Whether the address is locked (never, in the fake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// How to reach it on each channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<AddressChannels>,
    /// When it was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub created_at: Option<String>,
    /// Always `subscriber`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ResourceType>,
}

/// How to reach an address on each channel, e.g. `/private/alice?channel=video`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AddressChannels {
    /// Audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    /// Messaging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging: Option<String>,
    /// Video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
}

/// Where the other pages of a list are: absolute URLs on the fake, to follow as given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PageLinks {
    /// This page.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// The first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// The next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The previous page; absent on the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

/// One page of `list_subscribers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberPage {
    /// The subscribers on this page, in creation order.
    pub data: Vec<SubscriberResponse>,
    /// Where the other pages are.
    pub links: PageLinks,
}

/// One page of `list_subscriber_addresses`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberAddressPage {
    /// The addresses on this page, in creation order.
    pub data: Vec<SubscriberAddress>,
    /// Where the other pages are.
    pub links: PageLinks,
}

/// Every error body: `{"error": "..."}` for 401, 404 and 5xx, `{"errors": [...]}` for
/// 422.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ErrorResponse {
    /// A short reason such as "Unauthorized".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One entry per broken rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationError>>,
}

impl ErrorResponse {
    /// A body with only a reason: `{"error": reason}`.
    pub fn reason(reason: impl Into<String>) -> Self {
        Self {
            error: Some(reason.into()),
            errors: None,
        }
    }

    /// A 422 body listing `errors`.
    pub fn rejected(errors: Vec<ValidationError>) -> Self {
        Self {
            error: None,
            errors: Some(errors),
        }
    }
}

/// One rule a request broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationError {
    /// The kind of error; the fake always says `validation_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The machine-readable code, e.g. `token_expired`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The request field at fault, or null.
    pub attribute: Option<String>,
    /// Where the code is explained.
    pub url: String,
}

macro_rules! redacted_debug {
    ($name:ident { $($shown:ident),* } hides { $($hidden:ident),* }) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($hidden), &"[redacted]"))*
                    .finish()
            }
        }
    };
}

redacted_debug!(SubscriberTokenResponse { subscriber_id } hides { token, refresh_token });
redacted_debug!(RefreshSubscriberTokenRequest {} hides { refresh_token });
redacted_debug!(RefreshSubscriberTokenResponse {} hides { token, refresh_token });
redacted_debug!(SubscriberGuestTokenResponse {} hides { token, refresh_token });
redacted_debug!(SubscriberInviteTokenResponse {} hides { token });
redacted_debug!(GuestEmbedTokenRequest {} hides { token });
redacted_debug!(GuestEmbedTokenResponse {} hides { token });

impl std::fmt::Debug for SubscriberRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberRequest")
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("display_name", &self.display_name)
            .field("job_title", &self.job_title)
            .field("timezone", &self.timezone)
            .field("country", &self.country)
            .field("company_name", &self.company_name)
            .finish()
    }
}

impl std::fmt::Debug for SubscriberTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberTokenRequest")
            .field("reference", &self.reference)
            .field("expire_at", &self.expire_at)
            .field("application_id", &self.application_id)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("fingerprint", &self.fingerprint)
            .field("scope", &self.scope)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("display_name", &self.display_name)
            .field("job_title", &self.job_title)
            .field("time_zone", &self.time_zone)
            .field("country", &self.country)
            .field("company_name", &self.company_name)
            .field("region", &self.region)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required<T: JsonSchema>() -> serde_json::Value {
        let schema = schemars::schema_for!(T);
        serde_json::to_value(&schema).expect("a schema is JSON")["required"].clone()
    }

    #[test]
    fn required_fields_are_the_documented_ones() {
        use serde_json::json;
        assert_eq!(required::<SubscriberTokenRequest>(), json!(["reference"]));
        assert_eq!(
            required::<SubscriberTokenResponse>(),
            json!(["subscriber_id", "token", "refresh_token"])
        );
        assert_eq!(
            required::<RefreshSubscriberTokenRequest>(),
            json!(["refresh_token"])
        );
        assert_eq!(
            required::<RefreshSubscriberTokenResponse>(),
            json!(["token", "refresh_token"])
        );
        assert_eq!(required::<ErrorResponse>(), serde_json::Value::Null);
        assert_eq!(
            required::<SubscriberGuestTokenRequest>(),
            json!(["allowed_addresses"])
        );
        assert_eq!(
            required::<SubscriberGuestTokenResponse>(),
            json!(["token", "refresh_token"])
        );
        assert_eq!(
            required::<SubscriberInviteTokenRequest>(),
            json!(["address_id"])
        );
        assert_eq!(
            required::<SubscriberInviteTokenResponse>(),
            json!(["token"])
        );
        assert_eq!(required::<GuestEmbedTokenRequest>(), json!(["token"]));
        assert_eq!(required::<GuestEmbedTokenResponse>(), json!(["token"]));
        assert_eq!(required::<SubscriberRequest>(), json!(["email"]));
        assert_eq!(required::<SubscriberResponse>(), json!(["id"]));
        assert_eq!(required::<SubscriberDetails>(), serde_json::Value::Null);
        assert_eq!(required::<SubscriberAddress>(), json!(["id"]));
        assert_eq!(required::<AddressChannels>(), serde_json::Value::Null);
        assert_eq!(required::<PageLinks>(), serde_json::Value::Null);
        assert_eq!(required::<SubscriberPage>(), json!(["data", "links"]));
        assert_eq!(
            required::<SubscriberAddressPage>(),
            json!(["data", "links"])
        );
        assert_eq!(
            required::<ValidationError>(),
            json!(["type", "code", "message", "url"])
        );
    }

    #[test]
    fn guest_addresses_are_1_to_10_uuids_and_page_links_name_self() {
        let schema = serde_json::to_value(schemars::schema_for!(SubscriberGuestTokenRequest))
            .expect("a schema is JSON");
        let addresses = &schema["properties"]["allowed_addresses"];
        assert_eq!(addresses["minItems"], 1);
        assert_eq!(addresses["maxItems"], 10);
        assert_eq!(
            addresses["items"],
            serde_json::json!({"type": "string", "format": "uuid"})
        );
        let links = serde_json::to_value(PageLinks {
            self_link: Some("s".to_owned()),
            ..PageLinks::default()
        })
        .expect("JSON");
        assert_eq!(links, serde_json::json!({"self": "s"}));
    }

    #[test]
    fn a_validation_error_always_writes_its_attribute() {
        let error = ValidationError {
            kind: "validation_error".to_owned(),
            code: "missing_required_parameter".to_owned(),
            message: "Needs a body.".to_owned(),
            attribute: None,
            url: "https://example.com".to_owned(),
        };
        let json = serde_json::to_value(ErrorResponse::rejected(vec![error])).expect("JSON");
        assert_eq!(json["errors"][0]["attribute"], serde_json::Value::Null);
        assert_eq!(json["errors"][0]["type"], "validation_error");
        assert!(json.get("error").is_none());
    }
}
