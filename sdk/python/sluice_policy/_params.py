"""Typed access to a decision's parameters, and the declarations of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence

from ._wit import types

__all__ = [
    "Params", "ParamError", "Spec",
    "boolean", "integer", "float_", "text", "duration",
    "integer_list", "float_list", "text_list",
]


class ParamError(ValueError):
    """A parameter is missing or has the wrong type. The message names it."""


_KIND_NAMES = {
    "ParamValue_Boolean": "boolean",
    "ParamValue_Integer": "integer",
    "ParamValue_Float": "float",
    "ParamValue_Text": "text",
    "ParamValue_Duration": "duration",
    "ParamValue_IntegerList": "integer-list",
    "ParamValue_FloatList": "float-list",
    "ParamValue_TextList": "text-list",
}


def _kind(value) -> str:
    return _KIND_NAMES.get(type(value).__name__, type(value).__name__)


class Params:
    """The parameters of one decision: every declared parameter, configured or
    defaulted. Each getter converts like the Rust SDK's `Params::get` and, given a
    default, returns it when the value is missing or cannot be converted
    (`get_or`); without one it raises `ParamError` naming the parameter."""

    def __init__(self, params: Iterable[Any] = ()):
        self._values = {p.name: p.value for p in params}

    def raw(self, name: str):
        """The generated `ParamValue` of `name`, or None."""
        return self._values.get(name)

    def names(self) -> List[str]:
        """Every parameter name, in the host's order."""
        return list(self._values)

    def _get(self, name, default, expected, convert):
        value = self._values.get(name)
        if value is None:
            if default is not _MISSING:
                return default
            raise ParamError(f"parameter `{name}`: not set and no default declared")
        out = convert(value)
        if out is _MISSING:
            if default is not _MISSING:
                return default
            raise ParamError(f"parameter `{name}`: expected {expected}, found {_kind(value)}")
        return out

    def boolean(self, name: str, default: Any = None) -> bool:
        """A boolean."""
        return self._get(name, _d(default), "boolean",
                         lambda v: v.value if isinstance(v, types.ParamValue_Boolean) else _MISSING)

    def integer(self, name: str, default: Any = None) -> int:
        """A signed integer."""
        return self._get(name, _d(default), "integer",
                         lambda v: v.value if isinstance(v, types.ParamValue_Integer) else _MISSING)

    def unsigned(self, name: str, default: Any = None) -> int:
        """A non-negative integer or a duration (whole seconds); a negative integer
        does not convert (Rust's `u64`)."""
        def convert(v):
            if isinstance(v, types.ParamValue_Duration):
                return v.value
            if isinstance(v, types.ParamValue_Integer) and v.value >= 0:
                return v.value
            return _MISSING
        return self._get(name, _d(default), "non-negative integer or duration", convert)

    def float(self, name: str, default: Any = None) -> float:
        """A float; an integer is widened."""
        def convert(v):
            if isinstance(v, types.ParamValue_Float):
                return v.value
            if isinstance(v, types.ParamValue_Integer):
                return float(v.value)
            return _MISSING
        return self._get(name, _d(default), "float", convert)

    def text(self, name: str, default: Any = None) -> str:
        """Text."""
        return self._get(name, _d(default), "text",
                         lambda v: v.value if isinstance(v, types.ParamValue_Text) else _MISSING)

    def duration(self, name: str, default: Any = None) -> int:
        """A duration in whole seconds."""
        return self._get(name, _d(default), "duration",
                         lambda v: v.value if isinstance(v, types.ParamValue_Duration) else _MISSING)

    def integer_list(self, name: str, default: Any = None) -> List[int]:
        """A list of integers."""
        return self._get(name, _d(default), "integer list",
                         lambda v: list(v.value) if isinstance(v, types.ParamValue_IntegerList) else _MISSING)

    def float_list(self, name: str, default: Any = None) -> List[float]:
        """A list of floats; an integer list is widened."""
        def convert(v):
            if isinstance(v, types.ParamValue_FloatList):
                return list(v.value)
            if isinstance(v, types.ParamValue_IntegerList):
                return [float(x) for x in v.value]
            return _MISSING
        return self._get(name, _d(default), "float list", convert)

    def text_list(self, name: str, default: Any = None) -> List[str]:
        """A list of strings."""
        return self._get(name, _d(default), "text list",
                         lambda v: list(v.value) if isinstance(v, types.ParamValue_TextList) else _MISSING)


class _Missing:
    def __repr__(self):
        return "<no default>"


_MISSING = _Missing()


def _d(default):
    # `None` means "no default": the getter raises ParamError when it cannot answer.
    return _MISSING if default is None else default


@dataclass(frozen=True)
class Spec:
    """A declared parameter: what `describe` reports."""

    name: str
    kind: Any
    default: Any
    doc: str

    def to_wit(self):
        return types.ParamSpec(name=self.name, kind=self.kind, default=self.default, doc=self.doc)


def _spec(kind, wrap, name: str, default, doc: str) -> Spec:
    return Spec(name, kind, None if default is None else wrap(default), doc)


def boolean(name: str, default: Optional[bool], doc: str) -> Spec:
    """A boolean parameter; `default=None` makes it required."""
    return _spec(types.ParamType.BOOLEAN, lambda d: types.ParamValue_Boolean(bool(d)), name, default, doc)


def integer(name: str, default: Optional[int], doc: str) -> Spec:
    """A signed 64-bit integer parameter."""
    return _spec(types.ParamType.INTEGER, lambda d: types.ParamValue_Integer(int(d)), name, default, doc)


def float_(name: str, default: Optional[float], doc: str) -> Spec:
    """A float parameter (integers in the config are widened)."""
    return _spec(types.ParamType.FLOAT, lambda d: types.ParamValue_Float(float(d)), name, default, doc)


def text(name: str, default: Optional[str], doc: str) -> Spec:
    """A text parameter."""
    return _spec(types.ParamType.TEXT, lambda d: types.ParamValue_Text(str(d)), name, default, doc)


def duration(name: str, default: Optional[int], doc: str) -> Spec:
    """A duration parameter, in whole seconds (`90s`, `15m`, `6h`, `7d` in the config)."""
    return _spec(types.ParamType.DURATION, lambda d: types.ParamValue_Duration(int(d)), name, default, doc)


def integer_list(name: str, default: Optional[Sequence[int]], doc: str) -> Spec:
    """A list-of-integers parameter."""
    return _spec(types.ParamType.INTEGER_LIST, lambda d: types.ParamValue_IntegerList([int(x) for x in d]), name, default, doc)


def float_list(name: str, default: Optional[Sequence[float]], doc: str) -> Spec:
    """A list-of-floats parameter."""
    return _spec(types.ParamType.FLOAT_LIST, lambda d: types.ParamValue_FloatList([float(x) for x in d]), name, default, doc)


def text_list(name: str, default: Optional[Sequence[str]], doc: str) -> Spec:
    """A list-of-strings parameter."""
    return _spec(types.ParamType.TEXT_LIST, lambda d: types.ParamValue_TextList([str(x) for x in d]), name, default, doc)
