//! Crash points for the restart tests: when the environment variable `SLUICE_FAILPOINT`
//! names a point, the process aborts there — like `kill -9` at the worst moment,
//! between a side effect and the persistence of its outcome. Unset in production; the
//! check is one comparison against a value read once.

use std::sync::OnceLock;

/// The environment variable naming the crash point.
pub const ENV: &str = "SLUICE_FAILPOINT";

/// Aborts the process if `name` is the configured crash point.
pub fn hit(name: &str) {
    static POINT: OnceLock<Option<String>> = OnceLock::new();
    if POINT.get_or_init(|| std::env::var(ENV).ok()).as_deref() == Some(name) {
        eprintln!("sluice: failpoint `{name}` reached; aborting");
        std::process::abort();
    }
}
