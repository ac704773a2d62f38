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

/// Unix milliseconds as RFC 3339 UTC with second precision (`2026-12-02T21:13:26Z`), as
/// Kubernetes and the admin API write times. (Beyond jiff's range, year 9999, its last
/// instant.)
pub fn rfc3339(ms: u64) -> String {
    use k8s_openapi::jiff::Timestamp;
    let t = i64::try_from(ms)
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .unwrap_or(Timestamp::MAX);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_233_206_999), "2026-12-25T21:13:26Z");
        assert_eq!(rfc3339(4_107_542_399_000), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_400_000), "2100-03-01T00:00:00Z");
    }
}
