"""The JAX/optax backend of clrdsl, a distribution of its own (``clrdsl-jax``).

``clrdsl.compile(expr, backend="jax")`` returns a :class:`JaxSchedule`: an
optax-compatible schedule, ``step -> jnp`` scalar, pure and traceable, so it works
under ``jax.jit``, as ``optax.sgd(learning_rate=...)``, in ``optax.inject_hyperparams``
and with a traced step. A mapping of expressions (``{"learning_rate": ..., "b1": ...}``)
compiles to a dict of schedules, ready for ``optax.inject_hyperparams(optax.adam)(**d)``.

A schedule with plateau clocks (``on=plateau(...)``) depends on reported metrics, so it
compiles to a :class:`~clrdsl_jax.plateau.JaxPlateauSchedule` instead, whose
``transform()`` is an optax transformation taking the metric as ``value=`` (calling it
with a step raises ``E655``).

Values come from the code ``clrdsl compile --backend jax`` writes (clrdsl's one
definition of evaluation, :func:`clrdsl.evaluation.emit.load`), run in-process on
:class:`~clrdsl_jax.ops.JaxOps`; this package adds no formula of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from clrdsl import check
from clrdsl.contract.backend import Backend, Compiled, Emits, Evaluates
from clrdsl.diagnostics.errors import ClrdslLimitError, ClrdslTypeError
from clrdsl.evaluation.emit import emit_module, load
from clrdsl.evaluation.steps import check_step
from clrdsl.semantics.model import plateau_clocks

from .ops import JaxOps, int_dtype
from .plateau import ClockState, JaxPlateauSchedule, ScaleByPlateauState

__all__ = ["JaxOps", "JaxSchedule", "JaxPlateauSchedule", "ScaleByPlateauState", "ClockState",
           "JaxBackend", "backend"]
__version__ = "0.1.0"


def _step_array(step):
    """A step (or steps) as a JAX array; host floats must be whole numbers."""
    limit = 2**63 if np.dtype(int_dtype()) == np.int64 else 2**31
    check_step(step, backend="jax", limit=limit)  # never a wrapped step nor a fraction: refused, with the fix
    try:
        t = jnp.asarray(step)
    except OverflowError:
        raise OverflowError(
            f"step {step} does not fit in {np.dtype(int_dtype()).name}: JAX counts in 32 bits unless "
            "x64 is enabled (jax.config.update('jax_enable_x64', True))"
        ) from None
    if not (jnp.issubdtype(t.dtype, jnp.integer) or jnp.issubdtype(t.dtype, jnp.floating)):
        raise TypeError(f"steps must be integers (optimizer updates), got dtype {t.dtype}")
    return t


class JaxSchedule(Compiled):
    """A compiled schedule: ``s(step)`` gives a float32 scalar (float64 under x64);
    an integer array of steps gives an array. Pure and traceable (a call made outside
    a trace runs a jitted kernel); pickles as its canonical expression and bindings."""

    def __init__(self, checked) -> None:
        self.checked = checked
        from .emit import TARGET

        self._evaluate = load(checked, TARGET).evaluate
        self._jitted = jax.jit(self._evaluate)
        self._check_traceable()

    def __call__(self, step):
        return self._jitted(_step_array(step))

    def _check_traceable(self) -> None:
        # Trace once, abstractly (no computation): durations that do not fit the
        # integer step type fail here, at compile time, with a clear message.
        try:
            jax.eval_shape(self._evaluate, jax.ShapeDtypeStruct((), int_dtype()))
        except OverflowError:
            idt = np.dtype(int_dtype()).name
            raise ClrdslLimitError(
                f"the schedule has a duration or boundary beyond the largest {idt} step "
                f"({np.iinfo(int_dtype()).max})",
                code="E621",
                expected=f"durations that fit in {idt} for the jax backend",
                found=f"`{self.expr}`",
                hint="enable 64-bit integers before compiling: jax.config.update('jax_enable_x64', True)",
            ) from None

    def __reduce__(self):
        return (_rebuild, (self.checked.expr, self.checked.bindings))


def _rebuild(expr, bindings):
    return JaxSchedule(check(expr, **dict(bindings)))


def _compile_tree(checked):
    if isinstance(checked, Mapping):
        return {k: _compile_tree(v) for k, v in checked.items()}
    if plateau_clocks(checked.root):
        return JaxPlateauSchedule(checked)
    return JaxSchedule(checked)


class JaxBackend(Backend, Emits, Evaluates):
    name = "jax"
    requires = ("jax", "optax")
    extra = "jax"
    ops = JaxOps

    def compile(self, checked: Any, **options: Any):
        """A :class:`JaxSchedule` (a :class:`JaxPlateauSchedule` for a schedule with plateau
        clocks), or a dict of them for a mapping of expressions."""
        if options:
            raise ClrdslTypeError(
                f"the jax backend takes no options (got {', '.join(options)})", code="E622",
                expected="clrdsl.compile(expr, backend='jax', steps_per_epoch=..., total_steps=...)",
                found=", ".join(f"{k}=" for k in options),
                hint="optax takes the schedule itself: optax.sgd(learning_rate=schedule)",
            )
        if isinstance(checked, Mapping):  # lr, beta1, ... in optax's spelling: clrdsl.vocabulary
            from clrdsl.vocabulary import translate

            checked = translate(checked, "optax")
        return _compile_tree(checked)

    def compile_mapping(self, checked: Any, **options: Any):
        """A dict of schedules under optax's hyperparameter names (``clrdsl.vocabulary``)."""
        return self.compile(checked, **options)

    @property
    def target(self):
        from .emit import TARGET

        return TARGET

    def emit(self, checked) -> str:
        """A standalone module defining a jitted ``schedule(step)``; it imports jax, never clrdsl."""
        return emit_module(checked, self.target)

    def values(self, checked, steps) -> list[float]:
        if plateau_clocks(checked.root):  # no reports: every plateau clock reads 0, as on NumPy
            s = JaxPlateauSchedule(checked)
            t = np.asarray(list(steps))
            v = jax.jit(s.value)(t, tuple(np.zeros(t.shape, np.int32) for _ in s.clocks))
            return [float(x) for x in np.asarray(v, dtype=np.float64)]
        return [float(v) for v in np.asarray(JaxSchedule(checked)(np.asarray(list(steps))), dtype=np.float64)]


backend = JaxBackend()
