//! `tokens create` and `tokens refresh`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use signalwire_fabric::{
    Client, CreateSubscriberToken, ENV_API_TOKEN, ENV_BASE_URL, ENV_PROJECT_ID, ENV_SPACE,
    FileStore, RefreshToken, Region, Scope, SubscriberId, TokenPair, TokenStore,
};

use crate::exit::{Command, Failure, ForCommand as _};
use crate::output::{
    describe_pair, describe_stdout_error, pair_json, print_line, print_line_to_stderr,
    stdout_failure,
};

/// Where to send requests and with which credentials.
#[derive(Debug, Args)]
pub struct Connection {
    /// The space, e.g. `example`
    #[arg(long, env = ENV_SPACE, hide_env_values = true)]
    space: Option<String>,
    /// Send to this URL instead of a space (a fake or a proxy). Lists page only through next links with this URL's scheme, host and port: a server behind a proxy must name the proxy in its links (`fake serve` names the address it was reached at)
    #[arg(long, env = ENV_BASE_URL, hide_env_values = true)]
    base_url: Option<String>,
    /// The project id
    #[arg(long, env = ENV_PROJECT_ID, hide_env_values = true)]
    project_id: Option<String>,
    /// Read the API token from this file [default: the SIGNALWIRE_API_TOKEN variable]
    #[arg(long, value_name = "PATH")]
    api_token_file: Option<PathBuf>,
}

impl Connection {
    /// A client with the project's credentials, which most commands need.
    pub fn client(&self) -> Result<Client, Failure> {
        self.build(true)
    }

    /// A client that uses the project's credentials when they are given, for commands
    /// that can do without them (invite and embed tokens).
    pub fn client_maybe_anonymous(&self) -> Result<Client, Failure> {
        self.build(false)
    }

    fn build(&self, credentials_required: bool) -> Result<Client, Failure> {
        let api_token = match &self.api_token_file {
            Some(path) => Some(read_secret_file(path, "API token")?),
            None => std::env::var(ENV_API_TOKEN).ok(),
        };
        let mut builder = Client::builder();
        match (self.project_id.clone(), api_token) {
            (Some(project_id), Some(api_token)) => {
                builder = builder.project_id(project_id).api_token(api_token);
            }
            _ if !credentials_required => {}
            (None, _) => {
                return Err(Failure::usage(format!(
                    "no project id: set {ENV_PROJECT_ID} or pass --project-id"
                )));
            }
            (Some(_), None) => {
                return Err(Failure::usage(format!(
                    "no API token: set {ENV_API_TOKEN} or pass --api-token-file"
                )));
            }
        }
        builder = match (&self.base_url, &self.space) {
            (Some(base_url), _) => builder.base_url(base_url),
            (None, Some(space)) => builder.space(space),
            (None, None) => {
                return Err(Failure::usage(format!(
                    "no space: set {ENV_SPACE} or pass --space (or --base-url for a fake)"
                )));
            }
        };
        builder
            .build()
            .map_err(|error| Failure::usage(error.to_string()))
    }
}

/// How to show the result.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print the result as JSON, with the full tokens, for scripts
    #[arg(long)]
    pub json: bool,
    /// Also save the new pair to this file (replaced atomically, mode 0600)
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

impl OutputArgs {
    /// Checks, before anything is sent, that the new pair will have somewhere to go:
    /// `--out` must name a file (not a directory) whose directory takes a new file. With `whole_pair_needed` (a
    /// refresh, which spends the only refresh token), a shortened pair on the terminal is
    /// not enough: `--out` or `--json` must be given.
    pub fn check_before_sending(&self, whole_pair_needed: bool) -> Result<(), Failure> {
        if whole_pair_needed && self.out.is_none() && !self.json {
            return Err(Failure::usage(
                "a refresh spends the refresh token, so the new pair must be kept whole: \
                 pass --out FILE to save it or --json to print it (nothing was sent)",
            ));
        }
        if let Some(path) = &self.out {
            check_out_path(path)?;
        }
        Ok(())
    }
}

/// Checks what can be known about `--out` before a pair is minted or a refresh token
/// spent: it names a file (not a directory, nor something else that is not a regular
/// file), and an empty file can be created and removed in its directory.
fn check_out_path(path: &Path) -> Result<(), Failure> {
    let refuse = |problem: String| {
        Failure::usage(format!(
            "--out {}: {problem} (nothing was sent)",
            path.display()
        ))
    };
    let ends_with_separator = path
        .as_os_str()
        .to_string_lossy()
        .ends_with(std::path::is_separator);
    if path.file_name().is_none() || ends_with_separator || path.is_dir() {
        return Err(refuse(
            "names a directory: name a file for the pair, e.g. pair.json in it".to_owned(),
        ));
    }
    // A device or a FIFO would be replaced by the saved pair, not written to.
    if let Ok(metadata) = std::fs::metadata(path)
        && !metadata.is_file()
    {
        return Err(refuse("is not a regular file".to_owned()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(
        ".signalwire-fabric-out-check-{}",
        std::process::id()
    ));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => Err(refuse(format!(
            "cannot create a file in {}: {error}",
            dir.display()
        ))),
    }
}

/// `tokens create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    connection: Connection,
    /// Who the subscriber is, usually an email address
    #[arg(long)]
    reference: String,
    /// When the access token should expire, in unix seconds [default: in two hours]
    #[arg(long, value_name = "UNIX_SECONDS")]
    expire_at: Option<u64>,
    /// The application the subscriber belongs to (a UUID)
    #[arg(long)]
    application_id: Option<String>,
    /// Bind the token to a device: 43 characters of [A-Za-z0-9_-]
    #[arg(long)]
    fingerprint: Option<String>,
    /// What the token may be used for
    #[arg(long, value_enum)]
    scope: Option<ScopeArg>,
    /// Where the subscriber's media is handled
    #[arg(long, value_enum)]
    region: Option<RegionArg>,
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
    #[arg(long)]
    time_zone: Option<String>,
    /// The subscriber's country
    #[arg(long)]
    country: Option<String>,
    /// The subscriber's company
    #[arg(long)]
    company_name: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScopeArg {
    #[value(name = "sat:refresh")]
    SatRefresh,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RegionArg {
    #[value(name = "us-central")]
    UsCentral,
}

/// `tokens refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    connection: Connection,
    /// Read the refresh token from this file [default: stdin]
    #[arg(long, value_name = "PATH")]
    refresh_token_file: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

pub async fn create(args: CreateArgs) -> Result<(), Failure> {
    args.output.check_before_sending(false)?;
    let client = args.connection.client()?;
    let mut request = CreateSubscriberToken::new(args.reference);
    if let Some(unix) = args.expire_at {
        request = request.expire_at(UNIX_EPOCH + Duration::from_secs(unix));
    }
    if let Some(path) = &args.password_file {
        request = request.password(read_secret_file(path, "password")?);
    }
    if let Some(ScopeArg::SatRefresh) = args.scope {
        request = request.scope(Scope::SatRefresh);
    }
    if let Some(RegionArg::UsCentral) = args.region {
        request = request.region(Region::UsCentral);
    }
    let optional = [
        (
            args.application_id,
            CreateSubscriberToken::application_id as fn(_, String) -> _,
        ),
        (args.fingerprint, CreateSubscriberToken::fingerprint),
        (args.first_name, CreateSubscriberToken::first_name),
        (args.last_name, CreateSubscriberToken::last_name),
        (args.display_name, CreateSubscriberToken::display_name),
        (args.job_title, CreateSubscriberToken::job_title),
        (args.time_zone, CreateSubscriberToken::time_zone),
        (args.country, CreateSubscriberToken::country),
        (args.company_name, CreateSubscriberToken::company_name),
    ];
    for (value, set) in optional {
        if let Some(value) = value {
            request = set(request, value);
        }
    }
    let created = client
        .subscriber_tokens()
        .create(request)
        .await
        .for_command(Command::Project)?;
    report(
        &args.output,
        Some(&created.subscriber_id),
        &created.pair,
        "created",
        Command::Project,
    )
    .await
}

pub async fn refresh(args: RefreshArgs) -> Result<(), Failure> {
    // The old refresh token is spent by the exchange: a new pair shown shortened would
    // be lost, so refuse before reading or sending anything.
    args.output.check_before_sending(true)?;
    let client = args.connection.client()?;
    let text = read_secret(args.refresh_token_file.as_deref(), "refresh token")?;
    let refresh_token = RefreshToken::parse(text.trim())
        .map_err(|problem| Failure::invalid("refresh_token", format!("the token {problem}")))?;
    let pair = client
        .subscriber_tokens()
        .refresh(&refresh_token)
        .await
        .for_command(Command::Refresh)?;
    report(
        &args.output,
        None,
        &pair,
        "refreshed (the old refresh token is now spent)",
        Command::Refresh,
    )
    .await
}

/// Shows or saves a new pair as `output` asks.
///
/// Nothing is lost when something cannot take the pair. When the save fails, the pair is
/// printed in full instead. When stdout cannot take it either, a refreshed pair (which
/// cannot be asked for again: the old refresh token is spent) goes to stderr in full;
/// any other pair is shown nowhere and the failure says to run the command again. When
/// the pair was saved, a closed stdout loses nothing and ends the command quietly.
pub async fn report(
    output: &OutputArgs,
    subscriber_id: Option<&SubscriberId>,
    pair: &TokenPair,
    what: &str,
    command: Command,
) -> Result<(), Failure> {
    let whole = || pair_json(subscriber_id, pair).to_string();
    if let Some(path) = &output.out
        && let Err(error) = FileStore::new(path).save(&pair.to_stored()).await
    {
        let failure = Failure::sdk(error, command);
        let not_saved = format!("the new pair was not saved to {}", path.display());
        return Err(match print_line(whole()) {
            Ok(()) => Failure {
                message: format!(
                    "{}\n{not_saved}, so it was printed above in full instead: store it now{}",
                    failure.message,
                    if command == Command::Refresh {
                        " (the old refresh token is spent)"
                    } else {
                        ""
                    }
                ),
                ..failure
            },
            Err(stdout_error) => {
                let undelivered = undelivered(&whole(), &stdout_error, command);
                Failure {
                    message: format!("{}\n{not_saved}; {}", failure.message, undelivered.message),
                    ..failure
                }
            }
        });
    }
    let text = if output.json {
        whole()
    } else {
        let mut text = what.to_owned();
        if let Some(id) = subscriber_id {
            text.push_str(&format!("\n  subscriber     {id}"));
        }
        text.push('\n');
        text.push_str(&describe_pair(pair));
        match &output.out {
            Some(path) => text.push_str(&format!("\nsaved to {}", path.display())),
            None => text.push_str(
                "\n(tokens shortened: --json prints them in full, --out FILE saves them)",
            ),
        }
        text
    };
    match print_line(text) {
        Ok(()) => Ok(()),
        // Saved: stdout had nothing that is not also in the file.
        Err(error) if output.out.is_some() => Err(stdout_failure(error)),
        Err(error) => Err(undelivered(&whole(), &error, command)),
    }
}

/// The failure when stdout could not take a new secret (`whole`, its JSON) that is kept
/// nowhere else. A refreshed pair cannot be asked for again, so it is printed on stderr
/// rather than lost; any other (a created, guest, invite or embed token) can be, so it is
/// shown nowhere (stderr is often a log) and the message says to run the command again.
pub fn undelivered(whole: &str, error: &std::io::Error, command: Command) -> Failure {
    let problem = describe_stdout_error(error);
    if command != Command::Refresh {
        return Failure::other(format!(
            "{problem}, so the new token was not shown anywhere; run the command again for \
             another"
        ));
    }
    match print_line_to_stderr(whole) {
        Ok(()) => Failure::other(format!(
            "{problem}, so the new pair was printed above, on stderr, in full: it is the \
             only copy (the old refresh token is spent); store it now"
        )),
        Err(_) => Failure::other(format!(
            "{problem}, and stderr could not take the new pair either: it could not be shown \
             anywhere, and the old refresh token is spent; run `signalwire-fabric tokens create`"
        )),
    }
}

/// Reads a secret from `file`, or from stdin when no file is given (never from argv,
/// which other users can see).
pub fn read_secret(file: Option<&std::path::Path>, what: &str) -> Result<String, Failure> {
    match file {
        Some(path) => read_secret_file(path, what),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| {
                    Failure::usage(format!("cannot read the {what} from stdin: {error}"))
                })?;
            Ok(text.trim().to_owned())
        }
    }
}

/// Reads a secret from a file, trimming the trailing newline editors add.
pub fn read_secret_file(path: &std::path::Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map(|text| text.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|error| {
            Failure::usage(format!(
                "cannot read the {what} from {}: {error}",
                path.display()
            ))
        })
}
