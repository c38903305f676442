"""Hypothesis strategies for clrdsl, shared by the test suites.

Two families:

* **Syntax trees** (:func:`syntax_trees`, :func:`programs`, :func:`number_texts`):
  arbitrary trees the grammar can produce — numbers with units, names, calls with
  positional and keyword arguments, every operator, unary minus, ``if``, ``let`` and
  ``def`` programs. They need not mean anything; they exercise the parser and the
  printer (``parse(unparse(t)) == t``).
* **Valid schedules** (:func:`schedule_exprs`, :func:`finite_schedule_exprs`,
  :func:`scale_exprs`): expression *texts* built from the standard library that
  ``clrdsl.check`` accepts — cyclical policies, 1cycle, warm restarts, warmup and
  decay, combined with ``>>``, ``*`` by scales (named and inline ``scale(...)``),
  arithmetic with numbers and ``take``. Suites that compare backends or emitted code
  draw from these.

With ``units=True`` the schedules may use ``ep`` and ``%`` units and must be checked
with the bindings in :data:`BINDINGS`::

    @given(schedule_exprs(units=True))
    def test_x(expr):
        clrdsl.compile(expr, **BINDINGS)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hypothesis import strategies as st

from clrdsl.language import syntax as S

KEYWORDS = ("let", "def", "if", "then", "else")
UNITS = ("it", "ep", "%")

# The bindings that schedules drawn with `units=True` must be checked with.
BINDINGS = {"steps_per_epoch": 50, "total_steps": 2000}

# -- syntax trees ----------------------------------------------------------------------

_ID_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_ID_REST = _ID_START + "0123456789"
_COMMON_NAMES = ("x", "pi", "e", "cycle", "iterations", "cos", "linear", "true", "false",
                 "triangular", "exp", "step", "over", "gamma", "on", "total_steps", "letter",
                 "iffy", "define", "thenceforth", "elsewhere")


@functools.lru_cache(maxsize=None)
def names() -> st.SearchStrategy[str]:
    """Identifiers the lexer reads as NAME (never a keyword)."""
    raw = st.builds(lambda a, b: a + b, st.sampled_from(_ID_START), st.text(_ID_REST, max_size=8))
    return st.one_of(st.sampled_from(_COMMON_NAMES), raw).filter(lambda n: n not in KEYWORDS)


def _float_values() -> st.SearchStrategy[float]:
    return st.one_of(
        st.integers(0, 10**6).map(float),
        st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
        st.floats(min_value=0, allow_nan=False, allow_infinity=True),  # huge, tiny, subnormal, inf
        st.sampled_from([0.001, 0.006, 0.99994, 1e-3, 6e-3, 2000.0, 0.5, 1e-7, 1e16, 1e300]),
    )


def nums() -> st.SearchStrategy[S.Num]:
    """Number literals as the parser builds them: non-negative (a minus sign is a
    :class:`~clrdsl.language.syntax.Neg`), with or without a unit."""
    return st.builds(S.Num, _float_values(), st.sampled_from((None, None, None) + UNITS))


def number_texts() -> st.SearchStrategy[tuple[str, float, str | None]]:
    """Ways to write a number: ``(text, value, unit)`` with digit separators,
    exponents (``e``/``E``, signed), leading or trailing dots and a unit suffix."""

    @st.composite
    def build(draw):
        digits = draw(st.text("0123456789", min_size=1, max_size=6))
        sep = "_".join([digits[:2], digits[2:]]) if len(digits) > 2 and draw(st.booleans()) else digits
        frac = draw(st.one_of(st.none(), st.text("0123456789", max_size=5)))
        form = draw(st.sampled_from(["int", "frac", "lead_dot"]))
        if form == "int" or frac is None:
            mant, mant_val = sep, digits
        elif form == "frac":
            mant, mant_val = f"{sep}.{frac}", f"{digits}.{frac}"
        else:
            f = frac or "5"
            mant, mant_val = f".{f}", f"0.{f}"
        exp = draw(st.one_of(st.none(), st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
                                                  st.integers(0, 30))))
        exp_text = "" if exp is None else f"{exp[0]}{exp[1]}{exp[2]}"
        exp_val = "" if exp is None else f"e{exp[1]}{exp[2]}"
        unit = draw(st.sampled_from((None, None) + UNITS))
        return mant + exp_text + (unit or ""), float(mant_val + exp_val), unit

    return build()


def _calls(children: st.SearchStrategy) -> st.SearchStrategy[S.Call]:
    kw_names = st.lists(names(), max_size=3, unique=True)
    positional = st.lists(children, max_size=3)

    @st.composite
    def build(draw):
        func = draw(names())
        pos = draw(positional)
        args = [S.Arg(v) for v in pos] + [S.Arg(draw(children), n) for n in draw(kw_names)]
        return S.Call(func, tuple(args))

    return build()


def syntax_trees(max_leaves: int = 24) -> st.SearchStrategy:
    """Arbitrary expression trees (:data:`clrdsl.language.syntax.Expr`) the grammar can produce."""
    leaves = st.one_of(nums(), st.builds(S.Name, names()))

    def extend(children):
        return st.one_of(
            st.builds(S.BinOp, st.sampled_from(["+", "-", "*", "/", "**", ">>"]), children, children),
            st.builds(S.Neg, children),
            _calls(children),
            st.builds(S.If, children, children, children),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def _params(exprs) -> st.SearchStrategy[tuple[S.Param, ...]]:
    param_names = st.lists(names(), max_size=4, unique=True)
    kinds = st.one_of(st.none(), st.lists(names(), min_size=1, max_size=3).map(tuple))
    defaults = st.one_of(st.none(), exprs)

    @st.composite
    def build(draw):
        return tuple(S.Param(n, draw(kinds), draw(defaults)) for n in draw(param_names))

    return build()


def programs(max_leaves: int = 12) -> st.SearchStrategy[S.Program]:
    """Programs: ``let`` and ``def`` definitions followed by an expression."""
    exprs = syntax_trees(max_leaves)
    definition = st.one_of(
        st.builds(S.Let, names(), exprs),
        st.builds(S.Def, names(), _params(exprs), exprs),
    )
    return st.builds(S.Program, st.lists(definition, max_size=4).map(tuple), exprs)


# -- valid schedules ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sched:
    """A generated schedule text with what the checker will infer about it."""

    text: str
    finite: bool
    base: bool  # has a base, so a scale may modulate it
    cyclic: bool  # has cycles, so an `on=cycle` scale may modulate it
    atomic: bool = True  # safe to use as an operand without parentheses


def _num(lo: float, hi: float) -> st.SearchStrategy[str]:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False).map(
        lambda v: repr(round(v, 6)) if round(v, 6) != 0 else repr(lo)
    )


def _lr() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["0.001", "0.006", "0.1", "1e-3", "6E-3", "0.05"]), _num(1e-4, 1.0))


def _pair() -> st.SearchStrategy[tuple[str, str]]:
    """(low, high) learning rates with low <= high."""
    return st.tuples(_lr(), _lr()).map(lambda p: tuple(sorted(p, key=float)))


def _duration(units: bool, lo: int = 1, hi: int = 400) -> st.SearchStrategy[str]:
    plain = st.integers(lo, hi).map(str)
    forms = [plain, plain, st.integers(lo, hi).map(lambda n: f"{n}it")]
    if hi >= 1000:
        forms.append(st.integers(max(lo, 1000), hi).map(lambda n: f"{n // 1000}_{n % 1000:03d}"))
    if units:
        spe, total = BINDINGS["steps_per_epoch"], BINDINGS["total_steps"]
        forms.append(st.integers(max(1, -(-lo // spe)), max(1, hi // spe)).map(lambda n: f"{n}ep"))
        forms.append(st.integers(max(1, -(-lo * 100 // total)), max(1, hi * 100 // total)).map(lambda n: f"{n}%"))
    return st.one_of(forms)


def scale_exprs() -> st.SearchStrategy[tuple[str, bool]]:
    """Scales as ``(text, uses_cycle_clock)``: ``exp(...)``, inline ``scale(...)``,
    their products, powers and multiples."""
    clock = st.sampled_from(["iterations", "cycle"])
    exp_scale = st.tuples(_num(0.5, 1.0), st.one_of(st.none(), clock)).map(
        lambda a: (f"exp(gamma={a[0]})" if a[1] is None else f"exp(gamma={a[0]}, on={a[1]})", a[1] == "cycle")
    )
    inline_bodies = st.sampled_from([
        "0.5 * (1 + sin(x * pi / 2))",
        "1 / (1 + x)",
        "0.5 ** x",
        "max(0.1, 1 - x / 1000)",
        "1 / 2 ** floor(x)",
        "(1 + cos(pi * min(x, 100) / 100)) / 2",
    ])
    inline = st.tuples(inline_bodies, clock, st.booleans()).map(
        lambda a: (f"scale({a[0]}, on={a[1]})" if a[2] or a[1] == "cycle" else f"scale({a[0]})",
                   a[1] == "cycle")
    )
    base = st.one_of(exp_scale, exp_scale, inline)

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda p: (f"{p[0][0]} * {p[1][0]}", p[0][1] or p[1][1])),
            st.tuples(children, st.sampled_from(["2", "0.5", "3"])).map(
                lambda p: (f"({p[0][0]}) ** {p[1]}", p[0][1])),
            st.tuples(st.sampled_from(["0.5", "0.9", "1"]), children).map(
                lambda p: (f"{p[0]} * {p[1][0]}", p[1][1])),
        )

    return st.recursive(base, extend, max_leaves=3)


def _shapes(units: bool) -> st.SearchStrategy[Sched]:
    d = lambda lo=1, hi=400: _duration(units, lo, hi)  # noqa: E731
    opt = lambda s: st.one_of(st.none(), s)  # noqa: E731

    def kw(**parts):
        return ", ".join(f"{k}={v}" for k, v in parts.items() if v is not None)

    def call(name, pos, **kws):
        args = [p for p in pos] + ([kw(**kws)] if kw(**kws) else [])
        return f"{name}({', '.join(args)})"

    cyc = lambda text: Sched(text, False, True, True)  # noqa: E731
    fin = lambda text: Sched(text, True, True, False)  # noqa: E731

    triangular = st.builds(
        lambda p, step, down, name: cyc(call(name, p, step=step, step_down=down)),
        _pair(), d(1, 300), opt(d(1, 300)), st.sampled_from(["triangular", "triangular2"]),
    )
    exp_range = st.builds(
        lambda p, step, gamma: cyc(call("exp_range", p, step=step, gamma=gamma)),
        _pair(), d(1, 300), opt(_num(0.99, 1.0)),
    )
    restarts = st.builds(
        lambda p, period, mult, decay: cyc(call("cosine_restarts", [p[1]], min=p[0], period=period,
                                                mult=mult, decay=decay)),
        _pair(), d(1, 200), opt(st.sampled_from(["1", "2", "1.5"])), opt(_num(0.5, 1.0)),
    )
    ramps = st.builds(
        lambda name, a, b, over: fin(call(name, [a, b], over=over)),
        st.sampled_from(["linear", "cosine", "exponential"]), _lr(), _lr(), d(0, 1000),
    )
    poly = st.builds(
        lambda a, b, over, power: fin(call("poly", [a, b], over=over, power=power)),
        _lr(), _lr(), d(0, 1000), opt(st.sampled_from(["1", "2", "0.5"])),
    )
    interp = st.builds(
        lambda a, b, over, kind: fin(call("interp", [a, b], over=over, kind=kind)),
        _lr(), _lr(), d(0, 1000), opt(st.sampled_from(["linear", "cos", "exp", "sqrt"])),
    )
    range_test = st.builds(
        lambda p, over, mode: fin(call("range_test", [p[0], str(float(p[1]) * 10)], over=over, mode=mode)),
        _pair(), d(1, 1000), opt(st.sampled_from(["exp", "linear"])),
    )
    constant = st.one_of(
        _lr().map(lambda v: Sched(f"constant({v})", False, True, False)),
        st.builds(lambda v, over: fin(f"constant({v}, over={over})"), _lr(), d(0, 500)),
    )
    onecycle = st.builds(
        lambda m, total, pct, div, anneal, three: fin(call(
            "onecycle", [m], total=total, pct=pct, div=div, anneal=anneal,
            three_phase="true" if three else None)),
        _lr(), st.integers(20, 2000).map(str), opt(st.sampled_from(["0.25", "0.3", "0.4"])),
        opt(st.sampled_from(["10", "25"])), opt(st.sampled_from(["cos", "linear"])), st.booleans(),
    )
    momentum = st.builds(
        lambda total, three: fin(call("onecycle_momentum", [], total=total,
                                      three_phase="true" if three else None)),
        st.integers(20, 2000).map(str), st.booleans(),
    )
    warmup = st.builds(
        lambda peak, w, dd, end: fin(call("warmup_cosine", [peak], warmup=w, decay=dd, end=end)),
        _lr(), d(0, 300), d(1, 1000), opt(st.sampled_from(["0", "1e-5"])),
    )
    wsd = st.builds(
        lambda peak, w, s, dd, kind: fin(call("wsd", [peak], warmup=w, stable=s, decay=dd, kind=kind)),
        _lr(), d(0, 300), d(0, 300), d(1, 500), opt(st.sampled_from(["cos", "linear", "sqrt"])),
    )
    return st.one_of(triangular, exp_range, restarts, ramps, poly, interp, range_test, constant, onecycle,
                     momentum, warmup, wsd)


def _paren(s: Sched) -> str:
    return s.text if s.atomic else f"({s.text})"


def _combine(children: st.SearchStrategy[Sched], units: bool) -> st.SearchStrategy[Sched]:
    def then(a: Sched, b: Sched) -> Sched:
        if not a.finite:  # the left side of `>>` must end
            a = Sched(f"take({a.text}, over=500)", True, a.base, a.cyclic)
        return Sched(f"{a.text} >> {b.text}", b.finite, True, False, atomic=False)

    def modulate(s: Sched, k: tuple[str, bool]) -> Sched:
        text, on_cycle = k
        if not s.base or (on_cycle and not s.cyclic):
            return s
        return Sched(f"{_paren(s)} * {text}", s.finite, True, s.cyclic, atomic=False)

    def arith(s: Sched, op: str, k: str, left: bool) -> Sched:
        text = f"{k} {op} {_paren(s)}" if left else f"{_paren(s)} {op} {k}"
        return Sched(text, s.finite, s.base, s.cyclic, atomic=False)

    def take(s: Sched, over: str) -> Sched:
        return Sched(f"take({s.text}, over={over})", True, s.base, s.cyclic)

    return st.one_of(
        st.builds(then, children, children),
        st.builds(modulate, children, scale_exprs()),
        st.builds(arith, children, st.just("*"), st.sampled_from(["0.5", "2", "0.1"]), st.booleans()),
        st.builds(arith, children, st.just("+"), st.sampled_from(["0.001", "1e-4"]), st.booleans()),
        st.builds(arith, children, st.just("/"), st.sampled_from(["2", "10"]), st.just(False)),
        st.builds(take, children, _duration(units, 1, 600)),
    )


def schedules(units: bool = False, max_leaves: int = 4) -> st.SearchStrategy[Sched]:
    """Valid schedules with their inferred properties (see :class:`Sched`)."""
    return st.recursive(_shapes(units), lambda c: _combine(c, units), max_leaves=max_leaves)


def schedule_exprs(units: bool = False, max_leaves: int = 4) -> st.SearchStrategy[str]:
    """Texts of valid schedules from the standard library (checkable without
    bindings unless ``units=True``; then check with :data:`BINDINGS`)."""
    return schedules(units, max_leaves).map(lambda s: s.text)


def finite_schedule_exprs(units: bool = False, max_leaves: int = 4) -> st.SearchStrategy[str]:
    """Like :func:`schedule_exprs`, every one of finite length."""
    return schedules(units, max_leaves).map(
        lambda s: s.text if s.finite else f"take({s.text}, over=1000)")


MISSION = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"

# Hand-written valid expressions: seeds for fuzzing and fixtures for examples.
SEED_EXPRS = (
    MISSION,
    "triangular2(0.001, 0.006, step=2000)",
    "exp_range(0.001, 0.006, step=2000, gamma=0.99994)",
    "triangular(0.001, 0.006, step=4ep) * exp(gamma=0.5, on=cycle)",
    "triangular(0.001, 0.006, step=2000) * scale(0.5 * (1 + sin(x * pi / 2)), on=cycle)",
    "onecycle(0.1, total=10_000, pct=0.3, anneal=cos)",
    "cosine_restarts(0.1, min=1e-5, period=1000, mult=2)",
    "linear(0, 0.1, over=500) >> cosine(0.1, 0, over=9500)",
    "let warm = linear(0, 0.1, over=5%)\nlet decay = cosine(0.1, 0, over=95%)\nwarm >> decay",
    "warmup_cosine(0.1, warmup=500, decay=9500, end=1e-5)",
    "wsd(3e-4, warmup=200, stable=30%, decay=2000, kind=sqrt)",
    "take(triangular(0.001, 0.006, step=2000), over=20_000) >> constant(1e-4)",
    "def half(s) = s * 0.5\nhalf(poly(0.1, 0, over=1000, power=2)) + 1e-4",
    "if true then exponential(0.1, 0.001, over=3ep) else constant(0.1)",
    "range_test(1e-7, 10, over=100, mode=exp)",
    "-constant(0.1) + 2 * linear(0.1, 0.2, over=10) ** 1",
)
