//! The facade's integration tests, in one binary (one link on a 2-core machine): what it
//! sends and refuses to send, what it makes of every answer, tokens, sessions (on a paused
//! clock and over real HTTP), properties of its parsers, and that nothing shows a secret.
//! See `tests/README.md` at the repository root for what belongs here and what belongs in
//! the contract and hardening suites.

mod common;
mod coordination;
mod herd;
mod no_secrets;
mod properties;
mod requests;
mod responses;
mod session;
mod session_http;
mod tokens;
