//! The operations the fake serves, and how each is authenticated.

/// One of the endpoints the fake implements: every operation of the project's OpenAPI
/// contract.
///
/// ```
/// use signalwire_fabric_fake::Operation;
///
/// assert_eq!(Operation::Refresh.path(), "/api/fabric/subscribers/tokens/refresh");
/// assert_eq!(Operation::Create.operation_id(), "create_subscriber_token");
/// assert_eq!(Operation::DeleteSubscriber.method(), "DELETE");
/// assert_eq!(Operation::GetSubscriber.path(), "/api/fabric/resources/subscribers/{id}");
/// assert_eq!(Operation::ALL.len(), 11);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `create_subscriber_token`: `POST /api/fabric/subscribers/tokens` (Basic).
    Create,
    /// `refresh_subscriber_token`: `POST /api/fabric/subscribers/tokens/refresh` (Basic).
    Refresh,
    /// `create_subscriber_guest_token`: `POST /api/fabric/guests/tokens` (Basic).
    GuestToken,
    /// `create_subscriber_invite_token`: `POST /api/fabric/subscriber/invites` (Bearer: a
    /// subscriber's access token).
    InviteToken,
    /// `create_guest_embed_token`: `POST /api/fabric/embeds/tokens` (no credentials).
    EmbedToken,
    /// `list_subscribers`: `GET /api/fabric/resources/subscribers` (Basic).
    ListSubscribers,
    /// `create_subscriber`: `POST /api/fabric/resources/subscribers` (Basic).
    CreateSubscriber,
    /// `get_subscriber`: `GET /api/fabric/resources/subscribers/{id}` (Basic).
    GetSubscriber,
    /// `update_subscriber`: `PUT /api/fabric/resources/subscribers/{id}` (Basic).
    UpdateSubscriber,
    /// `delete_subscriber`: `DELETE /api/fabric/resources/subscribers/{id}` (Basic).
    DeleteSubscriber,
    /// `list_subscriber_addresses`: `GET /api/fabric/resources/subscribers/{id}/addresses`
    /// (Basic).
    ListSubscriberAddresses,
}

/// What an operation is authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Authentication {
    /// The project's Basic credentials.
    Basic,
    /// A live subscriber access token the fake issued, as a Bearer token.
    SubscriberBearer,
    /// Nothing; credentials, if sent, are ignored.
    None,
}

const SUBSCRIBERS: &str = "/api/fabric/resources/subscribers";

impl Operation {
    /// Every operation, in the order the spec lists them.
    pub const ALL: [Operation; 11] = [
        Operation::Create,
        Operation::Refresh,
        Operation::GuestToken,
        Operation::InviteToken,
        Operation::EmbedToken,
        Operation::ListSubscribers,
        Operation::CreateSubscriber,
        Operation::GetSubscriber,
        Operation::UpdateSubscriber,
        Operation::DeleteSubscriber,
        Operation::ListSubscriberAddresses,
    ];

    /// The operation's id in the OpenAPI contract.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::Create => "create_subscriber_token",
            Operation::Refresh => "refresh_subscriber_token",
            Operation::GuestToken => "create_subscriber_guest_token",
            Operation::InviteToken => "create_subscriber_invite_token",
            Operation::EmbedToken => "create_guest_embed_token",
            Operation::ListSubscribers => "list_subscribers",
            Operation::CreateSubscriber => "create_subscriber",
            Operation::GetSubscriber => "get_subscriber",
            Operation::UpdateSubscriber => "update_subscriber",
            Operation::DeleteSubscriber => "delete_subscriber",
            Operation::ListSubscriberAddresses => "list_subscriber_addresses",
        }
    }

    /// The HTTP method it is served on, in upper case.
    pub fn method(self) -> &'static str {
        match self {
            Operation::ListSubscribers
            | Operation::GetSubscriber
            | Operation::ListSubscriberAddresses => "GET",
            Operation::UpdateSubscriber => "PUT",
            Operation::DeleteSubscriber => "DELETE",
            Operation::Create
            | Operation::Refresh
            | Operation::GuestToken
            | Operation::InviteToken
            | Operation::EmbedToken
            | Operation::CreateSubscriber => "POST",
        }
    }

    /// The path it is served at, as the spec writes it: `{id}` stands for a subscriber
    /// resource id.
    pub fn path(self) -> &'static str {
        match self {
            Operation::Create => "/api/fabric/subscribers/tokens",
            Operation::Refresh => "/api/fabric/subscribers/tokens/refresh",
            Operation::GuestToken => "/api/fabric/guests/tokens",
            Operation::InviteToken => "/api/fabric/subscriber/invites",
            Operation::EmbedToken => "/api/fabric/embeds/tokens",
            Operation::ListSubscribers | Operation::CreateSubscriber => SUBSCRIBERS,
            Operation::GetSubscriber
            | Operation::UpdateSubscriber
            | Operation::DeleteSubscriber => "/api/fabric/resources/subscribers/{id}",
            Operation::ListSubscriberAddresses => {
                "/api/fabric/resources/subscribers/{id}/addresses"
            }
        }
    }

    /// The path with `{id}` replaced by `id`.
    ///
    /// ```
    /// use signalwire_fabric_fake::Operation;
    ///
    /// assert_eq!(
    ///     Operation::ListSubscriberAddresses.path_for("b997405e-c510-45cf-b599-261bd6dd6d8c"),
    ///     "/api/fabric/resources/subscribers/b997405e-c510-45cf-b599-261bd6dd6d8c/addresses"
    /// );
    /// assert_eq!(Operation::Create.path_for("ignored"), Operation::Create.path());
    /// ```
    pub fn path_for(self, id: &str) -> String {
        self.path().replace("{id}", id)
    }

    /// Whether the path has an `{id}` segment.
    pub(crate) fn has_id(self) -> bool {
        self.path().contains("{id}")
    }

    /// A regular expression matching exactly the paths this operation serves (`{id}`
    /// matches any one non-empty segment; the handler decides whether it names anything).
    pub(crate) fn path_pattern(self) -> String {
        format!("^{}$", self.path().replace("{id}", "[^/]+"))
    }

    /// The `{id}` segment of a path this operation matched.
    pub(crate) fn id_in(self, path: &str) -> Option<&str> {
        if !self.has_id() {
            return None;
        }
        let rest = path.strip_prefix(SUBSCRIBERS)?.strip_prefix('/')?;
        rest.split('/').next().filter(|id| !id.is_empty())
    }

    /// What the operation is authenticated with, as the spec says.
    pub(crate) fn authentication(self) -> Authentication {
        match self {
            Operation::InviteToken => Authentication::SubscriberBearer,
            Operation::EmbedToken => Authentication::None,
            _ => Authentication::Basic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_only_from_templated_paths() {
        let id = "b997405e-c510-45cf-b599-261bd6dd6d8c";
        assert_eq!(
            Operation::GetSubscriber.id_in(&Operation::GetSubscriber.path_for(id)),
            Some(id)
        );
        assert_eq!(
            Operation::ListSubscriberAddresses
                .id_in(&Operation::ListSubscriberAddresses.path_for(id)),
            Some(id)
        );
        assert_eq!(Operation::ListSubscribers.id_in(SUBSCRIBERS), None);
        assert_eq!(
            Operation::GetSubscriber.path_pattern(),
            "^/api/fabric/resources/subscribers/[^/]+$"
        );
        let unique: std::collections::HashSet<(&str, &str)> = Operation::ALL
            .iter()
            .map(|operation| (operation.method(), operation.path()))
            .collect();
        assert_eq!(unique.len(), Operation::ALL.len());
    }
}
