"""The Keras ``LearningRateSchedule`` of an expression, serialized as its text."""

from __future__ import annotations

from typing import Any

import keras

from clrdsl.backend import Compiled
from clrdsl.api import check
from clrdsl.emit import load
from clrdsl.model import CheckedSchedule

from clrdsl.steps import check_step, config_parts

from .ops import int_dtype


@keras.saving.register_keras_serializable(package="clrdsl", name="Schedule")
class Schedule(Compiled, keras.optimizers.schedules.LearningRateSchedule):
    """A clrdsl expression as a Keras learning-rate schedule.

        opt = keras.optimizers.SGD(Schedule("triangular2(1e-3, 6e-3, step=2000)"))

    Written in ``keras.ops`` only: it runs on the TensorFlow, JAX and torch Keras
    backends, eagerly, inside ``tf.function`` (also with ``jit_compile=True``) and
    under ``jax.jit``. The value at a step is computed from the step alone, so a
    reloaded optimizer resumes exactly where its ``iterations`` counter stands.

    ``get_config()`` is ``{"expr": <canonical text>, "bindings": {...}}``: the
    expression is the serialized form. The class is registered with Keras as
    ``clrdsl>Schedule`` when ``clrdsl_keras`` is imported, which ``import clrdsl``
    arranges as soon as Keras is imported too.
    """

    def __init__(self, expr: str | CheckedSchedule, *, steps_per_epoch: int | None = None,
                 total_steps: int | None = None) -> None:
        super().__init__()
        self.checked = check(expr, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
        from .emit import TARGET

        # the code `clrdsl compile --backend keras` writes, run here
        self._fn = load(self.checked, TARGET).schedule_tensor

    def __call__(self, step):
        check_step(step, backend="keras", tensor_limit=2**31 if int_dtype() == "int32" else None)
        return self._fn(step)

    def get_config(self) -> dict[str, Any]:
        return {"expr": self.checked.expr, "bindings": self.checked.bindings_dict}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Schedule":
        expr, bindings = config_parts(config)  # the whole config is validated first (E614)
        return cls(expr, **bindings)

    def __reduce__(self):  # pickle and deepcopy by the text, like every other save
        return (_from_config, (type(self), self.get_config()))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.checked.bindings)
        return f"Schedule({self.checked.expr!r}{extra})"


def _from_config(cls, config):
    return cls.from_config(config)
