//! Loops `compare` on 100,000 samples per arm and prints the best and median time per call, for
//! profiling: `perf record target/release/examples/profile_compare`, or instruction
//! counts with `TEST=Welch ITER=5 valgrind --tool=cachegrind ...` (this VM has no
//! hardware counters, and its wall-clock times vary by ±30 % between runs).
use sluice_stats::{Alternative, OutlierFilter, TestKind, compare};

#[path = "../benches/common/data.rs"]
mod data;
use data::data;

fn main() {
    let size: usize = std::env::var("SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (a, b) = (data(size, 1), data(size, 0));
    let only = std::env::var("TEST").unwrap_or_default();
    for test in [TestKind::Welch, TestKind::MannWhitney] {
        if !only.is_empty() && format!("{test:?}") != only {
            continue;
        }
        let mut times = Vec::new();
        let mut n = 0;
        let iterations: usize = std::env::var("ITER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        for _ in 0..iterations.max(1) {
            let t = std::time::Instant::now();
            n += compare(&a, &b, OutlierFilter::Iqr(1.5), test, Alternative::Greater)
                .a
                .n;
            times.push(t.elapsed());
        }
        times.sort();
        let (best, median) = (times[0], times[times.len() / 2]);
        eprintln!("{test:?}: best {best:?} median {median:?} per call ({n})");
    }
}
