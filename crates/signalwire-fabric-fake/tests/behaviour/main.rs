//! The fake's behaviour, checked over real HTTP on 127.0.0.1 (one test binary, so the
//! crate links once).

mod common;

mod auth_and_routing;
mod facade;
mod facade_guests;
mod facade_subscribers;
mod faults;
mod guests;
mod issuing;
mod journal;
mod no_secrets;
mod paging;
mod robustness;
mod rotation;
mod simulated_time;
mod spec_inputs;
mod startup;
mod subscribers;
mod validation;
