"""The same `compare` sluice's host computes, with NumPy/SciPy, timed in-process.

Usage: scipy_compare.py SIZE TEST REPEATS  (TEST: welch | mann-whitney)
Prints one JSON object: {"size", "test", "median_s", "p_value", "cohens_d"} — the
median of REPEATS timed calls on the same data the Rust bench uses (see `data`).
"""
import json
import math
import sys
import timeit

import numpy as np
from scipy import stats


def data(size, arm):
    """Deterministic data, the same as the Rust bench's: latency-like, with outliers."""
    i = np.arange(size, dtype=np.uint64)
    h = ((i * np.uint64(7919) + np.uint64(arm) * np.uint64(104729)) % np.uint64(10007)).astype(np.float64) / 10007.0
    base = 100.0 + 3.0 * arm
    x = base + 20.0 * (h - 0.5)
    x[::97] += 400.0  # outliers every 97th sample
    return x


def window(x):
    x = x[np.isfinite(x)]
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    kept = x[(x >= q1 - 1.5 * iqr) & (x <= q3 + 1.5 * iqr)]
    summary = (
        len(kept),
        kept.mean(),
        kept.std(ddof=1),
        kept.min(),
        kept.max(),
        *np.percentile(kept, [50, 90, 95, 99]),
    )
    return kept, summary


def compare(a, b, test):
    ka, _ = window(a)
    kb, _ = window(b)
    if test == "welch":
        r = stats.ttest_ind(ka, kb, equal_var=False, alternative="greater")
    else:
        r = stats.mannwhitneyu(ka, kb, alternative="greater", method="auto")
    na, nb = len(ka), len(kb)
    pooled = math.sqrt(((na - 1) * ka.var(ddof=1) + (nb - 1) * kb.var(ddof=1)) / (na + nb - 2))
    d = (ka.mean() - kb.mean()) / pooled
    return r.pvalue, d


def main():
    size, test, repeats = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    a, b = data(size, 1), data(size, 0)
    p, d = compare(a, b, test)
    number = max(1, 2000 // max(1, size // 100))
    times = timeit.repeat(lambda: compare(a, b, test), number=number, repeat=repeats)
    median = sorted(times)[len(times) // 2] / number
    print(json.dumps({"size": size, "test": test, "median_s": median, "p_value": p, "cohens_d": d}))


if __name__ == "__main__":
    main()
