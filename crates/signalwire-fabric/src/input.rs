//! Checks shared by every request builder: each names the field it refuses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// `text` as a UUID, or an error naming `field`.
pub(crate) fn uuid(field: &'static str, text: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(text).map_err(|_| Error::invalid_input(field, "is not a UUID"))
}

/// A time that must be in the future, as unix seconds, with how far ahead it lies.
pub(crate) fn future_unix(field: &'static str, at: SystemTime) -> Result<(i64, Duration), Error> {
    let ahead = at
        .duration_since(SystemTime::now())
        .ok()
        .filter(|ahead| !ahead.is_zero())
        .ok_or_else(|| Error::invalid_input(field, "is not in the future"))?;
    let unix = at
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_secs()).ok())
        .ok_or_else(|| Error::invalid_input(field, "is out of range"))?;
    Ok((unix, ahead))
}

/// Text that must hold something other than whitespace and no control characters.
pub(crate) fn text(field: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid_input(field, "is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_input(field, "contains a control character"));
    }
    Ok(())
}
