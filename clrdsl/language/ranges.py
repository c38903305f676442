"""Range analysis: an accepted schedule is finite at every step.

An interval analysis over the semantic model (:mod:`clrdsl.semantics.model`): every schedule
node gets the interval of the values it can take at any step ``0 <= t < 2**63``, every
scale the interval of its factor, every inline formula of ``x`` the interval of its
value with ``x`` ranging over its clock. Arithmetic follows IEEE 754 on the extended
reals, so an intermediate overflow that a later step undoes (``1 / 2 ** floor(x)``: the
power reaches ``inf``, its reciprocal 0) is fine; what is refused, at check time with a
span, is a schedule whose value can be ``inf`` or NaN, and any division by something
that reaches 0 (Python floats raise there, where NumPy would give ``inf``):

- a division by something that reaches 0 (``1 / linear(0, 1, over=10)``, ``scale(1 / x)``);
- ``log``, ``sqrt`` or a power outside its domain (``log(x)`` at ``x = 0``, a negative
  base to a fractional power, ``0 ** -1``);
- a sum, product or power that can overflow (``constant(1e308) * 10``, ``scale(x ** x)``);
- an ``inf - inf``, ``0 * inf`` or ``inf / inf`` on the way.

Where values come from:

- a shape or scale that declares ``range(args) -> (lo, hi)`` (every standard-library
  one does, computed from its parameters) gives that interval;
- one that does not is sampled: its value at its clock's ends and at ~60 clocks spread
  over its length (or geometrically up to ``2**63``). Sampling finds formulas that blow
  up at large steps, but it is not a proof; a plugin should declare its range.

The analysis is conservative: operands are treated as independent, so
``1 / (cosine(1, 0, over=10) + linear(0, 1, over=10))`` (whose sum is always 1) is
refused because each term alone reaches 0; add a constant or rewrite it. Numbers are
evaluated without outward rounding: a bound a rounding error away from 0 or from the
largest float is taken as computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from clrdsl.diagnostics.errors import ClrdslValueError, Label, Source, Span
from clrdsl.semantics import model as M

INF = math.inf
T_MAX = float(2**63 - 1)  # the largest step any backend counts to (int64)
_TAN_MAX = 1.633123935319537e16  # |tan| of the double nearest to pi/2: floats never reach a pole


@dataclass(frozen=True)
class Why:
    """Where a non-finite value first appears, and how. ``inside`` is the place in
    another text (the prelude) where it appears when ``span`` is the user's text that
    expanded to it."""

    span: Span | None
    message: str
    found: str
    inside: Span | None = None


@dataclass(frozen=True)
class Iv:
    """An interval ``[lo, hi]`` of the extended reals; ``nan`` when NaN is possible;
    ``why`` the first place a non-finite value (or NaN) appeared."""

    lo: float
    hi: float
    nan: bool = False
    why: Why | None = None

    @property
    def finite(self) -> bool:
        return not self.nan and math.isfinite(self.lo) and math.isfinite(self.hi)

    def has(self, v: float) -> bool:
        return self.lo <= v <= self.hi

    def text(self) -> str:
        if self.nan:
            return "NaN"
        return f"[{_g(self.lo)}, {_g(self.hi)}]"


def _g(v: float) -> str:
    return f"{v:.6g}"


def point(v: float) -> Iv:
    return Iv(float(v), float(v), nan=math.isnan(v))


def _hull(vals, nan: bool = False) -> tuple[float, float, bool]:
    vals = list(vals)
    nan = nan or any(math.isnan(v) for v in vals)
    vals = [v for v in vals if not math.isnan(v)] or [0.0]
    return min(vals), max(vals), nan


def _mk(lo: float, hi: float, nan: bool, args: tuple[Iv, ...], why: Why | None) -> Iv:
    """The result of an operation on ``args``: it keeps the first inner cause, or gets
    ``why`` when the non-finite value appears here."""
    out_bad = nan or not (math.isfinite(lo) and math.isfinite(hi))
    if not out_bad:
        return Iv(lo, hi)
    inner = next((a.why for a in args if a.why is not None and not a.finite), None)
    return Iv(lo, hi, nan, inner or why)


def _mul1(a: float, b: float) -> float:
    if (a == 0 and math.isinf(b)) or (b == 0 and math.isinf(a)):
        return 0.0  # the NaN of 0 * inf is tracked by the caller
    return a * b


# -- interval arithmetic -------------------------------------------------------------


def add(a: Iv, b: Iv, why: Why | None) -> Iv:
    nan = a.nan or b.nan or (a.lo == -INF and b.hi == INF) or (a.hi == INF and b.lo == -INF)
    lo = a.lo + b.lo if not (a.lo == -INF and b.lo == INF) else -INF
    hi = a.hi + b.hi if not (a.hi == INF and b.hi == -INF) else INF
    lo, hi = (-INF if math.isnan(lo) else lo), (INF if math.isnan(hi) else hi)
    return _mk(lo, hi, nan, (a, b), why)


def neg(a: Iv) -> Iv:
    return Iv(-a.hi, -a.lo, a.nan, a.why)


def sub(a: Iv, b: Iv, why: Why | None) -> Iv:
    return add(a, neg(b), why)


def mul(a: Iv, b: Iv, why: Why | None) -> Iv:
    nan = a.nan or b.nan or (a.has(0) and (math.isinf(b.lo) or math.isinf(b.hi))) \
        or (b.has(0) and (math.isinf(a.lo) or math.isinf(a.hi)))
    lo, hi, _ = _hull(_mul1(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi))
    return _mk(lo, hi, nan, (a, b), why)


def recip(b: Iv) -> tuple[Iv, bool]:
    """``1 / b`` and whether b reaches 0."""
    zero = b.has(0)
    if not zero:
        vals = [1.0 / v if not math.isinf(v) else 0.0 for v in (b.lo, b.hi)]
        return Iv(min(vals), max(vals), b.nan), False
    if b.lo == 0 and b.hi == 0:
        return Iv(-INF, INF, b.nan), True
    if b.lo == 0:  # [0, hi]: 1/b in [1/hi, inf]
        return Iv(1.0 / b.hi if not math.isinf(b.hi) else 0.0, INF, b.nan), True
    if b.hi == 0:
        return Iv(-INF, 1.0 / b.lo if not math.isinf(b.lo) else 0.0, b.nan), True
    return Iv(-INF, INF, b.nan), True


def div(a: Iv, b: Iv, why: Why | None) -> Iv:
    # A divisor that reaches 0 is refused even when a later step would undo the infinity
    # (2 / (2 / s)): Python floats raise ZeroDivisionError where NumPy gives inf, and the
    # torch backend, explain and generated torch modules compute with Python floats.
    r, zero = recip(b)
    nan = a.nan or b.nan or zero or \
        ((math.isinf(a.lo) or math.isinf(a.hi)) and (math.isinf(b.lo) or math.isinf(b.hi)))
    lo, hi, _ = _hull(_mul1(x, y) for x in (a.lo, a.hi) for y in (r.lo, r.hi))
    return _mk(lo, hi, nan, (a, b), why)


def _pow1(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return INF if a > 0 or float(b).is_integer() and int(b) % 2 == 0 else -INF
    except (ValueError, ZeroDivisionError):
        if a == 0:
            return INF  # 0 ** negative: NumPy and torch give inf
        return math.nan


def power(a: Iv, b: Iv, why: Why | None) -> Iv:
    integral = b.lo == b.hi and math.isfinite(b.lo) and float(b.lo).is_integer()
    nan = a.nan or b.nan
    if a.lo < 0 and not integral:
        nan = True  # a negative base to a fractional power
    corners = [_pow1(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    if a.has(0):
        corners += [_pow1(0.0, y) for y in (b.lo, b.hi)]
        if b.lo < 0:
            corners.append(INF)  # 0 ** negative: inf on NumPy, an error with Python floats
            nan = True
    if a.has(1):
        corners.append(1.0)
    if integral and a.lo < 0 < a.hi:
        corners.append(0.0)
    lo, hi, n2 = _hull(corners)
    return _mk(lo, hi, nan or (n2 and not (a.lo < 0 and integral)), (a, b), why)


def monotone(f: Callable[[float], float], a: Iv, why: Why | None, increasing: bool = True) -> Iv:
    lo, hi = f(a.lo), f(a.hi)
    if not increasing:
        lo, hi = hi, lo
    lo, hi, nan = _hull([lo, hi], a.nan)
    return _mk(lo, hi, nan, (a,), why)


def _periodic(fn: Callable[[float], float], a: Iv, why: Why | None) -> Iv:
    """sin or cos over ``a``: NaN at infinity; exact extremes over narrow intervals."""
    if math.isinf(a.lo) or math.isinf(a.hi):
        return _mk(-1.0, 1.0, True, (a,), why)
    if a.hi - a.lo >= 2 * math.pi:
        return _mk(-1.0, 1.0, a.nan, (a,), why)
    vals = [fn(a.lo), fn(a.hi)]
    k = math.ceil(a.lo / (math.pi / 2))
    while k * (math.pi / 2) <= a.hi:
        vals.append(fn(k * math.pi / 2))
        k += 1
    lo, hi, nan = _hull(vals, a.nan)
    return _mk(lo, hi, nan, (a,), why)


def _tan(a: Iv, why: Why | None) -> Iv:
    if math.isinf(a.lo) or math.isinf(a.hi):
        return _mk(-_TAN_MAX, _TAN_MAX, True, (a,), why)
    k_lo = math.floor((a.lo - math.pi / 2) / math.pi)
    k_hi = math.floor((a.hi - math.pi / 2) / math.pi)
    if k_lo != k_hi:  # a pole inside: floats get close, never onto it
        return _mk(-_TAN_MAX, _TAN_MAX, a.nan, (a,), why)
    return monotone(math.tan, a, why)


def _safe(f: Callable[[float], float]) -> Callable[[float], float]:
    def g(v: float) -> float:
        if math.isnan(v):
            return math.nan
        try:
            return f(v)
        except OverflowError:
            return INF
        except ValueError:
            return math.nan
    return g


def _log(v: float) -> float:
    if v == 0:
        return -INF
    if v < 0:
        return math.nan
    return math.log(v) if not math.isinf(v) else INF


def _sqrt(v: float) -> float:
    return math.nan if v < 0 else (math.sqrt(v) if not math.isinf(v) else INF)


def _floor(v: float) -> float:
    return v if math.isinf(v) else float(math.floor(v))


def _ceil(v: float) -> float:
    return v if math.isinf(v) else float(math.ceil(v))


# -- the analysis ------------------------------------------------------------------------


class RangeAnalysis:
    """The intervals of a checked schedule's nodes; :meth:`sched` raises nothing (the
    caller decides what to refuse)."""

    def __init__(self, source: Source | None = None) -> None:
        self.source = source
        self.root: M.Sched | None = None

    # text of a node, for messages
    def quote(self, span: Span | None, fallback: str = "this expression") -> str:
        source = None if span is None else (span.source or self.source)
        if span is not None and source is not None:
            text = source.text[span.start:span.end]
            if 0 < len(text) <= 80 and "\n" not in text:
                return f"`{text}`"
        return fallback

    def sched(self, node: M.Sched, t_max: float = T_MAX) -> Iv:
        """The values of ``node`` over its clock in ``[0, t_max]``."""
        iv = self._sched(node, t_max)
        why, span = iv.why, node.span
        if (why is not None and why.inside is None and why.span is not None and span is not None
                and self.source is not None and not why.span.same_source(self.source)
                and span.source is not None and span.same_source(self.source)):
            # the cause lies inside a definition of another text (the prelude): show it
            # at the innermost node of the user's text that expanded to it
            from dataclasses import replace

            iv = replace(iv, why=Why(span, why.message, why.found, inside=why.span))
        return iv

    def _sched(self, node: M.Sched, t_max: float) -> Iv:
        if self.root is None:
            self.root = node
        if node.length < t_max:
            t_max = float(node.length)
        if isinstance(node, M.Const):
            return point(node.value)
        if isinstance(node, M.Prim):
            return self.prim(node, t_max)
        if isinstance(node, M.Seq):
            ivs = [self.sched(p, t_max) for p in node.phases]
            bad = next((i for i in ivs if not i.finite), None)
            lo, hi, nan = _hull([i.lo for i in ivs] + [i.hi for i in ivs], any(i.nan for i in ivs))
            return Iv(lo, hi, nan, bad.why if bad else None)
        if isinstance(node, M.Window):
            return self.sched(node.sched, min(t_max, float(node.length)))
        if isinstance(node, M.Pointwise):
            a, b = self.sched(node.left, t_max), self.sched(node.right, t_max)
            return self.pointwise(node, a, b, t_max)
        if isinstance(node, M.Modulate):
            return self.modulate(node, t_max)
        raise TypeError(f"not a schedule node: {type(node).__name__}")

    def pointwise(self, node: M.Pointwise, a: Iv, b: Iv, t_max: float = T_MAX) -> Iv:
        what = self.quote(node.span)
        if node.op == "/":
            found = f"the divisor ranges over {b.text()}"
            if b.has(0):
                t = _zero_clock(node.right, t_max)
                if t is not None:
                    found += f"; it is 0 at t = {t}" + (" (the step)" if node is self.root else
                                                          " (t: the clock of this expression)")
            why = Why(node.span, f"{what} divides by {self.quote(node.right.span, 'a schedule')}, "
                      "which reaches 0" if b.has(0) else f"{what} can overflow", found)
            return div(a, b, why)
        if node.op in ("max", "min"):
            pick = max if node.op == "max" else min
            return Iv(pick(a.lo, b.lo), pick(a.hi, b.hi), a.nan or b.nan, a.why or b.why)
        why = Why(node.span, f"{what} can overflow", f"{a.text()} {node.op} {b.text()}")
        return {"+": add, "-": sub, "*": mul}[node.op](a, b, why)

    def modulate(self, node: M.Modulate, t_max: float) -> Iv:
        v = self.sched(node.sched, t_max)
        base = point(float(node.base if node.base is not None else 0.0))
        k = self.scale(node.scale, t_max, node.sched)
        why = Why(node.span, f"{self.quote(node.span)}: the scale can make the value overflow",
                  f"the scale ranges over {k.text()}")
        return add(base, mul(sub(v, base, why), k, why), why)

    # -- shapes and scales -----------------------------------------------------------------
    def prim(self, node: M.Prim, t_max: float) -> Iv:
        kw = node.kwargs
        hook = getattr(node.shape, "range", None)
        if hook is not None:
            try:
                lo, hi = hook(kw)
                lo, hi = float(lo), float(hi)
            except Exception:  # noqa: BLE001 - a plugin's broken hook: sample instead
                hook = None
        if hook is None:
            lo, hi, nan = _sample(lambda t: node.shape.value(_ops(), t, **kw), t_max, integer=True)
        else:
            nan = False
        why = Why(node.span, f"{self.quote(node.span, f'`{node.name}(...)`')} is not finite at every step",
                  f"its values range over [{_g(lo)}, {_g(hi)}]" + (" and NaN" if nan else ""))
        return _mk(lo, hi, nan, (), why)

    def scale(self, node: M.Scale, t_max: float, sched: M.Sched) -> Iv:
        if isinstance(node, M.ScaleConst):
            return point(node.value)
        if isinstance(node, M.ScaleMul):
            a, b = self.scale(node.left, t_max, sched), self.scale(node.right, t_max, sched)
            return mul(a, b, Why(node.span, f"{self.quote(node.span)} can overflow", f"{a.text()} * {b.text()}"))
        if isinstance(node, M.ScalePow):
            a = self.scale(node.scale, t_max, sched)
            return power(a, point(node.power), Why(node.span, f"{self.quote(node.span)} leaves the domain of "
                                                   "`**` or overflows", f"{a.text()} ** {_g(node.power)}"))
        # a plateau clock counts reductions: any whole number, however few the steps
        x_max = t_max if node.clock == "iterations" else T_MAX if isinstance(node.clock, M.Plateau) \
            else _cycles(sched, t_max)
        if isinstance(node, M.ScalePrim):
            hook = getattr(node.fn, "range", None)
            kw = dict(node.args)
            try:
                lo, hi = (float(v) for v in hook(kw)) if hook is not None else (None, None)
            except Exception:  # noqa: BLE001
                lo = hi = None
            nan = False
            if lo is None or hi is None:
                lo, hi, nan = _sample(lambda x: node.fn.value(_ops(), x, **kw), x_max, integer=True)
            why = Why(node.span, f"{self.quote(node.span, f'`{node.name}(...)`')} is not finite for every "
                      f"`{node.clock}`", f"its values range over [{_g(lo)}, {_g(hi)}]")
            return _mk(lo, hi, nan, (), why)
        if isinstance(node, M.ScaleExpr):
            return XRange(self, node).eval(node.body, Iv(0.0, x_max))
        raise TypeError(f"not a scale node: {type(node).__name__}")


class XRange:
    """Intervals of an inline formula of ``x``; causes point at the ``scale(...)`` call and
    quote the sub-formula."""

    def __init__(self, ra: RangeAnalysis, node: M.ScaleExpr) -> None:
        self.span = node.span
        self.where = ra.quote(node.span, "`scale(...)`")

    def why(self, message: str, found: str) -> Why:
        return Why(self.span, f"in {self.where}: {message}", found)

    def first_x(self, node: M.XExpr, x: Iv, bad: Callable[[Iv], bool]) -> str:
        """``; at x = N`` for the first of a few clocks where ``bad(node at x)``, or ``""``."""
        top = x.hi if math.isfinite(x.hi) else T_MAX
        for c in sorted({float(i) for i in range(0, int(min(top, 16)) + 1)} | {float(int(top))}):
            v = self.eval(node, point(c))
            if bad(v):
                return f"; at x = {int(c)}"
        return ""

    def eval(self, node: M.XExpr, x: Iv) -> Iv:
        if isinstance(node, M.XVar):
            return x
        if isinstance(node, M.XNum):
            return point(node.value)
        if isinstance(node, M.XNeg):
            return neg(self.eval(node.operand, x))
        if isinstance(node, M.XBin):
            a, b = self.eval(node.left, x), self.eval(node.right, x)
            text = xtext(node)
            if node.op == "/":
                msg = (f"`{text}` divides by `{xtext(node.right)}`, which reaches 0" if b.has(0)
                       else f"`{text}` overflows")
                at = self.first_x(node.right, x, lambda v: v.lo == v.hi == 0) if b.has(0) else ""
                return div(a, b, self.why(msg, f"the divisor ranges over {b.text()}{at}"))
            if node.op == "**":
                return power(a, b, self.why(f"`{text}` leaves the domain of `**` or overflows",
                                            f"base in {a.text()}, exponent in {b.text()}"))
            f = {"+": add, "-": sub, "*": mul}[node.op]
            return f(a, b, self.why(f"`{text}` overflows", f"{a.text()} {node.op} {b.text()}"))
        if isinstance(node, M.XCall):
            args = [self.eval(a, x) for a in node.args]
            text = xtext(node)
            name = node.fn
            if name in ("min", "max"):
                a, b = args
                pick = min if name == "min" else max
                return _mk(pick(a.lo, b.lo), pick(a.hi, b.hi), a.nan or b.nan, (a, b), None)
            (a,) = args
            if name == "log":
                msg = f"`{text}` takes the log of a value that reaches " + ("0" if a.lo >= 0 else "below 0")
                at = self.first_x(node.args[0], x, lambda v: v.lo <= 0) if a.lo <= 0 else ""
                return monotone(_safe(_log), a, self.why(msg, f"the argument ranges over {a.text()}{at}"))
            if name == "sqrt":
                at = self.first_x(node.args[0], x, lambda v: v.lo < 0) if a.lo < 0 else ""
                return monotone(_safe(_sqrt), a, self.why(f"`{text}` takes the square root of a negative value",
                                                          f"the argument ranges over {a.text()}{at}"))
            if name == "exp":
                return monotone(_safe(math.exp), a, self.why(f"`{text}` overflows",
                                                             f"the argument ranges over {a.text()}"))
            why = self.why(f"`{text}` has no finite value", f"the argument ranges over {a.text()}")
            if name == "sin":
                return _periodic(math.sin, a, why)
            if name == "cos":
                return _periodic(math.cos, a, why)
            if name == "tan":
                return _tan(a, why)
            if name == "tanh":
                return monotone(math.tanh, a, why)
            if name == "abs":
                if a.lo >= 0:
                    return a
                if a.hi <= 0:
                    return neg(a)
                return Iv(0.0, max(-a.lo, a.hi), a.nan, a.why)
            if name in ("floor", "ceil"):
                out = monotone(_floor if name == "floor" else _ceil, a, why)
                if not (math.isfinite(a.lo) and math.isfinite(a.hi)):  # Python's floor(inf) raises
                    out = _mk(out.lo, out.hi, True, (a,), why)
                return out
        raise TypeError(f"not a clock-expression node: {node!r}")


def xtext(node: M.XExpr) -> str:
    """A formula of ``x`` as text (fully parenthesized where it matters)."""
    if isinstance(node, M.XVar):
        return "x"
    if isinstance(node, M.XNum):
        v = node.value
        return repr(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(node, M.XNeg):
        return f"-{_atom(node.operand)}"
    if isinstance(node, M.XBin):
        return f"{_atom(node.left)} {node.op} {_atom(node.right)}"
    if isinstance(node, M.XCall):
        return f"{node.fn}({', '.join(xtext(a) for a in node.args)})"
    return "?"


def _atom(node: M.XExpr) -> str:
    t = xtext(node)
    return f"({t})" if isinstance(node, (M.XBin, M.XNeg)) else t


def _ops():
    from clrdsl.contract.ops import MathOps

    return MathOps


def _sample(f: Callable[[Any], Any], t_max: float, integer: bool) -> tuple[float, float, bool]:
    """min, max and NaN-seen of ``f`` at clocks spread over ``[0, t_max]``: every clock up
    to 64, then 48 evenly, then geometric steps (x2) to the end."""
    top = int(min(t_max, T_MAX))
    clocks = set(range(0, min(top, 64) + 1))
    if top > 64:
        clocks.update(int(top * i / 48) for i in range(49))
        c = 64
        while c < top:
            clocks.add(c)
            c *= 2
        clocks.add(top)
    vals = []
    for c in sorted(clocks):
        try:
            v = float(f(c))
        except (OverflowError, ZeroDivisionError):
            v = INF
        except (ValueError, TypeError):
            v = math.nan
        vals.append(v)
    return _hull(vals)


def _zero_clock(node: M.Sched, t_max: float) -> int | None:
    """A clock (the first of a few tried) at which a divisor that is a constant or a shape
    is exactly 0, for the message; None when none of them is."""
    if isinstance(node, M.Const):
        return 0 if node.value == 0 else None
    if not isinstance(node, M.Prim):
        return None
    top = int(min(t_max, float(node.length), T_MAX))
    for t in sorted(set(range(0, min(top, 256) + 1)) | {top // 2, top}):
        try:
            if float(node.shape.value(_ops(), t, **node.kwargs)) == 0:
                return t
        except Exception:  # noqa: BLE001 - only a message depends on it
            return None
    return None


def _cycle_fn(node: M.Sched):
    """The cycle index of a cyclic schedule as a function of its clock (Python floats), else None."""
    if isinstance(node, M.Prim):
        if node.shape.cycle is None:
            return None
        fn, kw = node.shape.cycle, node.kwargs
        return lambda t: fn(_ops(), t, **kw)
    if isinstance(node, (M.Modulate, M.Window)):
        return _cycle_fn(node.sched)
    if isinstance(node, M.Pointwise) and node.cycle_source is not None:
        return _cycle_fn(node.cycle_source)
    return None


def _cycles(sched: M.Sched, t_max: float) -> float:
    """An upper bound of the 0-based cycle index of ``sched`` over ``[0, t_max]`` (cycle
    indices never decrease with the clock)."""
    top = min(t_max, float(sched.length), T_MAX)
    try:
        fn = _cycle_fn(sched)
        c = float(fn(int(top))) if fn is not None else top
    except Exception:  # noqa: BLE001
        c = top
    return c if math.isfinite(c) and c >= 0 else top


def check_ranges(root: M.Sched, source: Source | None) -> Iv:
    """The interval of ``root``; raises a ClrdslValueError (E310) with a span when a value
    can be infinite or NaN."""
    iv = RangeAnalysis(source).sched(root)
    if iv.finite:
        return iv
    why = iv.why or Why(getattr(root, "span", None), "the schedule is not finite at every step", iv.text())
    labels = []
    if why.inside is not None:
        from clrdsl.language.check import definition_label  # the checker imports this module lazily

        labels = [Label(why.inside, definition_label(why.inside))]
    raise ClrdslValueError(
        f"{why.message}: the schedule would not be finite at every step",
        code="E310",
        span=why.span,
        labels=labels,
        expected="a schedule whose value is finite at every step (every step 0 <= t < 2**63)",
        found=why.found,
        hint="keep divisors away from 0 (add a constant), logs and roots in their domain, and "
        "products within the float range",
        notes=["the check is an interval analysis: see `clrdsl.language.ranges`"],
        source=source,
    )

