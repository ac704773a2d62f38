"""Test guest: loads and describes itself normally, then loops forever in `decide`.
The host must stop it (fuel or deadline) and use the fail-safe."""

from sluice_policy import Policy

policy = Policy(point="retrain", name="hostile-python", version="0.1.0", summary="Loops forever.")


@policy.decide
def decide(ctx, params):
    n = 0
    while True:
        n += 1
