"""Constructors for every decision point's answer, so a policy returns
`train("...")` instead of spelling the generated variant classes."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence, Tuple, Union

from ._wit import exports, types

_ARGS_MAX = 32
_ARG_BYTES_MAX = 1024


# --- retrain ------------------------------------------------------------------------

def wait(reason: str):
    """Retrain: do nothing this tick."""
    return exports("decide_retrain").Decision_Wait(str(reason))


def train(reason: str, args: Sequence[str] = ()):
    """Retrain: claim the new samples and dispatch a training Job. `args` are appended
    to the training container's command (at most 32, each at most 1 KiB)."""
    args = [str(a) for a in args]
    if len(args) > _ARGS_MAX or any(len(a.encode()) > _ARG_BYTES_MAX for a in args):
        raise ValueError(f"train: at most {_ARGS_MAX} args of at most {_ARG_BYTES_MAX} bytes each")
    m = exports("decide_retrain")
    return m.Decision_Train(m.TrainRequest(reason=str(reason), args=args))


# --- promotion ----------------------------------------------------------------------

def promote(reason: str):
    """Promotion: commit the candidate's version to the deploy repository."""
    return exports("decide_promotion").Decision_Promote(str(reason))


def reject(reason: str):
    """Promotion: discard the candidate; it is never promoted automatically."""
    return exports("decide_promotion").Decision_Reject(str(reason))


def await_approval(reason: str):
    """Promotion: hold the candidate until an operator decides."""
    return exports("decide_promotion").Decision_AwaitApproval(str(reason))


# --- rollout ------------------------------------------------------------------------

def advance(weight: int, reason: str):
    """Rollout: shift traffic to `weight` % (greater than now, at most 100)."""
    weight = int(weight)
    if not 0 <= weight <= 100:
        raise ValueError(f"advance: weight must be 0..=100, got {weight}")
    m = exports("decide_rollout")
    return m.Decision_Advance(m.AdvanceTo(weight=weight, reason=str(reason)))


def hold(reason: str):
    """Rollout: stay at this weight; ask again next interval."""
    return exports("decide_rollout").Decision_Hold(str(reason))


def rollback(reason: str):
    """Rollout: all traffic back to stable now, then revert Git."""
    return exports("decide_rollout").Decision_Rollback(str(reason))


def complete(reason: str):
    """Rollout: the candidate serves 100 % and becomes stable."""
    return exports("decide_rollout").Decision_Complete(str(reason))


# --- regression ---------------------------------------------------------------------

VerdictLike = Union[str, "types.Verdict"]


def verdict(value: VerdictLike):
    """`"pass"`, `"regressed"` or `"inconclusive"` (or the enum itself) as the
    generated `Verdict`."""
    if isinstance(value, types.Verdict):
        return value
    try:
        return types.Verdict[str(value).upper()]
    except KeyError:
        raise ValueError(f"verdict must be pass, regressed or inconclusive, got {value!r}") from None


def metric(name: str, value: float):
    """One named statistic for the audit log."""
    return types.Metric(name=str(name), value=float(value))


Statistics = Union[Mapping[str, float], Iterable[Tuple[str, float]]]


def metric_verdict(name: str, value: VerdictLike, reason: str, statistics: Statistics = ()):
    """Regression: the verdict for one metric window, with the statistics behind it
    (a dict or `(name, value)` pairs, kept in order)."""
    pairs = statistics.items() if isinstance(statistics, Mapping) else statistics
    return exports("decide_regression").MetricVerdict(
        name=str(name), verdict=verdict(value), reason=str(reason),
        statistics=[metric(n, v) for n, v in pairs],
    )


def regression_decision(overall: VerdictLike, reason: str, metrics: Sequence):
    """Regression: the overall verdict and exactly one `metric_verdict` per window."""
    return exports("decide_regression").Decision(
        overall=verdict(overall), reason=str(reason), metrics=list(metrics),
    )
