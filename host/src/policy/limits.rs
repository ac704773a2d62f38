//! Per-decision resource limits. The defaults live here and nowhere else.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default fuel per call (roughly one unit per WebAssembly instruction).
pub const DEFAULT_FUEL: u64 = 50_000_000;
/// Default wall-clock deadline per call.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(100);
/// Default linear-memory cap per store.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// Largest memory cap a policy may be given (the size of a pooling-allocator slot).
pub const MAX_MEMORY_BYTES: u64 = 512 * 1024 * 1024;
/// Guest stdout + stderr kept per decision; the rest is dropped.
pub const OUTPUT_CAPTURE_BYTES: usize = 16 * 1024;
/// Log messages kept per decision; further messages are counted, not kept.
pub const MAX_LOG_MESSAGES: usize = 64;
/// Longest log message kept, in bytes.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4096;
/// Most samples one `stats` call takes (all its lists together); a larger call traps
/// before the host reads them.
pub const MAX_HOST_CALL_SAMPLES: usize = 1 << 20;
/// Fuel every `stats` call costs, besides its samples.
pub const FUEL_PER_HOST_CALL: u64 = 1_000;
/// Fuel each sample passed to a `stats` call costs: about what the host's work on it
/// (reading, sorting, summing) would cost as WebAssembly instructions. With the
/// default fuel a decision can hand the host about 780,000 samples in all.
pub const FUEL_PER_HOST_SAMPLE: u64 = 64;
/// What the host's work on one sample is taken to cost in time when a call is checked
/// against the deadline before it starts (a generous bound: measured ≈ 10–60 ns).
pub const HOST_NANOS_PER_SAMPLE: u64 = 100;

/// Limits for one policy call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Fuel budget per call.
    pub fuel: u64,
    /// Wall-clock deadline per call, in milliseconds.
    pub deadline_ms: u64,
    /// Linear-memory cap in bytes.
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: DEFAULT_FUEL,
            deadline_ms: DEFAULT_DEADLINE.as_millis() as u64,
            memory_bytes: DEFAULT_MEMORY_BYTES,
        }
    }
}

impl Limits {
    /// The deadline as a [`Duration`].
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    /// Checks the limits are usable.
    ///
    /// # Errors
    /// A sentence naming the bad field.
    pub fn check(&self) -> Result<(), String> {
        if self.fuel == 0 {
            return Err("limits.fuel must be greater than 0".into());
        }
        if self.deadline_ms == 0 {
            return Err("limits.deadline_ms must be greater than 0".into());
        }
        if self.memory_bytes < 1024 * 1024 || self.memory_bytes > MAX_MEMORY_BYTES {
            return Err(format!(
                "limits.memory_bytes must be between 1 MiB and {} MiB, got {}",
                MAX_MEMORY_BYTES / (1024 * 1024),
                self.memory_bytes
            ));
        }
        Ok(())
    }
}
