"""Conformance with Keras 3 learning-rate schedules (TensorFlow backend, see conftest.py).

Keras computes a schedule in the dtype of ``initial_learning_rate`` converted to a
tensor: a Python float becomes float32 (``keras.config.set_floatx`` does not change
that), a NumPy float64 stays float64. Passing ``np.float64`` initial rates makes
Keras run the very same formulas in float64, so the comparison below is an honest
rtol 1e-9 one and not a float32-tolerance one. (``warmup_target``, ``t_mul``,
``m_mul`` must be float64 too: a Python float there is rounded through float32.)
"""

from __future__ import annotations

import numpy as np
import pytest

import clrdsl

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
from keras.optimizers.schedules import CosineDecay, CosineDecayRestarts  # noqa: E402

RTOL = 1e-9


def keras_values(schedule, n):
    """Values of a Keras schedule at steps 0..n-1 (one graph call, float64)."""

    @tf.autograph.experimental.do_not_convert
    def one(step):
        return tf.cast(schedule(step), tf.float64)

    run = tf.function(lambda steps: tf.map_fn(one, steps, fn_output_signature=tf.float64),
                      autograph=False)
    out = run(tf.range(n, dtype=tf.int64)).numpy()
    assert out.dtype == np.float64
    return out


def ours(expr, n):
    return clrdsl.compile(expr)(np.arange(n))


def test_schedule_dtype_follows_initial_rate():
    # the premise of this module: float64 in, float64 math out
    assert CosineDecay(np.float64(0.1), 10)(3).dtype == tf.float64
    assert CosineDecay(0.1, 10)(3).dtype == tf.float32


@pytest.mark.parametrize("init,target,warmup,decay,alpha", [
    (0.0, 1.0, 100, 900, 0.1),
    (0.001, 0.02, 37, 1500, 0.0),
    (0.05, 0.05, 1, 400, 0.5),
])
def test_cosine_decay_with_warmup(init, target, warmup, decay, alpha):
    n = warmup + decay + 200
    ref = keras_values(CosineDecay(np.float64(init), decay, alpha=alpha, warmup_target=np.float64(target),
                                   warmup_steps=warmup), n)
    expr = f"warmup_cosine({target}, warmup={warmup}, decay={decay}, init={init}, end={alpha * target!r})"
    np.testing.assert_allclose(ours(expr, n), ref, rtol=RTOL)


def test_cosine_decay_without_warmup():
    n = 1300
    ref = keras_values(CosineDecay(np.float64(0.1), 1000, alpha=0.05), n)
    np.testing.assert_allclose(ours(f"cosine(0.1, {0.1 * 0.05!r}, over=1000)", n), ref, rtol=RTOL)


@pytest.mark.parametrize("first,t_mul,m_mul,alpha", [
    (10, 2.0, 0.5, 0.0),
    (25, 1.0, 0.9, 0.01),
    (7, 3.0, 1.0, 0.1),
])
def test_cosine_decay_restarts(first, t_mul, m_mul, alpha):
    n = 3000
    ref = CosineDecayRestarts(np.float64(0.1), first, t_mul=np.float64(t_mul),
                              m_mul=np.float64(m_mul), alpha=np.float64(alpha))(
        np.arange(n)).numpy()
    assert ref.dtype == np.float64
    expr = f"cosine_restarts(0.1, {0.1 * alpha!r}, period={first}, mult={t_mul}, decay={m_mul})"
    got = ours(expr, n)
    # Keras finds the restart index as floor(log(1 - c(1 - t_mul)) / log(t_mul)); that log
    # ratio can round just below an integer, so at some restart steps Keras gives the end
    # of the previous cycle (alpha) instead of the new peak. Ours lands every restart on
    # its step (exact integer boundaries); the two agree everywhere else.
    i = np.arange(40)
    restarts = first * i if t_mul == 1 else first * (t_mul**i - 1) / (t_mul - 1)
    restarts = restarts[restarts < n].astype(int)
    bad = ~np.isclose(got, ref, rtol=RTOL, atol=1e-15)
    assert set(np.flatnonzero(bad)) <= set(restarts[1:])
    for k, b in enumerate(restarts):
        assert got[b] == pytest.approx(0.1 * alpha + 0.1 * (1 - alpha) * m_mul**k, rel=RTOL)
        if bad[b]:
            assert ref[b] == pytest.approx(0.1 * alpha, rel=1e-12)


def test_cosine_decay_restarts_boundary_rounding_is_keras_not_ours():
    # the case above with t_mul=3: Keras misplaces its first restart (step 7)
    ref = CosineDecayRestarts(np.float64(0.1), 7, t_mul=np.float64(3.0))(np.arange(8)).numpy()
    got = ours("cosine_restarts(0.1, period=7, mult=3)", 8)
    assert got[7] == 0.1 and ref[7] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(got[:7], ref[:7], rtol=RTOL)
