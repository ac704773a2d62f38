"""`Policy`: a self-description plus the functions that decide, exported as the
classes componentize-py looks for."""

from __future__ import annotations

import traceback
from typing import Callable, List, Optional, Sequence

from . import log
from ._params import Params, Spec
from ._wit import exports, types

# Decision point -> (exported interface module, class name componentize-py expects).
POINTS = {
    "retrain": ("decide_retrain", "DecideRetrain"),
    "promotion": ("decide_promotion", "DecidePromotion"),
    "regression": ("decide_regression", "DecideRegression"),
    "rollout": ("decide_rollout", "DecideRollout"),
}

# The host's bounds on a self-description (see wit/worlds.wit).
_MAX_NAME = 64
_MAX_SUMMARY = 1024
_MAX_PARAMS = 64


class Policy:
    """One policy: what it is, which parameters it takes, how it decides."""

    def __init__(self, *, point: str, name: str, version: str, summary: str,
                 params: Sequence[Spec] = ()):
        if point not in POINTS:
            raise ValueError(f"point must be one of {', '.join(POINTS)}, got {point!r}")
        problems = []
        if not name or len(name.encode()) > _MAX_NAME:
            problems.append(f"name must be 1..={_MAX_NAME} bytes")
        if not version or len(version.encode()) > _MAX_NAME:
            problems.append(f"version must be 1..={_MAX_NAME} bytes")
        if len(summary.encode()) > _MAX_SUMMARY:
            problems.append(f"summary must be at most {_MAX_SUMMARY} bytes")
        if len(params) > _MAX_PARAMS:
            problems.append(f"at most {_MAX_PARAMS} parameters")
        names = [p.name for p in params]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"parameter `{dup}` is declared twice")
        if problems:
            raise ValueError(f"policy {name!r}: " + "; ".join(problems))
        self.point = point
        self.name = name
        self.version = version
        self.summary = summary
        self.params: List[Spec] = list(params)
        self._decide: Optional[Callable] = None
        self._validate: Optional[Callable] = None

    def decide(self, fn: Callable) -> Callable:
        """Registers `fn(ctx, params) -> decision` (a decorator)."""
        self._decide = fn
        return fn

    def validate(self, fn: Callable) -> Callable:
        """Registers `fn(params) -> list[str]` (a decorator): one sentence per
        problem with values the types cannot catch; an empty list means valid."""
        self._validate = fn
        return fn

    def description(self):
        """The generated `Description` the host reads at load."""
        return types.Description(
            name=self.name, version=self.version, summary=self.summary,
            params=[p.to_wit() for p in self.params],
        )

    def export_classes(self):
        """The two classes the component exports, named as componentize-py expects:
        `{"SelfDescription": ..., "DecideRetrain": ...}` for a retrain policy."""
        if self._decide is None:
            raise TypeError(f"policy {self.name!r} registers no decide function (@policy.decide)")
        policy = self
        module, class_name = POINTS[self.point]
        world_exports = __import__("wit_world.exports", fromlist=["SelfDescription"])

        class SelfDescription(world_exports.SelfDescription):
            def describe(self):
                return policy.description()

            def validate_params(self, params):
                if policy._validate is None:
                    return []
                return [str(p) for p in _guarded(policy, "validate", policy._validate, Params(params))]

        class Decide(getattr(world_exports, class_name)):
            def decide(self, ctx):
                return _guarded(policy, "decide", policy._decide, ctx, Params(ctx.params))

        Decide.__name__ = Decide.__qualname__ = class_name
        exports(module)  # fail here, with the import error, if the world is wrong
        return {"SelfDescription": SelfDescription, class_name: Decide}


def _guarded(policy: Policy, what: str, fn: Callable, *args):
    # An exception traps the instance and the host applies the fail-safe; log the
    # traceback first so `sluice decisions` and the host log say where it came from.
    try:
        return fn(*args)
    except BaseException:
        log.error(f"{policy.name}: {what} raised:\n{traceback.format_exc()}")
        raise
