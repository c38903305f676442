"""The Keras backend: a ``LearningRateSchedule`` and a per-batch callback.

    import clrdsl, keras
    lr = clrdsl.compile("triangular2(1e-3, 6e-3, step=2000)", backend="keras")
    model.compile(optimizer=keras.optimizers.SGD(lr), ...)

``clrdsl.compile(expr, backend="keras")`` returns a :class:`Schedule` (a mapping of
expressions gives a dict of them). Importing ``clrdsl_keras.schedule`` registers
``Schedule`` with Keras (as ``clrdsl>Schedule``) so saved models reload; ``import clrdsl``
imports it as soon as Keras itself is imported, so ``keras.models.load_model`` works after
``import clrdsl`` with no ``custom_objects``. This package itself imports Keras only on
first use, so listing plugins stays fast. :func:`custom_objects` gives the mapping
for code that prefers to be explicit.
"""

from __future__ import annotations

from collections.abc import Mapping

from clrdsl.contract.backend import Backend, Emits, Evaluates, RangeTests, model_roots
from clrdsl.diagnostics.errors import ClrdslTypeError
from clrdsl.evaluation.emit import emit_module

__all__ = ["Schedule", "ScheduleCallback", "PlateauCallback", "KerasOps", "Step", "custom_objects",
           "backend"]


def custom_objects() -> dict[str, type]:
    """``{"clrdsl>Schedule": Schedule}``, for ``load_model(..., custom_objects=...)``."""
    from .schedule import Schedule

    return {"clrdsl>Schedule": Schedule}


class KerasBackend(Backend, Emits, Evaluates, RangeTests):
    name = "keras"
    requires = ("keras",)
    extra = "keras"

    @property
    def ops(self):
        from .ops import KerasOps

        return KerasOps

    @property
    def target(self):
        from .emit import TARGET

        return TARGET

    def compile(self, checked, **options):
        if options:
            raise ClrdslTypeError(
                f"the keras backend takes no options (got {', '.join(options)})", code="E610",
                expected="clrdsl.compile(expr, backend='keras', steps_per_epoch=..., total_steps=...)",
                found=", ".join(f"{k}=" for k in options),
                hint="bind units with steps_per_epoch= and total_steps=",
            )
        if isinstance(checked, Mapping):
            return self.compile_mapping(checked)
        from .schedule import Schedule

        return Schedule(checked)

    def emit(self, checked):
        return emit_module(checked, self.target)

    def values(self, checked, steps, metrics=None):
        import keras
        import numpy as np

        out = keras.ops.convert_to_numpy(self.compile(checked)(np.asarray(list(steps), dtype=np.int64),
                                                               metrics=metrics))
        return [float(v) for v in np.asarray(out, dtype=np.float64)]

    def handles_model(self, model):
        return bool(model_roots(model) & {"keras", "tf_keras"})

    def range_test_session(self, model, loss_fn, data, optimizer, **kw):
        from .range_test import KerasSession

        if data is None and loss_fn is not None and optimizer is None:
            data, loss_fn = loss_fn, None  # range_test(model, (x, y)) reads naturally for Keras
        return KerasSession(model, data, loss_fn=loss_fn, optimizer=optimizer, **kw)


backend = KerasBackend()

_LAZY = {"Schedule": "schedule", "ScheduleCallback": "callback", "PlateauCallback": "callback",
         "KerasOps": "ops", "Step": "ops"}


def __getattr__(name):
    # Keras is imported with these, on first use, so that listing plugins stays fast.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
