//! The subscribers the fake holds, and their addresses.
//!
//! One store, keyed by email: `create_subscriber` adds a subscriber under its `email`,
//! and `create_subscriber_token` finds (or adds) the subscriber whose email is its
//! `reference`, so a subscriber made either way is the same resource to every operation.
//! Emails are compared exactly (case included). Every subscriber has two ids: the
//! resource id its paths use and the subscriber id token responses name.
//!
//! Subscribers and addresses keep the order they were created in; each gets a sequence
//! number from one counter, which is what pages are cut by.

use std::time::SystemTime;

use uuid::Uuid;

use crate::wire::{SubscriberRequest, SubscriberTokenRequest};

/// The name an address gets when the email's local part has no usable character.
const FALLBACK_ADDRESS_NAME: &str = "subscriber";

#[derive(Default)]
pub(crate) struct Store {
    next_seq: u64,
    /// In creation order.
    subscribers: Vec<SubscriberRecord>,
}

/// A subscriber resource.
pub(crate) struct SubscriberRecord {
    pub(crate) seq: u64,
    pub(crate) resource_id: Uuid,
    pub(crate) subscriber_id: Uuid,
    pub(crate) details: Details,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
    /// In creation order; the first is made with the subscriber.
    pub(crate) addresses: Vec<AddressRecord>,
}

/// What a subscriber says about the person (the password is checked, never kept).
#[derive(Clone, Default)]
pub(crate) struct Details {
    pub(crate) email: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) job_title: Option<String>,
    pub(crate) timezone: Option<String>,
    pub(crate) country: Option<String>,
    pub(crate) company_name: Option<String>,
}

impl Details {
    /// Only an email.
    pub(crate) fn email(email: &str) -> Self {
        Self {
            email: email.to_owned(),
            ..Self::default()
        }
    }

    /// The name to show: the display name, else first and last name, else the email.
    pub(crate) fn shown_name(&self) -> String {
        if let Some(name) = self.display_name.as_ref().filter(|name| !name.is_empty()) {
            return name.clone();
        }
        let full = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if full.is_empty() {
            self.email.clone()
        } else {
            full
        }
    }
}

impl From<SubscriberRequest> for Details {
    fn from(request: SubscriberRequest) -> Self {
        Self {
            email: request.email,
            first_name: request.first_name,
            last_name: request.last_name,
            display_name: request.display_name,
            job_title: request.job_title,
            timezone: request.timezone,
            country: request.country,
            company_name: request.company_name,
        }
    }
}

impl From<&SubscriberTokenRequest> for Details {
    fn from(request: &SubscriberTokenRequest) -> Self {
        Self {
            email: request.reference.clone(),
            first_name: request.first_name.clone(),
            last_name: request.last_name.clone(),
            display_name: request.display_name.clone(),
            job_title: request.job_title.clone(),
            timezone: request.time_zone.clone(),
            country: request.country.clone(),
            company_name: request.company_name.clone(),
        }
    }
}

/// One of a subscriber's addresses.
pub(crate) struct AddressRecord {
    pub(crate) seq: u64,
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) created_at: SystemTime,
}

/// Another subscriber already has the email a change asked for.
pub(crate) struct EmailTaken;

impl Store {
    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Every subscriber, in creation order.
    pub(crate) fn subscribers(&self) -> &[SubscriberRecord] {
        &self.subscribers
    }

    pub(crate) fn by_email(&self, email: &str) -> Option<&SubscriberRecord> {
        self.subscribers
            .iter()
            .find(|record| record.details.email == email)
    }

    pub(crate) fn by_resource_id(&self, id: Uuid) -> Option<&SubscriberRecord> {
        self.subscribers
            .iter()
            .find(|record| record.resource_id == id)
    }

    pub(crate) fn by_subscriber_id(&self, id: Uuid) -> Option<&SubscriberRecord> {
        self.subscribers
            .iter()
            .find(|record| record.subscriber_id == id)
    }

    /// The subscriber an address belongs to.
    pub(crate) fn address_owner(&self, address_id: Uuid) -> Option<&SubscriberRecord> {
        self.subscribers.iter().find(|record| {
            record
                .addresses
                .iter()
                .any(|address| address.id == address_id)
        })
    }

    /// Adds a subscriber with one address named after its email, or refuses when another
    /// already has the email.
    pub(crate) fn insert(
        &mut self,
        details: Details,
        now: SystemTime,
    ) -> Result<&SubscriberRecord, EmailTaken> {
        if self.by_email(&details.email).is_some() {
            return Err(EmailTaken);
        }
        let seq = self.next_seq();
        let name = self.unique_address_name(local_part_name(&details.email));
        let address = AddressRecord {
            seq: self.next_seq(),
            id: random_uuid(),
            name,
            created_at: now,
        };
        let index = self.subscribers.len();
        self.subscribers.push(SubscriberRecord {
            seq,
            resource_id: random_uuid(),
            subscriber_id: random_uuid(),
            details,
            created_at: now,
            updated_at: now,
            addresses: vec![address],
        });
        Ok(&self.subscribers[index])
    }

    /// The subscriber with this email, added with `details` when there is none.
    pub(crate) fn find_or_insert(
        &mut self,
        details: Details,
        now: SystemTime,
    ) -> &SubscriberRecord {
        let index = match self
            .subscribers
            .iter()
            .position(|record| record.details.email == details.email)
        {
            Some(index) => index,
            None => {
                let _ = self.insert(details, now);
                self.subscribers.len().saturating_sub(1)
            }
        };
        &self.subscribers[index]
    }

    /// Replaces a subscriber's details; `None` when there is no such subscriber.
    pub(crate) fn replace(
        &mut self,
        resource_id: Uuid,
        details: Details,
        now: SystemTime,
    ) -> Option<Result<&SubscriberRecord, EmailTaken>> {
        let index = self
            .subscribers
            .iter()
            .position(|record| record.resource_id == resource_id)?;
        let taken = self
            .by_email(&details.email)
            .is_some_and(|other| other.resource_id != resource_id);
        if taken {
            return Some(Err(EmailTaken));
        }
        let record = &mut self.subscribers[index];
        record.details = details;
        record.updated_at = now;
        Some(Ok(&self.subscribers[index]))
    }

    /// Removes a subscriber and its addresses.
    pub(crate) fn remove(&mut self, resource_id: Uuid) -> Option<SubscriberRecord> {
        let index = self
            .subscribers
            .iter()
            .position(|record| record.resource_id == resource_id)?;
        Some(self.subscribers.remove(index))
    }

    /// Gives the subscriber with this email another address, named `name` (made unique);
    /// `None` when there is no such subscriber.
    pub(crate) fn add_address(&mut self, email: &str, name: &str, now: SystemTime) -> Option<Uuid> {
        let index = self
            .subscribers
            .iter()
            .position(|record| record.details.email == email)?;
        let name = self.unique_address_name(sanitized(name));
        let address = AddressRecord {
            seq: self.next_seq(),
            id: random_uuid(),
            name,
            created_at: now,
        };
        let id = address.id;
        self.subscribers[index].addresses.push(address);
        Some(id)
    }

    /// `base`, or `base-2`, `base-3`, ... : the first no address has yet.
    fn unique_address_name(&self, base: String) -> String {
        let taken = |name: &str| {
            self.subscribers
                .iter()
                .flat_map(|record| &record.addresses)
                .any(|address| address.name == name)
        };
        if !taken(&base) {
            return base;
        }
        (2u64..)
            .map(|n| format!("{base}-{n}"))
            .find(|name| !taken(name))
            .unwrap_or(base)
    }
}

/// An address name from an email's local part: `Alice.Lind+x@example.com` gives
/// `alice.lind-x`.
fn local_part_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    sanitized(local)
}

/// Lower case ASCII letters, digits, `.`, `_` and `-`; anything else becomes `-`.
fn sanitized(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        FALLBACK_ADDRESS_NAME.to_owned()
    } else {
        name.to_owned()
    }
}

pub(crate) fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_named_after_the_local_part_and_kept_unique() {
        let mut store = Store::default();
        let now = SystemTime::now();
        let names = |store: &Store| -> Vec<String> {
            store
                .subscribers()
                .iter()
                .flat_map(|record| &record.addresses)
                .map(|address| address.name.clone())
                .collect()
        };
        for email in [
            "Alice.Lind+x@example.com",
            "alice.lind-x@example.org",
            "@nobody",
            "ünï@example.com",
        ] {
            assert!(store.insert(Details::email(email), now).is_ok(), "{email}");
        }
        assert!(store.insert(Details::email("@nobody"), now).is_err());
        assert_eq!(
            names(&store),
            ["alice.lind-x", "alice.lind-x-2", "subscriber", "n"]
        );
        let id = store.add_address("@nobody", "Room 1", now);
        assert!(id.is_some());
        assert_eq!(store.add_address("unknown@example.com", "x", now), None);
        assert_eq!(
            names(&store),
            [
                "alice.lind-x",
                "alice.lind-x-2",
                "subscriber",
                "room-1",
                "n"
            ]
        );
    }

    #[test]
    fn the_shown_name_falls_back_to_the_names_then_the_email() {
        let mut details = Details::email("a@b");
        assert_eq!(details.shown_name(), "a@b");
        details.last_name = Some("Lind".to_owned());
        assert_eq!(details.shown_name(), "Lind");
        details.first_name = Some("Alice".to_owned());
        assert_eq!(details.shown_name(), "Alice Lind");
        details.display_name = Some("Alice L.".to_owned());
        assert_eq!(details.shown_name(), "Alice L.");
    }

    #[test]
    fn replacing_refuses_another_subscribers_email_and_keeps_the_ids() {
        let mut store = Store::default();
        let now = SystemTime::now();
        let alice = store
            .insert(Details::email("alice@example.com"), now)
            .map(|record| record.resource_id)
            .ok()
            .expect("inserted");
        assert!(store.insert(Details::email("bob@example.com"), now).is_ok());
        assert!(matches!(
            store.replace(alice, Details::email("bob@example.com"), now),
            Some(Err(EmailTaken))
        ));
        let renamed = store.replace(alice, Details::email("alice@example.org"), now);
        assert!(matches!(renamed, Some(Ok(record)) if record.resource_id == alice));
        assert!(store.by_email("alice@example.com").is_none());
        assert!(store.remove(alice).is_some());
        assert!(store.replace(alice, Details::email("x@y"), now).is_none());
    }
}
