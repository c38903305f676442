"""The function contract: what a shape or scale plugin declares.

A plugin registers, under the entry-point group ``clrdsl.functions``, a :class:`Shape`
(a schedule primitive) or a :class:`ScaleFn` (a dimensionless amplitude scale). Each
declares its signature as :class:`Param` records and one implementation written
against an array namespace ``ops`` (see :mod:`clrdsl.contract.ops`) that every backend
supplies, so the same definition runs on NumPy, torch, keras.ops and jax.numpy.

Implementations must be module-level functions (``clrdsl compile`` copies their
source into generated modules) that use only ``ops`` and their arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence


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
    "clock": "`iterations`, `cycle` or `plateau(...)`",
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
    # (lo, hi): every value it takes, at any clock, for these arguments (the range
    # analysis of clrdsl.language.ranges; without it the shape is sampled)
    range: Callable[[Mapping[str, Any]], tuple[float, float]] | None = None
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
    range: Callable[[Mapping[str, Any]], tuple[float, float]] | None = None  # (lo, hi) for x >= 0
    kind: str = field(default="scale", init=False)

    def signature(self) -> str:
        ps = [p.describe() for p in self.params] + [f"on: iterations|cycle|plateau(...) = {self.default_clock}"]
        return f"{self.name}({', '.join(ps)})"


Function = Shape | ScaleFn


# -- the contract, checked where a plugin is used ----------------------------------------
#
# A plugin's hooks run inside the checker; whatever they do wrong (raise anything, return
# the wrong type, a NaN or negative length) becomes a ClrdslPluginError naming the entry
# point and its distribution, pointing at the call, instead of a bare exception.

_PROBE_UNBOUNDED = (0, 1, 2, 10, 1000, 10**6)


def _is_real(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    try:  # NumPy scalars and 0-d arrays
        import numbers

        return isinstance(v, numbers.Real)
    except Exception:  # pragma: no cover
        return False


def call_hook(fn: "Function", called: str, hook: str, span, *args: Any, **kwargs: Any) -> Any:
    """``fn.<hook>(*args, **kwargs)``; ParamError and clrdsl errors pass, anything else a
    plugin raises (SystemExit included) becomes a ClrdslPluginError at ``span``."""
    from clrdsl.contract.registry import FUNCTIONS, plugin_failure
    from clrdsl.diagnostics.errors import ClrdslError

    try:
        return getattr(fn, hook)(*args, **kwargs)
    except (ParamError, ClrdslError, KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a plugin bug must not escape as itself
        raise plugin_failure(called, FUNCTIONS, f"its `{hook}` raised", exc, span=span) from None


def checked_length(fn: Shape, called: str, args: Mapping[str, Any], span) -> float:
    """The shape's length for ``args``: a number >= 0 (``inf`` for unbounded)."""
    from clrdsl.contract.registry import FUNCTIONS, plugin_failure

    if fn.length is None:
        return math.inf
    n = call_hook(fn, called, "length", span, args)
    if not _is_real(n) or math.isnan(float(n)) or float(n) < 0:
        raise plugin_failure(called, FUNCTIONS, "its `length` returned an invalid length",
                             found=f"{n!r} (a {type(n).__name__})", span=span)
    return float(n) if not float(n).is_integer() or math.isinf(float(n)) else int(n)


def checked_base(fn: Shape, called: str, args: Mapping[str, Any], span) -> float | None:
    from clrdsl.contract.registry import FUNCTIONS, plugin_failure

    if fn.base is None:
        return None
    b = call_hook(fn, called, "base", span, args)
    if b is not None and (not _is_real(b) or not math.isfinite(float(b))):
        raise plugin_failure(called, FUNCTIONS, "its `base` returned neither a finite number nor None",
                             found=f"{b!r} (a {type(b).__name__})", span=span)
    return None if b is None else float(b)


def probe(fn: "Function", called: str, args: Mapping[str, Any], span, length: float = math.inf) -> None:
    """Call ``fn.value`` (and ``cycle``) with Python floats at a few clocks, so that a value
    that raises or is not a number fails at check time, at the call, naming the plugin."""
    from clrdsl.contract.ops import MathOps
    from clrdsl.contract.registry import FUNCTIONS, plugin_failure

    clocks: Sequence[int]
    if math.isinf(length):
        clocks = _PROBE_UNBOUNDED
    else:
        n = int(length)
        clocks = sorted({0, min(1, n), n // 2, n})
    for t in clocks:
        v = call_hook(fn, called, "value", span, MathOps, t, **args)
        if not _is_real(v):
            raise plugin_failure(called, FUNCTIONS, f"its `value` returned a {type(v).__name__}, not a number",
                                 found=f"{_short(v)} at clock {t}", span=span)
        if not math.isfinite(float(v)):
            from clrdsl.diagnostics.errors import ClrdslValueError

            raise ClrdslValueError(
                f"`{called}(...)` is not finite for these arguments", code="E310", span=span,
                expected="a finite value at every clock", found=f"{float(v)!r} at clock {t}",
                hint="check the arguments' magnitudes",
            )
        if isinstance(fn, Shape) and fn.cycle is not None:
            c = call_hook(fn, called, "cycle", span, MathOps, t, **args)
            if not _is_real(c):
                raise plugin_failure(called, FUNCTIONS, f"its `cycle` returned a {type(c).__name__}, "
                                     "not a number", found=f"{_short(c)} at clock {t}", span=span)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."
