"""Non-finite values: an accepted schedule is finite at every step.

The range analysis (clrdsl.language.ranges) refuses at check time, with a span, what could divide
by zero, leave a function's domain or overflow; shape formulas compute finite results
finitely; the torch scheduler never writes a non-finite value. The fuzz test feeds
thousands of random accepted schedules (with divisions, differences and scales) to
NumPy and torch and asserts finite values at steps up to 10**12.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from click.testing import CliRunner

import clrdsl
from clrdsl import ClrdslError, ClrdslValueError
from clrdsl.evaluation.scalar import scalar_function
from clrdsl.language.ranges import RangeAnalysis
from clrdsl.tools.cli import main

REFUSED = {
    "1 / linear(0, 1, over=10)": "1 / linear(0, 1, over=10)",
    "constant(1) * scale(1 / x)": "scale(1 / x)",
    "constant(0.1) * scale(x / x)": "scale(x / x)",
    "constant(0.1) * scale(log(x))": "scale(log(x))",
    "constant(0.1) * scale(x ** x)": "scale(x ** x)",
    "constant(0.1) * scale(sqrt(x - 1))": "scale(sqrt(x - 1))",
    "constant(0.1) * scale((0 - 2) ** (x / 3))": "scale((0 - 2) ** (x / 3))",
    "constant(0.1) * scale(exp(x))": "scale(exp(x))",
    "constant(0.1) * scale(sin(exp(x)))": "scale(sin(exp(x)))",
    "constant(1e308) * 10": "constant(1e308) * 10",
    "linear(1e308, 1.5e308, over=5) + constant(1e308)": "linear(1e308, 1.5e308, over=5) + constant(1e308)",
    "0.1 / (linear(1, 0, over=20) >> constant(1))": "0.1 / (linear(1, 0, over=20) >> constant(1))",
    "0.1 / (triangular(0, 1, step=5) - 0.5)": "0.1 / (triangular(0, 1, step=5) - 0.5)",
}


@pytest.mark.parametrize("text", sorted(REFUSED))
def test_refused_at_check_time_with_a_span(text):
    with pytest.raises(ClrdslValueError) as info:
        clrdsl.check(text)
    err = info.value
    assert err.code == "E310", err.render()
    assert text[err.span.start:err.span.end] == REFUSED[text]
    assert err.found


ACCEPTED = [
    "1 / linear(1, 2, over=10)",
    "triangular(0.001, 0.006, step=2000) * scale(1 / 2 ** floor(x), on=cycle)",  # 2**x overflows, 1/inf = 0
    "constant(1) * scale(1 / (1 + x))",
    "constant(1) * scale(0.5 * (1 + sin(x * pi / 2)))",
    "constant(1) * scale(exp(0 - x))",
    "constant(1) * scale(log(1 + x))",
    "constant(0.1) * scale(sqrt(x))",
    "0.1 / (triangular(1, 2, step=5) - 0.5)",
    "exponential(1e-10, 1e300, over=100)",
    "constant(1e307) * 10",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_schedules_are_finite_far_out(text):
    s = clrdsl.compile(text)
    steps = np.array([0, 1, 2, 3, 50, 99, 100, 101, 10**6, 10**12, 2**62, 2**63 - 1], dtype=np.int64)
    assert np.all(np.isfinite(s(steps)))


def test_exponential_is_computed_in_log_space_when_the_ratio_overflows():
    s = clrdsl.compile("exponential(1e-10, 1e300, over=100)")
    want = [math.exp(math.log(1e-10) + (math.log(1e300) - math.log(1e-10)) * t / 100) for t in range(101)]
    np.testing.assert_allclose(s(np.arange(101)), want, rtol=1e-12)
    assert s(1) == pytest.approx(1.2589254117941673e-07, rel=1e-12)
    assert s(0) == 1e-10 and s(100) == pytest.approx(1e300, rel=1e-12)
    down = clrdsl.compile("exponential(1e300, 1e-10, over=100)")
    assert np.all(np.isfinite(down(np.arange(101)))) and down(100) == pytest.approx(1e-10, rel=1e-12)
    # the usual case keeps the usual formula, bit for bit
    usual = clrdsl.compile("exponential(0.1, 0.001, over=10)")
    t = np.arange(11)
    np.testing.assert_array_equal(usual(t), 0.1 * np.power(0.001 / 0.1, np.minimum(t.astype(np.float64) / 10, 1.0)))


def test_range_of_the_whole_schedule():
    c = clrdsl.check("triangular(0.001, 0.006, step=2000) * exp(gamma=0.9)")
    iv = RangeAnalysis().sched(c.root)
    assert iv.finite and iv.lo == pytest.approx(0.001) and iv.hi == pytest.approx(0.006)


@pytest.mark.parametrize("command", [["lint"], ["explain"], ["check", "--strict"], ["eval", "--steps", "0:5"]])
@pytest.mark.parametrize("text", ["1 / linear(0, 1, over=10)", "constant(1) * scale(1 / x)",
                                  "constant(0.1) * scale(x / x)"])
def test_lint_explain_and_strict_never_crash(command, text):
    r = CliRunner().invoke(main, [command[0], text, *command[1:]])
    assert r.exit_code == 1 and r.exception is None or isinstance(r.exception, SystemExit)
    assert "E310" in r.stderr and "Traceback" not in r.output


# -- the fuzz test ------------------------------------------------------------------------

FORMULAS_X = ["x", "x / 100", "floor(x)", "min(x, 50)", "sin(x)", "cos(x * pi / 8)", "tanh(x / 10)",
              "abs(sin(x) - 0.5)"]


def _num(rng: random.Random, lo=1e-4, hi=1.0) -> str:
    return repr(round(rng.uniform(lo, hi), 5) or lo)


def _formula(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(FORMULAS_X + [_num(rng, 0, 3)])
    op = rng.choice(["+", "-", "*", "/", "**", "exp", "log", "sqrt", "max"])
    a, b = _formula(rng, depth + 1), _formula(rng, depth + 1)
    if op in ("exp", "log", "sqrt"):
        return f"{op}({a})"
    if op == "max":
        return f"max({a}, {b})"
    return f"({a}) {op} ({b})"


def _leaf(rng: random.Random) -> tuple[str, bool]:
    """(text, finite)"""
    n = rng.randint(0, 60)
    a, b = _num(rng), _num(rng)
    lo, hi = sorted((float(a), float(b)))
    k = rng.randrange(9)
    if k == 0:
        return f"linear({rng.choice([a, '0'])}, {rng.choice([b, '0'])}, over={n})", True
    if k == 1:
        return f"cosine({a}, {rng.choice([b, '0'])}, over={n})", True
    if k == 2:
        return f"exponential({a}, {b}, over={n})", True
    if k == 3:
        return f"triangular({lo}, {hi}, step={n + 1})", False
    if k == 4:
        return f"constant({rng.choice([a, '0'])})", False
    if k == 5:
        return f"cosine_restarts({hi}, min={lo}, period={n + 1}, mult={rng.choice(['1', '2'])})", False
    if k == 6:
        return f"onecycle({a}, total={n + 20})", True
    if k == 7:
        return f"poly({a}, {rng.choice([b, '0'])}, over={n}, power={rng.choice(['0.5', '1', '2'])})", True
    return f"warmup_cosine({a}, warmup={n}, decay={n + 1})", True


def _sched(rng: random.Random, depth: int = 0) -> tuple[str, bool]:
    if depth > 2 or rng.random() < 0.35:
        return _leaf(rng)
    k = rng.choice([0, 1, 2, 2, 3, 4, 5, 6, 6, 6, 7])
    a, fa = _sched(rng, depth + 1)
    b, fb = _sched(rng, depth + 1)
    if k == 0:
        return f"({a}) + ({b})", fa and fb
    if k == 1:
        return f"({a}) - ({b})", fa and fb
    if k == 2:
        return f"{rng.choice(['0.1', '1'])} / (({a}) - ({b}))", fa and fb
    if k == 3:
        return f"{rng.choice(['0.1', '1', '2'])} / ({a})", fa
    if k == 4:
        return f"({a}) * ({b})", fa and fb
    if k == 5:
        left = a if fa else f"take({a}, over={rng.randint(1, 50)})"
        return f"{left} >> ({b})", fb
    if k == 6:
        return f"({a}) * scale({_formula(rng)}, on=iterations)", fa
    return f"({a}) * exp(gamma={rng.choice(['0.5', '0.9', '0.999'])})", fa


def test_fuzz_accepted_schedules_are_finite_on_numpy_and_torch():
    torch = pytest.importorskip("torch")
    rng = random.Random(12)  # derandomized
    steps = np.array(sorted({0, 1, 2, 3, 5, 8, 13, 19, 20, 21, 29, 30, 31, 49, 50, 51, 60, 61, 79, 80, 81, 100,
                             127, 1000, 4096, 10**5, 10**6, 10**9, 10**12 - 1, 10**12}), dtype=np.int64)
    accepted = refused = 0
    kinds = {"/": 0, "-": 0, "scale(": 0}
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    while accepted < 2000:
        text, _ = _sched(rng)
        try:
            checked = clrdsl.check(text)
        except ClrdslError as err:
            # refused is fine (the analysis is conservative); crashing is not
            assert err.code.startswith("E"), text
            refused += 1
            continue
        accepted += 1
        for key in kinds:
            kinds[key] += key in text
        values = clrdsl.compile(checked)(steps)
        assert np.all(np.isfinite(values)), (text, steps[~np.isfinite(values)])
        if accepted % 10 == 0:  # torch drives an optimizer from the same evaluation: a sample
            sched = clrdsl.compile(checked, backend="torch", optimizer=opt)
            for t in (0, 1, 50, 10**6, 10**12):
                sched.set_step(t)
                assert math.isfinite(opt.param_groups[0]["lr"]), (text, t)
            # Python floats (explain, generated torch modules) raise where NumPy gives inf
            scalar = scalar_function(checked)
            for t in (0, 1, 50, 10**6, 10**12):
                assert math.isfinite(scalar(t)), (text, t)
    assert refused > 0 and all(n >= 300 for n in kinds.values()), (refused, kinds)


@pytest.mark.parametrize("text, where", [
    ("1 / linear(0, 1, over=10)", "it is 0 at t = 0 (the step)"),
    ("1 / linear(1, 0, over=10)", "it is 0 at t = 10 (the step)"),
    ("constant(1) * scale(1 / (x - 3))", "at x = 3"),
    ("constant(0.1) * scale(log(x))", "at x = 0"),
    ("constant(0.1) * scale(sqrt(x - 2))", "at x = 0"),
])
def test_the_error_says_where_it_happens(text, where):
    with pytest.raises(ClrdslValueError) as info:
        clrdsl.check(text)
    assert info.value.found.endswith(where), info.value.found


def test_a_division_by_zero_is_refused_even_when_a_later_step_would_undo_it():
    # NumPy: 2 / (2 / 0) = 2 / inf = 0; Python floats (torch, explain) raise ZeroDivisionError
    with pytest.raises(ClrdslValueError) as info:
        clrdsl.check("2 / (2 / linear(0.05, 0, over=35))")
    assert info.value.code == "E310" and "it is 0 at t = 35" in info.value.found
