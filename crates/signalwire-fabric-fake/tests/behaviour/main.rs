//! The fake's behaviour, checked over real HTTP on 127.0.0.1 (one test binary, so the
//! crate links once).

mod common;

mod auth_and_routing;
mod facade;
mod faults;
mod issuing;
mod journal;
mod no_secrets;
mod robustness;
mod rotation;
mod startup;
mod validation;
