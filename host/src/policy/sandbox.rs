//! The per-decision sandbox: the store's state (WASI with nothing granted, a frozen
//! clock, seeded randomness, captured output, the memory limiter) and the host
//! imports' view of the decision.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use super::limits::{MAX_LOG_MESSAGES, OUTPUT_CAPTURE_BYTES};

/// Most table elements a policy may allocate.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A message the policy logged through `sluice:policy/log`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The message (truncated to 4 KiB).
    pub message: String,
}

/// What a decision's store holds.
pub struct HostState {
    /// Built on the guest's first WASI call: a module that imports no WASI (a `no_std`
    /// policy) never pays for it.
    wasi: Option<WasiCtx>,
    decision_time: SystemTime,
    /// When the call must end; host calls check it (the epoch deadline stops only
    /// WebAssembly code).
    deadline: std::time::Instant,
    seed: u64,
    table: ResourceTable,
    memory_cap: usize,
    /// Set when the guest tried to grow memory past its cap.
    pub(crate) memory_cap_hit: bool,
    /// Messages logged by the policy.
    pub(crate) logs: Vec<LogLine>,
    /// Messages dropped because of [`MAX_LOG_MESSAGES`].
    pub(crate) logs_dropped: u32,
    output: CapturedOutput,
}

impl HostState {
    /// A sandbox whose clock reads `decision_time` and whose randomness is seeded with
    /// `seed`, with `memory_cap` bytes of linear memory at most, for a call that must
    /// end by `deadline`.
    pub fn new(
        decision_time: SystemTime,
        seed: u64,
        memory_cap: u64,
        deadline: std::time::Instant,
    ) -> Self {
        Self {
            wasi: None,
            decision_time,
            deadline,
            seed,
            table: ResourceTable::new(),
            memory_cap: usize::try_from(memory_cap).unwrap_or(usize::MAX),
            memory_cap_hit: false,
            logs: Vec::new(),
            logs_dropped: 0,
            output: CapturedOutput::default(),
        }
    }

    /// When the call must end.
    pub fn deadline(&self) -> std::time::Instant {
        self.deadline
    }

    /// What the guest wrote to stdout and stderr (bounded), lossily decoded.
    pub fn captured_output(&self) -> String {
        self.output.text()
    }

    /// What explains a trap: the guest's stdout/stderr, then its error-level log
    /// messages (where a `no_std` policy's panic message goes).
    pub fn failure_output(&self) -> String {
        let mut out = self.captured_output();
        for line in self.logs.iter().filter(|l| l.level == "error") {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&line.message);
        }
        out
    }

    pub(crate) fn push_log(&mut self, line: LogLine) {
        if self.logs.len() < MAX_LOG_MESSAGES {
            self.logs.push(line);
        } else {
            self.logs_dropped += 1;
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self
            .wasi
            .get_or_insert_with(|| build_wasi(&self.output, self.decision_time, self.seed));
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_cap_hit = true;
            return Err(wasmtime::Error::msg(format!(
                "memory cap exceeded: the policy asked for {desired} bytes of linear memory; \
                 its cap is {} bytes",
                self.memory_cap
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// WASI with nothing granted: no files, no environment, no network, output
/// captured, the clock frozen at the decision time, randomness seeded.
fn build_wasi(output: &CapturedOutput, decision_time: SystemTime, seed: u64) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.stdout(output.clone())
        .stderr(output.clone())
        .wall_clock(FrozenClock(decision_time))
        .monotonic_clock(FrozenClock(decision_time))
        .secure_random(rand::rngs::StdRng::seed_from_u64(seed))
        .insecure_random(rand::rngs::StdRng::seed_from_u64(seed.rotate_left(17)))
        .insecure_random_seed(u128::from(seed))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    b.build()
}

/// A clock stopped at the decision time, so a policy is a function of its input.
#[derive(Clone, Copy)]
struct FrozenClock(SystemTime);

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0.duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        HostWallClock::now(self).as_nanos() as u64
    }
}

/// Guest stdout/stderr, kept up to [`OUTPUT_CAPTURE_BYTES`]; writes beyond that are
/// accepted and dropped, so a chatty policy is not turned into a failing one.
#[derive(Clone, Default)]
struct CapturedOutput(Arc<Mutex<Vec<u8>>>);

impl CapturedOutput {
    fn text(&self) -> String {
        let buf = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Ok(mut kept) = self.0.lock() {
            let room = OUTPUT_CAPTURE_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..buf.len().min(room)]);
        }
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
