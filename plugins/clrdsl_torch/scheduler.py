"""``ClrdslScheduler``: a closed-form ``torch.optim.lr_scheduler.LRScheduler``.

The scheduler keeps one number of its own, ``t``: the count of optimizer updates. Every
value it writes (learning rate, momentum or ``betas[0]``, weight decay, ... per
parameter group) is computed from ``t`` alone, never from the previous value. So
positioning is just setting ``t`` (:meth:`~ClrdslScheduler.set_step`), and the state is
plain data: the canonical expressions, their bindings and ``t``.

Values come from the code ``clrdsl compile --backend torch`` writes (the one definition
of evaluation, :func:`clrdsl.evaluation.emit.load`), run in-process: Python floats in float64, one
step at a time, only the current phase of a sequence. So the scheduler and its emitted
module give the same value at every step, and a value never depends on how the clock
got there (stepping, jumping, resuming).

A schedule with plateau clocks (``exp(gamma=0.5, on=plateau(patience=5))``) is a closed
form of ``t`` and the count of reductions of each clock: the scheduler keeps, beside
``t``, one :class:`clrdsl.evaluation.plateau.Tracker` per driven value (each (hyperparameter,
group) pair has its own clocks), whose ``value`` is the very generated code it writes
with. :meth:`~ClrdslScheduler.report` feeds a metric at the current ``t`` and rewrites
the values at once (as torch's ``ReduceLROnPlateau`` does); :meth:`~ClrdslScheduler.step`
stays the update clock.

The base class constructor is deliberately not called: it wraps ``optimizer.step`` to
warn about call order and steps the scheduler once, neither of which a closed-form
clock needs. The attributes torch code reads (``optimizer``, ``last_epoch``,
``base_lrs``, ``get_last_lr()``) are provided.
"""

from __future__ import annotations

import math
import operator
import weakref
from typing import Any, Iterable, Mapping

import torch
from torch.optim.lr_scheduler import LRScheduler

from clrdsl.diagnostics.errors import ClrdslTypeError, ClrdslValueError
from clrdsl.evaluation.emit import load
from clrdsl.evaluation.plateau import Tracker
from clrdsl.semantics.model import plateau_clocks

from .targets import TENSOR_KEYS, Slot, group_key, resolve

# /2: an entry may hold `plateau`, its clocks' states (Tracker.state_dict()). A state
# without plateau clocks is exactly a /1 state and is written as /1, so earlier
# releases still read it; both are read.
FORMAT = "clrdsl.torch.scheduler/2"
FORMAT_1 = "clrdsl.torch.scheduler/1"
_FORMATS = (FORMAT_1, FORMAT)
# Far beyond any run (and what every backend's int64 step represents).
MAX_STEP = 2**62
# How many updates ahead the construction-time range check of betas looks.
_SCAN = 1 << 17


class ClrdslScheduler(LRScheduler):
    """Drives an optimizer's hyperparameters from clrdsl expressions, in closed form.

    Usually made by ``clrdsl.compile(expr, backend="torch", optimizer=opt)``.

    - At construction every driven value holds its value at ``t = 0``; each
      :meth:`step` is one optimizer update (``t += 1``); :meth:`set_step` positions
      the clock at any update, idempotently.
    - ``relative=True`` (or a collection of hyperparameter names) makes the expression
      a factor of each group's initial value instead of the value itself.
    - ``capturable=True`` keeps ``lr`` and ``betas`` as tensors on the parameters'
      device and updates them in place, so a compiled optimizer step never recompiles
      because the rate changed.
    - ``retarget=True`` lets :meth:`load_state_dict` accept a state written for other
      expressions: it keeps this scheduler's expressions and continues at the saved ``t``.
    - A schedule with plateau clocks takes :meth:`report` (one metric, e.g. the
      validation loss, at the current ``t``); ``step()`` still counts updates only.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Any, *,
                 relative: bool | Iterable[str] = False, capturable: bool = False,
                 retarget: bool = False) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ClrdslTypeError(
                "the torch backend drives a torch optimizer",
                code="E601", expected="optimizer=<a torch.optim.Optimizer>",
                found=type(optimizer).__name__,
                hint='clrdsl.compile(expr, backend="torch", optimizer=torch.optim.SGD(model.parameters(), lr=0.1))',
            )
        self.optimizer = optimizer
        self.capturable = bool(capturable)
        self.retarget = bool(retarget)
        self._t = 0
        slots = resolve(schedule, optimizer, relative)
        self._build(slots, [self._read(s) if s.relative else None for s in slots])
        self._check_betas_ahead()  # before anything in the optimizer changes
        self.base_lrs = [_to_float(g["lr"]) for g in optimizer.param_groups]
        if self.capturable:
            for s in slots:
                self._ensure_tensor(s)
        self._apply(0)

    # -- construction -------------------------------------------------------------------

    def _build(self, slots: list[Slot], initial: list[float | None]) -> None:
        self._slots = slots
        self._initial = initial
        from .emit import TARGET

        index: dict[tuple, int] = {}
        self._schedules: list[Any] = []  # the generated value(t) of each distinct expression
        # one Tracker per slot with plateau clocks (None for the others): each driven value
        # has its own clocks, and eps is judged on the value it writes (torch: per group)
        self._trackers: list[Tracker | None] = []
        plan = []
        for i, (s, init) in enumerate(zip(slots, initial)):
            if plateau_clocks(s.checked.root):
                tracker, at = _tracker(s, load(s.checked, TARGET).value, init)
                k: tuple = ("slot", i)  # its own counts: never shared
                index[k] = len(self._schedules)
                self._schedules.append(at)
                self._trackers.append(tracker)
            else:
                self._trackers.append(None)
                k = (s.checked.expr, s.checked.bindings)
                if k not in index:
                    index[k] = len(self._schedules)
                    self._schedules.append(load(s.checked, TARGET).value)
            plan.append((s.group, s.key, s.index, index[k], init,
                         self.capturable and s.key in TENSOR_KEYS, s))
        self._plateau = any(tr is not None for tr in self._trackers)
        # betas first: an out-of-range value raises before anything is written
        self._plan = sorted(plan, key=lambda p: p[2] is None)
        lr_pos: list[int | None] = [None] * len(self.optimizer.param_groups)
        for j, p in enumerate(self._plan):  # where each group's lr is in the written values
            if p[1] == "lr":
                lr_pos[p[0]] = j
        self._lr_pos = lr_pos
        self._relative = any(p[4] is not None for p in self._plan)  # a product may overflow: check it
        # _apply's fast path, the common case: one expression whose value is written as it
        # is (no relative factor, no betas, no plateau clocks, no capturable tensors) into
        # entries that hold floats
        one = len(self._schedules) == 1 and not self._plateau and not self._relative
        plain = all(p[2] is None and not p[5] for p in self._plan)
        self._fast = self._schedules[0] if one and plain else None
        self._writes = tuple((p[0], p[1]) for p in self._plan)
        # the values written at t, in the order of the plan (a float: the one value of the fast path)
        self._written: list[float] | float = []

    def _read(self, s: Slot) -> float:
        v = self.optimizer.param_groups[s.group][s.key]
        return _to_float(v if s.index is None else v[s.index])

    def _ensure_tensor(self, s: Slot) -> None:
        """Capturable mode: make ``lr`` / ``betas`` 0-d tensors on the group's device."""
        if s.key not in TENSOR_KEYS:
            return
        g = self.optimizer.param_groups[s.group]
        like = _device_dtype(g)
        if s.key == "lr":
            if not isinstance(g["lr"], torch.Tensor):
                g["lr"] = torch.tensor(float(g["lr"]), **like)
        else:
            b = g["betas"]
            if not all(isinstance(x, torch.Tensor) for x in b):
                # torch's Adam family wants both betas tensors or both floats; beta2 keeps its value
                g["betas"] = type(b)(x if isinstance(x, torch.Tensor) else torch.tensor(float(x), **like)
                                     for x in b)

    def _check_betas_ahead(self) -> None:
        """Reject at construction a schedule that takes a beta outside ``[0, 1)``
        within its first updates (and at its end), rather than fail mid-run."""
        for _, _, _, fi, init, _, s in self._plan:
            if s.key != "betas":
                continue
            length = s.checked.length
            n = _SCAN if math.isinf(length) else int(min(length, _SCAN))
            steps: Iterable[int] = range(n + 1)
            if not math.isinf(length) and length > _SCAN:
                steps = [*steps, int(length)]
            f, k = self._schedules[fi], (1.0 if init is None else init)
            for t in steps:
                v = float(f(t)) * k
                if not 0.0 <= v < 1.0:
                    raise _beta_error(s, t, v)

    # -- the clock ----------------------------------------------------------------------

    @property
    def t(self) -> int:
        """The update count: the values in the optimizer are those of step ``t``."""
        return self._t

    @property
    def last_epoch(self) -> int:  # torch's name for the same counter
        return self._t

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        if isinstance(value, int) and value < 0:  # torch's SequentialLR rewinding it: see combinators.py
            from .combinators import in_sequential, sequential_error

            if (seq := in_sequential()) is not None:
                raise sequential_error(self, seq)
        self.set_step(value)

    def step(self, epoch: int | None = None) -> None:
        """Advance one optimizer update (``step(n)`` is :meth:`set_step`).

        A metric is never taken here (torch's ``ReduceLROnPlateau.step(metric)``): on a
        scheduler with plateau clocks ``step(x)`` with ``x`` not an integer is refused
        (E647), since a loss of ``3.0`` would otherwise position the clock at update 3.
        Report metrics with :meth:`report`.
        """
        if epoch is not None and self._plateau and not _is_int(epoch):
            raise _metric_to_step_error(epoch)
        if self._t == 0 and epoch is None:  # a first step from torch's ChainedScheduler? see combinators.py
            from .combinators import chain_error, in_chain

            if (chain := in_chain()) is not None:
                raise chain_error(self, chain)
        if epoch is not None:
            self.set_step(epoch)
            return
        self._apply(self._t + 1)

    def set_step(self, n: int) -> None:
        """Position the clock at update ``n`` and write its values.

        Idempotent and independent of call order: for resuming, gradient accumulation
        (call it with the optimizer-update count after every micro-batch) and
        multi-process runs. Never warns. Plateau clocks keep their states (their counts
        are not a function of ``t``; :meth:`load_state_dict` restores them).
        """
        self._apply(_as_step(n))

    def report(self, metric: Any) -> bool:
        """Feed one metric (e.g. the validation loss) at the current update ``t`` and
        write the values of ``t`` with the new counts at once; whether a count changed.

        Each plateau clock whose phase runs at ``t`` takes it (during a warmup before
        its phase, a clock ignores reports). ``metric`` is a float, a one-element tensor
        (on any device: read with ``.item()``) or anything ``float()`` takes; NaN is a
        bad evaluation, as in torch. The rule is torch ``ReduceLROnPlateau.step(metric)``'s.
        """
        if not self._plateau:
            raise ClrdslTypeError(
                "report(metric) on a schedule without a plateau clock: no metric can change it",
                code="E645", expected="a schedule with `on=plateau(...)`, e.g. "
                "`constant(0.1) * exp(gamma=0.5, on=plateau(patience=5))`",
                found="; ".join(sorted({f"`{s.checked.expr}`" for s in self._slots}))[:200],
                hint="only plateau clocks read metrics; step() counts the optimizer updates",
            )
        if isinstance(metric, torch.Tensor) and metric.numel() == 1:
            metric = metric.item()
        saved = [list(tr.states) if tr is not None else None for tr in self._trackers]
        changed = False
        try:
            for tr in self._trackers:
                if tr is not None:
                    changed = tr.report(self._t, metric) or changed
            self._apply(self._t)  # the new counts apply from this update on
        except BaseException:  # a bad metric, a beta out of range: the states stay as they were
            for tr, st in zip(self._trackers, saved):
                if tr is not None and st is not None:
                    tr.states = st
            raise
        return changed

    @property
    def plateau_counts(self) -> dict[str, Any]:
        """The reductions so far of each plateau clock: ``{param: counts}`` (a tuple, one
        count per clock of the expression), or ``{param: {group: counts}}`` where groups
        differ. Empty without plateau clocks."""
        out: dict[str, dict[int, tuple]] = {}
        for s, tr in zip(self._slots, self._trackers):
            if tr is not None:
                out.setdefault(s.param, {})[s.group] = tr.counts
        return {p: (next(iter(g.values())) if len(set(g.values())) == 1
                    and len(g) == len(self.optimizer.param_groups) else g) for p, g in out.items()}

    def _apply(self, t: int) -> None:
        """Write the values of update ``t`` and make it the clock (only if all are valid)."""
        groups = self.optimizer.param_groups
        fast = self._fast
        if fast is not None:  # the common case (see _build), in short
            v = float(fast(t))
            if v - v == 0.0:  # finite (inf - inf and NaN are NaN); else the general path raises E608
                for gi, key in self._writes:
                    g = groups[gi]
                    if type(g[key]) is not float:  # a tensor, an int: the general path (rewrites all)
                        break
                    g[key] = v
                else:
                    self._written = v
                    self._t = t
                    return
            values = [v]  # the general path goes on from the value already computed
        else:
            values = [float(f(t)) for f in self._schedules]
        if self._relative or not all(map(math.isfinite, values)):
            _check_finite(self._plan, values, t)  # never a non-finite value into the optimizer
        written = []
        for gi, key, idx, fi, init, tensor, slot in self._plan:
            v = values[fi] if init is None else values[fi] * init
            written.append(v)
            g = groups[gi]
            cur = g[key]
            if idx is None:
                if type(cur) is float:
                    g[key] = v
                elif isinstance(cur, torch.Tensor):
                    cur.fill_(v)
                elif tensor:
                    g[key] = torch.tensor(v, **_device_dtype(g))
                else:
                    g[key] = v
                continue
            if not 0.0 <= v < 1.0:  # betas[0] or betas[1]
                raise _beta_error(slot, t, v)
            if isinstance(cur[idx], torch.Tensor):
                cur[idx].fill_(v)
            else:
                seq = list(cur)
                seq[idx] = v
                g[key] = type(cur)(seq)
                if tensor:
                    self._ensure_tensor(slot)
        self._written = written
        self._t = t

    @property
    def _last_lr(self) -> list[Any]:
        out = []
        for i, g in enumerate(self.optimizer.param_groups):  # groups added later are read as they are
            j = self._lr_pos[i] if i < len(self._lr_pos) else None
            if j is not None:
                w = self._written
                out.append(w if type(w) is float else w[j])
            else:
                cur = g["lr"]
                out.append(cur.clone() if isinstance(cur, torch.Tensor) else cur)
        return out

    def get_lr(self) -> list[Any]:
        """The learning rate of each group at the current ``t`` (closed form)."""
        return self._last_lr

    def get_last_lr(self) -> list[Any]:
        """The learning rates last written, one per param group (Python floats for the
        groups this scheduler drives, exact float64 even when the optimizer holds tensors)."""
        return self._last_lr

    # -- state --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain data: the format tag, ``t`` and, per driven value, the canonical
        expression, its bindings, its fingerprint, (relative mode) the initial value and
        (plateau clocks) ``plateau``: the states of its clocks, a list of dicts
        ``{"best", "bad", "cooldown", "count"}`` (``best`` may be ``inf``/``-inf``
        before any report)."""
        entries = []
        for s, init, tr in zip(self._slots, self._initial, self._trackers):
            e = {
                "param": s.param,
                "group": s.group,
                "expr": s.checked.expr,
                "bindings": dict(s.checked.bindings),
                "fingerprint": s.checked.fingerprint,
                "relative": s.relative,
                "initial": init,
            }
            if tr is not None:
                e["plateau"] = tr.state_dict()
            entries.append(e)
        return {"format": FORMAT if self._plateau else FORMAT_1, "t": self._t, "schedules": entries}

    def load_state_dict(self, state_dict: Mapping[str, Any], *, retarget: bool | None = None) -> None:
        """Restore ``t`` (and the initial values of relative schedules) and write the values.

        A state written for other expressions (or bindings) is an error, unless
        ``retarget=True`` (here or at construction): then this scheduler's expressions
        continue from the saved ``t``.

        Plateau clocks get their saved states back (E640 if an entry's states do not
        fit its expression's clocks). With ``retarget``, an entry's saved states are kept
        when they fit the new expression's clocks in number; otherwise its clocks start
        afresh.
        """
        entries = _entries(state_dict)  # the whole state is validated before anything changes
        retarget = self.retarget if retarget is None else bool(retarget)
        ours = {(s.param, s.group): s for s in self._slots}
        theirs = {(e["param"], e["group"]): e for e in entries}
        if not retarget:
            diffs = _differences(ours, theirs)
            if diffs:
                raise ClrdslValueError(
                    "this checkpoint was written for a different schedule",
                    code="E605",
                    expected="the expressions and bindings this scheduler was compiled with",
                    found="; ".join(diffs[:4]) + (f"; ... ({len(diffs) - 4} more)" if len(diffs) > 4 else ""),
                    hint="to keep this scheduler's expressions and continue from the checkpoint's "
                    f"step t={state_dict['t']}, pass retarget=True (to clrdsl.compile or to load_state_dict)",
                )
        initial = list(self._initial)
        for i, s in enumerate(self._slots):
            e = theirs.get((s.param, s.group))
            if s.relative and e is not None and e.get("relative") and e.get("initial") is not None:
                initial[i] = float(e["initial"])
        saved = (self._slots, self._initial, self._t, [list(tr.states) if tr else None for tr in self._trackers])
        try:
            self._build(self._slots, initial)
            self._restore_plateau(theirs, retarget)
            self._apply(state_dict["t"])
        except BaseException:  # e.g. a beta out of range at that step: leave everything as it was
            self._build(*saved[:2])
            for tr, st in zip(self._trackers, saved[3]):
                if tr is not None and st is not None:
                    tr.states = st
            self._apply(saved[2])
            raise

    def _restore_plateau(self, theirs: Mapping[tuple, Mapping[str, Any]], retarget: bool) -> None:
        """Set each tracker to the saved states of its entry (see :meth:`load_state_dict`)."""
        for s, tr in zip(self._slots, self._trackers):
            e = theirs.get((s.param, s.group))
            states = e.get("plateau") if e is not None else None
            if tr is None:
                if states and not retarget:
                    raise _plateau_mismatch(s, 0, len(states))
                continue
            if retarget and (states is None or len(states) != len(tr.clocks)):
                tr.reset()
                continue
            if states is None or len(states) != len(tr.clocks):
                raise _plateau_mismatch(s, len(tr.clocks), 0 if states is None else len(states))
            tr.load_state_dict(states)

    # -- pickling (no closures or weak references in the pickled state) -------------------

    def __getstate__(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "state": self.state_dict(), "capturable": self.capturable,
                "retarget": self.retarget, "base_lrs": self.base_lrs,
                "follows": getattr(self, "_follows", None) is not None}

    def __setstate__(self, st: dict[str, Any]) -> None:
        from clrdsl.api import check

        self.optimizer = st["optimizer"]
        self.capturable, self.retarget, self.base_lrs = st["capturable"], st["retarget"], st["base_lrs"]
        slots, initial = [], []
        for e in _entries(st["state"]):
            key, index = group_key(e["param"], self.optimizer.param_groups[e["group"]])
            checked = check(e["expr"], **e["bindings"])
            slots.append(Slot(e["param"], e["group"], key, index, checked, e["relative"]))
            initial.append(e["initial"])
        self._build(slots, initial)
        self._restore_plateau({(e["param"], e["group"]): e for e in _entries(st["state"])}, False)
        self._apply(st["state"]["t"])
        if st.get("follows"):
            self._follow_optimizer()

    # -- integration --------------------------------------------------------------------

    def lightning_config(self, monitor: str | None = None, **extra: Any) -> dict[str, Any]:
        """The Lightning ``lr_scheduler`` config. ``extra`` adds keys such as ``name``.

        Without plateau clocks: ``{"scheduler": self, "interval": "step", "frequency": 1}``,
        Lightning steps this scheduler after every optimizer update.

        With plateau clocks, ``monitor`` (required) names the logged metric to report.
        Lightning gives the metric only to a config with ``reduce_on_plateau=True``,
        which it steps as ``step(metric)`` once per ``interval`` (default ``"epoch"``:
        after the epoch's validation, where it steps torch's ``ReduceLROnPlateau``). So
        the config holds :class:`MetricReport`, whose ``step(metric)`` is
        :meth:`report`, and this scheduler follows the optimizer's updates itself (a
        step post-hook, as :class:`~clrdsl.integrations.lightning.LightningScheduler`
        does): ``{"scheduler": MetricReport(self), "interval": "epoch", "frequency": 1,
        "reduce_on_plateau": True, "monitor": monitor}``. Lightning's checkpoints then
        save and restore this scheduler's whole state through it.
        """
        if monitor is None:
            if self._plateau:
                raise ClrdslTypeError(
                    "this schedule has plateau clocks: Lightning must report a metric to it",
                    code="E646", expected='lightning_config(monitor="<a logged metric, e.g. val_loss>")',
                    found="lightning_config() without monitor",
                    hint="the scheduler then counts updates itself and Lightning calls report(metric) "
                    "once per epoch with trainer.callback_metrics[monitor]",
                )
            return {"scheduler": self, "interval": "step", "frequency": 1, **extra}
        if not self._plateau:
            raise ClrdslTypeError(
                f"monitor={monitor!r}, but no schedule of this scheduler has a plateau clock",
                code="E645", expected="a schedule with `on=plateau(...)`, or no monitor",
                found="; ".join(sorted({f"`{s.checked.expr}`" for s in self._slots}))[:200],
                hint="without plateau clocks, lightning_config() steps the scheduler at every update",
            )
        self._follow_optimizer()
        return {"scheduler": MetricReport(self), "interval": "epoch", "frequency": 1,
                "reduce_on_plateau": True, "monitor": monitor, **extra}

    def _follow_optimizer(self) -> None:
        """Advance ``t`` after every ``optimizer.step()`` (a step post-hook; idempotent)."""
        if getattr(self, "_follows", None) is not None or getattr(self, "_hooks", None):
            return  # already following (LightningScheduler follows from its construction)
        ref = weakref.ref(self)

        def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
            s = ref()
            if s is not None:
                s._apply(s._t + 1)

        self._follows = self.optimizer.register_step_post_hook(hook)

    @property
    def expressions(self) -> dict[str, Any]:
        """``{param: expr}``, or ``{param: {group: expr}}`` where groups differ."""
        out: dict[str, dict[int, str]] = {}
        for s in self._slots:
            out.setdefault(s.param, {})[s.group] = s.checked.expr
        return {p: (next(iter(g.values())) if len(set(g.values())) == 1
                    and len(g) == len(self.optimizer.param_groups) else g) for p, g in out.items()}

    def __repr__(self) -> str:
        parts = ", ".join(f"{p}={e!r}" for p, e in self.expressions.items())
        if self._plateau:
            parts += f", plateau_counts={self.plateau_counts!r}"
        return f"ClrdslScheduler(t={self._t}, {parts})"


class MetricReport(LRScheduler):
    """The face of a :class:`ClrdslScheduler` that Lightning steps with the monitored
    metric (``reduce_on_plateau=True``): ``step(metric)`` is ``scheduler.report(metric)``.
    ``state_dict`` / ``load_state_dict`` are the scheduler's own, so a Lightning
    checkpoint holds and restores its whole state. Made by
    ``ClrdslScheduler.lightning_config(monitor=...)``."""

    def __init__(self, scheduler: ClrdslScheduler) -> None:  # no base constructor: nothing to step
        self.scheduler = scheduler
        self.optimizer = scheduler.optimizer
        self.base_lrs = scheduler.base_lrs

    @property
    def last_epoch(self) -> int:  # type: ignore[override]
        return self.scheduler.t

    def step(self, metric: Any = None) -> None:  # type: ignore[override]
        """Report ``metric`` (Lightning passes ``trainer.callback_metrics[monitor]``)."""
        if metric is None:
            raise ClrdslTypeError(
                "MetricReport.step() needs the metric to report", code="E647",
                expected="step(metric), as Lightning calls a config with reduce_on_plateau=True",
                found="step() without a metric",
                hint="the update clock follows the optimizer; call scheduler.report(metric) yourself "
                "in a manual loop",
            )
        self.scheduler.report(metric)

    def get_last_lr(self) -> list[Any]:
        return self.scheduler.get_last_lr()

    get_lr = get_last_lr

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.scheduler.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"MetricReport({self.scheduler!r})"


def _tracker(s: Slot, value: Any, init: float | None) -> tuple[Tracker, Any]:
    """The plateau tracker of one driven value, and ``at(t)``: its value at the current
    counts. ``eps`` is judged on the value written (times the initial value in relative
    mode), as torch judges ``old_lr - new_lr > eps`` per param group."""
    if init is None:
        tracker = Tracker(s.checked.root, value=lambda t, k: float(value(t, k)))
    else:
        tracker = Tracker(s.checked.root, value=lambda t, k: float(value(t, k)) * init)
    return tracker, lambda t: value(t, tracker.counts)


def _is_int(v: Any) -> bool:
    if isinstance(v, (float, torch.Tensor)):
        return False
    try:
        operator.index(v)
    except TypeError:
        return False
    return True


def _metric_to_step_error(v: Any) -> ClrdslTypeError:
    return ClrdslTypeError(
        "step() counts optimizer updates; a metric is reported with report(metric)",
        code="E647", expected="step() after each optimizer update (or step(n), an integer update count)",
        found=f"step({v!r})"[:80],
        hint="torch's ReduceLROnPlateau takes step(metric); a clrdsl scheduler with plateau clocks "
        "takes sched.report(metric) (and Lightning: sched.lightning_config(monitor=...))",
    )


def _plateau_mismatch(s: Slot, ours: int, theirs: int) -> ClrdslValueError:
    return ClrdslValueError(
        f"{s.label}: this checkpoint's plateau state does not fit the schedule", code="E640",
        expected=f"{ours} plateau clock state(s) for `{s.checked.expr}`", found=f"{theirs}",
        hint="a checkpoint resumes the schedule it was written with",
    )


def _to_float(v: Any) -> float:
    return float(v.item() if isinstance(v, torch.Tensor) else v)


def _device_dtype(group: Mapping[str, Any]) -> dict[str, Any]:
    params = group.get("params") or []
    p = params[0] if params else None
    if p is None:
        return {"dtype": torch.float32}
    dtype = torch.promote_types(p.dtype, torch.float32) if p.is_floating_point() else torch.float32
    return {"device": p.device, "dtype": dtype}


def _as_step(n: Any) -> int:
    try:
        if isinstance(n, bool):
            raise TypeError
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        t = operator.index(n)
    except TypeError:
        raise ClrdslTypeError(
            "a step is a whole number of optimizer updates", code="E607",
            expected="an integer >= 0", found=repr(n),
        ) from None
    if not 0 <= t < MAX_STEP:
        raise ClrdslValueError(
            "a step is a whole number of optimizer updates", code="E607",
            expected="an integer in [0, 2**62)", found=str(t),
        )
    return t


def _check_finite(plan: list, values: list[float], t: int) -> None:
    """Raise (before anything is written) if a value to write at update ``t`` is inf or NaN."""
    for _gi, _key, _idx, fi, init, _tensor, slot in plan:
        v = values[fi] if init is None else values[fi] * init
        if not math.isfinite(v):
            raise ClrdslValueError(
                f"{slot.label}: `{slot.checked.expr}` is {v!r} at step {t}; nothing was written",
                code="E608", expected="a finite value at every step", found=f"{v!r} at step {t}",
                hint="the checker refuses schedules that can leave the float range; a plugin shape "
                "without a declared range can still do it: give it a `range`",
            )


def _beta_error(s: Slot, t: int, v: float) -> ClrdslValueError:
    return ClrdslValueError(
        f"{s.label} must stay in [0, 1), but `{s.checked.expr}` gives {v!r} at step {t}",
        code="E604",
        expected=f"0 <= betas[{s.index}] < 1 at every step",
        found=f"{v!r} at step {t}",
        hint="betas[0] is the momentum coefficient of the Adam family; betas[1] is written only "
        "when `beta2` is named",
    )


def _entries(state: Any) -> list[dict[str, Any]]:
    """The schedules of a saved state, after checking the whole state (E606 otherwise):
    what ``load_state_dict`` and unpickling accept, validated before anything changes."""
    ok = isinstance(state, Mapping) and state.get("format") in _FORMATS
    if ok and not isinstance(state.get("schedules"), list):
        _bad_state("`schedules`: a list of entries", _found(state.get("schedules")))
    if not ok:
        found = f"keys {sorted(map(str, state))}" if isinstance(state, Mapping) else type(state).__name__
        raise ClrdslValueError(
            "not a clrdsl torch scheduler state", code="E606",
            expected=f"a dict from ClrdslScheduler.state_dict() (format {FORMAT!r} or {FORMAT_1!r})",
            found=found,
            hint="a torch scheduler's state (CyclicLR, OneCycleLR, ...) cannot be loaded into a clrdsl "
            "scheduler; set the step instead: sched.set_step(n)",
        )
    t = state.get("t")
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < MAX_STEP:
        _bad_state("`t`: an integer step in [0, 2**62) (what set_step accepts)", _found(t))
    seen = set()
    for i, e in enumerate(state["schedules"]):
        where = f"schedules[{i}]"
        _check_fields(e, _ENTRY_FIELDS, where, "a dict with param, group, expr, bindings")
        if "plateau" in e:
            if state["format"] == FORMAT_1:
                _bad_state(f"{where}: no `plateau` in a {FORMAT_1!r} state", _found(e["plateau"]))
            _check_plateau(e["plateau"], f"{where}.plateau")
        if (e["param"], e["group"]) in seen:
            _bad_state(f"{where}: one entry per parameter and group",
                       f"a second entry for {e['param']} of group {e['group']}")
        seen.add((e["param"], e["group"]))
    return state["schedules"]


def _check_plateau(states: Any, where: str) -> None:
    if not isinstance(states, list):
        _bad_state(f"{where}: a list of plateau clock states", _found(states))
    for j, d in enumerate(states):
        _check_fields(d, _PLATEAU_FIELDS, f"{where}[{j}]", "a dict with best, bad, cooldown, count")


def _check_fields(d: Any, fields: tuple, where: str, what: str) -> None:
    """``d`` is a mapping whose every field passes its test (E606 naming the first that does not)."""
    if not isinstance(d, Mapping):
        _bad_state(f"{where}: {what}", _found(d))
    for key, want, test in fields:
        if key not in d:
            _bad_state(f"{where}.{key}: {want}", f"no `{key}` (keys {sorted(map(str, d))})")
        if not test(d[key]):
            _bad_state(f"{where}.{key}: {want}", _found(d[key]))


_PLATEAU_FIELDS = (
    ("best", "the best metric so far (a number, inf before any report)",
     lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)),
    ("bad", "bad evaluations in a row (int >= 0)", lambda v: _is_index(v)),
    ("cooldown", "reports left in cooldown (int >= 0)", lambda v: _is_index(v)),
    ("count", "reductions so far (int >= 0)", lambda v: _is_index(v)),
)


def _is_index(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_bindings(v: Any) -> bool:
    return isinstance(v, Mapping) and all(
        k in ("steps_per_epoch", "total_steps") and (b is None or (_is_index(b) and b > 0)) for k, b in v.items())


def _is_initial(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


_ENTRY_FIELDS = (
    ("param", "a hyperparameter name (str)", lambda v: isinstance(v, str)),
    ("group", "a parameter-group index (int >= 0)", _is_index),
    ("expr", "the expression (str)", lambda v: isinstance(v, str)),
    ("bindings", "a dict of steps_per_epoch / total_steps (positive ints)", _is_bindings),
    ("relative", "true or false", lambda v: isinstance(v, bool)),
    ("initial", "the initial value (a finite number) or None", _is_initial),
)


def _found(v: Any) -> str:
    r = repr(v)
    return f"{r if len(r) <= 60 else r[:57] + '...'} ({type(v).__name__})"


def _bad_state(expected: str, found: str) -> "NoReturn":  # noqa: F821
    raise ClrdslValueError(
        "not a valid clrdsl torch scheduler state (nothing was changed)", code="E606",
        expected=expected, found=found,
        hint="load the dict ClrdslScheduler.state_dict() wrote; to start elsewhere use sched.set_step(n)",
    )


def _describe(expr: str, bindings: Mapping[str, Any]) -> str:
    b = ", ".join(f"{k}={v}" for k, v in sorted(bindings.items()))
    return f"`{expr}`" + (f" with {b}" if b else "")


def _differences(ours: dict, theirs: dict) -> list[str]:
    diffs = []
    for key in sorted(set(ours) | set(theirs), key=lambda k: (str(k[0]), k[1])):
        param, group = key
        where = f"{param} of group {group}"
        s, e = ours.get(key), theirs.get(key)
        if e is None:
            diffs.append(f"{where}: the checkpoint has no schedule, this scheduler runs "
                         + _describe(s.checked.expr, dict(s.checked.bindings)))
        elif s is None:
            diffs.append(f"{where}: the checkpoint runs {_describe(e['expr'], e['bindings'])}, "
                         "this scheduler does not drive it")
        elif (e["expr"], dict(e["bindings"])) != (s.checked.expr, dict(s.checked.bindings)):
            diffs.append(f"{where}: the checkpoint runs {_describe(e['expr'], e['bindings'])}, "
                         f"this scheduler runs {_describe(s.checked.expr, dict(s.checked.bindings))}")
    return diffs
