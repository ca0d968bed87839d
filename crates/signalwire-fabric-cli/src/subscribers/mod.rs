//! `subscribers list|get|create|update|delete|addresses`; a subscriber's details as
//! flags are [`details`]'s, shared with `tokens create`.

mod details;

use std::pin::pin;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use futures_util::TryStreamExt as _;
use signalwire_fabric::{Subscriber, SubscriberAddress, SubscriberFields};

pub use details::{Details, TakesDetails};

use crate::context::Connection;
use crate::exit::{Command, Failure, ForCommand as _};
use crate::output::say;

/// `subscribers ...`.
#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// List every subscriber, page after page.
    List(ListArgs),
    /// Show one subscriber.
    Get(IdArgs),
    /// Create a subscriber.
    Create(Box<FieldsArgs>),
    /// Replace a subscriber's details.
    Update(Box<UpdateArgs>),
    /// Delete a subscriber.
    Delete(IdArgs),
    /// List a subscriber's addresses.
    Addresses(IdListArgs),
}

/// Output for listings.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: Connection,
    /// Print one JSON object per line
    #[arg(long)]
    json: bool,
}

/// A subscriber by id.
#[derive(Debug, Args)]
pub struct IdArgs {
    #[command(flatten)]
    connection: Connection,
    /// The subscriber resource id
    id: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// A subscriber's addresses.
#[derive(Debug, Args)]
pub struct IdListArgs {
    #[command(flatten)]
    connection: Connection,
    /// The subscriber resource id
    id: String,
    /// Print one JSON object per line
    #[arg(long)]
    json: bool,
}

/// `subscribers create`: the email and the other details.
#[derive(Debug, Args)]
pub struct FieldsArgs {
    #[command(flatten)]
    connection: Connection,
    /// The subscriber's email address
    #[arg(long)]
    email: String,
    #[command(flatten)]
    details: Details,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// `subscribers update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The subscriber resource id
    id: String,
    #[command(flatten)]
    fields: FieldsArgs,
}

impl FieldsArgs {
    fn fields(&self) -> Result<SubscriberFields, Failure> {
        SubscriberFields::new(self.email.clone()).with_details(&self.details)
    }
}

/// Runs a `subscribers` command.
pub async fn run(command: SubscribersCommand) -> Result<(), Failure> {
    match command {
        SubscribersCommand::List(args) => {
            let client = args.connection.client()?;
            let mut stream = pin!(client.subscribers().list());
            let mut count = 0usize;
            // Each subscriber is printed as its page arrives.
            while let Some(subscriber) = stream.try_next().await.for_command(Command::Project)? {
                print_subscriber(&subscriber, args.json)?;
                count += 1;
            }
            if !args.json {
                say!("{count} subscribers");
            }
        }
        SubscribersCommand::Get(args) => {
            let subscriber = args
                .connection
                .client()?
                .subscribers()
                .get(&args.id)
                .await
                .for_command(Command::OneSubscriber)?;
            print_subscriber(&subscriber, args.json)?;
        }
        SubscribersCommand::Create(args) => {
            let client = args.connection.client()?;
            let subscriber = client
                .subscribers()
                .create(args.fields()?)
                .await
                .for_command(Command::Project)?;
            print_subscriber(&subscriber, args.json)?;
        }
        SubscribersCommand::Update(args) => {
            let client = args.fields.connection.client()?;
            let subscriber = client
                .subscribers()
                .update(&args.id, args.fields.fields()?)
                .await
                .for_command(Command::OneSubscriber)?;
            print_subscriber(&subscriber, args.fields.json)?;
        }
        SubscribersCommand::Delete(args) => {
            args.connection
                .client()?
                .subscribers()
                .delete(&args.id)
                .await
                .for_command(Command::OneSubscriber)?;
            if args.json {
                say!("{}", serde_json::json!({ "deleted": args.id }));
            } else {
                say!("deleted {}", args.id);
            }
        }
        SubscribersCommand::Addresses(args) => {
            let client = args.connection.client()?;
            let mut stream = pin!(client.subscribers().addresses(&args.id));
            while let Some(address) = stream
                .try_next()
                .await
                .for_command(Command::OneSubscriber)?
            {
                print_address(&address, args.json)?;
            }
        }
    }
    Ok(())
}

fn time(at: Option<SystemTime>) -> Option<String> {
    at.map(|at| humantime::format_rfc3339_seconds(at).to_string())
}

fn print_subscriber(subscriber: &Subscriber, json: bool) -> Result<(), Failure> {
    if json {
        say!(
            "{}",
            serde_json::json!({
                "id": subscriber.id,
                "subscriber_id": subscriber.subscriber_id.as_ref().map(|id| id.as_str()),
                "project_id": subscriber.project_id,
                "email": subscriber.email,
                "display_name": subscriber.display_name,
                "first_name": subscriber.first_name,
                "last_name": subscriber.last_name,
                "job_title": subscriber.job_title,
                "timezone": subscriber.timezone,
                "country": subscriber.country,
                "company_name": subscriber.company_name,
                "created_at": time(subscriber.created_at),
                "updated_at": time(subscriber.updated_at),
            })
        );
    } else {
        say!(
            "{}  {}  {}",
            subscriber.id,
            subscriber.email.as_deref().unwrap_or("-"),
            subscriber.display_name.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

fn print_address(address: &SubscriberAddress, json: bool) -> Result<(), Failure> {
    if json {
        say!(
            "{}",
            serde_json::json!({
                "id": address.id,
                "name": address.name,
                "display_name": address.display_name,
                "locked": address.locked,
                "channels": {
                    "audio": address.channels.audio,
                    "messaging": address.channels.messaging,
                    "video": address.channels.video,
                },
                "created_at": time(address.created_at),
            })
        );
    } else {
        say!(
            "{}  {}  {}",
            address.id,
            address.name.as_deref().unwrap_or("-"),
            address.channels.video.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}
