"""Plateau clocks on JAX/optax: an optax transformation that takes the metric as ``value=``.

A schedule with ``on=plateau(...)`` is ``value(t, k)``: the update count ``t`` and the
reductions ``k`` of each plateau clock. :class:`JaxPlateauSchedule` (what
``clrdsl.compile(expr, backend="jax")`` returns for such a schedule) offers
:meth:`~JaxPlateauSchedule.transform`, an ``optax.GradientTransformationExtraArgs`` that
receives the metric the way ``optax.contrib.reduce_on_plateau`` does
(``update(updates, state, params, value=loss)``), advances each clock in-graph by
:func:`clrdsl.evaluation.plateau.rule` (the one definition the host trackers run), and scales the
updates by ``-value(t, k)`` like ``optax.scale_by_learning_rate``.

Timing (the convention of every clrdsl backend): a report made with the update whose
count is ``t`` applies from that update on, so the update that reports already uses the
new counts, as optax's own transformation does.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from clrdsl.contract.backend import Compiled
from clrdsl.diagnostics.errors import ClrdslTypeError, ClrdslValueError
from clrdsl.evaluation import plateau as P
from clrdsl.semantics.model import plateau_clocks

from .ops import JaxOps, as_int_step, as_value, exact_divisions, float_dtype, int_dtype

__all__ = ["ClockState", "ScaleByPlateauState", "JaxPlateauSchedule"]


class ClockState(NamedTuple):
    """One plateau clock in-graph: the fields of :class:`clrdsl.evaluation.plateau.State`, and the
    running mean of the values not yet reported (``accumulation_size > 1``)."""

    best: jax.Array  # the best metric so far, in the metric's dtype
    bad: jax.Array  # int32: bad evaluations in a row
    cooldown: jax.Array  # int32: reports left in cooldown
    count: jax.Array  # int32: reductions so far (the clock's value k)
    avg: jax.Array  # the mean of the `seen` values accumulated since the last report
    seen: jax.Array  # int32


class ScaleByPlateauState(NamedTuple):
    """The state of :meth:`JaxPlateauSchedule.transform`: the update count and the clocks."""

    t: jax.Array  # the update count: int32, int64 under x64 (saturates at its maximum)
    clocks: tuple[ClockState, ...]  # in the order of clrdsl.semantics.model.plateau_clocks


_MISSING = object()


def _metric_dtype(params) -> Any:
    """optax's choice: the highest float dtype of the params (the run's float without any)."""
    dtypes = [jnp.asarray(x).dtype for x in jax.tree.leaves(params)]
    floats = [d for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    if not floats:
        return float_dtype()
    out = floats[0]
    for d in floats[1:]:
        out = jnp.promote_types(out, d)
    return out


def _listens(t, windows):
    """In-graph ``PlateauClock.listens``: whether the integer step ``t`` is in a window
    ``[a, b)`` (compared as integers: ``t >= ceil(a)`` and ``t < ceil(b)``)."""
    top = np.iinfo(t.dtype).max
    out = jnp.zeros(jnp.shape(t), dtype=bool)
    for a, b in windows:
        a = math.ceil(a)
        if a > top:
            continue
        inside = t >= a if a > 0 else jnp.ones(jnp.shape(t), dtype=bool)
        if b != math.inf and math.ceil(b) <= top:
            inside = inside & (t < math.ceil(b))
        out = out | inside
    return out


def _increment(t):
    """``t + 1``, holding at the dtype's maximum (optax's ``safe_increment``)."""
    return jnp.where(t < np.iinfo(t.dtype).max, t + 1, t)


class JaxPlateauSchedule(Compiled):
    """A schedule with plateau clocks on JAX: its value depends on reported metrics, so it
    is not a ``step -> value`` function. Use :meth:`transform` (or :meth:`optimizer`).

    ``value(t, counts)`` evaluates the schedule at step ``t`` with the clocks' counts
    (jit-able); ``clocks`` are its :class:`clrdsl.semantics.model.PlateauClock` s.
    """

    def __init__(self, checked) -> None:
        from clrdsl.evaluation.emit import load

        from .emit import TARGET

        self.checked = checked
        self.clocks = plateau_clocks(checked.root)
        self._value = load(checked, TARGET).value
        self._check_traceable()

    # -- the schedule itself ---------------------------------------------------------------
    def value(self, t, counts):
        """The value at step ``t`` with ``counts[i]`` reductions on clock ``i`` (traceable)."""
        t = as_int_step(jnp.asarray(t))
        k = tuple(jnp.asarray(c, dtype=jnp.int32) for c in counts)
        if len(k) != len(self.clocks):
            raise ClrdslValueError(
                "the counts do not fit the schedule's plateau clocks", code="E640",
                expected=f"{len(self.clocks)} count(s)", found=str(len(k)),
            )
        return as_value(exact_divisions(self._value)(t, k), t)  # as evaluate() does: ops.fraction needs it

    def __call__(self, step):
        raise ClrdslTypeError(
            "a schedule with plateau clocks depends on the reported metric, not on the step alone",
            code="E655", span=self.clocks[0].clock.span,
            expected="its optax transformation, which takes the metric as `value=`",
            found=f"`{self.expr}` called with a step (as optax calls a learning-rate schedule)",
            hint="optax.chain(optax.scale_by_adam(), s.transform()) and "
            "tx.update(grads, state, params, value=loss); or s.optimizer(optax.adam); "
            "s.value(step, counts) evaluates it. See docs/jax.md",
        )

    def _check_traceable(self) -> None:
        # as JaxSchedule: durations beyond the integer step fail here, at compile time
        try:
            jax.eval_shape(self._value, jax.ShapeDtypeStruct((), int_dtype()),
                           tuple(jax.ShapeDtypeStruct((), jnp.int32) for _ in self.clocks))
        except OverflowError:
            from clrdsl.diagnostics.errors import ClrdslLimitError

            idt = np.dtype(int_dtype()).name
            raise ClrdslLimitError(
                f"the schedule has a duration or boundary beyond the largest {idt} step "
                f"({np.iinfo(int_dtype()).max})",
                code="E621", expected=f"durations that fit in {idt} for the jax backend",
                found=f"`{self.expr}`",
                hint="enable 64-bit integers before compiling: jax.config.update('jax_enable_x64', True)",
            ) from None

    def __reduce__(self):
        return (_rebuild, (self.checked.expr, self.checked.bindings))

    # -- optax -------------------------------------------------------------------------------
    def transform(self, accumulation_size: int = 1, *, flip_sign: bool = True):
        """An ``optax.GradientTransformationExtraArgs`` scaling the updates by the schedule.

        ``update(updates, state, params=None, *, value, **extra)``: ``value`` is the metric
        (a number or 0-d array, traced or not), or ``None`` for an update that reports
        nothing (``None`` is decided at trace time). The updates are multiplied by
        ``-value(t, k)`` (``flip_sign=False``: by ``+value(t, k)``), ``t`` being the
        update count and ``k`` the counts after this update's report.

        ``accumulation_size=n`` is optax's: each clock averages ``n`` values (those given
        at steps it listens on) and reports their mean with the ``n``-th.
        """
        if isinstance(accumulation_size, bool) or not isinstance(accumulation_size, (int, np.integer)) \
                or accumulation_size < 1:
            raise ClrdslValueError(
                "accumulation_size is how many values make one report", code="E657",
                expected="a whole number >= 1", found=repr(accumulation_size),
            )
        import optax

        n = int(accumulation_size)
        sign = -1.0 if flip_sign else 1.0
        clocks = self.clocks
        value_fn = self.value

        def init_fn(params):
            dtype = _metric_dtype(params)
            zero = jnp.zeros((), jnp.int32)
            return ScaleByPlateauState(
                t=jnp.zeros((), int_dtype()),
                clocks=tuple(ClockState(jnp.asarray(P.initial(pc.clock).best, dtype), zero, zero, zero,
                                        jnp.zeros((), dtype), zero) for pc in clocks),
            )

        def update_fn(updates, state, params=None, *, value=_MISSING, **extra):
            del params, extra
            if value is _MISSING:
                raise ClrdslTypeError(
                    "the plateau transformation's update takes the metric as `value=`", code="E656",
                    expected="update(updates, state, params, value=metric), or value=None "
                    "for an update without a report",
                    found="no `value=`",
                    hint="optax.contrib.reduce_on_plateau takes it the same way",
                )
            t = state.t
            new = list(state.clocks)
            if value is not None:
                metric = _metric_array(value)
                for i, pc in enumerate(clocks):
                    new[i] = _report(pc, new, i, t, metric, n, value_fn)
            counts = tuple(c.count for c in new)
            scale = sign * value_fn(t, counts)
            updates = jax.tree.map(lambda g: jnp.asarray(scale, dtype=g.dtype) * g, updates)
            return updates, ScaleByPlateauState(_increment(t), tuple(new))

        return optax.GradientTransformationExtraArgs(init_fn, update_fn)

    def optimizer(self, factory, /, *, accumulation_size: int = 1, **kwargs):
        """A whole optimizer: ``optax.chain(factory(learning_rate=1.0, **kwargs),
        self.transform(accumulation_size, flip_sign=False))``; the schedule is its learning
        rate (as in optax's own example for ``reduce_on_plateau``)."""
        import optax

        return optax.chain(factory(learning_rate=1.0, **kwargs),
                           self.transform(accumulation_size, flip_sign=False))

    # -- reading a state on the host ---------------------------------------------------------
    def find_state(self, state) -> ScaleByPlateauState:
        """This schedule's :class:`ScaleByPlateauState` inside an optimizer's state."""
        found = [x for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, ScaleByPlateauState))
                 if isinstance(x, ScaleByPlateauState)]
        if len(found) != 1 or len(found[0].clocks) != len(self.clocks):
            raise ClrdslValueError(
                "this optimizer state does not hold this schedule's plateau state", code="E640",
                expected=f"one ScaleByPlateauState with {len(self.clocks)} clock(s)",
                found=f"{len(found)} plateau state(s)",
                hint="a state resumes the schedule it was written with",
            )
        return found[0]

    def counts(self, state) -> tuple[int, ...]:
        """The clocks' counts in an optimizer's state (host ints)."""
        return tuple(int(c.count) for c in self.find_state(state).clocks)

    def states(self, state) -> list[P.State]:
        """The clocks as :class:`clrdsl.evaluation.plateau.State` (plain data, what the host trackers hold)."""
        return [P.State(float(c.best), int(c.bad), int(c.cooldown), int(c.count))
                for c in self.find_state(state).clocks]


def _metric_array(value):
    try:
        v = jnp.asarray(value)
    except TypeError:
        v = None
    if v is None or v.shape != () or not (jnp.issubdtype(v.dtype, jnp.floating)
                                          or jnp.issubdtype(v.dtype, jnp.integer)):
        raise ClrdslValueError(
            "a reported metric must be one number", code="E641",
            expected="a float or a 0-d array (e.g. the validation loss)",
            found=f"shape {getattr(v, 'shape', '?')}, dtype {getattr(v, 'dtype', type(value).__name__)}",
        )
    return v


def _report(pc, clocks, i, t, metric, n, value_fn) -> ClockState:
    """Clock ``i`` after the value ``metric`` given at step ``t`` (in-graph ``Tracker.report``)."""
    c = clocks[i]
    dtype = c.best.dtype
    listens = _listens(t, pc.windows)
    # optax's running mean, in the metric's dtype (with n == 1 it is the value itself)
    seen = c.seen + 1
    avg = ((c.seen * c.avg + metric.astype(dtype)) / seen).astype(dtype)
    due = seen >= n
    best, bad, cooldown, count, reduced = P.rule(JaxOps, pc.clock, c.best, c.bad, c.cooldown, c.count, avg)
    if pc.clock.eps > 0:  # a reduction must lower the value at t by more than eps
        before = tuple(x.count for x in clocks)
        after = before[:i] + (c.count + 1,) + before[i + 1:]
        enough = value_fn(t, before) - value_fn(t, after) > pc.clock.eps
        count = jnp.where(reduced & ~enough, c.count, count)
    take = listens & due
    keep = listens & ~due  # accumulating

    def pick(a, b):
        return jnp.where(take, a, b).astype(b.dtype)

    return ClockState(
        best=pick(best, c.best), bad=pick(bad, c.bad), cooldown=pick(cooldown, c.cooldown),
        count=pick(count, c.count),
        avg=jnp.where(take, 0, jnp.where(keep, avg, c.avg)).astype(dtype),
        seen=jnp.where(take, 0, jnp.where(keep, seen, c.seen)).astype(jnp.int32),
    )


def _rebuild(expr, bindings):
    from clrdsl import check

    return JaxPlateauSchedule(check(expr, **dict(bindings)))
