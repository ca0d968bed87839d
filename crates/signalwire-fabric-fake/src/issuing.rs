//! The token operations: subscriber pairs and their refresh, guest pairs, invites and
//! embed tokens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use uuid::Uuid;

use crate::reply::{Outcome, Reply};
use crate::state::{Call, Issued, Owner, Settings, State, later};
use crate::store::Details;
use crate::tokens::{self, Kind};
use crate::wire::{
    GuestEmbedTokenResponse, RefreshSubscriberTokenResponse, SubscriberGuestTokenResponse,
    SubscriberInviteTokenResponse, SubscriberTokenRequest, SubscriberTokenResponse,
};
use crate::{
    ACCESS_TOKEN_LIFETIME, EMBED_TOKEN_LIFETIME, INVITE_TOKEN_LIFETIME, IssuedPair,
    REFRESH_TOKEN_LIFETIME, RotationPolicy, SCOPED_ACCESS_TOKEN_LIFETIME, rules,
};

impl State {
    /// `create_subscriber_token`: 200 with a pair for the subscriber whose email is the
    /// `reference` (added, with the request's names, when there is none).
    pub(crate) fn create_subscriber_token(&mut self, call: &Call<'_>) -> Outcome {
        let request = match rules::create_request(call.body) {
            Ok(request) => request,
            Err(errors) => return Outcome::rejected(errors),
        };
        let subscriber_id = self
            .store
            .find_or_insert(Details::from(&request), call.now)
            .subscriber_id;
        let pair = self.issue_pair(
            Owner::Subscriber(subscriber_id),
            call.now,
            access_expiry(&request, call.now),
        );
        Outcome::json(
            StatusCode::OK,
            &SubscriberTokenResponse {
                subscriber_id: pair.subscriber_id.to_string(),
                token: pair.token,
                refresh_token: pair.refresh_token,
            },
        )
    }

    /// `refresh_subscriber_token`: 201 with a new pair for whoever the refresh token was
    /// issued to (a subscriber the fake still holds, or a guest).
    pub(crate) fn refresh(&mut self, call: &Call<'_>, rotation: RotationPolicy) -> Outcome {
        let now = call.now;
        let token = match rules::refresh_request(call.body) {
            Ok(request) => request.refresh_token,
            Err(error) => return Outcome::rejected(vec![error]),
        };
        let Some(issued) = self.tokens.get_mut(&token) else {
            let error = if tokens::header_typ(&token).as_deref() == Some("SAT") {
                rules::not_a_refresh_token()
            } else {
                rules::token_invalid()
            };
            return Outcome::rejected(vec![error]);
        };
        if issued.kind != Kind::Refresh {
            return Outcome::rejected(vec![rules::not_a_refresh_token()]);
        }
        if now >= issued.expires_at {
            return Outcome::rejected(vec![rules::token_expired()]);
        }
        if !rotation.allows(issued.first_used_at, now) {
            return Outcome::rejected(vec![rules::token_invalid()]);
        }
        let owner = issued.owner.clone();
        if let Owner::Subscriber(id) = owner
            && self.store.by_subscriber_id(id).is_none()
        {
            // The subscriber was deleted: its tokens went with it.
            return Outcome::rejected(vec![rules::token_invalid()]);
        }
        if let Some(issued) = self.tokens.get_mut(&token) {
            issued.first_used_at.get_or_insert(now);
        }
        let pair = self.issue_pair(owner, now, later(now, ACCESS_TOKEN_LIFETIME));
        Outcome::json(
            StatusCode::CREATED,
            &RefreshSubscriberTokenResponse {
                token: pair.token,
                refresh_token: pair.refresh_token,
            },
        )
    }

    /// `create_subscriber_guest_token`: 201 with a pair for a guest allowed into 1 to 10
    /// addresses the fake holds.
    pub(crate) fn guest_token(&mut self, call: &Call<'_>) -> Outcome {
        let request = match rules::guest_request(call.body) {
            Ok(request) => request,
            Err(errors) => return Outcome::rejected(errors),
        };
        let mut addresses = Vec::new();
        for text in &request.allowed_addresses {
            let Ok(id) = Uuid::try_parse(text) else {
                return Outcome::rejected(vec![rules::invalid(
                    "allowed_addresses",
                    "must hold only address ids (UUIDs)",
                )]);
            };
            if self.store.address_owner(id).is_none() {
                return Outcome::rejected(vec![rules::must_belong_to_project(
                    "allowed_addresses",
                    &format!("names {id}, which is no address of this project"),
                )]);
            }
            if !addresses.contains(&id) {
                addresses.push(id);
            }
        }
        let access_expires_at =
            unix_time(request.expire_at).unwrap_or_else(|| later(call.now, ACCESS_TOKEN_LIFETIME));
        let pair = self.issue_pair(Owner::Guest(addresses), call.now, access_expires_at);
        Outcome::json(
            StatusCode::CREATED,
            &SubscriberGuestTokenResponse {
                token: pair.token,
                refresh_token: pair.refresh_token,
            },
        )
    }

    /// `create_subscriber_invite_token`: 201 with an invite to one of the calling
    /// subscriber's own addresses. Any other address, known or not, is
    /// `must_belong_to_project`.
    pub(crate) fn invite_token(&mut self, call: &Call<'_>) -> Outcome {
        let request = match rules::invite_request(call.body) {
            Ok(request) => request,
            Err(errors) => return Outcome::rejected(errors),
        };
        let Some(caller) = call.caller else {
            // Authentication found the caller already; without one there is no one to
            // invite on behalf of.
            return Outcome::ok(Reply::unauthorized());
        };
        let owner = Uuid::try_parse(&request.address_id)
            .ok()
            .and_then(|id| self.store.address_owner(id))
            .map(|record| record.subscriber_id);
        let why = match owner {
            Some(owner) if owner == caller => None,
            Some(_) => Some("is another subscriber's address, not the caller's"),
            None => Some("names no address of this project"),
        };
        if let Some(why) = why {
            return Outcome::rejected(vec![rules::must_belong_to_project("address_id", why)]);
        }
        let expires_at =
            unix_time(request.expires_at).unwrap_or_else(|| later(call.now, INVITE_TOKEN_LIFETIME));
        let token = self.remember(Owner::Subscriber(caller), Kind::Invite, expires_at);
        Outcome::json(
            StatusCode::CREATED,
            &SubscriberInviteTokenResponse { token },
        )
    }

    /// `create_guest_embed_token`: 201 with an embed token for a click-to-call token the
    /// fake knows; 403 for one it does not.
    pub(crate) fn embed_token(&mut self, call: &Call<'_>, settings: &Settings) -> Outcome {
        let request = match rules::embed_request(call.body) {
            Ok(request) => request,
            Err(errors) => return Outcome::rejected(errors),
        };
        if !settings.click_to_call_tokens.contains(&request.token) {
            return Outcome::ok(Reply::forbidden());
        }
        let token = self.remember(
            Owner::Widget,
            Kind::Embed,
            later(call.now, EMBED_TOKEN_LIFETIME),
        );
        Outcome::json(StatusCode::CREATED, &GuestEmbedTokenResponse { token })
    }

    /// Mints an access token expiring at `access_expires_at` and a refresh token with
    /// the standard lifetime, both for `owner`.
    pub(crate) fn issue_pair(
        &mut self,
        owner: Owner,
        now: SystemTime,
        access_expires_at: SystemTime,
    ) -> IssuedPair {
        let subscriber_id = match &owner {
            Owner::Subscriber(id) => *id,
            Owner::Guest(_) | Owner::Widget => Uuid::nil(),
        };
        let token = self.remember(owner.clone(), Kind::Access, access_expires_at);
        let refresh_token = self.remember(owner, Kind::Refresh, later(now, REFRESH_TOKEN_LIFETIME));
        IssuedPair {
            subscriber_id,
            token,
            refresh_token,
        }
    }

    /// Mints one token and remembers it.
    fn remember(&mut self, owner: Owner, kind: Kind, expires_at: SystemTime) -> String {
        let token = tokens::mint(kind);
        self.tokens.insert(
            token.clone(),
            Issued {
                owner,
                kind,
                expires_at,
                first_used_at: None,
            },
        );
        token
    }
}

/// When a created access token expires: at `expire_at` when given (a past one gives a
/// token that has expired already), else after the standard two hours; never later than
/// 60 seconds when `scope` is set without a `fingerprint`.
fn access_expiry(request: &SubscriberTokenRequest, now: SystemTime) -> SystemTime {
    let expires_at =
        unix_time(request.expire_at).unwrap_or_else(|| later(now, ACCESS_TOKEN_LIFETIME));
    if request.scope.is_some() && request.fingerprint.is_none() {
        expires_at.min(later(now, SCOPED_ACCESS_TOKEN_LIFETIME))
    } else {
        expires_at
    }
}

/// The last second of the year 9999: later times are taken as this one, which no token
/// outlives on the fake's clock (it moves at most [`crate::MAX_CLOCK_OFFSET`] ahead).
const LATEST_UNIX_SECONDS: i64 = 253_402_300_799;

/// Unix seconds (any int64, as the spec allows) as a time: before 1970 is taken as 1970
/// and after 9999 as 9999, which for an expiry means the same.
fn unix_time(seconds: Option<i64>) -> Option<SystemTime> {
    let seconds = seconds?.clamp(0, LATEST_UNIX_SECONDS);
    let seconds = u64::try_from(seconds).unwrap_or_default();
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_int64_is_a_time_and_the_past_stays_past() {
        assert_eq!(unix_time(None), None);
        assert_eq!(unix_time(Some(i64::MIN)), Some(UNIX_EPOCH));
        assert_eq!(unix_time(Some(-1)), Some(UNIX_EPOCH));
        assert_eq!(
            unix_time(Some(1_795_000_000)),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_000_000))
        );
        let latest = unix_time(Some(i64::MAX)).expect("a time");
        assert!(latest > SystemTime::now() + crate::MAX_CLOCK_OFFSET);
    }
}
