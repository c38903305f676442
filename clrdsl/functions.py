"""The function contract: what a shape or scale plugin declares.

A plugin registers, under the entry-point group ``clrdsl.functions``, a :class:`Shape`
(a schedule primitive) or a :class:`ScaleFn` (a dimensionless amplitude scale). Each
declares its signature as :class:`Param` records and one implementation written
against an array namespace ``ops`` (see :mod:`clrdsl.ops`) that every backend
supplies, so the same definition runs on NumPy, torch, keras.ops and jax.numpy.

Implementations must be module-level functions (``clrdsl compile`` copies their
source into generated modules) that use only ``ops`` and their arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# Parameter kinds. A kind says what the argument may be and which values are legal.
KINDS = {
    "number": "a finite number",
    "positive": "a number > 0",
    "nonneg": "a number >= 0",
    "fraction": "a number in (0, 1)",
    "unit": "a number in [0, 1]",
    "duration": "a count of updates >= 0 (units `it`, `ep`, `%` allowed)",
    "period": "a count of updates > 0 (units `it`, `ep`, `%` allowed)",
    "bool": "`true` or `false`",
    "choice": "one of the listed identifiers",
    "schedule": "a schedule",
    "scale": "a scale",
    "any": "any value",
}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str = "number"
    default: Any = REQUIRED  # a value, or a callable(args so far) -> value
    choices: tuple[str, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r} for {self.name!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name!r} needs choices")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        kind = "|".join(self.choices) if self.kind == "choice" else self.kind
        out = f"{self.name}: {kind}"
        if not self.required:
            d = self.default
            if callable(d):
                d = getattr(d, "__doc__", None) or "derived"
            elif isinstance(d, float) and not math.isinf(d) and d == int(d):
                d = int(d)
            elif isinstance(d, bool):
                d = "true" if d else "false"
            out += f" = {d}"
        return out


class ParamError(Exception):
    """Raised by a plugin's ``validate`` to reject a parameter value.

    The checker turns it into a ClrdslValueError pointing at that argument.
    """

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True, eq=False)
class Shape:
    """A schedule primitive: a pure function of its clock ``t`` (0-based updates).

    ``value(ops, t, **args)`` gets a clock already clamped to ``[0, length]``.
    ``length(args)`` is its length in updates (omit for unbounded); ``base(args)`` the
    floor its amplitude rises from (what ``*`` by a scale modulates above);
    ``cycle(ops, t, **args)`` the 0-based index of the cycle containing ``t``, for
    cyclic shapes (what ``on=cycle`` scales see).
    """

    name: str
    params: tuple[Param, ...]
    value: Callable[..., Any]
    doc: str = ""
    formula: str = ""
    anchor: str = ""
    length: Callable[[Mapping[str, Any]], float] | None = None
    base: Callable[[Mapping[str, Any]], float | None] | None = None
    cycle: Callable[..., Any] | None = None
    period: Callable[[Mapping[str, Any]], float] | None = None  # cycle length, when constant
    validate: Callable[[Mapping[str, Any]], None] | None = None
    kind: str = field(default="shape", init=False)

    def signature(self) -> str:
        return f"{self.name}({', '.join(p.describe() for p in self.params)})"


@dataclass(frozen=True, eq=False)
class ScaleFn:
    """A dimensionless amplitude scale of a clock ``x`` chosen with ``on=``.

    ``value(ops, x, **args)``; the checker adds the standard ``on=iterations|cycle``
    parameter, so a scale declares only its own.
    """

    name: str
    params: tuple[Param, ...]
    value: Callable[..., Any]
    doc: str = ""
    formula: str = ""
    anchor: str = ""
    default_clock: str = "iterations"
    validate: Callable[[Mapping[str, Any]], None] | None = None
    kind: str = field(default="scale", init=False)

    def signature(self) -> str:
        ps = [p.describe() for p in self.params] + [f"on: iterations|cycle = {self.default_clock}"]
        return f"{self.name}({', '.join(ps)})"


Function = Shape | ScaleFn
