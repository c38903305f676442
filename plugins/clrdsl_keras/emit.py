"""Standalone Keras code for ``clrdsl compile --backend keras``.

The generated code (which :class:`~clrdsl_keras.schedule.Schedule` runs in-process)
carries a copy of the keras backend's ops (:mod:`clrdsl_keras.ops`:
the step stays an integer until a shape asks for a float, so positions inside a cycle
are exact at any step) and defines ``schedule(step)`` and ``Schedule``: a
``keras.optimizers.schedules.LearningRateSchedule`` registered for serialization.
"""

from __future__ import annotations

from clrdsl.evaluation.emit import Target, emit_module

from .ops import KerasOps, finish, to_step

ENTRY = '''
def schedule_tensor(step):
    """The value at `step` as a floatx tensor shaped like the step (keras.ops only)."""
    if getattr(getattr(step, "shape", None), "rank", 0) is None:
        # a TensorFlow step of unknown rank (tf.function(input_signature=[tf.TensorSpec(None,
        # tf.int64)])): keras.ops needs a rank, so evaluate it flat and give back its shape
        import tensorflow as tf

        return tf.reshape(schedule_tensor(tf.reshape(step, [-1])), tf.shape(step))
    t = to_step(step)
    return finish(value(t), t)


def schedule(step):
    """The value at `step` (an int gives a float; an integer array gives an array)."""
    out = keras.ops.convert_to_numpy(schedule_tensor(step))
    return float(out) if out.ndim == 0 else out
'''

WRAPPER = '''
@keras.saving.register_keras_serializable("clrdsl_generated", "Schedule_" + FINGERPRINT)
class Schedule(keras.optimizers.schedules.LearningRateSchedule):
    """The schedule as a Keras learning-rate schedule: `keras.optimizers.SGD(Schedule())`.

    Computed with keras.ops from the optimizer's step alone (TensorFlow, JAX and torch
    Keras backends; eager, tf.function, XLA, jax.jit)."""

    def __call__(self, step):
        return schedule_tensor(step)

    def get_config(self):
        return {"expr": EXPR, "bindings": dict(BINDINGS)}

    @classmethod
    def from_config(cls, config):
        return cls()
'''

USAGE = '''
Usage:
    from this_module import Schedule, schedule
    optimizer = keras.optimizers.SGD(learning_rate=Schedule())
    schedule(1000)    # a float (computed in keras.config.floatx(), float32 by default)
'''

TARGET = Target(
    backend="keras",
    framework="Keras",
    ops=KerasOps,
    imports=("import keras",),
    entry=ENTRY,
    wrapper=WRAPPER,
    usage=USAGE,
    extras=(to_step, finish),
)


def emit(checked) -> str:
    """The standalone Keras module for a checked schedule."""
    return emit_module(checked, TARGET)
