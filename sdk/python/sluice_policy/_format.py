"""Numbers printed exactly as the Rust SDK prints them, so the same policy written in
Python and in Rust gives byte-identical reasons (the conformance and differential
tests compare them)."""

from decimal import Decimal
import math

__all__ = ["display", "fixed"]


def display(value) -> str:
    """`value` as Rust's `{}` prints it: integers as is; floats in the shortest form
    that reads back to the same float, never with an exponent, without a trailing
    `.0` (`250.0` prints `250`), `NaN`, `inf`, `-inf`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        if text.endswith(".0"):
            text = text[:-2]
        return text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_debug(v) for v in value) + "]"
    return str(value)


def _debug(value) -> str:
    # Rust's `{:?}` of a list element: strings quoted, floats keep `.0`.
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e16:
        return display(value) + ".0"
    return display(value)


_EXACT_LIMIT = 1e15


def fixed(value: float, decimals: int) -> str:
    """`value` with `decimals` digits after the point (at most 9), rounded half away
    from zero: the Rust SDK's `fixed`, digit for digit."""
    digits = max(0, min(int(decimals), 9))
    value = float(value)
    magnitude = abs(value)
    if not math.isfinite(magnitude) or magnitude >= _EXACT_LIMIT:
        return _core_fixed(value, digits)
    scale = 10 ** digits
    scaled_f = magnitude * float(scale) + 0.5
    if scaled_f >= _EXACT_LIMIT * 10.0:
        return _core_fixed(value, digits)
    scaled = int(scaled_f)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    whole = str(scaled // scale)
    if digits == 0:
        return sign + whole
    return f"{sign}{whole}.{scaled % scale:0{digits}d}"


def _core_fixed(value: float, digits: int) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"
