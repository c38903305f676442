"""The Keras ``LearningRateSchedule`` of an expression, serialized as its text."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from clrdsl.api import check
from clrdsl.contract.backend import Compiled
from clrdsl.diagnostics.errors import ClrdslTypeError, ClrdslValueError
from clrdsl.evaluation.emit import load
from clrdsl.evaluation.plateau import Tracker
from clrdsl.evaluation.steps import check_step, config_parts
from clrdsl.semantics.model import CheckedSchedule, plateau_clocks

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

    **Plateau clocks** (``on=plateau(...)``): the value is ``value(step, k)``, ``k`` the
    reductions so far on each clock. ``report(metric)`` feeds a metric (normally
    :class:`~clrdsl_keras.PlateauCallback` does, at the end of each epoch); ``counts``,
    ``state_dict()`` and ``load_state_dict()`` give the state as plain data, and
    ``get_config()`` carries it too (``"plateau": [...]``), so ``model.save`` /
    ``load_model`` resumes mid-plateau. The counts are a ``keras.Variable`` of the
    schedule that the compiled train step reads when it runs; under ``jax.jit`` (which
    would freeze a variable that is not one of the model's or optimizer's) it reads
    them through ``jax.experimental.io_callback``. Used by an optimizer with nothing
    reporting, the schedule warns once: its counts stay 0, so it never reduces.
    """

    def __init__(self, expr: str | CheckedSchedule, *, steps_per_epoch: int | None = None,
                 total_steps: int | None = None) -> None:
        super().__init__()
        self.checked = check(expr, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
        from .emit import TARGET

        # the code `clrdsl compile --backend keras` writes, run here
        module = load(self.checked, TARGET)
        self.plateaus = plateau_clocks(self.checked.root)
        if not self.plateaus:
            self._fn = module.schedule_tensor
            return
        # value(t, k): no entry is generated for a schedule with plateau clocks. The module
        # carries its own copies of the ops (Step, to_step, finish): convert with those.
        self._module = module
        self._value = module.value
        self.tracker = Tracker(self.checked.root, value=self._host_value)
        self._counts = keras.Variable(np.zeros(len(self.plateaus), "int32"), dtype="int32",
                                      trainable=False, name="clrdsl_plateau_counts")
        self._step_var = None  # the optimizer's counter: the step of a report()
        self.reporting = False  # something reports metrics (PlateauCallback, report())
        self._warned = False

    def __call__(self, step, metrics=None):
        check_step(step, backend="keras", tensor_limit=2**31 if int_dtype() == "int32" else None)
        if metrics is not None:
            return self._replayed(step, metrics)
        if not self.plateaus:
            return self._fn(step)
        if isinstance(step, keras.Variable):  # an optimizer's counter
            self._step_var = step
            self._warn_unreported()
        return _evaluate(self._module, step, self._counts_tensor(step))

    # -- plateau clocks -----------------------------------------------------------------

    @property
    def counts(self) -> tuple[int, ...]:
        """Each plateau clock's reductions so far (``()`` without plateau clocks)."""
        return self.tracker.counts if self.plateaus else ()

    def report(self, metric: float, step: int | None = None) -> bool:
        """Feed one metric at ``step`` (default: the optimizer's ``iterations`` now);
        whether a count changed. The value at ``step`` and after uses the new counts."""
        self._need_plateau("report a metric")
        if step is None:
            if self._step_var is None:
                raise ClrdslValueError(
                    "report() needs the step: no optimizer has used this schedule yet", code="E651",
                    expected="report(metric, step=int(optimizer.iterations)), or a PlateauCallback in fit()",
                    found="report(metric) before any optimizer called the schedule",
                )
            step = int(np.asarray(keras.ops.convert_to_numpy(self._step_var)))
        self.reporting = True
        changed = self.tracker.report(int(step), metric)
        if changed:
            self._sync_counts()
        return changed

    def state_dict(self) -> list[dict[str, Any]]:
        """The plateau clocks' states as plain data (what ``get_config`` holds)."""
        self._need_plateau("have a plateau state")
        return self.tracker.state_dict()

    def load_state_dict(self, states) -> None:
        self._need_plateau("load a plateau state")
        self.tracker.load_state_dict(states)
        self._sync_counts()

    def reset(self) -> None:
        """Every plateau clock back to its state before any report."""
        self._need_plateau("reset its plateau clocks")
        self.tracker.reset()
        self._sync_counts()

    def attach(self, optimizer) -> None:
        """Take reports at ``optimizer``'s update count (PlateauCallback does this)."""
        # the counter the optimizer calls its schedule with (`iterations` divides it by the
        # gradient accumulation steps, if any)
        step = getattr(optimizer, "_iterations", None)
        self._step_var = step if step is not None else optimizer.iterations
        self.reporting = True

    def _need_plateau(self, what: str) -> None:
        if not self.plateaus:
            raise ClrdslTypeError(
                f"this schedule has no plateau clock, so it cannot {what}", code="E643",
                expected="a schedule with `on=plateau(...)`", found=self.checked.expr,
            )

    def _sync_counts(self) -> None:
        self._counts.assign(np.asarray(self.tracker.counts, dtype="int32"))

    def _counts_tensor(self, step):
        value = getattr(step, "value", step) if isinstance(step, keras.Variable) else step
        if keras.backend.backend() == "jax":
            import jax

            if isinstance(value, jax.core.Tracer):
                # jax.jit would read self._counts once, at trace time (Keras threads only the
                # model's and optimizer's variables through its jitted step): ask the host
                # for the counts each time the compiled step runs
                from jax.experimental import io_callback

                def now():
                    return np.asarray(self.tracker.counts, dtype=np.int32)

                return io_callback(now, jax.ShapeDtypeStruct((len(self.plateaus),), np.int32))
        return self._counts.value

    def _replayed(self, step, metrics):
        """The values at host steps of a run with these ``(step, metric)`` reports (a report
        at step s applies from s on), as the NumPy backend's ``s(steps, metrics=...)``."""
        self._need_plateau("take reported metrics")
        from clrdsl.evaluation.plateau import counts_at, replay

        steps = np.asarray(keras.ops.convert_to_numpy(step) if keras.ops.is_tensor(step) else step)
        at, rows = replay(self.checked.root, metrics, self._host_value)
        m = self._module
        t = m.to_step(steps)
        k = tuple(m.Step(c, 0.0, 0) for c in counts_at(at, rows, np.maximum(steps.astype(np.int64), 0)))
        return m.finish(m.value(t, k), t)

    def _host_value(self, t: int, counts) -> float:
        """The value at host step ``t`` with ``counts``, as the graph computes it (floatx)."""
        m = self._module
        step = m.to_step(int(t))
        k = tuple(m.Step(np.int64(c), 0.0, 0) for c in counts)
        return float(np.asarray(keras.ops.convert_to_numpy(m.finish(m.value(step, k), step))))

    def _warn_unreported(self) -> None:
        if self.reporting or self._warned:
            return
        self._warned = True
        warnings.warn(
            f"the schedule {self.checked.expr!r} has a plateau clock but nothing reports a metric to it, "
            "so it will never reduce: pass clrdsl_keras.PlateauCallback(monitor='val_loss') to fit(), "
            "or call schedule.report(metric)", UserWarning, stacklevel=3)

    # -- serialization --------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        config = {"expr": self.checked.expr, "bindings": self.checked.bindings_dict}
        if self.plateaus:
            config["plateau"] = self.tracker.state_dict()
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Schedule":
        states = None
        if isinstance(config, dict) and "plateau" in config:
            config = dict(config)
            states = config.pop("plateau")
        expr, bindings = config_parts(config)  # the whole config is validated first (E614)
        out = cls(expr, **bindings)
        if states is not None:
            out._load_config_states(states)
        return out

    def _load_config_states(self, states) -> None:
        if not self.plateaus:
            raise ClrdslValueError(
                "not a valid Keras Schedule config", code="E614",
                expected="`plateau` only with an expression that has a plateau clock",
                found=f"`plateau` with {self.checked.expr!r}",
            )
        from clrdsl.evaluation.plateau import State

        try:
            if not isinstance(states, (list, tuple)):
                raise TypeError
            [State.from_dict(d) for d in states]
        except (TypeError, KeyError, ValueError):
            raise ClrdslValueError(
                "not a valid Keras Schedule config", code="E614",
                expected="`plateau`: a list of {best, bad, cooldown, count} (Schedule.state_dict())",
                found=repr(states)[:80],
            ) from None
        self.load_state_dict(states)  # E640 when the number of clocks differs

    def __reduce__(self):  # pickle and deepcopy by the text, like every other save
        return (_from_config, (type(self), self.get_config()))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.checked.bindings)
        return f"Schedule({self.checked.expr!r}{extra})"


def _evaluate(m, step, counts):
    """``m.value(step, k)`` (``m`` the generated module), the step converted as the
    generated entry ``schedule_tensor`` converts it (clrdsl_keras/emit.py: ``to_step`` in,
    ``finish`` out), ``k`` the counts tensor as one integer clock per plateau clock."""
    if getattr(getattr(step, "shape", None), "rank", 0) is None:
        import tensorflow as tf  # a TensorFlow step of unknown rank, as in the entry

        return tf.reshape(_evaluate(m, tf.reshape(step, [-1]), counts), tf.shape(step))
    t = m.to_step(step)
    c = counts if keras.backend.standardize_dtype(counts.dtype) == int_dtype() else \
        keras.ops.cast(counts, int_dtype())
    k = tuple(m.Step(c[i], 0.0, 0) for i in range(int(c.shape[0])))
    return m.finish(m.value(t, k), t)


def _from_config(cls, config):
    return cls.from_config(config)
