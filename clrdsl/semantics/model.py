"""The semantic model: what a checked expression means, and all a backend sees.

Every name is resolved, every unit converted to updates, every prelude definition
expanded, every parameter validated. Nodes are frozen; spans are kept out of equality
and repr and serve only later diagnostics (lints). Each span knows its text
(``Span.source``): the user's, or the prelude's for a node built inside a prelude
definition (whose expansion's own node spans the user's call).

Schedules (functions of a 0-based clock ``t`` → float):

- :class:`Const` — a number.
- :class:`Prim` — a shape from a plugin, with its resolved arguments.
- :class:`Seq` — ``a >> b >> …``: phase ``i`` runs on ``[start_i, start_i + length_i)``
  with its clock restarted at 0; the boundary belongs to the new phase.
- :class:`Pointwise` — ``+ - * /`` of schedules and numbers on a shared clock.
- :class:`Modulate` — ``schedule * scale``: ``base + (value - base) · scale``.

Scales (of the schedule's own clock, ``on=iterations``, of its 0-based cycle
index, ``on=cycle``, or of a metric-driven :class:`Plateau` clock, the number of
reductions so far): :class:`ScalePrim`, :class:`ScaleExpr` (an inline formula of
``x``), :class:`ScaleMul`, :class:`ScalePow`, :class:`ScaleConst`.

Past its length a finite schedule holds its value at ``t = length``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Union

from clrdsl.contract.functions import ScaleFn, Shape
from clrdsl.diagnostics.errors import Span

INF = math.inf


def _nospan():
    return field(default=None, compare=False, repr=False)


# -- schedules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    value: float
    length: float = INF
    span: Span | None = _nospan()

    @property
    def base(self) -> float:
        return 0.0

    cyclic = False


@dataclass(frozen=True)
class Prim:
    shape: Shape
    args: tuple[tuple[str, Any], ...]
    length: float = INF
    base: float | None = None
    span: Span | None = _nospan()

    @property
    def name(self) -> str:
        return self.shape.name

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    @property
    def cyclic(self) -> bool:
        return self.shape.cycle is not None

    @property
    def period(self) -> float | None:
        return self.shape.period(self.kwargs) if self.shape.period else None


@dataclass(frozen=True)
class Seq:
    phases: tuple["Sched", ...]
    starts: tuple[float, ...]
    length: float = INF
    span: Span | None = _nospan()

    @property
    def base(self) -> float | None:
        bases = [p.base for p in self.phases]
        return None if any(b is None for b in bases) else min(bases)

    cyclic = False


@dataclass(frozen=True)
class Pointwise:
    op: str  # + - * /
    left: "Sched"
    right: "Sched"
    length: float = INF
    base: float | None = None
    span: Span | None = _nospan()

    @property
    def cyclic(self) -> bool:
        return self.cycle_source is not None

    @property
    def cycle_source(self) -> "Sched | None":
        """The operand whose cycles this schedule has (the other being a constant)."""
        l_c, r_c = isinstance(self.left, Const), isinstance(self.right, Const)
        if r_c and self.left.cyclic:
            return self.left
        if l_c and self.right.cyclic:
            return self.right
        return None


@dataclass(frozen=True)
class Modulate:
    sched: "Sched"
    scale: "Scale"
    span: Span | None = _nospan()

    @property
    def length(self) -> float:
        return self.sched.length

    @property
    def base(self) -> float | None:
        return self.sched.base

    @property
    def cyclic(self) -> bool:
        return self.sched.cyclic


@dataclass(frozen=True)
class Window:
    """``take(s, over=n)``: ``s`` cut to length ``n`` (then it holds ``s(n)``)."""

    sched: "Sched"
    length: float
    span: Span | None = _nospan()

    @property
    def base(self) -> float | None:
        return self.sched.base

    @property
    def cyclic(self) -> bool:
        return self.sched.cyclic


Sched = Union[Const, Prim, Seq, Pointwise, Modulate, Window]

# -- scales -------------------------------------------------------------------------


@dataclass(frozen=True)
class Plateau:
    """``on=plateau(...)``: a clock advanced by reported metrics, not by updates.

    Its value is the number of reductions so far (0 at the start): a report that does not
    improve on the best metric by ``threshold`` is a bad evaluation, and more than
    ``patience`` bad evaluations in a row make a reduction, after which ``cooldown``
    reports are ignored (torch ``ReduceLROnPlateau`` semantics; :mod:`clrdsl.evaluation.plateau`
    holds the rule). ``uid`` tells two clocks apart: each ``plateau(...)`` written (or
    expanded from a definition) is its own clock with its own state; a ``let`` used twice
    is one clock.
    """

    patience: int
    mode: str  # min | max
    threshold: float
    threshold_mode: str  # rel | abs
    cooldown: int
    eps: float
    uid: int = 0
    span: Span | None = _nospan()

    def __str__(self) -> str:
        return "plateau"

    @property
    def params(self) -> dict[str, Any]:
        return {"patience": self.patience, "mode": self.mode, "threshold": self.threshold,
                "threshold_mode": self.threshold_mode, "cooldown": self.cooldown, "eps": self.eps}


Clock = Union[str, Plateau]  # "iterations" | "cycle" | a Plateau


@dataclass(frozen=True)
class ScalePrim:
    fn: ScaleFn
    args: tuple[tuple[str, Any], ...]
    clock: Clock  # iterations | cycle | a Plateau
    span: Span | None = _nospan()

    @property
    def name(self) -> str:
        return self.fn.name


@dataclass(frozen=True)
class XVar:
    """The clock variable ``x`` of an inline scale."""


@dataclass(frozen=True)
class XNum:
    value: float


@dataclass(frozen=True)
class XBin:
    op: str  # + - * / **
    left: "XExpr"
    right: "XExpr"


@dataclass(frozen=True)
class XNeg:
    operand: "XExpr"


@dataclass(frozen=True)
class XCall:
    fn: str  # a math function name: sin, cos, exp, log, sqrt, abs, floor, tanh, min, max
    args: tuple["XExpr", ...]


XExpr = Union[XVar, XNum, XBin, XNeg, XCall]

MATH_FUNCTIONS = {
    "sin": 1, "cos": 1, "tan": 1, "tanh": 1, "exp": 1, "log": 1, "sqrt": 1,
    "abs": 1, "floor": 1, "ceil": 1, "min": 2, "max": 2,
}


@dataclass(frozen=True)
class ScaleExpr:
    body: XExpr
    clock: Clock
    span: Span | None = _nospan()


@dataclass(frozen=True)
class ScaleConst:
    value: float
    span: Span | None = _nospan()


@dataclass(frozen=True)
class ScaleMul:
    left: "Scale"
    right: "Scale"
    span: Span | None = _nospan()


@dataclass(frozen=True)
class ScalePow:
    scale: "Scale"
    power: float
    span: Span | None = _nospan()


Scale = Union[ScalePrim, ScaleExpr, ScaleConst, ScaleMul, ScalePow]


def children(node) -> tuple:
    """The direct sub-nodes of a model node: schedules, scales and clock expressions.

    The one description of the model's shape that every walk uses (the checker's
    budget, the tools); an unknown node is an error, never a leaf.
    """
    if isinstance(node, (Const, Prim, ScaleConst, XVar, XNum)):
        return ()
    if isinstance(node, Seq):
        return node.phases
    if isinstance(node, Pointwise):
        return (node.left, node.right)
    if isinstance(node, Modulate):
        return (node.sched, node.scale)
    if isinstance(node, Window):
        return (node.sched,)
    if isinstance(node, ScalePrim):
        return ()
    if isinstance(node, ScaleExpr):
        return (node.body,)
    if isinstance(node, ScaleMul):
        return (node.left, node.right)
    if isinstance(node, ScalePow):
        return (node.scale,)
    if isinstance(node, XBin):
        return (node.left, node.right)
    if isinstance(node, XNeg):
        return (node.operand,)
    if isinstance(node, XCall):
        return node.args
    raise TypeError(f"not a model node: {type(node).__name__}")


def walk(root):
    """Every node under ``root`` (itself first), each distinct node object once,
    iteratively (no recursion, whatever the depth)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed(children(node)))


def timed_walk(root: "Sched", prune=None):
    """Every schedule node under ``root`` with the global steps its clock covers:
    ``(node, offset, end)``, where the node's clock is 0 at global step ``offset`` and it
    runs until ``end`` (``math.inf`` for the last phase of an unbounded schedule). A
    phase of a sequence gets its own start; every other child shares its parent's clock.
    Scales are not visited. Below a node for which ``prune(node)`` is true nothing is
    visited. Iterative: no recursion, whatever the depth.
    """
    stack = [(root, 0, INF)]
    while stack:
        node, offset, end = stack.pop()
        yield node, offset, end
        if prune is not None and prune(node):
            continue
        if isinstance(node, Seq):
            n = len(node.phases)
            for i in range(n - 1, -1, -1):
                start = offset + node.starts[i]
                stop = offset + node.starts[i + 1] if i + 1 < n else offset + node.length
                stack.append((node.phases[i], start, min(end, stop)))
        else:
            stack.extend((c, offset, end) for c in reversed(children(node))
                         if not isinstance(c, (ScalePrim, ScaleExpr, ScaleConst, ScaleMul, ScalePow)))


def clock_name(clock: Clock) -> str:
    """``iterations``, ``cycle`` or ``plateau``."""
    return clock if isinstance(clock, str) else "plateau"


def scale_clocks(s: Scale) -> set[str]:
    """The names of the clocks a scale reads (``iterations``, ``cycle``, ``plateau``)."""
    if isinstance(s, (ScalePrim, ScaleExpr)):
        return {clock_name(s.clock)}
    if isinstance(s, ScaleMul):
        return scale_clocks(s.left) | scale_clocks(s.right)
    if isinstance(s, ScalePow):
        return scale_clocks(s.scale)
    return set()


def scale_plateaus(s: Scale) -> list[Plateau]:
    """The plateau clocks a scale reads, in order of appearance."""
    out: list[Plateau] = []
    stack = [s]
    while stack:
        node = stack.pop()
        if isinstance(node, (ScalePrim, ScaleExpr)):
            if isinstance(node.clock, Plateau) and node.clock not in out:
                out.append(node.clock)
        elif isinstance(node, ScaleMul):
            stack.extend((node.right, node.left))
        elif isinstance(node, ScalePow):
            stack.append(node.scale)
    return out


@dataclass(frozen=True)
class PlateauClock:
    """A plateau clock of a schedule and the global steps it listens on: the windows
    ``[start, end)`` of the phases that use it (a report at another step leaves it alone)."""

    clock: Plateau
    windows: tuple[tuple[float, float], ...]

    def listens(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.windows)


def plateau_clocks(root: Sched) -> tuple[PlateauClock, ...]:
    """Every plateau clock of ``root``, in a fixed order (the order of the counts that
    ``value(t, k)`` takes), with the windows where it listens. Empty for a schedule of
    time alone."""
    found: dict[Plateau, list[tuple[float, float]]] = {}
    for node, offset, end in timed_walk(root):
        if isinstance(node, Modulate):
            for clock in scale_plateaus(node.scale):
                windows = found.setdefault(clock, [])
                if (offset, end) not in windows:
                    windows.append((offset, end))
    return tuple(PlateauClock(c, tuple(sorted(w))) for c, w in found.items())


# -- the checked program ------------------------------------------------------------


@dataclass(frozen=True)
class CheckedSchedule:
    """A checked expression: its canonical text, the bindings it was checked with,
    and its meaning. This is what backends compile and what checkpoints store."""

    expr: str
    bindings: tuple[tuple[str, Any], ...]
    root: Sched

    @property
    def length(self) -> float:
        return self.root.length

    @property
    def bindings_dict(self) -> dict[str, Any]:
        return dict(self.bindings)

    @property
    def fingerprint(self) -> str:
        """A stable hash of the canonical expression and its bindings."""
        blob = json.dumps({"expr": self.expr, "bindings": self.bindings_dict}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return {
            "expr": self.expr,
            "bindings": self.bindings_dict,
            "length": _num(self.root.length),
            "model": to_json(self.root),
        }


def _num(v):
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return v


def _clock_json(clock: Clock) -> Any:
    if isinstance(clock, str):
        return clock
    return {"clock": "plateau", **{k: _num(v) for k, v in clock.params.items()}}


def to_json(node) -> Any:
    """A JSON-ready description of a model node (what ``--format json`` prints)."""
    if isinstance(node, Const):
        return {"node": "const", "value": node.value, "length": _num(node.length)}
    if isinstance(node, Prim):
        return {"node": "shape", "name": node.name, "args": {k: _num(v) for k, v in node.args},
                "length": _num(node.length), "base": node.base}
    if isinstance(node, Seq):
        return {"node": "seq", "starts": [_num(s) for s in node.starts],
                "phases": [to_json(p) for p in node.phases], "length": _num(node.length)}
    if isinstance(node, Pointwise):
        return {"node": "pointwise", "op": node.op, "left": to_json(node.left),
                "right": to_json(node.right), "length": _num(node.length)}
    if isinstance(node, Modulate):
        return {"node": "modulate", "schedule": to_json(node.sched), "scale": to_json(node.scale),
                "base": node.base}
    if isinstance(node, Window):
        return {"node": "window", "schedule": to_json(node.sched), "length": _num(node.length)}
    if isinstance(node, ScalePrim):
        return {"node": "scale", "name": node.name, "args": dict(node.args), "on": _clock_json(node.clock)}
    if isinstance(node, ScaleExpr):
        return {"node": "scale_expr", "body": to_json(node.body), "on": _clock_json(node.clock)}
    if isinstance(node, ScaleConst):
        return {"node": "scale_const", "value": node.value}
    if isinstance(node, ScaleMul):
        return {"node": "scale_mul", "left": to_json(node.left), "right": to_json(node.right)}
    if isinstance(node, ScalePow):
        return {"node": "scale_pow", "scale": to_json(node.scale), "power": node.power}
    if isinstance(node, XVar):
        return "x"
    if isinstance(node, XNum):
        return node.value
    if isinstance(node, XBin):
        return {"op": node.op, "left": to_json(node.left), "right": to_json(node.right)}
    if isinstance(node, XNeg):
        return {"op": "neg", "operand": to_json(node.operand)}
    if isinstance(node, XCall):
        return {"call": node.fn, "args": [to_json(a) for a in node.args]}
    raise TypeError(f"not a model node: {type(node).__name__}")
