"""Standalone JAX code for ``clrdsl compile --backend jax``.

Built with clrdsl's shared generator (:mod:`clrdsl.evaluation.emit`), as any third-party backend
can: the module carries a copy of :class:`~clrdsl_jax.ops.JaxOps` and of the shapes the
schedule uses, and defines ``schedule(step)``, a jitted optax-compatible schedule.
"""

from __future__ import annotations

from clrdsl.evaluation.emit import Target, emit_module

from .ops import JaxOps, as_int_step, as_value, exact_divisions

ENTRY = '''
def evaluate(step):
    """The value at `step` (a JAX integer array or tracer), in the float dtype of the run."""
    t = as_int_step(step)
    return as_value(exact_divisions(value)(t), t)  # x / c as IEEE divides it, not x * (1 / c)
'''

WRAPPER = '''
@jax.jit
def schedule(step):
    """The value at `step`: a jnp scalar (float32; float64 under x64), or an array for an
    array of steps. Pure and traceable: optax.sgd(learning_rate=schedule) and
    optax.inject_hyperparams take it as it is."""
    return evaluate(jnp.asarray(step))
'''

USAGE = '''
Usage:
    from this_module import schedule
    optimizer = optax.sgd(learning_rate=schedule, momentum=0.9)
    float(schedule(1000))
'''

TARGET = Target(
    backend="jax",
    framework="JAX/optax",
    ops=JaxOps,
    imports=("import jax", "import jax.numpy as jnp"),
    entry=ENTRY,
    wrapper=WRAPPER,
    usage=USAGE,
    extras=(as_int_step, as_value, exact_divisions),
)


def emit(checked) -> str:
    """The standalone JAX module for a checked schedule."""
    return emit_module(checked, TARGET)
