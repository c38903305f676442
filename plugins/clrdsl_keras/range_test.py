"""The Keras session of the LR range test (see :mod:`clrdsl.tools.range_test`).

``clrdsl.range_test(model, data=(x, y), batch_size=32, ...)`` lands here for a
compiled ``keras.Model``: its optimizer and loss are the ones the test uses. ``data``
is a pair of arrays (cut into shuffled batches of ``batch_size``, reshuffled every
epoch from ``seed``) or any re-iterable of ``(x, y)`` batches, such as a
``tf.data.Dataset``. Each update is one ``train_on_batch``; the loss is that batch's
loss (Keras resets its metrics on every call), or the loss on ``val_data``.

The learning rate follows our ``range_test(...)`` schedule:

- an optimizer created with a float rate keeps its rate variable, and the test
  assigns the schedule's value to it before every update;
- an optimizer created with a ``LearningRateSchedule`` gets the ramp compiled by the
  clrdsl Keras backend in its place, evaluated at the optimizer's ``iterations``
  (which the test starts from 0); the train function is retraced for the test and
  again afterwards.

Restoring is exact: every model variable (weights, non-trainable statistics, seed
generator states), every optimizer variable (iterations, moments, the rate variable)
and the optimizer's learning-rate object are put back afterwards, even when the test
raises. An optimizer that was not built yet is built before the snapshot (its fresh
state is what is restored).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from clrdsl.diagnostics.errors import ClrdslValueError
from clrdsl.tools.range_test import endless


class KerasSession:
    def __init__(self, model, data, *, ramp: str, loss_fn=None, optimizer=None, metric=None,
                 val_data=None, batch_size: int = 32, seed: int = 0) -> None:
        if loss_fn is not None or optimizer is not None:
            raise ClrdslValueError("a Keras range test uses the model's compiled optimizer and loss",
                                   code="E709", found="loss_fn= or optimizer= given",
                                   hint="model.compile(optimizer=..., loss=..., metrics=['accuracy']), then "
                                        "range_test(model, data=(x, y))")
        if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
            raise ClrdslValueError("the Keras model is not compiled", code="E709",
                                   hint="model.compile(optimizer=..., loss=...) before the range test")
        if data is None:
            raise ClrdslValueError("a Keras range test needs data: (x, y) arrays or an iterable of batches",
                                   code="E709")
        if metric is not None and not isinstance(metric, str):
            raise ClrdslValueError("for Keras, metric names a compiled metric (e.g. 'accuracy')",
                                   code="E709", found=repr(metric))
        self.model, self.optimizer, self.metric = model, model.optimizer, metric
        self.val_data, self.batch_size = val_data, int(batch_size)
        self._arrays = isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape")
        self.data = data
        if self._arrays:
            self._n = len(data[1])
            self.steps_per_epoch = -(-self._n // self.batch_size)
        else:
            self.steps_per_epoch = len(data) if hasattr(data, "__len__") else None
        self._ramp = ramp
        self._rng = np.random.RandomState(seed)
        self._it = None
        self._t = 0

    # -- state -------------------------------------------------------------------------
    def __enter__(self) -> "KerasSession":
        opt, model = self.optimizer, self.model
        if not model.built:
            x, _ = self._peek()
            model(x)
        if not opt.built:
            opt.build(model.trainable_variables)
        self._model_state = [v.numpy().copy() for v in model.variables]
        self._opt_state = [v.numpy().copy() for v in opt.variables]
        # the rate object itself (a variable or a schedule); Keras has no public getter for it
        self._lr_object = opt._learning_rate
        self._assign = isinstance(opt.learning_rate, keras.Variable)
        if not self._assign:
            from clrdsl_keras import Schedule

            opt.learning_rate = Schedule(self._ramp)
            opt.iterations.assign(0)
            model.make_train_function(force=True)
        return self

    def __exit__(self, *exc) -> None:
        opt, model = self.optimizer, self.model
        if not self._assign:
            opt.learning_rate = self._lr_object
            model.make_train_function(force=True)
        for v, a in zip(model.variables, self._model_state):
            v.assign(a)
        for v, a in zip(opt.variables, self._opt_state):
            v.assign(a)
        self._it = None

    # -- batches -------------------------------------------------------------------------
    def _peek(self):
        if self._arrays:
            x, y = self.data
            return x[: self.batch_size], y[: self.batch_size]
        return next(iter(self.data))

    def _next_batch(self):
        if self._arrays:
            if self._it is None:
                self._it = iter(np.array_split(self._rng.permutation(self._n), self.steps_per_epoch))
            idx = next(self._it, None)
            if idx is None:
                self._it = None
                return self._next_batch()
            x, y = self.data
            return x[idx], y[idx]
        if self._it is None:
            self._it = endless(self.data)
        return next(self._it)

    # -- one update --------------------------------------------------------------------
    def step(self, lr: float) -> tuple[float, float | None]:
        if self._assign:
            self.optimizer.learning_rate = lr
        x, y = self._next_batch()
        logs = self.model.train_on_batch(x, y, return_dict=True)
        self._t += 1
        if self.val_data is not None:
            vx, vy = self.val_data
            logs = self.model.evaluate(vx, vy, batch_size=max(self.batch_size, 256), verbose=0, return_dict=True)
        return float(logs["loss"]), self._metric(logs)

    def _metric(self, logs: dict[str, Any]) -> float | None:
        if self.metric is None:
            return None
        for key in (self.metric, f"compile_metrics_{self.metric}"):
            if key in logs:
                return float(logs[key])
        raise ClrdslValueError(f"the model reports no metric named {self.metric!r}", code="E709",
                               expected="one of " + ", ".join(k for k in logs if k != "loss"),
                               hint="compile the model with metrics=[...] that include it")


# Importing this module can be what first imports Keras; clrdsl's import hook then leaves the
# registration of Schedule to this package (see clrdsl/contract/_import_hooks.py): it happens here.
from . import schedule as _registers_schedule  # noqa: E402,F401
