"""The bindings componentize-py generates from sluice's WIT (package `wit_world`).

They exist while `sluice policy build` (or `componentize-py componentize`) builds
the component; for an editor's type hints, `sluice policy build` also writes them
to `.sluice/bindings` in the project."""

from importlib import import_module

try:
    from wit_world.imports import types  # noqa: F401
except ImportError as missing:  # pragma: no cover - only outside a build
    raise ImportError(
        "sluice_policy needs the bindings componentize-py generates from sluice's WIT "
        "(the `wit_world` package). Build with `sluice policy build DIR`, or put "
        "DIR/.sluice/bindings on PYTHONPATH after one build."
    ) from missing


def exports(module: str):
    """The generated module of one exported interface (`decide_retrain`, ...)."""
    return import_module(f"wit_world.exports.{module}")


def imports(module: str):
    """The generated module of one imported interface (`stats`, `log`)."""
    return import_module(f"wit_world.imports.{module}")
