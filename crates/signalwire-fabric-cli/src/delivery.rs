//! Where a new token goes, and the rule that none is lost silently: `--out` and `--json`
//! for commands that mint a pair (`tokens create`, `refresh`, `guest`), checked before
//! anything is sent, and what happens when the file, stdout or stderr cannot take it
//! (the README's "Exit codes" section tells users the same).

use std::path::{Path, PathBuf};

use clap::Args;
use signalwire_fabric::{FileStore, SubscriberId, TokenPair, TokenStore};

use crate::exit::{Command, Failure};
use crate::output::{
    describe_pair, describe_stdout_error, pair_json, print_line, print_line_to_stderr, shorten,
    stdout_failure,
};

/// How to show a new pair: `--json` and `--out`.
#[derive(Debug, Args)]
pub struct PairOutput {
    /// Print the result as JSON, with the full tokens, for scripts
    #[arg(long)]
    pub json: bool,
    /// Also save the new pair to this file (replaced atomically, mode 0600)
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

impl PairOutput {
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

/// Shows or saves a new pair as `output` asks.
///
/// Nothing is lost when something cannot take the pair. When the save fails, the pair is
/// printed in full instead. When stdout cannot take it either, a refreshed pair (which
/// cannot be asked for again: the old refresh token is spent) goes to stderr in full;
/// any other pair is shown nowhere and the failure says to run the command again. When
/// the pair was saved, a closed stdout loses nothing and ends the command quietly.
pub async fn deliver_pair(
    output: &PairOutput,
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

/// Prints a new single token (an invite or embed token), shortened unless `json`; one
/// stdout cannot take is shown nowhere else (see [`undelivered`]).
pub fn deliver_token(what: &str, token: &str, json: bool, command: Command) -> Result<(), Failure> {
    let whole = serde_json::json!({ "token": token }).to_string();
    let text = if json {
        whole.clone()
    } else {
        format!(
            "created an {what} token: {}\n(shortened: --json prints it in full)",
            shorten(token)
        )
    };
    print_line(text).map_err(|error| undelivered(&whole, &error, command))
}

/// The failure when stdout could not take a new secret (`whole`, its JSON) that is kept
/// nowhere else. A refreshed pair cannot be asked for again, so it is printed on stderr
/// rather than lost; any other (a created, guest, invite or embed token) can be, so it is
/// shown nowhere (stderr is often a log) and the message says to run the command again.
fn undelivered(whole: &str, error: &std::io::Error, command: Command) -> Failure {
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
