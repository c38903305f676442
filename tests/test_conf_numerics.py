"""Numerics: every standard shape stays finite and exact far out (DESIGN §4).

Steps up to 10^12 give finite values on both evaluators (NumPy arrays and the
generated Python-float code the torch backend steps with); periodic shapes repeat exactly,
because the position inside a cycle is computed from the integer step; amplitude
scales decay to exactly ``base`` instead of overflowing (torch's triangular2 raises
``OverflowError`` after ~1024 cycles; see test_conf_torch.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import clrdsl
from clrdsl.contract import registry
from clrdsl.evaluation.scalar import scalar_function

# at least one expression per standard shape, scale and prelude definition
EXPRESSIONS = {
    "triangular": ["triangular(0.001, 0.006, step=2000)", "triangular(0.1, 1, step=3, step_down=7)"],
    "exp": ["triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994)",
            "triangular(0.001, 0.006, step=5) * exp(gamma=0.5, on=cycle)",
            "constant(0.1) * exp(gamma=0.999)"],
    "constant": ["constant(0.3)", "constant(0.3, over=10) >> constant(0.2)"],
    "linear": ["linear(0, 1, over=1000)", "linear(1, 0, over=0) >> linear(0.5, 0.7, over=3)"],
    "cosine": ["cosine(0.1, 0.001, over=5000)"],
    "exponential": ["exponential(1, 1e-6, over=100)"],
    "poly": ["poly(0.1, 0, over=777, power=2)", "poly(0.1, 0.01, over=10, power=0.5)"],
    "interp": [f"interp(1, 0.1, over=50, kind={k})" for k in ("linear", "cos", "exp", "sqrt")],
    "range_test": ["range_test(1e-7, 10, over=99)", "range_test(1e-7, 10, over=99, mode=linear)"],
    "cosine_restarts": ["cosine_restarts(0.1, period=50)", "cosine_restarts(0.1, 0.001, period=7, mult=2)",
                        "cosine_restarts(0.1, period=10, mult=1.5, decay=0.9)"],
    "triangular2": ["triangular2(0.001, 0.006, step=2000)"],
    "exp_range": ["exp_range(0.001, 0.006, step=2000, gamma=0.99994)"],
    "onecycle": ["onecycle(0.1, total=1001)", "onecycle(1, total=997, anneal=linear, three_phase=true)"],
    "onecycle_momentum": ["onecycle_momentum(total=1001)", "onecycle_momentum(total=10, three_phase=true)"],
    "warmup_cosine": ["warmup_cosine(1, warmup=10, decay=100, end=0.1)"],
    "wsd": ["wsd(1, warmup=10, stable=100, decay=50, min=0.01, kind=sqrt)"],
    "stepwise": ["stepwise(0.1, every=30) * exp(gamma=0.1, on=cycle)"],
    "step_decay": ["step_decay(0.1, every=7, gamma=0.5)"],
    "cosine_cycles": ["cosine_cycles(0.1, 0.001, cycles=3, over=1000)"],
    "hard_restarts": ["hard_restarts(0.1, warmup=10, total=1010, cycles=4)"],
    "poly_cycles": ["poly_cycles(0.1, 0.001, over=70, power=2)"],
}
ALL = [e for es in EXPRESSIONS.values() for e in es]

FAR = [0, 1, 2, 10**4, 10**6, 2**31 + 1, 10**9 + 7, 2**53 - 1, 10**12 - 1, 10**12, 10**12 + 1]


def test_every_standard_function_is_covered():
    from clrdsl.language.check import prelude

    stdlib = {name for name, e in registry.functions.entries().items() if e.value.startswith("clrdsl_stdlib")}
    assert stdlib, "the stdlib entry points are not installed"
    missing = (stdlib | set(prelude())) - set(EXPRESSIONS)
    assert not missing, f"add numerics cases for {sorted(missing)}"


@pytest.mark.parametrize("expr", ALL)
def test_far_steps_are_finite_on_both_evaluators(expr):
    checked = clrdsl.check(expr)
    arr = clrdsl.compile(checked)(np.array(FAR, dtype=np.int64))
    assert arr.dtype == np.float64 and np.all(np.isfinite(arr)), arr
    scalar = scalar_function(checked)
    for t, a in zip(FAR, arr):
        v = scalar(t)
        assert math.isfinite(v)
        assert v == pytest.approx(a, rel=1e-12, abs=1e-300), t


@pytest.mark.parametrize("expr,period", [
    ("triangular(0.001, 0.006, step=2000)", 4000),
    ("triangular(0.1, 1, step=3, step_down=7)", 10),
    ("cosine_restarts(0.1, 0.001, period=50)", 50),
])
def test_periodic_shapes_repeat_exactly_far_out(expr, period):
    s = clrdsl.compile(expr)
    k = np.arange(3 * period)
    for far in (10**6 * period, 10**12 // period * period, (2**53 - 1) // period * period):
        np.testing.assert_array_equal(s(k + far), s(k))


@pytest.mark.parametrize("evaluate", ["numpy", "python"])
def test_triangular2_after_ten_thousand_cycles_is_exactly_base(evaluate):
    expr = "triangular2(0.001, 0.006, step=2000)"
    t = np.arange(4000 * 10_000, 4000 * 10_000 + 4000, 97)
    if evaluate == "numpy":
        values = clrdsl.compile(expr)(t)
    else:
        f = scalar_function(clrdsl.check(expr))
        values = np.array([f(int(x)) for x in t])
    assert np.all(values == 0.001)


def test_exp_range_underflows_to_base_not_nan():
    s = clrdsl.compile("triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994)")
    t = np.array([10**7 + 2000, 10**9 + 2000, 10**12 + 2000])
    assert np.all(s(t) == 0.001)
