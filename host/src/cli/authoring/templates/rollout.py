"""`{{name}}`: walks the candidate through `steps`; rolls back on regression."""

from sluice_policy import Policy, advance, complete, hold, integer, integer_list, rollback

policy = Policy(
    point="rollout",
    name="{{name}}",
    version="0.1.0",
    summary="Advance through the steps on pass, hold otherwise (bounded), roll back on regression.",
    params=[
        integer_list("steps", [10, 50, 100], "Candidate weights in %, increasing, ending at 100."),
        integer("max_holds", 5, "Holds in a row at one step before rolling back."),
    ],
)


@policy.validate
def validate(params):
    steps = params.integer_list("steps", [10, 50, 100])
    ok = steps and steps[-1] == 100 and all(0 < a < b for a, b in zip(steps, steps[1:])) and steps[0] > 0
    return [] if ok else [f"steps must increase strictly from above 0 to 100, got {steps}"]


@policy.decide
def decide(ctx, params):
    steps = params.integer_list("steps", [10, 50, 100])
    max_holds = params.integer("max_holds", 5)
    weight = ctx.current_weight
    verdict = ctx.verdict.name if ctx.verdict is not None else None
    if verdict == "REGRESSED":
        return rollback(f"regressed at {weight}%")
    if weight == 0:
        return advance(steps[0], f"start at {steps[0]}%")
    if verdict == "PASS":
        later = [s for s in steps if s > weight]
        return advance(later[0], f"pass at {weight}%") if later else complete("pass at 100%")
    if ctx.holds_at_step >= max_holds:
        return rollback(f"no verdict after {ctx.holds_at_step} holds at {weight}%")
    return hold(f"waiting for a verdict at {weight}%")
