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

__all__ = ["Schedule", "ScheduleCallback", "KerasOps", "Step", "custom_objects", "backend"]


def custom_objects() -> dict[str, type]:
    """``{"clrdsl>Schedule": Schedule}``, for ``load_model(..., custom_objects=...)``."""
    from .schedule import Schedule

    return {"clrdsl>Schedule": Schedule}


class KerasBackend:
    name = "keras"
    requires = ("keras",)
    extra = "keras"

    @property
    def ops(self):
        from .ops import KerasOps

        return KerasOps

    def compile(self, checked, **options):
        if options:
            raise TypeError(f"the keras backend takes no options (got {', '.join(options)}); "
                            "bind units with steps_per_epoch= and total_steps=")
        if isinstance(checked, Mapping):
            return {k: self.compile(v) for k, v in checked.items()}
        from .schedule import Schedule

        return Schedule(checked)

    def emit(self, checked):
        from .emit import emit

        return emit(checked)


backend = KerasBackend()

_LAZY = {"Schedule": "schedule", "ScheduleCallback": "callback", "KerasOps": "ops", "Step": "ops"}


def __getattr__(name):
    # Keras is imported with these, on first use, so that listing plugins stays fast.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
