"""The array namespace contract (``ops``) and its pure-Python scalar implementation.

Every backend supplies an object with these members; shape and scale plugins are
written against it, so one definition runs everywhere:

    pi                          the constant
    float(x)                    x as the backend's float (float64 for NumPy/Python)
    mod(t, p), floordiv(t, p)   floor modulo / division — exact when both are integers,
                                which keeps a position inside a cycle exact at any step
    where(c, a, b)              elementwise choice (both branches are evaluated)
    minimum, maximum, clip(x, lo, hi)
    exp, log, sin, cos, tan, tanh, sqrt, abs, floor, ceil, power(a, b)
    bucket(t, edges)            how many of ``edges`` (a sorted list of Python ints) are <= t:
                                the 0-based index of the interval t falls in, decided by an
                                exact integer comparison (where restarts and stairs begin)

:class:`MathOps` evaluates one step with Python floats: it is what the torch backend
steps with, what ``clrdsl explain`` reads, and the reference the others are held to.
"""

from __future__ import annotations

import math
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


class MathOps:
    """``ops`` over Python numbers (one step at a time), in float64."""

    name = "python"
    scalar = True  # one step at a time: sequences evaluate only the current phase
    pi = math.pi
    float = staticmethod(float)
    mod = staticmethod(lambda t, p: t % p)
    floordiv = staticmethod(lambda t, p: t // p)
    where = staticmethod(lambda c, a, b: a if c else b)
    minimum = staticmethod(min)
    maximum = staticmethod(max)
    clip = staticmethod(lambda x, lo, hi: min(max(x, lo), hi))
    bucket = staticmethod(_bucket)
    exp = staticmethod(_exp)
    log = staticmethod(lambda x: math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan))
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    tan = staticmethod(math.tan)
    tanh = staticmethod(math.tanh)
    sqrt = staticmethod(lambda x: math.sqrt(x) if x >= 0 else math.nan)
    abs = staticmethod(abs)
    floor = staticmethod(lambda x: float(math.floor(x)))
    ceil = staticmethod(lambda x: float(math.ceil(x)))
    power = staticmethod(_power)


REQUIRED_OPS = ("pi", "float", "mod", "floordiv", "where", "minimum", "maximum", "clip", "exp", "log",
                "sin", "cos", "tan", "tanh", "sqrt", "abs", "floor", "ceil", "power")
REQUIRED_OPS += ("bucket",)


def missing_ops(ops) -> list[str]:
    """Members of the contract that an ``ops`` object lacks (for backend authors' tests)."""
    return [n for n in REQUIRED_OPS if not hasattr(ops, n)]
