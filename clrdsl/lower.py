"""Lowering: a semantic model + an ``ops`` namespace → a function of the step.

This is the one evaluator of the project. Every backend calls :func:`lower` with its
own ``ops`` (NumPy arrays, Python floats, ``keras.ops``, ``jax.numpy``) and wraps
the result in its native object; none re-implements the semantics.

The value at step ``t`` is computed from ``t`` alone (closed form). A finite node
clamps its clock at its length, so past the end the value holds; a phase of a
sequence sees ``t - start``, clamped to ``[0, length]``.
"""

from __future__ import annotations

import bisect
import math
import operator
from typing import Any, Callable

from . import model as M

_BIN = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def lower(root: M.Sched, ops: Any) -> Callable[[Any], Any]:
    """``t -> value`` for a schedule (``t`` a non-negative step, or an array of them)."""
    return _sched(root, ops, math.inf)


def lower_cycle(node: M.Sched, ops: Any) -> Callable[[Any], Any] | None:
    """``t -> 0-based cycle index`` of a cyclic schedule, else None."""
    if isinstance(node, M.Prim):
        if node.shape.cycle is None:
            return None
        fn, kw = node.shape.cycle, node.kwargs
        return lambda t: fn(ops, t, **kw)
    if isinstance(node, (M.Modulate, M.Window)):
        return lower_cycle(node.sched, ops)
    if isinstance(node, M.Pointwise) and node.cycle_source is not None:
        return lower_cycle(node.cycle_source, ops)
    return None


def _sched(node: M.Sched, ops: Any, bound: float) -> Callable[[Any], Any]:
    inner = _node(node, ops)
    length = node.length
    if length < bound:  # hold past the end: the clock stops at the length
        return lambda t: inner(ops.minimum(t, length))
    return inner


def _node(node: M.Sched, ops: Any) -> Callable[[Any], Any]:
    if isinstance(node, M.Const):
        v = float(node.value)
        return lambda t: v
    if isinstance(node, M.Prim):
        fn, kw = node.shape.value, node.kwargs
        return lambda t: fn(ops, t, **kw)
    if isinstance(node, M.Window):
        return _sched(node.sched, ops, node.length)
    if isinstance(node, M.Pointwise):
        f = _BIN[node.op]
        a, b = _sched(node.left, ops, node.length), _sched(node.right, ops, node.length)
        return lambda t: f(a(t), b(t))
    if isinstance(node, M.Modulate):
        return _modulate(node, ops)
    if isinstance(node, M.Seq):
        return _seq(node, ops)
    raise TypeError(f"not a schedule node: {type(node).__name__}")


def _seq(node: M.Seq, ops: Any) -> Callable[[Any], Any]:
    phases = [_sched(p, ops, math.inf) for p in node.phases]
    starts = list(node.starts)
    if getattr(ops, "scalar", False):
        # One step at a time: pick the phase, evaluate only it.
        def pick(t):
            i = bisect.bisect_right(starts, t) - 1
            return phases[max(i, 0)](t - starts[max(i, 0)])

        return pick

    inner = [_node(p, ops) for p in node.phases]
    clocks = [_phase_clock(start, p.length, ops) for start, p in zip(starts, node.phases)]

    def where_chain(t):
        # Boundaries are half-open: at t == start the new phase applies, its clock at 0.
        out = inner[-1](clocks[-1](t))
        for i in range(len(inner) - 2, -1, -1):
            out = ops.where(t < starts[i + 1], inner[i](clocks[i](t)), out)
        return out

    return where_chain


def _phase_clock(start: float, length: float, ops: Any) -> Callable[[Any], Any]:
    """A phase's own clock for a whole array of steps: ``t - start`` held in ``[0, length]``
    (steps outside the phase are computed, then discarded by the where-chain)."""
    if start == 0:
        return (lambda t: t) if math.isinf(length) else (lambda t: ops.minimum(t, length))
    if math.isinf(length):
        return lambda t: ops.maximum(t - start, 0)
    return lambda t: ops.clip(t - start, 0, length)


def _modulate(node: M.Modulate, ops: Any) -> Callable[[Any], Any]:
    s = _node(node.sched, ops)
    base = float(node.base)
    scale = lower_scale(node.scale, ops)
    cycle = lower_cycle(node.sched, ops) if "cycle" in M.scale_clocks(node.scale) else None
    if cycle is None:
        return lambda t: base + (s(t) - base) * scale(t, None)
    return lambda t: base + (s(t) - base) * scale(t, cycle(t))


def lower_scale(node: M.Scale, ops: Any) -> Callable[[Any, Any], Any]:
    """``(t, cycle) -> factor`` for a scale."""
    if isinstance(node, M.ScalePrim):
        fn, kw = node.fn.value, dict(node.args)
        if node.clock == "cycle":
            return lambda t, c: fn(ops, c, **kw)
        return lambda t, c: fn(ops, t, **kw)
    if isinstance(node, M.ScaleExpr):
        body = _xexpr(node.body, ops)
        if node.clock == "cycle":
            return lambda t, c: body(ops.float(c))
        return lambda t, c: body(ops.float(t))
    if isinstance(node, M.ScaleConst):
        v = float(node.value)
        return lambda t, c: v
    if isinstance(node, M.ScaleMul):
        a, b = lower_scale(node.left, ops), lower_scale(node.right, ops)
        return lambda t, c: a(t, c) * b(t, c)
    if isinstance(node, M.ScalePow):
        a, p = lower_scale(node.scale, ops), float(node.power)
        return lambda t, c: ops.power(a(t, c), p)
    raise TypeError(f"not a scale node: {type(node).__name__}")


_XFN = {"min": "minimum", "max": "maximum"}


def _xexpr(node: M.XExpr, ops: Any) -> Callable[[Any], Any]:
    if isinstance(node, M.XVar):
        return lambda x: x
    if isinstance(node, M.XNum):
        v = float(node.value)
        return lambda x: v
    if isinstance(node, M.XNeg):
        f = _xexpr(node.operand, ops)
        return lambda x: -f(x)
    if isinstance(node, M.XBin):
        a, b = _xexpr(node.left, ops), _xexpr(node.right, ops)
        if node.op == "**":
            return lambda x: ops.power(a(x), b(x))
        f = _BIN[node.op]
        return lambda x: f(a(x), b(x))
    if isinstance(node, M.XCall):
        fn = getattr(ops, _XFN.get(node.fn, node.fn))
        args = [_xexpr(a, ops) for a in node.args]
        if len(args) == 1:
            (a,) = args
            return lambda x: fn(a(x))
        return lambda x: fn(*[g(x) for g in args])
    raise TypeError(f"not a clock-expression node: {type(node).__name__}")
