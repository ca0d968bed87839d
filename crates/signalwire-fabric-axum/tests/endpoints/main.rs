//! The token endpoints through real HTTP on loopback, against the fake space.

mod binding;
mod common;
mod hygiene;
mod sessions;
