"""A Keras callback that sets the learning rate (and momentum) per batch from expressions.

The counterpart of the CLR Keras callback (bckenstler/CLR ``CyclicLR``) for any
clrdsl expression: it keeps its own clock of batches, sets the optimizer's rate
before each batch, records a ``history`` of what each batch used, and ``reset()``
starts a new cycle. Values are computed on the host, in float64, by the one
evaluator (the generated Python-float code of :mod:`clrdsl.evaluation.scalar`), then stored
in the optimizer's float variable.
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from clrdsl.api import check
from clrdsl.diagnostics.errors import ClrdslValueError
from clrdsl.evaluation.emit import refuse_plateau
from clrdsl.evaluation.scalar import scalar_function
from clrdsl.semantics.model import CheckedSchedule

# where each optimizer family keeps its momentum: SGD, RMSprop -> momentum; Adam family -> beta_1
MOMENTUM_ATTRS = ("momentum", "beta_1")


class ScheduleCallback(keras.callbacks.Callback):
    """Set the learning rate (and optionally momentum) before every training batch.

        cb = ScheduleCallback("triangular2(0.001, 0.006, step=2000)")
        model.fit(x, y, callbacks=[cb])
        cb.history["lr"], cb.history["loss"]

    ``lr`` and ``momentum`` are expressions (or checked schedules); the bindings
    ``steps_per_epoch`` and ``total_steps`` resolve their units. Each batch ``k``
    since the last :meth:`reset` runs with ``lr(k)``; ``clock`` is that count and
    ``iterations`` counts every batch this callback has seen (never reset).

    ``history`` has, per batch: ``lr`` (and ``momentum``) as the optimizer held them,
    ``iterations`` (1-based, as in the CLR callback) and every entry of the batch
    logs (``loss``, metrics). It keeps growing across ``fit`` calls, and the clock
    carries over as well, so a second ``fit`` continues the cycle.

    The optimizer must have been given a float learning rate (a schedule object
    already owns the rate). Momentum goes to ``momentum`` (SGD, RMSprop) or
    ``beta_1`` (the Adam family); Keras 3 optimizers hold these as Python floats that
    a compiled train step reads once, at trace time, so scheduling momentum needs the
    eager step: ``model.compile(..., run_eagerly=True)``, or the torch backend's
    default. Anything else raises a :class:`clrdsl.ClrdslValueError` saying so.
    Values are set once per call of the train function, so keep
    ``steps_per_execution=1`` (the default).
    """

    def __init__(self, lr: str | CheckedSchedule | None = None, *,
                 momentum: str | CheckedSchedule | None = None,
                 steps_per_epoch: int | None = None, total_steps: int | None = None) -> None:
        super().__init__()
        if lr is None and momentum is None:
            raise TypeError("ScheduleCallback needs an `lr` or a `momentum` expression")
        self._bindings = {"steps_per_epoch": steps_per_epoch, "total_steps": total_steps}
        self._set(lr, momentum)
        self.clock = 0
        self.iterations = 0
        self.history: dict[str, list] = {}
        self._momentum_attr: str | None = None
        self._next: tuple[float | None, float | None] | None = None  # values for the next batch
        self._reset_in_batch = False
        self._used: tuple[float | None, float | None] = (None, None)  # what the running batch got

    # -- configuration --------------------------------------------------------------

    def _set(self, lr, momentum) -> None:
        self.lr = None if lr is None else check(lr, **self._bindings)
        self.momentum = None if momentum is None else check(momentum, **self._bindings)
        for checked in (self.lr, self.momentum):
            if checked is not None:  # its clock is its own batch count: no step to report at
                refuse_plateau(checked, "ScheduleCallback")
        self._lr_fn = None if self.lr is None else scalar_function(self.lr)
        self._mom_fn = None if self.momentum is None else scalar_function(self.momentum)

    def reset(self, lr: str | CheckedSchedule | None = None, *,
              momentum: str | CheckedSchedule | None = None,
              steps_per_epoch: int | None = None, total_steps: int | None = None,
              timing: str = "next") -> None:
        """Start a new cycle: the clock goes back to 0.

        With no arguments the same expressions start over (the CLR callback's
        ``_reset()``). New expressions replace the old ones, which is how new bounds
        or a new step size are given: CLR's ``_reset(new_base_lr=b, new_max_lr=m,
        new_step_size=s)`` on a ``triangular2`` callback is
        ``reset(f"triangular2({b}, {m}, step={s})")``. A momentum schedule is kept
        unless a new one is given. ``iterations`` and ``history`` are not reset.

        ``timing`` says which batch the reset reaches first when it is called in the
        middle of a ``fit`` (between two ``fit`` calls both agree: the next ``fit``
        starts at clock 0):

        - ``"next"`` (default): the very next batch runs at clock 0 of the (new)
          schedule, wherever in the batch cycle ``reset()`` was called.
        - ``"clr"``: the CLR callback's ``_reset()`` timing. CLR sets the next batch's
          rate at the end of the current one, so a reset arriving after that (from a
          callback placed after this one, in ``on_train_batch_end``) leaves the next
          batch at the rate already set, and the batch after it runs at clock 1; a
          reset arriving before it (a callback placed before this one, or in
          ``on_train_batch_begin``) gives the next batch clock 1 directly. Clock 0
          itself is not used until the next ``fit`` (CLR's ``on_train_begin``).
        """
        if timing not in ("next", "clr"):
            raise ValueError(f"timing must be 'next' or 'clr' (found {timing!r})")
        if steps_per_epoch is not None:
            self._bindings["steps_per_epoch"] = steps_per_epoch
        if total_steps is not None:
            self._bindings["total_steps"] = total_steps
        new_lr = self.lr if lr is None else lr
        new_mom = self.momentum if momentum is None else momentum
        if steps_per_epoch is not None or total_steps is not None:
            # re-check with the new bindings (units may resolve differently)
            new_lr = new_lr.expr if isinstance(new_lr, CheckedSchedule) else new_lr
            new_mom = new_mom.expr if isinstance(new_mom, CheckedSchedule) else new_mom
        self._set(new_lr, new_mom)
        self.clock = 0
        if timing == "clr":
            return  # the values already set for the next batch stay (CLR's K.set_value order)
        self._next = None
        self._reset_in_batch = True  # the batch running now does not advance the new clock
        if self.model is not None and getattr(self.model, "optimizer", None) is not None:
            self._apply(running=False)  # the batch in progress (if any) keeps what it used

    # -- values -----------------------------------------------------------------------

    def lr_at(self, clock: int) -> float | None:
        """The learning rate this callback sets at ``clock`` (float64)."""
        return None if self._lr_fn is None else float(self._lr_fn(clock))

    def momentum_at(self, clock: int) -> float | None:
        return None if self._mom_fn is None else float(self._mom_fn(clock))

    # -- Keras hooks ------------------------------------------------------------------

    def on_train_begin(self, logs=None) -> None:
        opt = self.model.optimizer
        if self.lr is not None and not isinstance(opt.learning_rate, keras.Variable):
            raise ClrdslValueError(
                "ScheduleCallback cannot set the learning rate of this optimizer",
                code="E611",
                expected="an optimizer built with a float learning rate",
                found=f"{type(opt).__name__} with learning_rate={opt._learning_rate!r}",
                hint="give the optimizer a float learning rate, or pass the schedule itself: "
                "`optimizer=SGD(clrdsl.compile(expr, backend='keras'))`",
            )
        if self.momentum is not None:
            self._momentum_attr = self._find_momentum(opt)
        if (getattr(self.model, "steps_per_execution", 1) or 1) > 1:
            warnings.warn("ScheduleCallback sets its values once per call of the train function; with "
                          f"steps_per_execution={self.model.steps_per_execution} the clock counts "
                          "calls, not batches", UserWarning, stacklevel=2)
        self._next = None
        self._apply()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        self._reset_in_batch = False
        self._apply()

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.iterations += 1
        h = self.history
        lr, mom = self._used
        if self.lr is not None:
            h.setdefault("lr", []).append(self._held(lr))
        if self.momentum is not None:
            h.setdefault("momentum", []).append(mom)
        h.setdefault("iterations", []).append(self.iterations)
        for k, v in (logs or {}).items():
            h.setdefault(k, []).append(_scalar(v))
        if self._reset_in_batch:  # reset() during this batch: the next one is clock 0
            self._reset_in_batch = False
            return
        self.clock += 1
        # the next batch's values are decided now, as CLR's on_batch_end does
        self._next = (self.lr_at(self.clock), self.momentum_at(self.clock))

    # -- helpers ----------------------------------------------------------------------

    def _apply(self, running: bool = True) -> None:
        """Write the values for the current clock into the optimizer (``running``: they are
        what the batch about to run uses, and what its history records)."""
        model = self.model
        sync = getattr(model, "jax_state_sync", None)
        if sync is not None:
            # JAX trains on a copy of the variables; bring it back so that the
            # assignment below is what the next train step reads
            sync()
        opt = model.optimizer
        lr, mom = self._next if self._next is not None else (self.lr_at(self.clock), self.momentum_at(self.clock))
        if running:
            self._used = (lr, mom)
        if self.lr is not None and lr is not None:
            opt.learning_rate = lr
        if self.momentum is not None and self._momentum_attr is not None and mom is not None:
            setattr(opt, self._momentum_attr, mom)

    def _held(self, value: float) -> float:
        """``value`` as the optimizer's learning-rate variable stores it."""
        dtype = self.model.optimizer.learning_rate.dtype
        return float(np.asarray(value, dtype=keras.backend.standardize_dtype(dtype)))

    def _find_momentum(self, opt) -> str:
        attr = next((a for a in MOMENTUM_ATTRS if isinstance(getattr(opt, a, None), (int, float))), None)
        if attr is None:
            names = sorted(k for k, v in opt.get_config().items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool))
            raise ClrdslValueError(
                f"{type(opt).__name__} has no momentum to schedule",
                code="E612",
                expected="an optimizer with `momentum` (SGD, RMSprop) or `beta_1` (Adam, AdamW, Nadam, ...)",
                found=f"{type(opt).__name__} with hyperparameters: {', '.join(names)}",
                hint="drop `momentum=`, or use an optimizer that has one",
            )
        if attr == "momentum" and getattr(opt, "momentum") == 0:
            raise ClrdslValueError(
                f"{type(opt).__name__} was built without momentum (momentum=0.0)",
                code="E612",
                expected="a nonzero momentum at construction (Keras only keeps momentum slots then)",
                found="momentum=0.0",
                hint=f"construct it as {type(opt).__name__}(..., momentum=0.9)",
            )
        if not _runs_eagerly(self.model):
            raise ClrdslValueError(
                f"the compiled train step reads {type(opt).__name__}.{attr} once, when it is traced",
                code="E613",
                expected="an eager train step, where a per-batch momentum takes effect",
                found=f"{keras.backend.backend()} backend with a compiled train function",
                hint="compile the model with `run_eagerly=True` to schedule momentum per batch",
            )
        return attr


class PlateauCallback(keras.callbacks.Callback):
    """Report a metric to the optimizer's plateau schedule at the end of every epoch.

        lr = clrdsl.compile("constant(0.1) * exp(gamma=0.5, on=plateau(patience=2))", backend="keras")
        model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
        model.fit(x, y, validation_data=(xv, yv), callbacks=[PlateauCallback("val_loss")])

    At each epoch end it reads ``logs[monitor]`` and calls ``schedule.report(metric,
    step)`` with ``step`` the optimizer's update count, so the next update (and every
    one after) uses the new counts. The direction (``mode=min|max``), patience,
    threshold and cooldown are the expression's ``plateau(...)`` arguments. The
    schedule is the optimizer's learning rate (``schedule=`` names another one, for
    instance one used inside a custom training step). Its state lives in the schedule,
    so it is saved with the model; the callback holds none. A missing ``monitor`` key
    warns (as Keras's ``ReduceLROnPlateau`` does) and reports nothing that epoch.
    """

    def __init__(self, monitor: str = "val_loss", *, schedule=None, verbose: int = 0) -> None:
        super().__init__()
        self.monitor = monitor
        self.schedule = schedule
        self.verbose = verbose
        self._target = None

    def set_model(self, model) -> None:
        super().set_model(model)
        if getattr(model, "optimizer", None) is not None:
            self._attach()

    def on_train_begin(self, logs=None) -> None:
        self._attach()

    def on_epoch_end(self, epoch, logs=None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            warnings.warn(f"PlateauCallback: `{self.monitor}` is not in the epoch logs, so nothing is "
                          f"reported this epoch (the logs have: {', '.join(sorted(logs)) or 'nothing'})",
                          UserWarning, stacklevel=2)
            return
        schedule = self._attach()
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()  # JAX trains on a copy of the variables: bring the update count back
        step = int(np.asarray(keras.ops.convert_to_numpy(schedule._step_var)))
        before = schedule.counts
        schedule.report(_scalar(logs[self.monitor]), step=step)
        if self.verbose and schedule.counts != before:
            print(f"\nEpoch {epoch + 1}: PlateauCallback: {self.monitor} reached a plateau; reductions "
                  f"so far {list(schedule.counts)} (from step {step} on)")

    def _attach(self):
        if self._target is not None and self.model is not None and self._target[0] is self.model.optimizer:
            return self._target[1]
        from .schedule import Schedule

        opt = self.model.optimizer
        inner = getattr(opt, "inner_optimizer", opt)  # a LossScaleOptimizer (mixed precision)
        schedule = self.schedule if self.schedule is not None else getattr(inner, "_learning_rate", None)
        if not isinstance(schedule, Schedule) or not schedule.plateaus:
            raise ClrdslValueError(
                "PlateauCallback has no plateau schedule to report to", code="E650",
                expected="an optimizer whose learning rate is "
                "clrdsl.compile('... on=plateau(...) ...', backend='keras') (or schedule=...)",
                found=f"{type(opt).__name__} with learning_rate="
                f"{schedule.expr if isinstance(schedule, Schedule) else type(schedule).__name__}",
                hint="compile the expression with backend='keras' and give it to the optimizer",
            )
        schedule.attach(inner)
        self._target = (opt, schedule)
        return schedule


def _runs_eagerly(model) -> bool:
    if getattr(model, "run_eagerly", False):
        return True
    return keras.backend.backend() == "torch" and not getattr(model, "jit_compile", False)


def _scalar(v: Any):
    try:
        return float(np.asarray(keras.ops.convert_to_numpy(v)))
    except Exception:  # non-numeric logs pass through
        return v


# Importing this module can be what first imports Keras; clrdsl's import hook then leaves the
# registration of Schedule to this package (see clrdsl/contract/_import_hooks.py): it happens here.
from . import schedule as _registers_schedule  # noqa: E402,F401
