//! Wall-clock time as the store and the controller use it: Unix milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    to_ms(SystemTime::now())
}

/// `t` in Unix milliseconds (0 before 1970).
pub fn to_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

/// Unix milliseconds as a `SystemTime`.
pub fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
