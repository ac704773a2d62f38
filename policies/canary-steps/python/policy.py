"""`canary-steps` in Python — the same decisions as the Rust stock policy.

Walks the candidate through `steps` (default 10 → 25 → 50 → 100 %). At each step it
waits `min_step_time`, then: a `regressed` verdict rolls back at once; `pass` advances
to the next weight (or completes at 100); `inconclusive` or no verdict holds — at most
`max_holds` times in a row, then rolls back.
"""

from sluice_policy import (
    Policy, advance, complete, display, duration, hold, integer, integer_list, rollback,
)

DEFAULT_STEPS = [10, 25, 50, 100]
U32_MAX = 2**32 - 1

policy = Policy(
    point="rollout",
    name="canary-steps",
    version="1.0.0",
    summary="Advance through traffic weights on pass, hold on inconclusive (bounded), "
    "roll back on regression.",
    params=[
        integer_list("steps", DEFAULT_STEPS,
                     "Candidate traffic weights in %, strictly increasing, ending at 100."),
        duration("min_step_time", 60, "Least time at a weight before it may advance."),
        integer("max_holds", 10,
                "Holds in a row at one step (no verdict or inconclusive) before rolling back."),
    ],
)


@policy.validate
def validate(params):
    problems = []
    steps = params.integer_list("steps", DEFAULT_STEPS)
    if not steps:
        problems.append("steps must not be empty")
    if any(not 1 <= w <= 100 for w in steps):
        problems.append(f"every step must be between 1 and 100, got {display(steps)}")
    if any(a >= b for a, b in zip(steps, steps[1:])):
        problems.append(f"steps must increase strictly, got {display(steps)}")
    if not steps or steps[-1] != 100:
        problems.append(f"the last step must be 100, got {display(steps)}")
    if params.integer("max_holds", 10) < 0:
        problems.append("max_holds must not be negative")
    return problems


@policy.decide
def decide(ctx, params):
    steps = params.integer_list("steps", DEFAULT_STEPS)
    min_step_time = params.unsigned("min_step_time", 60)
    max_holds = params.integer("max_holds", 10)
    if not 0 <= max_holds <= U32_MAX:
        max_holds = 10
    weight = ctx.current_weight
    verdict = None if ctx.verdict is None else ctx.verdict.name

    if verdict == "REGRESSED":
        return rollback(f"canary {ctx.candidate_version} regressed at {weight}%")
    # Before the first step nothing has been measured: start at the first weight.
    if weight == 0 and steps and 0 <= steps[0] <= 255:
        return advance(steps[0], f"start the rollout at {steps[0]}%")
    if ctx.seconds_at_step < min_step_time:
        return hold(f"{ctx.seconds_at_step}s at {weight}%, less than min_step_time {min_step_time}s")
    if verdict == "PASS":
        later = [w for w in steps if w > weight]
        if later:
            nxt = later[0]
            return advance(nxt if 0 <= nxt <= 255 else 100, f"pass at {weight}%; advancing to {nxt}%")
        return complete(f"pass at {weight}%; rollout complete")
    if ctx.holds_at_step >= max_holds:
        return rollback(
            f"no conclusive analysis after {ctx.holds_at_step} holds at {weight}% (max_holds {max_holds})")
    if verdict is not None:
        return hold(f"inconclusive at {weight}%; holding")
    return hold(f"no analysis yet at {weight}%")
