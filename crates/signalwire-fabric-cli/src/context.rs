//! What every command that talks to a space starts from: where to send and with which
//! credentials (the `--space`, `--base-url`, `--project-id` and `--api-token-file` flags,
//! or their variables), and secrets read from stdin or files, never from the command line.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Args;
use signalwire_fabric::{Client, ENV_API_TOKEN, ENV_BASE_URL, ENV_PROJECT_ID, ENV_SPACE};

use crate::exit::Failure;

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

/// Reads a secret from `file`, or from stdin when no file is given (never from argv,
/// which other users can see).
pub fn read_secret(file: Option<&Path>, what: &str) -> Result<String, Failure> {
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
pub fn read_secret_file(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map(|text| text.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|error| {
            Failure::usage(format!(
                "cannot read the {what} from {}: {error}",
                path.display()
            ))
        })
}
