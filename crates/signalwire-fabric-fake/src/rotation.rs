//! What happens to a refresh token once it has been exchanged.

use std::time::{Duration, SystemTime};

/// Whether an exchanged refresh token may be exchanged again.
///
/// SignalWire does not document this, so the fake lets tests try each behaviour. A
/// refresh token past its lifetime is refused (`token_expired`) under every policy.
///
/// ```
/// use std::time::Duration;
/// use signalwire_fabric_fake::RotationPolicy;
///
/// assert_eq!(RotationPolicy::default(), RotationPolicy::SingleUse);
/// let _grace = RotationPolicy::ReusableWithin(Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RotationPolicy {
    /// A refresh token works once; sending it again is `token_invalid`. The default, and
    /// what a careful client must assume.
    #[default]
    SingleUse,
    /// A refresh token works any number of times until it expires.
    Reusable,
    /// After its first exchange, a refresh token works again only within this grace
    /// window (measured on the fake's clock); later it is `token_invalid`.
    ReusableWithin(Duration),
}

impl RotationPolicy {
    /// Whether a refresh token first exchanged at `first_used` may be exchanged at `now`.
    pub(crate) fn allows(self, first_used: Option<SystemTime>, now: SystemTime) -> bool {
        let Some(first_used) = first_used else {
            return true;
        };
        match self {
            RotationPolicy::SingleUse => false,
            RotationPolicy::Reusable => true,
            RotationPolicy::ReusableWithin(grace) => now
                .duration_since(first_used)
                .map_or(true, |since| since <= grace),
        }
    }
}
