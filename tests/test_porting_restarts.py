"""Restart and stair placement, exact on every backend; what peers accept and clrdsl answers.

- integer ``mult`` against torch ``CosineAnnealingWarmRestarts`` step for step, on NumPy,
  the Python evaluator, Keras (traced int64 steps) and JAX;
- a decimal ``mult`` against restart steps computed here with ``fractions.Fraction``;
- staircases and "N cycles over D" at their boundaries, far out, in float32;
- the Keras ``Schedule`` under ``tf.function`` with any input signature;
- the refusals say why and show a spelling.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import clrdsl
from clrdsl.diagnostics.errors import ClrdslValueError
from clrdsl.evaluation.emit import probe
from clrdsl.evaluation.scalar import PYTHON, scalar_function


def _cycle_starts(period: Fraction, mult: Fraction, limit: int) -> list[int]:
    """Whole steps at which cycles 1, 2, ... begin: ceil of the exact partial sums."""
    out, s, length = [], Fraction(0), period
    while True:
        s += length
        if s >= limit:
            return out
        out.append(math.ceil(s))
        length *= mult


def _backends(expr, steps):
    """The schedule's values at ``steps`` on every backend that is installed."""
    out = {"numpy": clrdsl.compile(expr)(steps)}
    f = scalar_function(clrdsl.check(expr))
    out["python"] = np.array([f(int(t)) for t in steps])
    try:
        import tensorflow as tf

        out["keras"] = clrdsl.compile(expr, "keras")(tf.constant(steps, tf.int64)).numpy()
    except ImportError:
        pass
    try:
        import jax.numpy as jnp

        fit = steps[steps < 2**31 - 1]
        out["jax"] = np.asarray(clrdsl.compile(expr, "jax")(jnp.asarray(fit)))
    except ImportError:
        pass
    return out


def _restart_mask(values, lo, hi):
    """Steps where the schedule is at a restart (its max, within float32 rounding)."""
    return np.abs(values - hi) <= 1e-6 * abs(hi - lo)


@pytest.mark.parametrize("t0,mult", [(12, 3), (7, 3), (1, 2), (5, 2), (3, 4), (10, 1)])
def test_integer_mult_matches_torch_step_for_step_on_every_backend(t0, mult):
    torch = pytest.importorskip("torch")
    from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

    n = 1500
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=1.0)
    sched = CosineAnnealingWarmRestarts(opt, T_0=t0, T_mult=mult)
    want = np.empty(n)
    for t in range(n):
        want[t] = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
    steps = np.arange(n)
    expr = f"cosine_restarts(1, period={t0}, mult={mult})"
    for name, got in _backends(expr, steps).items():
        tol = 1e-9 if name in ("numpy", "python") else 2e-6
        np.testing.assert_allclose(got, want[: len(got)], rtol=0, atol=tol, err_msg=name)
        # the restarts themselves: exactly where torch restarts (value 1 there)
        np.testing.assert_array_equal(_restart_mask(got, 0, 1), _restart_mask(want[: len(got)], 0, 1),
                                      err_msg=name)


def test_the_reported_keras_case_restarts_on_time():
    # cosine_restarts(1, period=12, mult=3) at t = 480 is a restart (12 + 36 + 108 + 324 = 480)
    for name, got in _backends("cosine_restarts(1, period=12, mult=3)", np.array([479, 480, 481])).items():
        assert got[1] == pytest.approx(1.0, abs=1e-6), name
        assert got[0] < 1e-3, name


def test_restarts_at_40_periods_with_mult_3_on_keras():
    # the scan that found the Keras backend a step late: t = 40 * period is the 4th restart
    tf = pytest.importorskip("tensorflow")
    for period in range(2, 69):
        s = clrdsl.compile(f"cosine_restarts(1, period={period}, mult=3)", "keras")
        v = s(tf.constant([40 * period - 1, 40 * period], tf.int64)).numpy()
        assert v[1] == pytest.approx(1.0, abs=1e-6) and v[0] < 0.01, period


def _cycle_index(expr, steps):
    """The 0-based cycle index the shape reports (what `on=cycle` scales read), per backend."""
    from clrdsl_numpy.emit import TARGET as NUMPY

    root = clrdsl.check(expr).root

    def cycle(target):  # the generated cycle index of the shape, on a backend's ops
        mod = probe(root, target, (("cycle", root, "probe_cycle"),))
        return mod, mod.probe_cycle

    out = {"numpy": np.asarray(cycle(NUMPY)[1](steps)),
           "python": np.array([cycle(PYTHON)[1](int(t)) for t in steps])}
    try:
        import tensorflow as tf

        from clrdsl_keras.emit import TARGET as KERAS

        mod, f = cycle(KERAS)
        out["keras"] = np.asarray(f(mod.to_step(tf.constant(steps, tf.int64))).v)
    except ImportError:
        pass
    try:
        import jax.numpy as jnp

        from clrdsl_jax.emit import TARGET as JAX

        fit = steps[steps < 2**31 - 1]
        out["jax"] = np.asarray(cycle(JAX)[1](jnp.asarray(fit)))
    except ImportError:
        pass
    return out


@pytest.mark.parametrize("seed", range(2))
def test_decimal_mult_restarts_at_the_exact_rational_boundaries(seed):
    rng = np.random.default_rng(seed)
    for _ in range(8):
        period = int(rng.integers(50, 5000))
        mult = round(float(rng.uniform(1.05, 4)), int(rng.integers(1, 5)))
        starts = _cycle_starts(Fraction(period), Fraction(repr(mult)), 2**62)[:200]
        expr = f"cosine_restarts(1, period={period}, mult={mult!r})"
        steps = np.array([s for b in starts for s in (b - 1, b)], dtype=np.int64)
        want = np.repeat(np.arange(len(starts)), 2) + np.tile([0, 1], len(starts))
        for name, got in _cycle_index(expr, steps).items():
            np.testing.assert_array_equal(got, want[: len(got)], err_msg=f"{expr} {name}")
        # and the values jump there: near the floor just before, near the top at the restart
        first = steps[:12]
        for name, got in _backends(expr, first).items():
            assert np.all(got[0::2] < 0.01) and np.all(got[1::2] > 0.99), (expr, name, got)


def test_the_reported_decimal_case():
    expr = "cosine_restarts(0.0510867, period=3937, mult=2.238)"
    for name, got in _backends(expr, np.array([3936, 3937])).items():
        assert got[1] == pytest.approx(0.0510867, rel=1e-6), name


def test_cycle_clock_counts_restarts_exactly():
    # a scale on the cycle clock sees the exact restart index (decay ** i)
    expr = "cosine_restarts(1, period=7, mult=3, decay=0.5)"
    starts = _cycle_starts(Fraction(7), Fraction(3), 10**9)
    steps = np.array(starts, dtype=np.int64)
    for name, got in _backends(expr, steps).items():
        np.testing.assert_allclose(got, 0.5 ** np.arange(1, len(got) + 1), rtol=2e-6, err_msg=name)


@pytest.mark.parametrize("expr", ["cosine_restarts(0.1, period=1000, mult=1e308)",
                                  "cosine_restarts(0.1, period=3, mult=1e300, decay=2)",
                                  "cosine_restarts(0.1, period=1, mult=1.01)"])
def test_extreme_mult_is_finite(expr):
    steps = np.array([0, 1, 999, 1000, 1001, 10**6, 2**31 - 2, 2**40, 2**62], dtype=np.int64)
    for name, got in _backends(expr, steps).items():
        assert np.all(np.isfinite(got)), (name, got)


def test_growing_peaks_are_bounded_and_match_keras():
    keras = pytest.importorskip("keras")
    s = keras.optimizers.schedules.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=1.5)
    steps = np.arange(300)
    want = np.asarray(keras.ops.convert_to_numpy(s(steps)), dtype=np.float64)
    got = clrdsl.compile("cosine_restarts(0.1, period=10, mult=2, decay=1.5)")(steps)
    np.testing.assert_allclose(got, want, rtol=3e-6, atol=3e-7)


@pytest.mark.parametrize("text,param,words", [
    ("cosine_restarts(0.1, period=10, mult=0.5)", "mult=0.5", ["accumulate at step 20", "cosine("]),
    ("cosine_restarts(0.1, period=10, decay=1.5)", "decay=1.5", ["without bound", "mult > 1"]),
    ("cosine_restarts(0.1, period=1, mult=1.0001)", "mult=1.0001", ["more than 4096"]),
    ("constant(0.1) * exp(gamma=1.01)", "gamma=1.01", ["cap=", "exponential("]),
    ("constant(0.1) * exp(gamma=0.9, cap=2)", "cap=2", ["gamma > 1"]),
])
def test_refusals_say_why_and_show_a_spelling(text, param, words):
    with pytest.raises(ClrdslValueError) as info:
        clrdsl.check(text)
    e = info.value
    assert text[e.span.start:e.span.end] == param
    for w in words:
        assert w in e.message, e.message


def test_capped_growth_matches_keras_growing_exponential_decay_until_the_cap():
    keras = pytest.importorskip("keras")
    s = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=1.5)
    steps = np.arange(200)
    want = np.asarray(keras.ops.convert_to_numpy(s(steps)), dtype=np.float64)
    got = clrdsl.compile(f"constant(0.01) * exp(gamma={1.5 ** 0.1!r}, cap=1000)")(steps)
    below = want < 0.01 * 1000 * 0.999
    np.testing.assert_allclose(got[below], want[below], rtol=1e-5)
    assert np.all(got[~below] == pytest.approx(10.0, rel=1e-9))
    assert np.all(np.isfinite(clrdsl.compile("constant(0.01) * exp(gamma=1.5, cap=1000)")(np.array([10**12]))))


def test_fractional_steps_per_epoch():
    c = clrdsl.check("linear(0, 1, over=4ep) >> 1", steps_per_epoch=390.625)
    assert c.root.starts[1] == 1562.5
    s = clrdsl.compile(c)
    assert s(1562) == pytest.approx(1562 / 1562.5) and s(1563) == 1.0
    with pytest.raises(ClrdslValueError):
        clrdsl.check("linear(0, 1, over=30%)", total_steps=1000.5)


@pytest.mark.parametrize("expr,boundaries", [
    ("step_decay(1, every=1000, gamma=0.5)", [1000 * k for k in (1, 2, 3, 2**21)]),
    ("cosine_cycles(1, cycles=3, over=3001)", [1001, 2001]),
])
def test_stairs_and_cycles_change_exactly_at_their_boundaries_in_float32(expr, boundaries):
    steps = np.array([s for b in boundaries for s in (b - 1, b)], dtype=np.int64)
    ref = clrdsl.compile(expr)(steps)
    for name, got in _backends(expr, steps).items():
        np.testing.assert_allclose(got, ref[: len(got)], rtol=2e-6, atol=1e-7, err_msg=name)


def test_hard_restarts_match_hf_where_a_rounded_period_would_not():
    pytest.importorskip("transformers")
    import torch
    from transformers.optimization import get_cosine_with_hard_restarts_schedule_with_warmup as hard

    for w, n, c in [(0, 3620, 3), (10, 1216, 3), (7, 1000, 7)]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        lam = hard(opt, w, n, c).lr_lambdas[0]
        want = np.array([lam(t) for t in range(n + 3)])
        got = clrdsl.compile(f"hard_restarts(1, warmup={w}, total={n}, cycles={c})")(np.arange(n + 3))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
def test_keras_schedule_under_tf_function_with_unknown_rank(shape):
    tf = pytest.importorskip("tensorflow")
    expr = "linear(0, 1, over=10) >> cosine_restarts(1, period=12, mult=3)"
    s = clrdsl.compile(expr, "keras")
    steps = np.arange(470, 470 + max(1, int(np.prod(shape))), dtype=np.int64).reshape(shape)
    want = clrdsl.compile(expr)(steps)
    for spec in (tf.TensorSpec(None, tf.int64), tf.TensorSpec(shape, tf.int64)):
        f = tf.function(s, input_signature=[spec])
        got = f(tf.constant(steps)).numpy()
        assert got.shape == steps.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
