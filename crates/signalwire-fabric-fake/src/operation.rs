//! The operations the fake serves.

/// One of the two endpoints the fake implements.
///
/// ```
/// use signalwire_fabric_fake::Operation;
///
/// assert_eq!(Operation::Refresh.path(), "/api/fabric/subscribers/tokens/refresh");
/// assert_eq!(Operation::Create.operation_id(), "create_subscriber_token");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `create_subscriber_token`: `POST /api/fabric/subscribers/tokens`.
    Create,
    /// `refresh_subscriber_token`: `POST /api/fabric/subscribers/tokens/refresh`.
    Refresh,
}

impl Operation {
    /// Both operations.
    pub const ALL: [Operation; 2] = [Operation::Create, Operation::Refresh];

    /// The operation's id in the OpenAPI contract.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::Create => "create_subscriber_token",
            Operation::Refresh => "refresh_subscriber_token",
        }
    }

    /// The HTTP method it is served on.
    pub fn method(self) -> &'static str {
        "POST"
    }

    /// The path it is served at.
    pub fn path(self) -> &'static str {
        match self {
            Operation::Create => "/api/fabric/subscribers/tokens",
            Operation::Refresh => "/api/fabric/subscribers/tokens/refresh",
        }
    }
}
