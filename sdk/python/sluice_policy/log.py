"""The host's log (`sluice:policy/log`): lines appear in the host's log with the
pipeline and policy attached. The host bounds their number and length per decision."""

from ._wit import imports

__all__ = ["debug", "info", "warn", "error"]


def _log(level: str, message: str) -> None:
    m = imports("log")
    m.log(getattr(m.Level, level), str(message))


def debug(message: str) -> None:
    """A debug line."""
    _log("DEBUG", message)


def info(message: str) -> None:
    """An info line."""
    _log("INFO", message)


def warn(message: str) -> None:
    """A warning."""
    _log("WARN", message)


def error(message: str) -> None:
    """An error."""
    _log("ERROR", message)
