"""The ``ops`` namespace on ``keras.ops``, with the step kept exact until it is small.

A float32 cannot hold every integer above 2^24, so a schedule that converts the step
to float first (as Keras's own schedules do) loses the position inside a cycle once
training runs long enough. Here a clock travels through the evaluator as a
:class:`Step`: an exact fixed-point number, an integer ``v`` plus a fraction ``f`` in
``[0, 1)``. The fraction appears only where a phase starts or ends between two steps
(``onecycle``'s ``pct * total - 1``, a ``30%`` of an odd total). Clock arithmetic —
adding or subtracting a constant, comparing, ``minimum``/``maximum``, ``mod`` and
``floordiv`` by a whole period — stays exact; ``ops.float`` converts to
``keras.config.floatx()`` only when a shape asks for a float, which the standard
shapes do after ``mod`` or a clamp has made the clock small.

The integer part is either

- an integer tensor of the Keras backend (a traced or variable step): int64 on
  TensorFlow and torch, int32 on JAX, where Keras keeps integers 32-bit even with x64
  enabled (the optimizer's own counter is int32 on JAX and torch anyway); or
- an int64 NumPy value (a step given as a Python or NumPy integer), evaluated exactly
  on the host before anything is converted, at any size.

Keras's promotion rules narrow int64 to int32 in ``minimum``, ``maximum`` and
``floor_divide`` on every backend but TensorFlow, so integer tensors only meet ops that
keep their dtype (``add``, ``subtract``, ``multiply``, ``mod``, ``where``, comparisons);
:func:`_floordiv_exact` divides with those. Python operators on a Step go through
``keras.ops`` too, so mixed arithmetic promotes the NumPy way on every backend (a raw
TensorFlow int64 tensor would refuse ``t - 2.5``). What is not clock arithmetic (a
float operand, a period that is not a whole number of steps) is done in float.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops as K

from clrdsl.contract.ops import where_chain

_NUM = (bool, int, float, np.number)  # Python and NumPy scalars
_HOST = (np.ndarray, np.generic)  # host values: NumPy arrays and scalars


def int_dtype() -> str:
    """The integer dtype of a traced step on the current Keras backend."""
    return "int32" if keras.backend.backend() == "jax" else "int64"


def floatx() -> str:
    return keras.config.floatx()


class Step:
    """A clock value ``v + f``: ``v`` an integer (tensor or NumPy), ``f`` in ``[0, 1)``
    (a Python float, or an array/tensor of them). Exact until :meth:`KerasOps.float`.

    ``lo`` and ``hi`` are bounds known when the graph is built (a step is >= 0, a
    clamped clock <= its length, a position inside a cycle < its period). They let a
    clamp or a comparison that cannot change anything cost no operation at all.
    """

    __slots__ = ("v", "f", "lo", "hi", "on_host")

    def __init__(self, v, f=0.0, lo=-math.inf, hi=math.inf, on_host: bool | None = None) -> None:
        self.v, self.f, self.lo, self.hi = v, f, lo, hi
        # a host step is evaluated with NumPy; a constant next to a traced step is a
        # NumPy value too, but belongs with the tensors
        self.on_host = isinstance(v, _HOST) if on_host is None else on_host

    @property
    def whole(self) -> bool:
        """Known to be an integer (no fractional part)."""
        return isinstance(self.f, float) and self.f == 0.0

    def __add__(self, o):
        return _add(self, o)

    def __radd__(self, o):
        return _add(o, self)

    def __sub__(self, o):
        return _add(self, _neg(o))

    def __rsub__(self, o):
        return _add(o, _neg(self))

    def __mul__(self, o):
        return _mul(self, o)

    def __rmul__(self, o):
        return _mul(o, self)

    def __truediv__(self, o):
        return _float(self) / _as_float(o)

    def __rtruediv__(self, o):
        return _as_float(o) / _float(self)

    def __floordiv__(self, o):
        return _floordiv(self, o)

    def __mod__(self, o):
        return _mod(self, o)

    def __neg__(self):
        return _neg(self)

    def __abs__(self):
        return _abs(self)

    def __lt__(self, o):
        return _less(self, o)

    def __le__(self, o):
        return _less_equal(self, o)

    def __gt__(self, o):
        return _less(o, self)

    def __ge__(self, o):
        return _less_equal(o, self)

    def __eq__(self, o):
        return _equal(self, o)

    def __ne__(self, o):
        out = _equal(self, o)
        return ~out if isinstance(out, (np.bool_, np.ndarray)) else K.logical_not(out)

    __hash__ = None

    def __repr__(self) -> str:
        return f"Step({self.v!r}, {self.f!r}, lo={self.lo}, hi={self.hi})"


# -- building blocks ------------------------------------------------------------------


def _fits(c: int) -> bool:
    info = np.iinfo(int_dtype())
    return info.min <= c <= info.max


def _iconst(c: int):
    """An integer constant in the step's dtype. (With a bare Python int Keras would
    pick the result dtype, and narrow int64 on torch; a NumPy constant becomes one
    constant node, where ``convert_to_tensor`` would add a cast.)"""
    return np.asarray(c, dtype=int_dtype())


def _izero(host: bool):
    return np.int64(0) if host else _iconst(0)


def _device(v):
    return K.convert_to_tensor(v, dtype=int_dtype()) if isinstance(v, _HOST) else v


def _narrows() -> bool:
    """Do Keras's minimum/maximum/floor_divide narrow this backend's int64 to int32?"""
    return int_dtype() == "int64" and keras.backend.backend() != "tensorflow"


def _as_step(x, like: Step | None = None) -> Step | None:
    """``x`` as a Step when it is one or a finite constant the integer dtype can hold."""
    if isinstance(x, Step):
        return x
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, _NUM) or not math.isfinite(x):
        return None
    i = math.floor(x)
    if like is not None and not like.on_host and not _fits(i):
        return None
    f = float(x) - i if not isinstance(x, (int, np.integer)) else 0.0
    host = like is None or like.on_host
    return Step(np.int64(i) if host else _iconst(i), f, x, x, on_host=host)


def _pair(a, b):
    """Both operands as Steps of one kind (host or tensor), or None."""
    like = a if isinstance(a, Step) else b if isinstance(b, Step) else None
    if like is None:
        return None
    sa, sb = _as_step(a, like), _as_step(b, like)
    if sa is None or sb is None:
        return None
    if sa.on_host != sb.on_host:
        sa = Step(_device(sa.v), sa.f, sa.lo, sa.hi)
        sb = Step(_device(sb.v), sb.f, sb.lo, sb.hi)
    return sa, sb


def _ints(x: Step):
    """Integer-valued ops on a Step's integer part: NumPy on the host, else keras.ops."""
    return _HostInt if x.on_host else _TensorInt


class _HostInt:
    add, sub, mul, mod = np.add, np.subtract, np.multiply, np.mod
    less, less_equal, equal, where = np.less, np.less_equal, np.equal, np.where

    @staticmethod
    def to_int(b):
        return np.asarray(b, dtype=np.int64)

    @staticmethod
    def to_float(b):
        return np.asarray(b, dtype=np.float64)


class _TensorInt:
    add, sub, mul, mod = K.add, K.subtract, K.multiply, K.mod
    less, less_equal, equal, where = K.less, K.less_equal, K.equal, K.where

    @staticmethod
    def to_int(b):
        return K.cast(b, int_dtype())

    @staticmethod
    def to_float(b):
        return K.cast(b, floatx())


def _frac_op(fn, fa, fb, host):
    """Combine two fractional parts (Python floats stay Python floats)."""
    if isinstance(fa, float) and isinstance(fb, float):
        return fn(fa, fb)
    if host:
        return fn(np.asarray(fa, np.float64), np.asarray(fb, np.float64))
    return fn(fa if not isinstance(fa, float) else K.convert_to_tensor(fa, floatx()),
              fb if not isinstance(fb, float) else K.convert_to_tensor(fb, floatx()))


def _carry(v, f, I, lo, hi):
    """Renormalise ``v + f`` with ``f`` in ``[0, 2)`` (after an addition) to ``[0, 1)``."""
    host = I is _HostInt
    if isinstance(f, float):
        c = int(f >= 1.0)
        v = I.add(v, np.int64(c) if host else _iconst(c)) if c else v
        return Step(v, f - c, lo, hi, on_host=host)
    over = f >= 1.0
    return Step(I.add(v, I.to_int(over)), f - I.to_float(over), lo, hi, on_host=host)


def _static(b: bool):
    return np.bool_(b)


# -- clock arithmetic -----------------------------------------------------------------


def _add(a, b):
    if isinstance(b, _NUM) and b == 0 and isinstance(a, Step):
        return a
    p = _pair(a, b)
    if p is None:
        return K.add(_as_float(a), _as_float(b))
    sa, sb = p
    I = _ints(sa)
    f = _frac_op(lambda x, y: x + y, sa.f, sb.f, sa.on_host)
    return _carry(I.add(sa.v, sb.v), f, I, sa.lo + sb.lo, sa.hi + sb.hi)


def _neg(x):
    if isinstance(x, Step):
        I = _ints(x)
        zero = _izero(x.on_host)
        if x.whole:
            return Step(I.sub(zero, x.v), 0.0, -x.hi, -x.lo)
        # -(v + f) = (-v - 1) + (1 - f), and 1 - f is in (0, 1] -> renormalise
        v = I.sub(I.sub(zero, x.v), np.int64(1) if x.on_host else _iconst(1))
        return _carry(v, _frac_op(lambda _, y: 1.0 - y, 0.0, x.f, x.on_host), I, -x.hi, -x.lo)
    if isinstance(x, _NUM):
        return -x
    return K.negative(x)


def _mul(a, b):
    p = _pair(a, b)
    if p is not None and p[0].whole and p[1].whole:
        return Step(_ints(p[0]).mul(p[0].v, p[1].v))
    return K.multiply(_as_float(a), _as_float(b))


def _less(a, b):
    p = _pair(a, b)
    if p is None:
        return K.less(_as_float(a), _as_float(b))
    sa, sb = p
    if sa.hi < sb.lo:
        return _static(True)
    if sa.lo >= sb.hi:
        return _static(False)
    if sa.whole and sb.whole:
        return _ints(sa).less(sa.v, sb.v)
    d = _add(sa, _neg(sb))  # v + f < 0 with f in [0, 1)  <=>  v < 0
    return _ints(d).less(d.v, _izero(d.on_host))


def _less_equal(a, b):
    p = _pair(a, b)
    if p is None:
        return K.less_equal(_as_float(a), _as_float(b))
    sa, sb = p
    if sa.hi <= sb.lo:
        return _static(True)
    if sa.lo > sb.hi:
        return _static(False)
    I = _ints(sa)
    if sa.whole and sb.whole:
        return I.less_equal(sa.v, sb.v)
    d = _add(sa, _neg(sb))
    zero = _izero(d.on_host)
    if isinstance(d.f, float):  # v + f <= 0  <=>  v <= 0 when f == 0, else v < 0
        return I.less_equal(d.v, zero) if d.f == 0.0 else I.less(d.v, zero)
    if d.on_host:
        return np.less(d.v, 0) | (np.equal(d.v, 0) & (d.f == 0.0))
    return K.logical_or(K.less(d.v, zero), K.logical_and(K.equal(d.v, zero), K.equal(d.f, 0.0)))


def _equal(a, b):
    p = _pair(a, b)
    if p is None:
        return K.equal(_as_float(a), _as_float(b))
    sa, sb = p
    if sa.hi < sb.lo or sb.hi < sa.lo:
        return _static(False)
    if sa.whole and sb.whole:
        return _ints(sa).equal(sa.v, sb.v)
    d = _add(sa, _neg(sb))  # v + f == 0  <=>  v == 0 and f == 0
    zero = _izero(d.on_host)
    if isinstance(d.f, float):
        return _ints(d).equal(d.v, zero) if d.f == 0.0 else _static(False)
    if d.on_host:
        return np.equal(d.v, 0) & (d.f == 0.0)
    return K.logical_and(K.equal(d.v, zero), K.equal(d.f, 0.0))


def _where(c, a, b):
    if isinstance(c, (bool, np.bool_)):  # decided when the graph was built
        return a if c else b
    if isinstance(c, Step):
        c = _float(c) != 0
    p = _pair(a, b)
    if p is None:
        return K.where(c, _as_float(a), _as_float(b))
    sa, sb = p
    host = sa.on_host and isinstance(c, np.ndarray)
    I = _HostInt if host else _TensorInt
    v = I.where(c, sa.v, sb.v)
    lo, hi = min(p[0].lo, p[1].lo), max(p[0].hi, p[1].hi)
    if isinstance(sa.f, float) and isinstance(sb.f, float) and sa.f == sb.f:
        return Step(v, sa.f, lo, hi)
    return Step(v, _frac_op(lambda x, y: I.where(c, x, y), sa.f, sb.f, host), lo, hi)


def _extreme(smaller: bool):
    """``minimum`` (smaller=True) or ``maximum``: exact on clock values."""

    def fn(a, b):
        p = _pair(a, b)
        if p is not None:
            sa, sb = p
            if sa.hi <= sb.lo or sb.hi <= sa.lo:  # known order: no operation
                low, high = (sa, sb) if sa.hi <= sb.lo else (sb, sa)
                return low if smaller else high
            lo = min(sa.lo, sb.lo) if smaller else max(sa.lo, sb.lo)
            hi = min(sa.hi, sb.hi) if smaller else max(sa.hi, sb.hi)
            if sa.whole and sb.whole and not sa.on_host and not _narrows():
                return Step((K.minimum if smaller else K.maximum)(sa.v, sb.v), 0.0, lo, hi)
            lt = _less(sa, sb)
            out = _where(lt, sa, sb) if smaller else _where(lt, sb, sa)
            if isinstance(out, Step):
                out = Step(out.v, out.f, max(out.lo, lo), min(out.hi, hi), out.on_host)
            return out
        step, c = (a, b) if isinstance(a, Step) else (b, a)
        if isinstance(step, Step) and isinstance(c, _NUM) and smaller == (c > 0):
            # a bound beyond the traced dtype (JAX's int32): every step is on the
            # near side of it, so the answer is the step itself
            return step
        return (K.minimum if smaller else K.maximum)(_as_float(a), _as_float(b))

    return fn


_minimum, _maximum = _extreme(True), _extreme(False)


def _floor(x: float) -> float:
    return math.floor(x) if math.isfinite(x) else x


def _whole(p) -> int | None:
    """``p`` as a positive whole period, else None."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, _NUM):
        return None
    if not math.isfinite(p) or p <= 0 or float(p) != math.floor(p):
        return None
    return int(p)


def _floordiv_exact(v, c: int):
    """``v // c`` for an int tensor and a positive constant, with dtype-keeping ops.

    ``v - v mod c`` is an exact multiple of ``c``; a float quotient of it is within a
    few units of the answer (float32 rounding), and one correction computed from the
    exact integer residual lands on it. Exact while ``|v|`` is below about 2^48.
    """
    m = K.subtract(v, K.mod(v, _iconst(c)))
    q = K.cast(K.round(K.cast(m, "float32") / float(c)), int_dtype())
    residual = K.subtract(m, K.multiply(q, _iconst(c)))
    return K.add(q, K.cast(K.round(K.cast(residual, "float32") / float(c)), int_dtype()))


def _mod(t, p):
    c = _whole(p)
    if isinstance(t, Step) and c is not None:
        if 0 <= t.lo and t.hi < c:
            return t  # already inside [0, c)
        if t.on_host:
            return Step(np.mod(t.v, c), t.f, 0, c)
        if not _fits(c):  # beyond the traced dtype: t mod c = t for steps >= 0
            return t
        return Step(K.mod(t.v, _iconst(c)), t.f, 0, c)  # (v mod c) + f < c: still in [0, c)
    return K.mod(_as_float(t), _as_float(p))


def _floordiv(t, p):
    c = _whole(p)
    if isinstance(t, Step) and c is not None:
        lo, hi = _floor(t.lo / c), _floor(t.hi / c)
        if t.on_host:
            return Step(np.floor_divide(t.v, c), 0.0, lo, hi)
        if not _fits(c):
            return Step(K.zeros_like(t.v), 0.0, 0, 0)
        if _narrows():
            return Step(_floordiv_exact(t.v, c), 0.0, lo, hi)  # Keras would narrow int64
        return Step(K.floor_divide(t.v, _iconst(c)), 0.0, lo, hi)
    return K.floor_divide(_as_float(t), _as_float(p))


def _abs(x):
    if isinstance(x, Step):
        return _where(_less(x, 0), _neg(x), x)
    return K.abs(_as_float(x))


def _bucket(t, edges):
    """How many of the sorted whole ``edges`` are <= t, as an exact integer Step. Edges are
    integers, so ``e <= v + f`` (``f`` in [0, 1)) is ``e <= v``; edges beyond the traced
    dtype are never reached. Compared against all edges at once (any rank, known or not)."""
    if not isinstance(t, Step):
        cmp = K.less_equal(K.convert_to_tensor(np.asarray(edges, dtype=floatx())), K.expand_dims(_as_float(t), -1))
        return K.sum(K.cast(cmp, floatx()), axis=-1)
    if t.on_host:
        n = np.searchsorted(np.asarray(edges, dtype=np.int64), t.v, side="right").astype(np.int64)
        return Step(n, 0.0, 0, len(edges), on_host=True)
    es = [e for e in edges if _fits(e)]
    if not es or t.hi < es[0]:
        return Step(K.zeros_like(t.v), 0.0, 0, 0)
    cmp = K.less_equal(K.convert_to_tensor(np.asarray(es, dtype=int_dtype())), K.expand_dims(t.v, -1))
    return Step(K.cast(K.sum(K.cast(cmp, int_dtype()), axis=-1), int_dtype()), 0.0, 0, len(es))


def _clip(x, lo, hi):
    return _minimum(_maximum(x, lo), hi)


def _fraction(t, over):
    # XLA (TensorFlow's jit_compile, the JAX backend) may compute t/over as t*(1/over) and
    # fuse `1 - p` into an FMA: an ulp above 1 at t = over, where poly's power would give
    # NaN. The minimum keeps the progress of a ramp within [0, 1].
    return _minimum(_float(t) / over, 1.0)


# -- floats ---------------------------------------------------------------------------


def _float(x):
    """``x`` as a ``floatx`` tensor; a Step is converted from its exact parts."""
    if isinstance(x, Step):
        if x.on_host:
            whole = np.asarray(x.v, dtype=np.float64) + np.asarray(x.f, dtype=np.float64)
            return K.convert_to_tensor(np.asarray(whole, dtype=floatx()))
        out = K.cast(x.v, floatx())
        return out if x.whole else out + _as_float(x.f)
    if isinstance(x, _NUM):
        return K.convert_to_tensor(float(x), dtype=floatx())
    return _as_float(x)


def _as_float(x):
    """A ``floatx`` tensor for a Step or tensor; Python numbers stay (weakly typed)."""
    if isinstance(x, Step):
        return _float(x)
    if isinstance(x, _NUM):
        return float(x)
    if isinstance(x, _HOST):
        return K.convert_to_tensor(np.asarray(x, dtype=floatx()))
    if keras.backend.standardize_dtype(x.dtype) == floatx():
        return x
    return K.cast(x, floatx())


def _unary(k_fn):
    return staticmethod(lambda x: k_fn(_float(x)))


def _power(a, b):
    """``a ** b``. A constant base not exact in ``floatx`` is raised as ``exp(b·log a)``.

    A float32 base carries a relative rounding error up to 2^-24, which the exponent
    multiplies: ``0.99994 ** 10000`` through a float32 base is off by 6e-4 relative.
    Taking ``log a`` in float64 on the host leaves an error proportional to
    ``|b·log a|`` instead, below ~1e-5 relative wherever the result is a normal
    float32. A base that is exact (2, 0.5, ...) keeps the native ``power``, exact on
    integer exponents.
    """
    if isinstance(a, _NUM) and isinstance(b, _NUM):
        try:
            return math.pow(a, b)
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    if isinstance(a, _NUM):
        a = float(a)
        if a > 0 and float(np.asarray(a, dtype=floatx())) != a:
            return K.exp(_as_float(b) * math.log(a))
        return K.power(K.convert_to_tensor(a, dtype=floatx()), _as_float(b))
    return K.power(_as_float(a), _as_float(b))


def _piecewise(t, starts, phases, *k):
    """A sequence in-graph: a ``where`` chain over the phases (traceable)."""
    return where_chain(KerasOps, t, starts, phases, *k)


class KerasOps:
    """``ops`` for clrdsl's generated code on ``keras.ops`` (TensorFlow, JAX, torch)."""

    name = "keras"
    pi = math.pi
    float = staticmethod(_float)
    mod = staticmethod(_mod)
    floordiv = staticmethod(_floordiv)
    where = staticmethod(_where)
    fraction = staticmethod(_fraction)
    minimum = staticmethod(_minimum)
    maximum = staticmethod(_maximum)
    clip = staticmethod(_clip)
    exp = _unary(K.exp)
    log = _unary(K.log)
    sin = _unary(K.sin)
    cos = _unary(K.cos)
    tan = _unary(K.tan)
    tanh = _unary(K.tanh)
    sqrt = _unary(K.sqrt)
    abs = staticmethod(_abs)
    floor = _unary(K.floor)
    ceil = _unary(K.ceil)
    power = staticmethod(_power)
    piecewise = staticmethod(_piecewise)
    bucket = staticmethod(_bucket)


# -- entry and exit -------------------------------------------------------------------


def to_step(step) -> Step:
    """The step a schedule is called with, as a non-negative integer :class:`Step`.

    Python and NumPy integers (and integral floats) stay on the host as int64, where
    they are evaluated exactly at any size; tensors and variables become the backend's
    integer dtype (a float tensor is floored first: a step is a count).
    """
    if isinstance(step, Step):
        return step
    if isinstance(step, keras.Variable):
        step = step.value
    if not K.is_tensor(step):
        arr = np.asarray(step if isinstance(step, (np.ndarray, list, tuple)) or np.isscalar(step)
                         else list(step))
        if arr.dtype.kind == "f":
            if not (np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr))):
                raise TypeError(f"steps must be integers (optimizer updates), got {step!r}")
        elif arr.dtype.kind not in "iub":
            raise TypeError(f"steps must be integers (optimizer updates), got dtype {arr.dtype}")
        return Step(np.asarray(np.maximum(arr.astype(np.int64), 0)), 0.0, 0)
    dtype = keras.backend.standardize_dtype(step.dtype)
    if "float" in dtype:
        step = K.floor(step)
    if dtype != int_dtype():
        step = K.cast(step, int_dtype())
    if dtype.startswith("uint") or dtype == "bool":
        return Step(step, 0.0, 0)
    return _maximum(Step(step), 0)


def finish(out, t: Step):
    """The evaluator's result as a ``floatx`` tensor with the step's shape."""
    out = _float(out)
    if tuple(out.shape) != tuple(np.shape(t.v) if t.on_host else t.v.shape):
        out = out + K.zeros_like(_float(t))
    return out


# Importing this module can be what first imports Keras; clrdsl's import hook then leaves the
# registration of Schedule to this package (see clrdsl/contract/_import_hooks.py): it happens here.
from . import schedule as _registers_schedule  # noqa: E402,F401
