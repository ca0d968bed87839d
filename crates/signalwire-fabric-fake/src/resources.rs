//! The subscriber resource operations: list, create, get, update, delete, and a
//! subscriber's addresses. An `{id}` that is not a UUID, or names no subscriber, is 404.

use std::time::SystemTime;

use http::StatusCode;
use uuid::Uuid;

use crate::paging::List;
use crate::reply::{Outcome, Reply};
use crate::rules;
use crate::state::{Call, Settings, State};
use crate::store::{AddressRecord, Details, EmailTaken, SubscriberRecord};
use crate::wire::{
    AddressChannels, ResourceType, SubscriberAddress, SubscriberAddressPage, SubscriberDetails,
    SubscriberPage, SubscriberResponse,
};

impl State {
    /// `list_subscribers`: 200 with one page, in creation order.
    pub(crate) fn list_subscribers(&mut self, call: &Call<'_>, settings: &Settings) -> Outcome {
        let Ok(request) =
            self.pages
                .request(List::Subscribers, call.query, settings.page_size, call.now)
        else {
            return Outcome::not_found();
        };
        let records = self
            .store
            .subscribers()
            .iter()
            .map(|record| (record.seq, record));
        let page = self
            .pages
            .page(&request, records, call.links_base, call.now);
        let data = page
            .items
            .into_iter()
            .map(|record| subscriber_response(record, settings))
            .collect();
        Outcome::json(
            StatusCode::OK,
            &SubscriberPage {
                data,
                links: page.links,
            },
        )
    }

    /// `create_subscriber`: 201 with the new resource; 422 when another subscriber has
    /// the email already.
    pub(crate) fn create_subscriber(&mut self, call: &Call<'_>, settings: &Settings) -> Outcome {
        let request = match rules::subscriber_request(call.body) {
            Ok(request) => request,
            Err(errors) => return Outcome::rejected(errors),
        };
        match self.store.insert(Details::from(request), call.now) {
            Ok(record) => {
                Outcome::json(StatusCode::CREATED, &subscriber_response(record, settings))
            }
            Err(EmailTaken) => Outcome::rejected(vec![email_taken()]),
        }
    }

    /// `get_subscriber`: 200 with the resource.
    pub(crate) fn get_subscriber(&mut self, call: &Call<'_>, settings: &Settings) -> Outcome {
        match self.addressed(call) {
            Some(record) => Outcome::json(StatusCode::OK, &subscriber_response(record, settings)),
            None => Outcome::not_found(),
        }
    }

    /// `update_subscriber`: 200 with the resource, its details replaced by the body's and
    /// `updated_at` moved to now. An unknown id is 404 before the body is looked at.
    pub(crate) fn update_subscriber(&mut self, call: &Call<'_>, settings: &Settings) -> Outcome {
        let Some(resource_id) = self.addressed(call).map(|record| record.resource_id) else {
            return Outcome::not_found();
        };
        let request = match rules::subscriber_request(call.body) {
            Ok(request) => request,
            Err(errors) => return Outcome::rejected(errors),
        };
        match self
            .store
            .replace(resource_id, Details::from(request), call.now)
        {
            Some(Ok(record)) => {
                Outcome::json(StatusCode::OK, &subscriber_response(record, settings))
            }
            Some(Err(EmailTaken)) => Outcome::rejected(vec![email_taken()]),
            None => Outcome::not_found(),
        }
    }

    /// `delete_subscriber`: 204 with no body. The subscriber's addresses go with it, and
    /// its tokens stop working.
    pub(crate) fn delete_subscriber(&mut self, call: &Call<'_>) -> Outcome {
        let Some(resource_id) = self.addressed(call).map(|record| record.resource_id) else {
            return Outcome::not_found();
        };
        match self.store.remove(resource_id) {
            Some(_) => Outcome::ok(Reply::no_content()),
            None => Outcome::not_found(),
        }
    }

    /// `list_subscriber_addresses`: 200 with one page of the subscriber's addresses.
    pub(crate) fn list_addresses(&mut self, call: &Call<'_>, settings: &Settings) -> Outcome {
        let Some(resource_id) = self.addressed(call).map(|record| record.resource_id) else {
            return Outcome::not_found();
        };
        let Ok(request) = self.pages.request(
            List::Addresses(resource_id),
            call.query,
            settings.page_size,
            call.now,
        ) else {
            return Outcome::not_found();
        };
        let Some(record) = self.store.by_resource_id(resource_id) else {
            return Outcome::not_found();
        };
        let shown_name = record.details.shown_name();
        let addresses = record
            .addresses
            .iter()
            .map(|address| (address.seq, address));
        let page = self
            .pages
            .page(&request, addresses, call.links_base, call.now);
        let data = page
            .items
            .into_iter()
            .map(|address| address_response(address, &shown_name))
            .collect();
        Outcome::json(
            StatusCode::OK,
            &SubscriberAddressPage {
                data,
                links: page.links,
            },
        )
    }

    /// The subscriber the path's `{id}` names, when it is a UUID the fake holds.
    fn addressed(&self, call: &Call<'_>) -> Option<&SubscriberRecord> {
        let id = call.id.filter(|id| rules::is_uuid(id))?;
        let id = Uuid::try_parse(id).ok()?;
        self.store.by_resource_id(id)
    }
}

fn email_taken() -> crate::wire::ValidationError {
    rules::invalid("email", "is already the email of another subscriber")
}

/// A subscriber resource as the wire shows it.
fn subscriber_response(record: &SubscriberRecord, settings: &Settings) -> SubscriberResponse {
    let details = &record.details;
    SubscriberResponse {
        id: record.resource_id.to_string(),
        project_id: rules::is_uuid(&settings.project_id).then(|| settings.project_id.clone()),
        display_name: Some(details.shown_name()),
        kind: Some(ResourceType::Subscriber),
        created_at: Some(rfc3339(record.created_at)),
        updated_at: Some(rfc3339(record.updated_at)),
        subscriber: Some(SubscriberDetails {
            id: Some(record.subscriber_id.to_string()),
            email: Some(details.email.clone()),
            first_name: details.first_name.clone(),
            last_name: details.last_name.clone(),
            display_name: details.display_name.clone(),
            job_title: details.job_title.clone(),
            timezone: details.timezone.clone(),
            country: details.country.clone(),
            company_name: details.company_name.clone(),
        }),
    }
}

/// An address as the wire shows it: channels `/private/<name>?channel=...`.
fn address_response(address: &AddressRecord, shown_name: &str) -> SubscriberAddress {
    let channel = |kind: &str| Some(format!("/private/{}?channel={kind}", address.name));
    SubscriberAddress {
        id: address.id.to_string(),
        name: Some(address.name.clone()),
        display_name: Some(shown_name.to_owned()),
        cover_url: None,
        preview_url: None,
        locked: Some(false),
        channels: Some(AddressChannels {
            audio: channel("audio"),
            messaging: channel("messaging"),
            video: channel("video"),
        }),
        created_at: Some(rfc3339(address.created_at)),
        kind: Some(ResourceType::Subscriber),
    }
}

/// `2026-11-20T09:30:00Z`: whole seconds, UTC.
fn rfc3339(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn times_are_rfc3339_in_whole_seconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_795_000_000_500);
        assert_eq!(rfc3339(at), "2026-11-18T11:06:40Z");
    }
}
