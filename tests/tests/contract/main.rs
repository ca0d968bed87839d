//! The contract suite: what the facade puts on the wire, and what it makes of what comes
//! back, checked against `openapi/fabric-subscribers.yaml` for every operation and every
//! documented status.
//!
//! - `coverage`: the registry of cases (`signalwire_fabric_contract_tests::cases`) covers
//!   exactly the spec's (operationId, status) pairs, and prints the coverage table;
//! - `schemas`: the OpenAPI-to-JSON-Schema conversion, and the spec's examples against
//!   their own schemas;
//! - `requests`: method, path, headers, credentials (as the spec documents them per
//!   operation) and body of every request case;
//! - `responses`: every documented example, served, becomes the registered typed result;
//! - `beyond_spec`: what real servers do that the spec does not say;
//! - `paging`: listings follow `links.next` as given and refuse links elsewhere or back;
//! - `client_validation`: inputs the spec forbids are refused before anything is sent;
//! - `secrets`: no snapshot holds a secret;
//! - `fake_vs_spec`: every answer the real fake gives, over HTTP, has a documented status
//!   and a body that fits the spec, and the fake accepts the spec's request examples;
//! - `fake_links`: the fake's page links, followed from `localhost` and through loopback
//!   proxies, read every page;
//! - `schema_drift`: the fake's wire types (through schemars) against the spec's
//!   component schemas.
//!
//! Snapshots live in `tests/snapshots`.

mod driver;
mod support;

mod beyond_spec;
mod client_validation;
mod coverage;
mod fake_links;
mod fake_vs_spec;
mod paging;
mod requests;
mod responses;
mod schema_drift;
mod schemas;
mod secrets;
