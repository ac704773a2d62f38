"""`metric-gate` in Python — the same decisions as the Rust stock policy.

Each rule names a metric, its direction, optional floor/ceiling and a tolerance
against production (`accuracy higher min 0.90 tolerance 0.01`). Promote when every
rule holds; reject naming the first rule that fails. A metric missing from the
candidate (or NaN) is a rejection, never a pass.
"""

import math
import re
from dataclasses import dataclass
from typing import Optional

from sluice_policy import Policy, await_approval, boolean, display, promote, reject, text_list

# What Rust's `f64::from_str` accepts as a finite number.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Rule:
    metric: str
    higher_is_better: bool
    min: Optional[float] = None
    max: Optional[float] = None
    tolerance: float = 0.0


def _debug_word(word):
    return "None" if word is None else 'Some("' + word.replace("\\", "\\\\").replace('"', '\\"') + '")'


def parse_rule(text: str) -> Rule:
    """Parses `<metric> higher|lower [min X] [max X] [tolerance X]`; raises ValueError."""
    words = iter(text.split())
    metric = next(words, None)
    if metric is None:
        raise ValueError("a rule is empty")
    direction = next(words, None)
    if direction not in ("higher", "lower"):
        raise ValueError(
            f"rule `{text}`: expected `higher` or `lower` after the metric name, found {_debug_word(direction)}")
    rule = Rule(metric, direction == "higher")
    for key in words:
        raw = next(words, None)
        value = float(raw) if raw is not None and _NUMBER.fullmatch(raw) else None
        if value is None or not math.isfinite(value):
            raise ValueError(f"rule `{text}`: `{key}` needs a finite number after it")
        if key == "min":
            rule.min = value
        elif key == "max":
            rule.max = value
        elif key == "tolerance" and value >= 0.0:
            rule.tolerance = value
        elif key == "tolerance":
            raise ValueError(f"rule `{text}`: tolerance must not be negative")
        else:
            raise ValueError(f"rule `{text}`: unknown keyword `{key}`; use min, max or tolerance")
    return rule


policy = Policy(
    point="promotion",
    name="metric-gate",
    version="1.0.0",
    summary="Promote when every metric rule holds (floor/ceiling, and not worse than "
    "production beyond its tolerance); a missing metric rejects.",
    params=[
        text_list("rules", ["accuracy higher"],
                  "One rule per metric: `<metric> higher|lower [min X] [max X] [tolerance X]`."),
        boolean("require_approval", False,
                "When true, a candidate that passes waits for an operator instead of promoting."),
    ],
)


@policy.validate
def validate(params):
    rules = params.text_list("rules", [])
    if not rules:
        return ["rules must list at least one metric rule"]
    problems = []
    for r in rules:
        try:
            parse_rule(r)
        except ValueError as e:
            problems.append(str(e))
    return problems


def _metric(report, name):
    return next((m.value for m in report.metrics if m.name == name), None)


def _check(rule: Rule, candidate, production) -> str:
    name = rule.metric
    value = _metric(candidate, name)
    if value is None or not math.isfinite(value):
        raise ValueError(f"candidate {candidate.version} reports no finite `{name}`")
    if rule.min is not None and value < rule.min:
        raise ValueError(f"{name} {display(value)} is below the floor {display(rule.min)}")
    if rule.max is not None and value > rule.max:
        raise ValueError(f"{name} {display(value)} is above the ceiling {display(rule.max)}")
    prod = _metric(production, name) if production is not None else None
    if prod is None or not math.isfinite(prod):
        return f"{name} {display(value)}"
    worse_by = prod - value if rule.higher_is_better else value - prod
    if worse_by > rule.tolerance:
        raise ValueError(
            f"{name} {display(value)} is worse than production's {display(prod)} by {worse_by:.6f}, "
            f"more than the tolerance {display(rule.tolerance)}")
    return f"{name} {display(value)} (production {display(prod)})"


@policy.decide
def decide(ctx, params):
    passed = []
    for text in params.text_list("rules", ["accuracy higher"]):
        try:
            passed.append(_check(parse_rule(text), ctx.candidate, ctx.production))
        except ValueError as why:
            return reject(str(why))
    reason = f"all {len(passed)} rules hold: {', '.join(passed)}"
    if params.boolean("require_approval", False):
        return await_approval(reason)
    return promote(reason)
