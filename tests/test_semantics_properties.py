"""Property tests of the semantics (DESIGN §1-2), with hypothesis.

- ``a >> b`` is half-open: at the boundary ``b`` applies with its clock at 0.
- A finite schedule holds its value past its end; nothing raises for stepping too far.
- Units resolve to updates: ``ep`` with ``steps_per_epoch``, ``%`` with ``total_steps``.
- ``schedule * scale`` is ``base + (value - base) * scale(x)``.
- The Python-float evaluation (``clrdsl.evaluation.scalar``, what the torch backend steps with)
  equals the NumPy array evaluation for random expressions and steps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import clrdsl
from clrdsl.evaluation.scalar import scalar_function

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- random expressions -------------------------------------------------------------------
# A generated expression is (text, finite); every leaf has a base, so leaves may be
# modulated by a scale. `take(x, over=n)` makes anything finite for the left of `>>`.

num = st.sampled_from([0.0, 0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 3.5])
pos = st.sampled_from([0.001, 0.01, 0.1, 0.5, 1.0, 2.0])
dur = st.integers(1, 400)
gamma = st.sampled_from([0.5, 0.9, 0.99, 0.999, 1.0])


@st.composite
def lo_hi(draw):
    a, b = draw(num), draw(num)
    return min(a, b), max(a, b)


@st.composite
def cyclic_leaf(draw):
    kind = draw(st.sampled_from(["triangular", "cosine_restarts", "triangular2", "exp_range"]))
    lo, hi = draw(lo_hi())
    if kind == "cosine_restarts":
        mult = draw(st.sampled_from([1, 2, 3, 1.5]))
        return f"cosine_restarts({hi}, {lo}, period={draw(dur)}, mult={mult}, decay={draw(gamma)})"
    down = draw(st.one_of(st.none(), dur))
    extra = "" if down is None else f", step_down={down}"
    if kind == "exp_range":
        extra += f", gamma={draw(gamma)}"
    return f"{kind}({lo}, {hi}, step={draw(dur)}{extra})"


@st.composite
def finite_leaf(draw):
    kind = draw(st.sampled_from(["linear", "cosine", "exponential", "poly", "interp", "constant",
                                 "range_test", "onecycle", "onecycle_momentum", "warmup_cosine", "wsd"]))
    a, b, n = draw(num), draw(num), draw(dur)
    if kind in ("linear", "cosine"):
        return f"{kind}({a}, {b}, over={n})"
    if kind == "exponential":
        return f"exponential({draw(pos)}, {draw(pos)}, over={n})"
    if kind == "poly":
        return f"poly({a}, {b}, over={n}, power={draw(st.sampled_from([0.5, 1, 2, 3]))})"
    if kind == "interp":
        k = draw(st.sampled_from(["linear", "cos", "exp", "sqrt"]))
        if k == "exp":
            a, b = draw(pos), draw(pos)
        return f"interp({a}, {b}, over={n}, kind={k})"
    if kind == "constant":
        return f"constant({a}, over={n})"
    if kind == "range_test":
        lo = draw(pos)
        return f"range_test({lo}, {lo * 100}, over={n}, mode={draw(st.sampled_from(['exp', 'linear']))})"
    if kind in ("onecycle", "onecycle_momentum"):
        total = draw(st.integers(20, 600))
        pct = draw(st.sampled_from([0.1, 0.25, 0.3, 0.33, 0.45]))
        anneal = draw(st.sampled_from(["cos", "linear"]))
        three = draw(st.sampled_from(["true", "false"]))
        if kind == "onecycle":
            return f"onecycle({draw(pos)}, total={total}, pct={pct}, anneal={anneal}, three_phase={three})"
        return f"onecycle_momentum(total={total}, pct={pct}, anneal={anneal}, three_phase={three})"
    if kind == "warmup_cosine":
        return f"warmup_cosine({b}, warmup={n}, decay={draw(dur)}, init={a})"
    return f"wsd({b}, warmup={n}, stable={draw(dur)}, decay={draw(dur)}, min={a}, " \
           f"kind={draw(st.sampled_from(['cos', 'linear', 'sqrt']))})"


@st.composite
def scale_for(draw, cyclic: bool):
    on = draw(st.sampled_from(["iterations", "cycle"] if cyclic else ["iterations"]))
    kind = draw(st.sampled_from(["exp", "inline", "product", "power"]))
    if kind == "exp":
        return f"exp(gamma={draw(gamma)}, on={on})"
    if kind == "inline":
        body = draw(st.sampled_from(["0.5 * (1 + sin((x + 1) * pi / 2))", "1 / (1 + x / 100)",
                                     "exp(-x / 500)", "max(0.1, 1 - x / 1000)", "0.9 ** x"]))
        return f"scale({body}, on={on})"
    if kind == "product":
        return f"exp(gamma={draw(gamma)}, on={on}) * exp(gamma={draw(gamma)})"
    return f"exp(gamma={draw(gamma)}, on={on}) ** 2"


@st.composite
def leaf(draw):
    if draw(st.booleans()):
        text, finite, cyclic = draw(cyclic_leaf()), False, True
    else:
        text, finite, cyclic = draw(finite_leaf()), True, False
    if draw(st.integers(0, 3)) == 0:
        text = f"{text} * {draw(scale_for(cyclic))}"
    return text, finite


def combine(children):
    def seq(a, b, n):
        left = a[0] if a[1] else f"take({a[0]}, over={n})"
        return f"({left}) >> ({b[0]})", b[1]

    def arith(a, b, op):
        return f"({a[0]}) {op} ({b[0]})", a[1] and b[1]

    def by_number(a, k, how):
        text = {"mul": f"({a[0]}) * {k}", "rmul": f"{k} * ({a[0]})", "div": f"({a[0]}) / {k}",
                "add": f"{k} + ({a[0]})", "neg": f"-({a[0]})"}[how]
        return text, a[1]

    return st.one_of(
        st.builds(seq, children, children, dur),
        st.builds(arith, children, children, st.sampled_from(["+", "-", "*"])),
        st.builds(by_number, children, pos, st.sampled_from(["mul", "rmul", "div", "add", "neg"])),
        st.builds(lambda a, n: (f"take({a[0]}, over={n})", True), children, dur),
    )


expressions = st.recursive(leaf(), combine, max_leaves=5)


def steps_for(length: float):
    hi = 3000 if math.isinf(length) else int(math.ceil(length)) + 50
    return st.lists(st.integers(0, hi), min_size=1, max_size=40)


# -- the scalar evaluator equals the array evaluator ------------------------------------------


@SETTINGS
@given(expressions, st.data())
def test_scalar_evaluation_equals_numpy(expr, data):
    text, _ = expr
    checked = clrdsl.check(text)
    steps = data.draw(steps_for(checked.length))
    steps += [0, 10**12]
    scalar = scalar_function(checked)
    arr = clrdsl.compile(checked)(np.array(steps))
    for t, a in zip(steps, arr):
        v = scalar(t)
        assert isinstance(v, float) or isinstance(v, int)
        assert v == pytest.approx(a, rel=1e-11, abs=1e-12), (text, t)


@SETTINGS
@given(expressions)
def test_generated_lengths_are_tracked(expr):
    text, finite = expr
    assert math.isfinite(clrdsl.check(text).length) == finite


# -- sequencing and holding ----------------------------------------------------------------------


@SETTINGS
@given(st.one_of(expressions.filter(lambda e: e[1]), st.builds(lambda t: (t, True), finite_leaf())),
       expressions, st.data())
def test_sequence_boundary_is_half_open(a, b, data):
    sa, sb = clrdsl.compile(a[0]), clrdsl.compile(b[0])
    length = sa.length
    assume(length == int(length) and length >= 1)
    length = int(length)
    s = clrdsl.compile(f"({a[0]}) >> ({b[0]})")
    assert s.length == length + sb.length
    assert s(length) == sb(0)  # the new phase, its clock at 0
    assert s(length - 1) == sa(length - 1)
    before = np.array(data.draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=20)))
    after = np.array(data.draw(st.lists(st.integers(0, 2000), min_size=1, max_size=20)))
    np.testing.assert_array_equal(s(before), sa(before))
    np.testing.assert_allclose(s(after + length), sb(after), rtol=1e-13, atol=1e-15)


@SETTINGS
@given(expressions.filter(lambda e: e[1]), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_finite_schedules_hold_past_the_end(expr, offsets):
    s = clrdsl.compile(expr[0])
    end = math.ceil(s.length)
    held = s(end)
    t = np.array(offsets) + end
    assert np.all(s(t) == held)
    assert s(10**12) == held
    f = scalar_function(clrdsl.check(expr[0]))  # the Python-float evaluation holds too
    assert all(f(int(x)) == pytest.approx(held, rel=1e-11, abs=1e-12) for x in t[:5])


# -- units -----------------------------------------------------------------------------------


@SETTINGS
@given(st.integers(1, 50), st.integers(1, 1000), st.sampled_from(["linear(0.1, 0.001, over={})",
                                                                   "triangular(0.001, 0.006, step={})",
                                                                   "warmup_cosine(0.1, warmup={}, decay=300)"]))
def test_epoch_unit_equals_updates(epochs, spe, template):
    by_ep = clrdsl.check(template.format(f"{epochs}ep"), steps_per_epoch=spe)
    by_it = clrdsl.check(template.format(epochs * spe))
    also_it = clrdsl.check(template.format(f"{epochs * spe}it"))
    assert by_ep.root == by_it.root == also_it.root
    t = np.arange(0, 3 * epochs * spe + 7, max(1, epochs * spe // 50))
    np.testing.assert_array_equal(clrdsl.compile(by_ep)(t), clrdsl.compile(by_it)(t))


def test_four_epochs_of_500_are_2000_updates():
    a = clrdsl.check("triangular(0.001, 0.006, step=4ep)", steps_per_epoch=500)
    b = clrdsl.check("triangular(0.001, 0.006, step=2000)")
    assert a.root == b.root and dict(a.root.args)["step"] == 2000
    assert isinstance(dict(a.root.args)["step"], int)


@SETTINGS
@given(st.integers(1, 99), st.integers(1, 5000))
def test_percent_unit_equals_updates(pct, total):
    updates = pct / 100.0 * total
    by_pct = clrdsl.check(f"linear(0, 1, over={pct}%) >> constant(1)", total_steps=total)
    by_it = clrdsl.check(f"linear(0, 1, over={updates!r}) >> constant(1)")
    assert by_pct.root == by_it.root
    t = np.arange(0, total + 10, max(1, total // 200))
    np.testing.assert_array_equal(clrdsl.compile(by_pct)(t), clrdsl.compile(by_it)(t))


def test_thirty_percent_of_total():
    a = clrdsl.check("onecycle(0.1, total=100%, pct=0.3)", total_steps=1000)
    b = clrdsl.check("onecycle(0.1, total=1000, pct=0.3)")
    assert a.root == b.root and a.length == 1000
    c = clrdsl.check("linear(0, 1, over=30%)", total_steps=1000)
    assert c.length == 300 and isinstance(c.length, int)


# -- amplitude modulation --------------------------------------------------------------------


@SETTINGS
@given(cyclic_leaf(), gamma, st.sampled_from(["iterations", "cycle"]),
       st.lists(st.integers(0, 10**5), min_size=1, max_size=30))
def test_modulation_is_base_plus_scaled_amplitude(shape, g, on, steps):
    t = np.array(steps)
    checked = clrdsl.check(shape)
    base = checked.root.base
    value = clrdsl.compile(checked)(t)
    modulated = clrdsl.compile(f"{shape} * exp(gamma={g}, on={on})")(t)
    if on == "iterations":
        x = t.astype(float)
    else:
        from clrdsl.evaluation.emit import probe
        from clrdsl_numpy.emit import TARGET

        cycle = probe(checked.root, TARGET, (("cycle", checked.root, "probe_cycle"),)).probe_cycle
        x = np.asarray(cycle(t), dtype=float)
    expected = base + (value - base) * g**x
    np.testing.assert_allclose(modulated, expected, rtol=1e-12, atol=1e-15)


@SETTINGS
@given(lo_hi(), st.integers(1, 300), st.integers(1, 300), st.lists(st.integers(0, 10**5), min_size=1))
def test_cycle_clock_is_zero_based(bounds, up, down, steps):
    lo, hi = bounds
    t = np.array(steps)
    tri = f"triangular({lo}, {hi}, step={up}, step_down={down})"
    got = clrdsl.compile(f"{tri} * scale(x, on=cycle)")(t)
    value = clrdsl.compile(tri)(t)
    expected = lo + (value - lo) * (t // (up + down))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    # the first cycle is cycle 0: `* scale(x, on=cycle)` flattens it to base
    assert np.all(clrdsl.compile(f"{tri} * scale(x, on=cycle)")(np.arange(up + down)) == lo)
