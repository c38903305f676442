"""The array namespace contract (``ops``) and its pure-Python scalar implementation.

Every backend supplies an object with these members; shape and scale plugins are
written against it, so one definition runs everywhere:

    pi                          the constant
    float(x)                    x as the backend's float (float64 for NumPy/Python)
    mod(t, p), floordiv(t, p)   floor modulo / division — exact when both are integers,
                                which keeps a position inside a cycle exact at any step
    where(c, a, b)              elementwise choice (both branches are evaluated)
    piecewise(t, starts, phases[, k])
                                a sequence: phase ``i`` (a function of its own clock)
                                on the steps ``[starts[i], starts[i+1])`` with the
                                clock ``t - starts[i]``; ``starts[0] == 0``. Each backend
                                picks how: the one current phase (Python floats), a
                                gather per phase (NumPy), a ``where`` chain (in-graph).
                                A schedule with plateau clocks passes ``k``, the tuple of
                                their counts (each a number, or an array shaped like
                                ``t``), on to each phase: ``phase(clock, k)``
    fraction(t, over)           ``t / over`` as a float, for a clock ``0 <= t <= over``
                                (``over > 0``): the progress of a ramp, never above 1.
                                Where division is the IEEE quotient (Python floats,
                                NumPy, JAX's exact divisions) that is the plain division;
                                a backend whose compiler may rewrite it (Keras under XLA)
                                guards it with a minimum
    minimum, maximum, clip(x, lo, hi)
    exp, log, sin, cos, tan, tanh, sqrt, abs, floor, ceil, power(a, b)
    bucket(t, edges)            how many of ``edges`` (a sorted list of Python ints) are <= t:
                                the 0-based index of the interval t falls in, decided by an
                                exact integer comparison (where restarts and stairs begin)

:class:`MathOps` evaluates one step with Python floats (float64, the C library's
``math``): the torch backend, the Keras callback and ``clrdsl explain`` step with it.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right


def _power(a, b):
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def _bucket(t, edges):
    return bisect_right(edges, t)


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _where(c, a, b):
    return a if c else b


def _log(x):
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _sqrt(x):
    return math.sqrt(x) if x >= 0 else math.nan


def _floor(x):
    return float(math.floor(x))


def _ceil(x):
    return float(math.ceil(x))


def _fraction(t, over):
    return float(t) / over  # the IEEE quotient of float(t) <= float(over): at most 1


def _minimum(a, b):
    # min(a, b) exactly (NaN and signed zeros included), without the builtin's varargs cost
    return b if b < a else a


def _maximum(a, b):
    return b if b > a else a


def _clip(x, lo, hi):
    x = lo if lo > x else x  # min(max(x, lo), hi)
    return hi if hi < x else x


def _pick_phase(t, starts, phases, k=None):
    """One step: only the phase holding ``t`` runs (O(log n) in the number of phases)."""
    i = bisect_right(starts, t) - 1
    if i < 0:
        i = 0
    if k is None:
        return phases[i](t - starts[i])
    return phases[i](t - starts[i], k)


def where_chain(ops, t, starts, phases, *k):
    """``piecewise`` for in-graph backends: every phase on its clock held at 0 before its
    start, then ``ops.where`` keeps the current one (traceable; no branching on values).
    A boundary belongs to the new phase."""
    last = len(phases) - 1

    def clock(i):
        return t if starts[i] == 0 else ops.maximum(t - starts[i], 0)

    out = phases[last](clock(last), *k)
    for i in range(last - 1, -1, -1):
        out = ops.where(t < starts[i + 1], phases[i](clock(i), *k), out)
    return out


class MathOps:
    """``ops`` over Python numbers (one step at a time), in float64.

    Used as the class itself (never an instance), so its functions are plain class
    attributes rather than staticmethods: CPython caches the lookup of a plain function
    or builtin on a class (``ops.float``, ``ops.mod``, ...), not of a staticmethod, and
    the torch scheduler runs this per optimizer update."""

    name = "python"
    pi = math.pi
    float = float
    mod = operator.mod
    floordiv = operator.floordiv
    where = _where
    fraction = _fraction
    minimum = _minimum
    maximum = _maximum
    clip = _clip
    bucket = _bucket
    exp = _exp
    log = _log
    sin = math.sin
    cos = math.cos
    tan = math.tan
    tanh = math.tanh
    sqrt = _sqrt
    abs = abs
    floor = _floor
    ceil = _ceil
    power = _power
    piecewise = _pick_phase


REQUIRED_OPS = ("pi", "float", "mod", "floordiv", "where", "piecewise", "bucket", "fraction", "minimum", "maximum",
                "clip", "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "floor", "ceil", "power")


def missing_ops(ops) -> list[str]:
    """Members of the contract that an ``ops`` object lacks (for backend authors' tests)."""
    return [n for n in REQUIRED_OPS if not hasattr(ops, n)]
