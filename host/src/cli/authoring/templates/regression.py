"""`{{name}}`: a canary regresses when a one-sided Welch test finds it worse."""

from sluice_policy import (
    Policy, display, fixed, float_, integer, metric_verdict, regression_decision, stats,
)

policy = Policy(
    point="regression",
    name="{{name}}",
    version="0.1.0",
    summary="Per metric: one-sided Welch test in the bad direction; too few samples is inconclusive.",
    params=[
        float_("alpha", 0.05, "Significance level, in (0, 1)."),
        integer("min_samples", 5, "Fewest samples on each side for a verdict."),
    ],
)


@policy.decide
def decide(ctx, params):
    alpha = params.float("alpha", 0.05)
    need = params.integer("min_samples", 5)
    verdicts = []
    for w in ctx.metrics:
        # "Worse" is lower for higher-is-better metrics: test canary < baseline.
        worse = "less" if w.direction.name == "HIGHER_IS_BETTER" else "greater"
        c = stats.compare(w.canary, w.baseline, stats.iqr(1.5), "welch", worse)
        numbers = {"n_baseline": c.b.n, "n_canary": c.a.n, "p_value": c.significance.p_value}
        if min(c.a.n, c.b.n) < need:
            verdicts.append(metric_verdict(w.name, "inconclusive", f"fewer than {need} samples", numbers))
        elif c.significance.p_value < alpha:
            p = fixed(c.significance.p_value, 4)
            verdicts.append(metric_verdict(w.name, "regressed", f"p = {p} < {display(alpha)}", numbers))
        else:
            verdicts.append(metric_verdict(w.name, "pass", f"p = {fixed(c.significance.p_value, 4)}", numbers))
    for outcome in ("regressed", "inconclusive"):
        names = [v.name for v in verdicts if v.verdict.name == outcome.upper()]
        if names:
            return regression_decision(outcome, f"{outcome}: {', '.join(names)}", verdicts)
    if not verdicts:
        return regression_decision("inconclusive", "no metrics to judge", verdicts)
    return regression_decision("pass", f"all {len(verdicts)} metrics pass", verdicts)
