"""`{{name}}`: promotes a candidate whose accuracy reaches `min_accuracy`."""

import math

from sluice_policy import Policy, display, float_, promote, reject

policy = Policy(
    point="promotion",
    name="{{name}}",
    version="0.1.0",
    summary="Promote when the candidate's accuracy reaches min_accuracy; a missing metric rejects.",
    params=[float_("min_accuracy", 0.9, "The least accuracy a candidate needs, in [0, 1].")],
)


@policy.validate
def validate(params):
    floor = params.float("min_accuracy", 0.9)
    return [] if 0.0 <= floor <= 1.0 else [f"min_accuracy must be in [0, 1], got {display(floor)}"]


@policy.decide
def decide(ctx, params):
    floor = params.float("min_accuracy", 0.9)
    accuracy = next((m.value for m in ctx.candidate.metrics if m.name == "accuracy"), None)
    if accuracy is None or not math.isfinite(accuracy):
        return reject(f"candidate {ctx.candidate.version} reports no finite accuracy")
    if accuracy < floor:
        return reject(f"accuracy {display(accuracy)} is below {display(floor)}")
    return promote(f"accuracy {display(accuracy)} ≥ {display(floor)}")
