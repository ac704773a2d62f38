"""The host's statistics (`sluice:policy/stats`), computed natively by the host:
the same numbers a Rust policy gets. Work here counts against the decision's fuel
and deadline. See wit/stats.wit for every edge case."""

from __future__ import annotations

from typing import Sequence, Union

from ._wit import imports

__all__ = [
    "compare", "summarize", "welch_t_test", "mann_whitney_u", "cohens_d",
    "mean_confidence_interval", "filter_outliers_iqr", "filter_outliers_mad",
    "iqr", "mad", "no_filter",
]


def _s():
    return imports("stats")


def iqr(k: float = 1.5):
    """Tukey's fences at `k` interquartile ranges."""
    return _s().OutlierFilter_Iqr(float(k))


def mad(threshold: float = 3.5):
    """Robust z-score (median absolute deviation) above `threshold` is an outlier."""
    return _s().OutlierFilter_Mad(float(threshold))


def no_filter():
    """Keep every sample."""
    return _s().OutlierFilter_None_()


def _alternative(value):
    s = _s()
    if isinstance(value, s.Alternative):
        return value
    names = {"two-sided": s.Alternative.TWO_SIDED, "less": s.Alternative.LESS,
             "greater": s.Alternative.GREATER}
    try:
        return names[value]
    except KeyError:
        raise ValueError(f"alternative must be two-sided, less or greater, got {value!r}") from None


def _test(value):
    s = _s()
    if isinstance(value, s.TestKind):
        return value
    names = {"welch": s.TestKind.WELCH, "mann-whitney": s.TestKind.MANN_WHITNEY}
    try:
        return names[value]
    except KeyError:
        raise ValueError(f"test must be welch or mann-whitney, got {value!r}") from None


def _floats(xs: Sequence[float]):
    return [float(x) for x in xs]


def compare(a: Sequence[float], b: Sequence[float], filter=None, test: Union[str, object] = "welch",
            alternative: Union[str, object] = "two-sided"):
    """One call: filter each window (default `iqr(1.5)`), summarize, test `a` against
    `b` (`"welch"` or `"mann-whitney"`, alternative `"two-sided"`, `"less"`,
    `"greater"`: how `a` differs from `b`), and Cohen's d. Returns `Comparison`."""
    return _s().compare(_floats(a), _floats(b), iqr() if filter is None else filter,
                        _test(test), _alternative(alternative))


def summarize(samples: Sequence[float]):
    """n, non-finite count, mean, sd, min, max of the finite samples."""
    return _s().summarize(_floats(samples))


def welch_t_test(a: Sequence[float], b: Sequence[float], alternative="two-sided"):
    """Welch's t-test of `a` against `b`."""
    return _s().welch_t_test(_floats(a), _floats(b), _alternative(alternative))


def mann_whitney_u(a: Sequence[float], b: Sequence[float], alternative="two-sided"):
    """Mann-Whitney U test of `a` against `b` (exact when m·n ≤ 1000)."""
    return _s().mann_whitney_u(_floats(a), _floats(b), _alternative(alternative))


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d of `a` against `b` (pooled standard deviation)."""
    return _s().cohens_d(_floats(a), _floats(b))


def mean_confidence_interval(samples: Sequence[float], level: float = 0.95):
    """Student-t confidence interval of the mean at `level`."""
    return _s().mean_confidence_interval(_floats(samples), float(level))


def filter_outliers_iqr(samples: Sequence[float], k: float = 1.5):
    """The samples inside Tukey's fences, in order."""
    return _s().filter_outliers_iqr(_floats(samples), float(k))


def filter_outliers_mad(samples: Sequence[float], threshold: float = 3.5):
    """The samples whose robust z-score is at most `threshold`, in order."""
    return _s().filter_outliers_mad(_floats(samples), float(threshold))
