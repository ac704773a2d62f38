"""`threshold-retrain` in Python — the same decisions as the Rust stock policy.

Trains when at least `min_new_samples` new verified samples arrived, or when the last
training started more than `max_age` ago (and at least one new sample exists). Never
while a run is active, and never sooner than `min_interval` after the last training
started.
"""

from sluice_policy import Policy, duration, integer, train, wait

DEFAULT_MIN_NEW_SAMPLES = 50
DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600
DEFAULT_MIN_INTERVAL_SECONDS = 600

policy = Policy(
    point="retrain",
    name="threshold-retrain",
    version="1.0.0",
    summary="Train when enough new verified samples arrived or the model is too old; "
    "never while a run is active or sooner than min_interval.",
    params=[
        integer("min_new_samples", DEFAULT_MIN_NEW_SAMPLES,
                "New verified, unused samples that trigger training (≥ 1)."),
        duration("max_age", DEFAULT_MAX_AGE_SECONDS,
                 "Retrain when the last training started longer ago than this, if any new "
                 "sample exists. 0 disables the age trigger."),
        duration("min_interval", DEFAULT_MIN_INTERVAL_SECONDS,
                 "Least time between the starts of two training runs."),
    ],
)


@policy.validate
def validate(params):
    n = params.integer("min_new_samples", DEFAULT_MIN_NEW_SAMPLES)
    return [f"min_new_samples must be at least 1, got {n}"] if n < 1 else []


@policy.decide
def decide(ctx, params):
    min_new = params.unsigned("min_new_samples", DEFAULT_MIN_NEW_SAMPLES)
    max_age = params.unsigned("max_age", DEFAULT_MAX_AGE_SECONDS)
    min_interval = params.unsigned("min_interval", DEFAULT_MIN_INTERVAL_SECONDS)
    since = ctx.seconds_since_last_training

    if ctx.run_active:
        return wait("a training run is already active")
    if since is not None and since < min_interval:
        return wait(f"last training started {since}s ago, less than min_interval {min_interval}s")
    if ctx.new_samples >= min_new:
        return train(f"{ctx.new_samples} new verified samples ≥ min_new_samples {min_new}")
    if since is not None and max_age > 0 and since >= max_age and ctx.new_samples > 0:
        return train(f"model is {since}s old ≥ max_age {max_age}s and {ctx.new_samples} new samples exist")
    return wait(f"{ctx.new_samples} new verified samples < min_new_samples {min_new}")
