"""``ScheduleCallback.reset()`` in the middle of a ``fit``, against the CLR callback's timing.

The CLR callback (bckenstler/CLR, not a package) is re-derived below from its documented
algorithm: ``clr()`` is a function of ``clr_iterations``; ``on_train_begin`` sets
``base_lr`` when ``clr_iterations == 0`` and ``clr()`` otherwise; ``on_batch_end``
increments the counters, records the rate the batch used, and sets the rate of the next
batch to ``clr()``; ``_reset()`` sets ``clr_iterations`` back to 0. Both callbacks run in
a real Keras ``fit``; a third callback calls the reset after a chosen batch.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from clrdsl_keras import ScheduleCallback  # noqa: E402

BASE, TOP, STEP = 1e-3, 5e-3, 4  # rates 1..5 (x 1e-3) up and down
EXPR = f"triangular({BASE}, {TOP}, step={STEP})"
N = 14


class ClrReference(keras.callbacks.Callback):
    """CLR's triangular policy, following its documented callback algorithm."""

    def __init__(self):
        super().__init__()
        self.clr_iterations = 0
        self.trn_iterations = 0
        self.history = {"lr": []}

    def clr(self):
        cycle = np.floor(1 + self.clr_iterations / (2 * STEP))
        x = np.abs(self.clr_iterations / STEP - 2 * cycle + 1)
        return BASE + (TOP - BASE) * np.maximum(0, 1 - x)

    def _reset(self):
        self.clr_iterations = 0

    def on_train_begin(self, logs=None):
        self.model.optimizer.learning_rate = BASE if self.clr_iterations == 0 else self.clr()

    def on_train_batch_end(self, batch, logs=None):
        self.trn_iterations += 1
        self.clr_iterations += 1
        self.history["lr"].append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        self.model.optimizer.learning_rate = self.clr()


class Resetter(keras.callbacks.Callback):
    def __init__(self, target, after_batch, **kw):
        super().__init__()
        self.target, self.after_batch, self.kw = target, after_batch, kw

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.after_batch:
            if isinstance(self.target, ClrReference):
                self.target._reset()
            else:
                self.target.reset(**self.kw)


def fit(callbacks, epochs=1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    x = np.linspace(0, 1, N).reshape(-1, 1).astype("float32")
    model.fit(x, 2 * x, batch_size=1, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)


def lr_history(cb):
    return np.asarray(cb.history["lr"], dtype=np.float64)


@pytest.mark.parametrize("after_batch", [2, 5])
@pytest.mark.parametrize("resetter_first", [False, True])
def test_reset_with_clr_timing_matches_clr(after_batch, resetter_first):
    ref = ClrReference()
    fit([Resetter(ref, after_batch), ref] if resetter_first else [ref, Resetter(ref, after_batch)])
    ours = ScheduleCallback(EXPR)
    r = Resetter(ours, after_batch, timing="clr")
    fit([r, ours] if resetter_first else [ours, r])
    assert len(lr_history(ref)) == N
    np.testing.assert_allclose(lr_history(ours), lr_history(ref), rtol=1e-6)
    # and the reset did change something: without it both follow the plain cycle
    plain = ScheduleCallback(EXPR)
    fit([plain])
    assert not np.allclose(lr_history(plain), lr_history(ref), rtol=1e-6)


@pytest.mark.parametrize("after_batch", [2, 5])
@pytest.mark.parametrize("resetter_first", [False, True])
def test_default_reset_starts_the_very_next_batch_at_clock_zero(after_batch, resetter_first):
    ours = ScheduleCallback(EXPR)
    r = Resetter(ours, after_batch)
    fit([r, ours] if resetter_first else [ours, r])
    fresh = np.array([ours.lr_at(k) for k in range(N)], dtype=np.float32).astype(np.float64)
    got = lr_history(ours)
    np.testing.assert_array_equal(got[: after_batch + 1], fresh[: after_batch + 1])
    np.testing.assert_array_equal(got[after_batch + 1:], fresh[: N - after_batch - 1])


def test_between_fits_both_timings_agree_with_clr():
    ref = ClrReference()
    fit([ref])
    ref._reset()
    fit([ref])
    for timing in ("next", "clr"):
        ours = ScheduleCallback(EXPR)
        fit([ours])
        ours.reset(timing=timing)
        fit([ours])
        np.testing.assert_allclose(lr_history(ours), lr_history(ref), rtol=1e-6)


def test_timing_is_checked():
    with pytest.raises(ValueError, match="timing"):
        ScheduleCallback(EXPR).reset(timing="later")
