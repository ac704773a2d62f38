"""`stat-regression` in Python — the same verdicts and statistics as the Rust stock
policy (the numbers come from the host's `stats`, so they are the same bits).

Per metric: any NaN/infinite sample makes the metric inconclusive. Outliers are
filtered (IQR or MAD), then fewer than `min_samples` on either side is inconclusive.
Otherwise a one-sided test (Welch's t or Mann-Whitney U) looks for the canary being
worse in the metric's bad direction: `regressed` when p < `alpha` and |Cohen's d| ≥
`min_effect`, else `pass`. Overall: any regressed → regressed; else any inconclusive
→ inconclusive; else pass.
"""

import math

from sluice_policy import (
    Policy, display, fixed, float_, integer, metric_verdict, regression_decision, stats, text,
)

U32_MAX = 2**32 - 1

policy = Policy(
    point="regression",
    name="stat-regression",
    version="1.0.0",
    summary="Canary vs baseline per metric: outlier filter, one-sided test in the bad "
    "direction, effect-size floor; too little or NaN data is inconclusive.",
    params=[
        float_("alpha", 0.05, "Significance level of the one-sided test, in (0, 1)."),
        integer("min_samples", 30, "Fewest samples (after outlier filtering) on each side for a verdict."),
        float_("min_effect", 0.2, "Smallest |Cohen's d| that counts as a regression."),
        text("outlier_filter", "iqr", "`iqr` (Tukey fences, k = 1.5), `mad` (robust z ≤ 3.5) or `none`."),
        text("test", "welch", "`welch` (Welch's t-test) or `mann-whitney` (Mann-Whitney U)."),
    ],
)


@policy.validate
def validate(params):
    problems = []
    alpha = params.float("alpha", 0.05)
    if not (0.0 < alpha < 1.0):
        problems.append(f"alpha must be in (0, 1), got {display(alpha)}")
    min_samples = params.integer("min_samples", 30)
    if min_samples < 2:
        problems.append(f"min_samples must be at least 2, got {min_samples}")
    min_effect = params.float("min_effect", 0.2)
    if not (min_effect >= 0.0 and math.isfinite(min_effect)):
        problems.append(f"min_effect must be a finite number ≥ 0, got {display(min_effect)}")
    flt = params.text("outlier_filter", "iqr")
    if flt not in ("iqr", "mad", "none"):
        problems.append(f"outlier_filter must be iqr, mad or none, got `{flt}`")
    test = params.text("test", "welch")
    if test not in ("welch", "mann-whitney"):
        problems.append(f"test must be welch or mann-whitney, got `{test}`")
    return problems


def _judge(w, s):
    bad_b = sum(1 for x in w.baseline if not math.isfinite(x))
    bad_c = sum(1 for x in w.canary if not math.isfinite(x))
    if bad_b + bad_c > 0:
        return metric_verdict(w.name, "inconclusive",
                              f"{bad_b} baseline and {bad_c} canary samples are NaN or infinite")
    higher_is_better = w.direction.name == "HIGHER_IS_BETTER"
    # "Worse" is lower for higher-is-better metrics, higher for lower-is-better ones.
    c = stats.compare(w.canary, w.baseline, s["filter"], s["test"], "less" if higher_is_better else "greater")
    sc, sb = c.a, c.b
    statistics = [
        ("n_baseline", float(sb.n)),
        ("n_canary", float(sc.n)),
        ("outliers_removed", float(c.outliers_a) + float(c.outliers_b)),
        ("mean_baseline", sb.mean),
        ("mean_canary", sc.mean),
    ]
    need = s["min_samples"]
    if sb.n < need or sc.n < need:
        return metric_verdict(w.name, "inconclusive",
                              f"too few samples: {sb.n} baseline, {sc.n} canary; need {need} each", statistics)
    worse = sc.mean < sb.mean if higher_is_better else sc.mean > sb.mean
    if sb.sd == 0.0 and sc.sd == 0.0:
        return metric_verdict(w.name, "regressed" if worse else "pass",
                              f"both windows are constant: baseline {display(sb.mean)}, canary {display(sc.mean)}",
                              statistics)
    result, d = c.significance, c.cohens_d
    statistics += [("statistic", result.statistic), ("p_value", result.p_value), ("cohens_d", d)]
    if math.isnan(result.p_value):
        return metric_verdict(w.name, "inconclusive", "the test could not be computed", statistics)
    p, effect = fixed(result.p_value, 4), fixed(abs(d), 3)
    alpha, min_effect = display(s["alpha"]), display(s["min_effect"])
    if result.p_value < s["alpha"] and abs(d) >= s["min_effect"]:
        return metric_verdict(w.name, "regressed",
                              f"canary worse: p = {p} < alpha {alpha}, |d| = {effect} ≥ {min_effect}", statistics)
    return metric_verdict(w.name, "pass",
                          f"no significant regression: p = {p} (alpha {alpha}), |d| = {effect} (min {min_effect})",
                          statistics)


@policy.decide
def decide(ctx, params):
    flt = params.text("outlier_filter", "iqr")
    s = {
        "alpha": params.float("alpha", 0.05),
        "min_samples": min(max(params.integer("min_samples", 30), 2), U32_MAX),
        "min_effect": params.float("min_effect", 0.2),
        "filter": stats.iqr(1.5) if flt == "iqr" else stats.mad(3.5) if flt == "mad" else stats.no_filter(),
        "test": "mann-whitney" if params.text("test", "welch") == "mann-whitney" else "welch",
    }
    metrics = [_judge(w, s) for w in ctx.metrics]

    def named(v):
        return [m.name for m in metrics if m.verdict.name == v]

    regressed, inconclusive = named("REGRESSED"), named("INCONCLUSIVE")
    if regressed:
        return regression_decision("regressed", f"regressed: {', '.join(regressed)}", metrics)
    if not metrics:
        return regression_decision("inconclusive", "no metrics to judge", metrics)
    if inconclusive:
        return regression_decision("inconclusive", f"inconclusive: {', '.join(inconclusive)}", metrics)
    return regression_decision("pass", f"all {len(metrics)} metrics pass", metrics)
