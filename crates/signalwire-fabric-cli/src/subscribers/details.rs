//! A subscriber's details as flags, defined once for `tokens create`, `subscribers
//! create` and `subscribers update`, and set on either of the SDK's requests for them.
//!
//! The time zone is `--time-zone`, as clap spells a two-word name and as the help of
//! `tokens create` always had it; `--timezone`, which `subscribers create` and `update`
//! used to take, is kept as a hidden alias so that scripts written for it keep working.

use std::path::PathBuf;

use clap::Args;
use signalwire_fabric::{CreateSubscriberToken, SubscriberFields};

use crate::context::read_secret_file;
use crate::exit::Failure;

/// A subscriber's details, all optional.
#[derive(Debug, Args)]
pub struct Details {
    /// Set the subscriber's password from this file
    #[arg(long, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// The subscriber's first name
    #[arg(long)]
    first_name: Option<String>,
    /// The subscriber's last name
    #[arg(long)]
    last_name: Option<String>,
    /// The name shown for the subscriber
    #[arg(long)]
    display_name: Option<String>,
    /// The subscriber's job title
    #[arg(long)]
    job_title: Option<String>,
    /// An IANA time zone such as Europe/Stockholm
    #[arg(long, alias = "timezone")]
    time_zone: Option<String>,
    /// The subscriber's country
    #[arg(long)]
    country: Option<String>,
    /// The subscriber's company
    #[arg(long)]
    company_name: Option<String>,
}

/// An SDK request that takes a subscriber's details.
pub trait TakesDetails: Sized {
    /// `request` with every detail given in `details`; the password is read from its file
    /// here, so an unreadable one is a usage error before anything is sent.
    fn with_details(self, details: &Details) -> Result<Self, Failure>;
}

/// Implements [`TakesDetails`] for a request with a setter per detail, named as the
/// detail is, except the time zone's, which is `$time_zone` (the API spells it
/// `time_zone` in token requests and `timezone` in subscriber requests).
macro_rules! takes_details {
    ($request:ty, time_zone: $time_zone:ident) => {
        impl TakesDetails for $request {
            fn with_details(mut self, details: &Details) -> Result<Self, Failure> {
                if let Some(path) = &details.password_file {
                    self = self.password(read_secret_file(path, "password")?);
                }
                let optional = [
                    (
                        &details.first_name,
                        Self::first_name as fn(Self, String) -> Self,
                    ),
                    (&details.last_name, Self::last_name),
                    (&details.display_name, Self::display_name),
                    (&details.job_title, Self::job_title),
                    (&details.time_zone, Self::$time_zone),
                    (&details.country, Self::country),
                    (&details.company_name, Self::company_name),
                ];
                for (value, set) in optional {
                    if let Some(value) = value {
                        self = set(self, value.clone());
                    }
                }
                Ok(self)
            }
        }
    };
}

takes_details!(CreateSubscriberToken, time_zone: time_zone);
takes_details!(SubscriberFields, time_zone: timezone);
