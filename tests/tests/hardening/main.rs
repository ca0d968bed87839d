//! Hardening: the bad day, row by row (see SECURITY.md). Each test here is named in the
//! table there.

mod leaks;
mod server_faults;
mod session_faults;
