//! The ids SignalWire gives subscribers and their addresses, typed so one cannot be passed
//! where another belongs.

use std::fmt;

use crate::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks that `text` is a UUID (what SignalWire's ids are) and keeps it.
            pub fn parse(text: &str) -> Result<Self, Error> {
                crate::input::uuid($field, text).map(|_| Self(text.to_owned()))
            }

            /// An id as the server gave it.
            pub(crate) fn from_server(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;

            fn from_str(text: &str) -> Result<Self, Error> {
                Self::parse(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// The id SignalWire gave a subscriber (a UUID): what token responses name
    /// (`subscriber_id`). Not the same as a subscriber's [`SubscriberResourceId`].
    SubscriberId,
    "subscriber_id"
);

id_type!(
    /// The id of a subscriber as a resource (a UUID): what
    /// [`Subscribers`](crate::Subscribers) reads, updates, deletes and lists addresses by.
    /// Not the same as its [`SubscriberId`].
    ///
    /// ```
    /// use signalwire_fabric::SubscriberResourceId;
    ///
    /// let id: SubscriberResourceId = "b997405e-c510-45cf-b599-261bd6dd6d8c".parse()?;
    /// assert_eq!(id.as_str(), "b997405e-c510-45cf-b599-261bd6dd6d8c");
    /// assert!("not-a-uuid".parse::<SubscriberResourceId>().is_err());
    /// # Ok::<(), signalwire_fabric::Error>(())
    /// ```
    SubscriberResourceId,
    "id"
);

id_type!(
    /// The id of an address a subscriber can be reached at (a UUID): what guest tokens
    /// allow and invites name.
    AddressId,
    "address_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_and_name_their_field_when_they_are_not() {
        let text = "f371a4d1-68fc-4be1-92ba-1728b766cf1c";
        assert_eq!(
            AddressId::parse(text).map(String::from).ok().as_deref(),
            Some(text)
        );
        for (result, field) in [
            (AddressId::parse("x").map(|_| ()), "address_id"),
            (SubscriberResourceId::parse("").map(|_| ()), "id"),
            (SubscriberId::parse("1234").map(|_| ()), "subscriber_id"),
        ] {
            match result {
                Err(Error::InvalidInput { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
