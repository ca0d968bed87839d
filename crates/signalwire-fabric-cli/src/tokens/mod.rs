//! `tokens ...`: a subscriber's pairs ([`subscriber`]: `create`, `refresh`) and tokens for
//! people who are not subscribers ([`guests`]: `guest`, `invite`, `embed`). Where each new
//! token goes is [`crate::delivery`]'s.

mod guests;
mod subscriber;

use clap::Subcommand;

use crate::exit::Failure;

/// `tokens ...`.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a subscriber's first token pair.
    Create(Box<subscriber::CreateArgs>),
    /// Exchange a refresh token for a new pair. The refresh token is read from stdin, or
    /// from --refresh-token-file; never from the command line, where other users can see it.
    /// The exchange spends it, so the new pair must be kept whole: --out FILE or --json is
    /// required.
    Refresh(subscriber::RefreshArgs),
    /// Create a token pair for a guest allowed into some addresses.
    Guest(guests::GuestArgs),
    /// Create an invite to one of a subscriber's addresses, with the subscriber's access
    /// token (read from stdin or --access-token-file).
    Invite(guests::InviteArgs),
    /// Exchange a click-to-call token for an embed token (no credentials needed).
    Embed(guests::EmbedArgs),
}

/// Runs a `tokens` command.
pub async fn run(command: TokensCommand) -> Result<(), Failure> {
    match command {
        TokensCommand::Create(args) => subscriber::create(*args).await,
        TokensCommand::Refresh(args) => subscriber::refresh(args).await,
        TokensCommand::Guest(args) => guests::guest(args).await,
        TokensCommand::Invite(args) => guests::invite(args).await,
        TokensCommand::Embed(args) => guests::embed(args).await,
    }
}
