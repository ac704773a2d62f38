//! `compare` (filter, summaries, test, effect size) at 100, 10,000 and 100,000 samples
//! per arm, Welch and Mann–Whitney, against the same computation in NumPy/SciPy timed
//! in-process in the same run (`scipy_compare.py`, same data). Results in BENCHMARKS.md.
//!
//! `scripts/scipy-env.sh && cargo bench -p sluice-stats --bench compare`

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use sluice_stats::{Alternative, OutlierFilter, TestKind, compare};

const SIZES: [usize; 3] = [100, 10_000, 100_000];

#[path = "common/data.rs"]
mod data;
use data::data;

fn run(a: &[f64], b: &[f64], test: TestKind) -> sluice_stats::Comparison {
    compare(a, b, OutlierFilter::Iqr(1.5), test, Alternative::Greater)
}

/// Median time per call, measured as `scipy_compare.py` measures SciPy (`timeit`):
/// 21 batches of `number` back-to-back calls, the same `number` as there, each batch's
/// time divided by it.
fn median_time(size: usize, f: &dyn Fn()) -> Duration {
    let number = (2000 / (size / 100).max(1)).max(1);
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..number {
                f();
            }
            t.elapsed() / u32::try_from(number).unwrap_or(u32::MAX)
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// SciPy's median seconds for one call, or why there is none.
fn scipy(size: usize, test: &str) -> Result<(f64, f64, f64), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/scipy-venv/bin/python");
    if !python.exists() {
        return Err("no target/scipy-venv (run scripts/scipy-env.sh)".into());
    }
    let out = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scipy_compare.py"))
        .args([&size.to_string(), test, "7"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| -> f64 {
        text.split(&format!("\"{k}\": "))
            .nth(1)
            .and_then(|r| r.split([',', '}']).next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    Ok((field("median_s"), field("p_value"), field("cohens_d")))
}

/// Criterion's mean for `group/name` in this run (its `estimates.json`), in seconds.
fn criterion_mean(group: &str, name: &str) -> Option<f64> {
    // The bench runs as target/<profile>/deps/compare-…; criterion writes to
    // target/criterion unless told otherwise.
    let home = std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.ancestors().nth(3)?.join("criterion"))
        })?;
    let text =
        std::fs::read_to_string(home.join(group).join(name).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(json["mean"]["point_estimate"].as_f64()? * 1e-9)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut rows = Vec::new();
    for size in SIZES {
        let (a, b) = (data(size, 1), data(size, 0));
        let group = format!("compare-{size}");
        let mut g = c.benchmark_group(&group);
        for (name, test) in [
            ("welch", TestKind::Welch),
            ("mann-whitney", TestKind::MannWhitney),
        ] {
            g.bench_function(name, |bench| bench.iter(|| black_box(run(&a, &b, test))));
            let ours = median_time(size, &|| {
                black_box(run(&a, &b, test));
            });
            let r = run(&a, &b, test);
            rows.push((
                size,
                name,
                criterion_mean(&group, name),
                ours.as_secs_f64(),
                scipy(size, name),
                r.significance.p_value,
                r.cohens_d,
            ));
        }
        g.finish();
    }
    c.final_summary();
    println!("\nsame run (IQR filter k = 1.5, alternative greater); sluice by criterion's mean");
    println!("and by the median of timeit-style batches, SciPy by timeit's median:");
    println!(
        "{:>8} {:<13} {:>10} {:>10} {:>10} {:>7} {:>7}   {:>10} {:>10}",
        "per arm", "test", "criterion", "batches", "SciPy", "ratio", "ratio", "Δp", "Δd"
    );
    for (size, name, mean, median, theirs, p, d) in rows {
        let mean = mean.unwrap_or(f64::NAN);
        match theirs {
            Ok((s, sp, sd)) => println!(
                "{size:>8} {name:<13} {:>7.1} µs {:>7.1} µs {:>7.1} µs {:>6.1}× {:>6.1}×   {:>10.2e} {:>10.2e}",
                mean * 1e6,
                median * 1e6,
                s * 1e6,
                s / mean,
                s / median,
                (p - sp).abs(),
                (d - sd).abs()
            ),
            Err(why) => println!(
                "{size:>8} {name:<13} {:>7.1} µs {:>7.1} µs   SciPy: {why}",
                mean * 1e6,
                median * 1e6
            ),
        }
    }
}
