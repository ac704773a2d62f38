//! The windows the statistics benchmark and the profiling example measure (and
//! `scipy_compare.py` rebuilds in NumPy): latency-like, an outlier every 97th sample.

/// `size` samples of arm `arm` (the canary is arm 1, 3 ms slower than arm 0).
pub fn data(size: usize, arm: u64) -> Vec<f64> {
    (0..size as u64)
        .map(|i| {
            let h = ((i * 7919 + arm * 104_729) % 10_007) as f64 / 10_007.0;
            let x = 100.0 + 3.0 * arm as f64 + 20.0 * (h - 0.5);
            if i % 97 == 0 { x + 400.0 } else { x }
        })
        .collect()
}
