"""`{{name}}`: trains once `min_new_samples` new verified samples arrived."""

from sluice_policy import Policy, integer, train, wait

policy = Policy(
    point="retrain",
    name="{{name}}",
    version="0.1.0",
    summary="Train once enough new verified samples arrived; never while a run is active.",
    params=[integer("min_new_samples", 100, "New verified samples that trigger training (≥ 1).")],
)


@policy.validate
def validate(params):
    n = params.integer("min_new_samples", 100)
    return [f"min_new_samples must be at least 1, got {n}"] if n < 1 else []


@policy.decide
def decide(ctx, params):
    need = params.integer("min_new_samples", 100)
    if ctx.run_active:
        return wait("a training run is already active")
    if ctx.new_samples >= need:
        return train(f"{ctx.new_samples} new samples ≥ {need}")
    return wait(f"{ctx.new_samples} new samples < {need}")
