"""The LR range test on Keras: exact restore, both kinds of learning rate, the known band."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
keras = pytest.importorskip("keras")

import clrdsl  # noqa: E402
from clrdsl.diagnostics.errors import ClrdslValueError  # noqa: E402


def _data(n=512, seed=0):
    rs = np.random.RandomState(seed)
    x = rs.randn(n, 8).astype("float32")
    y = ((x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5).astype("int64"))
    return x, y


def _model(lr):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16), keras.layers.BatchNormalization(),
        keras.layers.ReLU(), keras.layers.Dropout(0.2), keras.layers.Dense(3),
    ])
    model.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _state(model):
    return ([v.numpy().copy() for v in model.variables], [v.numpy().copy() for v in model.optimizer.variables])


def _assert_same(a, b):
    for xs, ys in zip(a, b):
        assert len(xs) == len(ys)
        for x, y in zip(xs, ys):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


def test_keras_restores_everything_and_training_continues_identically():
    x, y = _data()

    def run(with_test):
        model = _model(0.05)
        model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)   # optimizer state exists
        before = _state(model)
        if with_test:
            r = clrdsl.range_test(model, data=(x, y), batch_size=32, start=1e-4, end=100.0, steps=40,
                                  metric="accuracy")
            assert r.diverged and len(r.lr) < 40 and r.smoothed_metric is not None
            _assert_same(before, _state(model))
            assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.05)
        model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)   # dropout draws again
        return _state(model)

    _assert_same(run(False), run(True))


def _spy_rate(model):
    """Record the rate the optimizer will use, just before each train_on_batch."""
    seen, orig = [], model.train_on_batch

    def spy(*a, **k):
        seen.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        return orig(*a, **k)

    model.train_on_batch = spy
    return seen


def test_the_ramp_is_the_rate_keras_used():
    x, y = _data()
    model = _model(0.01)
    seen = _spy_rate(model)
    r = clrdsl.range_test(model, (x, y), batch_size=64, start=1e-3, end=0.3, steps=12, diverge=1e9)
    np.testing.assert_allclose(seen, r.lr, rtol=1e-6)         # float32 variable
    np.testing.assert_array_equal(r.lr, clrdsl.compile(r.schedule)(np.arange(12)))
    assert r.steps_per_epoch == 8


def test_a_schedule_learning_rate_is_swapped_and_put_back():
    x, y = _data()
    keras.utils.set_random_seed(0)
    sched = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=10, decay_rate=0.5)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(sched),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    before = _state(model)
    iters = int(model.optimizer.iterations.numpy())
    seen = _spy_rate(model)
    r = clrdsl.range_test(model, (x, y), batch_size=64, start=1e-3, end=1.0, steps=16, diverge=1e9)
    del model.train_on_batch
    np.testing.assert_allclose(seen, r.lr, rtol=1e-6)         # our Keras Schedule, from iteration 0
    _assert_same(before, _state(model))
    assert model.optimizer._learning_rate is sched            # the very object, back in place
    assert int(model.optimizer.iterations.numpy()) == iters
    # training afterwards follows the original schedule again (the train function was retraced)
    model.fit(x[:64], y[:64], batch_size=64, epochs=1, verbose=0)
    np.testing.assert_allclose(float(model.optimizer.learning_rate.numpy()), sched(iters + 1).numpy(), rtol=1e-6)
    assert len(r.lr) == 16


def test_keras_suggestion_lands_in_the_known_band():
    # least squares: good rates are stable (< 2 / L) and take >= 3 e-folds per epoch off the error
    rs = np.random.RandomState(0)
    n, d = 4096, 20
    x = rs.randn(n, d).astype("float32")
    y = (x @ rs.randn(d, 1) + 0.1 * rs.randn(n, 1)).astype("float32")
    eig = np.linalg.eigvalsh(2 * x.T.astype("float64") @ x / n)
    lo, hi = 3.0 / (64 * eig.min()), 2.0 / eig.max()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    r = clrdsl.range_test(model, (x, y), batch_size=64, start=1e-4, end=10.0, steps=100)
    base, top = r.suggestion
    assert lo <= base < top <= hi, (r.suggestion, lo, hi)
    text = r.expression("triangular2", 4, units="epochs")
    assert clrdsl.check(text, steps_per_epoch=r.steps_per_epoch).expr.startswith("triangular2(")


def test_keras_input_errors():
    x, y = _data()
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    with pytest.raises(ClrdslValueError, match="not compiled"):
        clrdsl.range_test(model, (x, y))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ClrdslValueError, match="no metric named"):
        clrdsl.range_test(model, (x, y), steps=5, metric="accuracy")
    with pytest.raises(ClrdslValueError, match="compiled optimizer and loss"):
        clrdsl.range_test(model, "mse", (x, y), "sgd")
