"""Write sluice decision policies in Python.

A policy is one module, `policy.py`, that makes a `Policy` and registers its
`decide` (and optionally `validate`) function::

    from sluice_policy import Policy, integer, wait, train

    policy = Policy(
        point="retrain",
        name="my-retrain",
        version="0.1.0",
        summary="Train on every 100 new samples.",
        params=[integer("min_new_samples", 100, "New samples that trigger training.")],
    )

    @policy.decide
    def decide(ctx, params):
        need = params.integer("min_new_samples", 100)
        if ctx.new_samples >= need:
            return train(f"{ctx.new_samples} new samples")
        return wait(f"{ctx.new_samples} < {need}")

`sluice policy build DIR` turns it into a component for the point's WIT world.
`ctx` is the generated context record of the point (fields in snake_case, as in the
WIT with `-` replaced by `_`); `params` is a `Params`. Reasons built with
`display` and `fixed` print numbers exactly as the Rust SDK does.
"""

from ._format import display, fixed
from ._params import (
    ParamError, Params, Spec, boolean, duration, float_, float_list, integer,
    integer_list, text, text_list,
)
from ._policy import Policy, POINTS
from ._decisions import (
    advance, await_approval, complete, hold, metric, metric_verdict, promote,
    regression_decision, reject, rollback, train, verdict, wait,
)
from . import stats, log

__all__ = [
    "Policy", "POINTS", "Params", "ParamError", "Spec",
    "boolean", "integer", "float_", "text", "duration", "integer_list", "float_list", "text_list",
    "wait", "train", "promote", "reject", "await_approval",
    "advance", "hold", "rollback", "complete",
    "verdict", "metric", "metric_verdict", "regression_decision",
    "display", "fixed", "stats", "log",
]
