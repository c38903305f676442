"""The JAX/optax backend (the ``clrdsl-jax`` distribution): conformance with NumPy,
optax integration, traced steps, precision limits, emission."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
pytest.importorskip("clrdsl_jax")

import jax.numpy as jnp  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from strategies import BINDINGS, schedule_exprs  # noqa: E402

import clrdsl  # noqa: E402
from clrdsl.contract.ops import missing_ops  # noqa: E402
from clrdsl.semantics import model as M  # noqa: E402
from clrdsl_jax import JaxOps, JaxSchedule  # noqa: E402

SPE, TOTAL = 50, 4000

# Every shape, scale and operator of the standard library at least once.
CORPUS = [
    "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)",
    "triangular(0.001, 0.006, step=7, step_down=13)",
    "triangular2(0.001, 0.006, step=3ep)",
    "exp_range(0.001, 0.006, step=37, gamma=0.999)",
    "triangular(0.1, 1, step=20) * (exp(gamma=0.9, on=cycle) * scale(1 / (1 + x / 100)))",
    "onecycle(0.1, total=1001)",
    "onecycle(1, total=10%, three_phase=true, anneal=linear)",
    "onecycle_momentum(total=TOTAL)".replace("TOTAL", str(TOTAL)),
    "warmup_cosine(3e-3, warmup=250, decay=5000, init=1e-4)",
    "wsd(1, warmup=100, stable=30%, decay=400, min=0.1, kind=sqrt)",
    "cosine_restarts(0.1, min=0.001, period=300, mult=2, decay=0.5)",
    "cosine_restarts(0.1, period=1ep, mult=1.5)",
    "cosine_restarts(0.1, period=128)",
    "linear(0, 1, over=1000) >> poly(1, 0, over=2000, power=2) >> constant(0)",
    "exponential(1, 1e-3, over=3000)",
    "interp(1, 0.01, over=2000, kind=exp)",
    "range_test(1e-7, 10, over=2500)",
    "range_test(1e-3, 1, over=2500, mode=linear)",
    "constant(0.3) * exp(gamma=0.9995)",
    "constant(0.05)",
    "0.5 * triangular(0.1, 1, step=40) + 1e-4",
    "cosine(1, 0, over=1500) - linear(0, 0.5, over=3000) / 2",
    "take(triangular(0.1, 1, step=30), over=95) >> cosine(1, 0.1, over=500)",
]

# Steps: thousands in a row, boundaries, and large ones (up to the int32 limit).
STEPS = np.unique(np.concatenate([
    np.arange(0, 6000),
    np.random.default_rng(0).integers(0, 2**31 - 1, 2000),
    [2**24 - 1, 2**24, 2**24 + 1, 2**25 + 3, 2**30 + 12345, 2**31 - 2, 2**31 - 1],
]))


def _x64():
    """A context with 64-bit JAX (``jax.enable_x64``; ``jax.experimental`` before 0.5)."""
    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # pragma: no cover - older jax
        from jax.experimental import enable_x64 as enable
    return enable(True)


def _numpy(expr):
    return clrdsl.compile(expr, steps_per_epoch=SPE, total_steps=TOTAL)


def _jax(expr):
    return clrdsl.compile(expr, backend="jax", steps_per_epoch=SPE, total_steps=TOTAL)


def value_scale(root) -> float:
    """The largest value a schedule's shapes compute with (their `number` arguments and
    constants). float32 rounding is relative to it: `interp(0.5, 1e-4, over=0)` gives
    1e-4 as 0.5 + (1e-4 - 0.5), to within an ulp of 0.5, not of 1e-4."""
    vals = []

    def walk(n):
        if isinstance(n, M.Const):
            vals.append(abs(n.value))
        elif isinstance(n, M.Prim):
            kinds = {p.name: p.kind for p in n.shape.params}
            vals.extend(abs(v) for k, v in n.args if kinds.get(k) == "number")
        for p in getattr(n, "phases", ()):
            walk(p)
        for child in ("sched", "left", "right"):
            if hasattr(n, child):
                walk(getattr(n, child))

    walk(root)
    return max(vals, default=0.0)


def assert_float32_close(got, want, what="", steps=None, checked=None):
    """Equal to float32 precision, relative to the schedule's magnitude (its largest
    value, or the largest value its shapes compute with). Past 2^24 float32 no longer
    holds every step: positions inside cycles stay exact (they come from the integer
    step) but float clocks (cycle growth, decay) round, so the tolerance widens there."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = max(np.max(np.abs(want)), value_scale(checked.root) if checked else 0.0, 1e-30)
    err = np.abs(got - want) / scale
    tol = np.full(err.shape, 4e-6)
    if steps is not None:
        tol[np.asarray(steps) >= 2**24] = 3e-5
    worst = int(np.argmax(err / tol))
    assert err[worst] <= tol[worst], f"{what}: at index {worst} got {got[worst]!r}, want {want[worst]!r}"


def test_ops_contract_complete():
    assert missing_ops(JaxOps) == []


@pytest.mark.parametrize("expr", CORPUS)
def test_jitted_equals_numpy(expr):
    s = _jax(expr)
    got = np.asarray(jax.jit(s)(jnp.asarray(STEPS, dtype=jnp.int32)))
    assert got.dtype == np.float32
    assert_float32_close(got, _numpy(expr)(STEPS), expr, STEPS, s.checked)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule_exprs(units=True))
def test_generated_expressions_equal_numpy(expr):
    steps = np.concatenate([np.arange(0, 2500, 3), [2**24 + 1, 2**25 + 3, 2**31 - 1]])
    want = clrdsl.compile(expr, **BINDINGS)(steps)
    if "sin(" not in expr:  # see test_inline_formula_precision_follows_float32
        s = clrdsl.compile(expr, backend="jax", **BINDINGS)
        got = jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32))
        assert_float32_close(got, want, expr, steps, s.checked)
    with _x64():
        got = jax.jit(clrdsl.compile(expr, backend="jax", **BINDINGS))(steps)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * max(np.max(np.abs(want)), 1e-30))


def test_inline_formula_precision_follows_float32():
    # A formula of the clock runs in the backend's float: sin(x * pi / 2) at x ~ 100
    # carries float32's error on its argument (~|arg| * 6e-8); under x64 it is exact.
    expr = "triangular(0.1, 1, step=20) * scale(0.5 * (1 + sin((x + 1) * pi / 2)), on=cycle)"
    steps = np.arange(0, 6000)
    want = _numpy(expr)(steps)
    got = np.asarray(jax.jit(_jax(expr))(steps))
    max_arg = (steps.max() // 40 + 1) * np.pi / 2
    assert np.max(np.abs(got - want)) <= 2e-6 + max_arg * 1.2e-7
    with _x64():
        np.testing.assert_allclose(np.asarray(jax.jit(_jax(expr))(steps)), want, rtol=1e-12)


def test_fractional_period_exact_below_2_24():
    # a fractional period takes the float path: exact while float32 holds every step
    expr = "triangular(0.1, 1, step=2.5)"
    steps = np.concatenate([np.arange(0, 3000), [2**24 - 5, 2**24 - 1]])
    assert_float32_close(jax.jit(_jax(expr))(steps), _numpy(expr)(steps), expr)


def test_position_in_cycle_exact_at_large_steps():
    # the mod is taken on the integer step, so 2^31 - 1 lands exactly in its cycle
    s = _jax("triangular(0, 1, step=1000)")
    for t in (2**24 + 1, 2**25 + 3, 2**31 - 1):
        pos = t % 2000
        want = pos / 1000 if pos <= 1000 else (2000 - pos) / 1000
        assert float(s(t)) == pytest.approx(want, abs=1e-7)


def test_scalar_and_vector_results():
    s = _jax("onecycle(1, total=10)")
    v = s(3)
    assert isinstance(v, jax.Array) and v.shape == () and v.dtype == jnp.float32
    assert float(v) == pytest.approx(0.95048463, rel=1e-6)
    assert s(np.arange(12)).shape == (12,)
    assert float(_jax("constant(0.05)")(7)) == pytest.approx(0.05)  # a Const node still gives an array
    assert _jax("constant(0.05)")(np.arange(4)).shape == (4,)


def test_step_dtypes_and_clamping():
    s = _jax("linear(0, 1, over=100)")
    assert float(s(np.uint32(50))) == pytest.approx(0.5)
    assert float(s(np.int16(50))) == pytest.approx(0.5)
    assert float(s(-5)) == 0.0  # before the start: step 0
    assert float(s(50.0)) == pytest.approx(0.5)  # an integral float is a step
    assert float(jax.jit(s)(jnp.float32(50.7))) == pytest.approx(0.5)  # traced floats are floored
    with pytest.raises(TypeError, match="integers"):
        s(50.5)


def test_past_the_end_holds():
    s = _jax("onecycle(1, total=100)")
    end = float(s(99))
    np.testing.assert_array_equal(np.asarray(s(np.array([100, 10**6, 2**31 - 1]))), np.float32(end))


def test_traced_step_in_loops_and_vmap():
    expr = "triangular2(0.001, 0.006, step=25)"
    s, want = _jax(expr), _numpy(expr)(np.arange(300))

    def body(i, acc):
        return acc.at[i].set(s(i))

    got = jax.lax.fori_loop(0, 300, body, jnp.zeros(300, jnp.float32))
    assert_float32_close(got, want, "fori_loop")
    assert_float32_close(jax.vmap(s)(jnp.arange(300)), want, "vmap")

    def scan_body(t, _):
        return t + 1, s(t)

    _, got = jax.lax.scan(scan_body, jnp.int32(0), None, length=300)
    assert_float32_close(got, want, "scan")


def _train(opt, n):
    """Run ``n`` jitted optax updates with gradient 1 on a scalar; return the
    per-step parameter change and the final state."""
    params = jnp.zeros(())
    state = opt.init(params)

    @jax.jit
    def step(carry, _):
        p, st = carry
        updates, st = opt.update(jnp.ones(()), st, p)
        return (optax.apply_updates(p, updates), st), (updates, st)

    (_, state), (updates, states) = jax.lax.scan(step, (params, state), None, length=n)
    return np.asarray(updates), states


def test_inside_optax_sgd():
    expr = "triangular(0.001, 0.006, step=20) * exp(gamma=0.999, on=iterations)"
    updates, _ = _train(optax.sgd(learning_rate=_jax(expr)), 400)
    # sgd's update at count k is -lr(k) * grad
    assert_float32_close(-updates, _numpy(expr)(np.arange(400)), "optax.sgd")


def test_inject_hyperparams_with_mapping():
    exprs = {"learning_rate": "onecycle(0.1, total=300)", "b1": "onecycle_momentum(total=300)"}
    scheds = clrdsl.compile(exprs, backend="jax")
    assert set(scheds) == set(exprs) and all(isinstance(v, JaxSchedule) for v in scheds.values())
    opt = optax.inject_hyperparams(optax.adam)(**scheds)
    _, states = _train(opt, 300)
    # the hyperparameters recorded after update k were evaluated at count k
    for name, expr in exprs.items():
        assert_float32_close(states.hyperparams[name], _numpy(expr)(np.arange(300)), name)


def test_no_options():
    with pytest.raises(TypeError, match="no options"):
        clrdsl.compile("constant(1)", backend="jax", optimizer=object())


def test_pickles_as_its_expression():
    s = _jax("triangular2(0.001, 0.006, step=3ep)")
    r = pickle.loads(pickle.dumps(s))
    assert r.expr == s.expr and r.checked.bindings == s.checked.bindings
    np.testing.assert_array_equal(np.asarray(r(np.arange(500))), np.asarray(s(np.arange(500))))
    assert "triangular2" in repr(s)


def test_durations_beyond_int32_need_x64():
    expr = "linear(0, 1, over=3_000_000_000) >> constant(2)"
    with pytest.raises(clrdsl.ClrdslLimitError) as info:
        clrdsl.compile(expr, backend="jax")
    assert info.value.code == "E621" and "jax_enable_x64" in info.value.hint
    with pytest.raises(OverflowError, match="jax_enable_x64"):
        _jax("constant(1)")(2**31)


def test_x64_gives_float64_and_int64_steps():
    expr = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
    with _x64():
        s = clrdsl.compile(expr, backend="jax")
        steps = np.array([0, 1999, 2**31 + 5, 2**40, 2**40 + 1234])
        got = np.asarray(jax.jit(s)(steps))
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, _numpy(expr)(steps), rtol=1e-12, atol=1e-18)
        big = clrdsl.compile("linear(0, 1, over=3_000_000_000) >> constant(2)", backend="jax")
        assert float(big(1_500_000_000)) == pytest.approx(0.5) and float(big(2**33)) == 2.0


# -- float64: a division by a constant stays a division ----------------------------------
#
# XLA rewrites x / c as x * (1 / c), an ulp off where x / c is whole: floor(x / 2697) at
# x = 2697 gave 0 (NumPy: 1), and 1 - t / over at t = over a tiny positive number that a
# small power turns into 7.7e-3 of the start. The JAX backend keeps those divisions
# (clrdsl_jax.ops.exact_divisions); under x64 it is then held to the float64 bound.

FLIPS = [
    ("constant(0.0258) * scale(0.1509 ** floor(x / 2697))", [0, 2696, 2697, 2698, 5393, 5394, 5395]),
    ("poly(0.00864, 0, over=3827, power=0.1326)", [0, 3825, 3826, 3827, 3828]),
]


def _stepped(rng) -> tuple[str, list[int]]:
    """A random stepped decay or sequence, and the steps where its boundaries are."""
    k, n1, n2, n3 = (int(v) for v in rng.integers(3, 6000, 4))
    a, b, c = (float(f"{v:.4g}") for v in rng.uniform(1e-4, 1.0, 3))
    g, p = float(f"{rng.uniform(0.05, 0.95):.4g}"), float(f"{rng.uniform(0.05, 3):.4g}")
    kind = rng.integers(0, 6)
    if kind == 0:
        return f"constant({a}) * scale({g} ** floor(x / {k}))", [k * i for i in range(1, 6)]
    if kind == 1:
        return f"constant({a}) * scale({g} ** ceil(x / {k}))", [k * i for i in range(1, 6)]
    if kind == 2:
        return f"step_decay({a}, every={k}, gamma={g})", [k * i for i in range(1, 6)]
    if kind == 3:
        return f"poly({a}, 0, over={n1}, power={p})", [n1]
    if kind == 4:
        return (f"linear({a}, {b}, over={n1}) >> cosine({b}, {c}, over={n2}) >> poly({c}, 0, over={n3}, power={p})",
                [n1, n1 + n2, n1 + n2 + n3])
    return f"poly_cycles({a}, {b}, over={n1}, power={p}) * scale({g} ** floor(x / {k}))", [n1 * i for i in (1, 2, 3)]


def _stepped_sample():
    rng = np.random.default_rng(20240611)
    return FLIPS + [_stepped(rng) for _ in range(40)]


@pytest.mark.parametrize("expr, marks", _stepped_sample(), ids=lambda v: v if isinstance(v, str) else "")
def test_x64_boundaries_equal_numpy_within_the_float64_bound(expr, marks):
    from clrdsl.evaluation.numerics import FLOAT64_BOUND
    from clrdsl.tools.explain import boundaries

    checked = clrdsl.check(expr)
    phases, cycles = boundaries(checked.root, 10**7)
    steps = np.array(sorted({max(int(m) + d, 0) for m in [*marks, *phases, *cycles[:8]] for d in (-1, 0, 1)}))
    want = clrdsl.compile(checked)(steps)  # NumPy: IEEE division
    with _x64():
        s = clrdsl.compile(checked, backend="jax")
        got = {
            "array": np.asarray(s(steps)),
            "scalar": np.array([float(s(int(t))) for t in steps]),
            "in a jit": np.asarray(jax.jit(lambda t: s(t) * 1.0)(jnp.asarray(steps))),
            "vmap": np.asarray(jax.jit(jax.vmap(s))(jnp.asarray(steps))),
        }
    bound = FLOAT64_BOUND * (float(np.max(np.abs(want))) or 1.0)
    for how, values in got.items():
        assert values.dtype == np.float64
        worst = int(np.argmax(np.abs(values - want)))
        assert abs(values[worst] - want[worst]) <= bound, (how, int(steps[worst]), values[worst], want[worst])


def test_divisions_stay_divisions_in_the_compiled_code():
    # what XLA is given: a divide by something it cannot fold (no multiply by 1/3827)
    with _x64():
        s = clrdsl.compile("poly(0.00864, 0, over=3827, power=0.1326)", backend="jax")
        hlo = jax.jit(s).lower(jnp.arange(10)).compile().as_text()
    assert "divide(" in hlo
    assert repr(1 / 3827)[:10] not in hlo and f"{1 / 3827:.6e}"[:8] not in hlo


# -- emission ----------------------------------------------------------------------------

EMIT_RUNNER = """
import sys, importlib, json
import numpy as np
sys.modules["clrdsl"] = None  # the generated modules must not need clrdsl
sys.path.insert(0, sys.argv[1])
import jax, optax
steps = np.load(sys.argv[2])
out = {}
for name in json.loads(sys.argv[3]):
    mod = importlib.import_module(name)
    out[name] = np.asarray(mod.schedule(steps))
    optax.sgd(learning_rate=mod.schedule).init(np.zeros(2))  # accepted by optax
np.savez(sys.argv[4], **out)
"""


def test_emitted_modules_are_standalone_and_equal(tmp_path):
    import json
    import subprocess
    import sys

    from click.testing import CliRunner

    from clrdsl.tools.cli import main

    steps = np.concatenate([np.arange(0, 3000), [2**24 + 1, 2**31 - 1]]).astype(np.int32)
    np.save(tmp_path / "steps.npy", steps)
    names = {}
    for i, expr in enumerate(CORPUS[:: 2]):
        name = f"sched_{i}"
        res = CliRunner().invoke(main, ["compile", expr, "--backend", "jax", "--steps-per-epoch", str(SPE),
                                        "--total-steps", str(TOTAL), "-o", str(tmp_path / f"{name}.py")])
        assert res.exit_code == 0, res.output
        text = (tmp_path / f"{name}.py").read_text()
        assert not re.search(r"^\s*(import|from)\s+clrdsl", text, re.M)
        names[name] = expr
    out = subprocess.run([sys.executable, "-c", EMIT_RUNNER, str(tmp_path), str(tmp_path / "steps.npy"),
                          json.dumps(list(names)), str(tmp_path / "out.npz")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = np.load(tmp_path / "out.npz")
    for name, expr in names.items():
        assert got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], np.asarray(_jax(expr)(steps)), rtol=2e-6, atol=1e-9, err_msg=expr)


def test_backend_emit_is_the_plugin_contract():
    text = clrdsl.contract.registry.get_backend("jax").emit(clrdsl.check("triangular2(0.001, 0.006, step=20)"))
    assert text.startswith("# Generated by `clrdsl compile --backend jax`")
    assert "def schedule(step):" in text and "triangular2(0.001, 0.006, step=20)" in text


@pytest.mark.parametrize("expr, end", [(f"{s}(1.0, 0.0001, over=0)", 1e-4) for s in
                                        ("linear", "cosine", "exponential", "poly", "interp")]
                         + [("range_test(0.0001, 1.0, over=0)", 1.0), ("range_test(1e-7, 3.0, over=0, mode=linear)", 3.0)])
def test_a_ramp_of_no_length_is_its_end_exactly_in_float32(expr, end):
    # `start + (end - start) * 1` cancels `start` inexactly in float32 (1.0 -> 1e-4 gave
    # 1.00017e-4, beyond the float32 bound relative to the value 1e-4)
    got = np.asarray(jax.jit(_jax(expr))(jnp.arange(5)))
    assert got.tolist() == [float(np.float32(end))] * 5
    assert _numpy(expr)(np.arange(5)).tolist() == [end] * 5
