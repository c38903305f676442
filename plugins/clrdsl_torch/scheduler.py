"""``ClrdslScheduler``: a closed-form ``torch.optim.lr_scheduler.LRScheduler``.

The scheduler keeps one number of its own, ``t``: the count of optimizer updates. Every
value it writes (learning rate, momentum or ``betas[0]``, weight decay, ... per
parameter group) is computed from ``t`` alone, never from the previous value. So
positioning is just setting ``t`` (:meth:`~ClrdslScheduler.set_step`), and the state is
plain data: the canonical expressions, their bindings and ``t``.

Values come from the code ``clrdsl compile --backend torch`` writes (the one definition
of evaluation, :func:`clrdsl.emit.load`), run in-process: Python floats in float64, one
step at a time, only the current phase of a sequence. So the scheduler and its emitted
module give the same value at every step, and a value never depends on how the clock
got there (stepping, jumping, resuming).

The base class constructor is deliberately not called: it wraps ``optimizer.step`` to
warn about call order and steps the scheduler once, neither of which a closed-form
clock needs. The attributes torch code reads (``optimizer``, ``last_epoch``,
``base_lrs``, ``get_last_lr()``) are provided.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Iterable, Mapping

import torch
from torch.optim.lr_scheduler import LRScheduler

from clrdsl.emit import load
from clrdsl.errors import ClrdslTypeError, ClrdslValueError

from .targets import TENSOR_KEYS, Slot, group_key, resolve

FORMAT = "clrdsl.torch.scheduler/1"
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
        plan = []
        for s, init in zip(slots, initial):
            k = (s.checked.expr, s.checked.bindings)
            if k not in index:
                index[k] = len(self._schedules)
                self._schedules.append(load(s.checked, TARGET).value)
            plan.append((s.group, s.key, s.index, index[k], init,
                         self.capturable and s.key in TENSOR_KEYS, s))
        # betas first: an out-of-range value raises before anything is written
        self._plan = sorted(plan, key=lambda p: p[2] is None)
        lr_pos: list[int | None] = [None] * len(self.optimizer.param_groups)
        for j, p in enumerate(self._plan):  # where each group's lr is in the written values
            if p[1] == "lr":
                lr_pos[p[0]] = j
        self._lr_pos = lr_pos
        self._relative = any(p[4] is not None for p in self._plan)  # a product may overflow: check it
        self._written: list[float] = []

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
        """Advance one optimizer update (``step(n)`` is :meth:`set_step`)."""
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
        multi-process runs. Never warns.
        """
        self._apply(_as_step(n))

    def _apply(self, t: int) -> None:
        """Write the values of update ``t`` and make it the clock (only if all are valid)."""
        groups = self.optimizer.param_groups
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
                out.append(self._written[j])
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
        expression, its bindings, its fingerprint and (relative mode) the initial value."""
        return {
            "format": FORMAT,
            "t": self._t,
            "schedules": [
                {
                    "param": s.param,
                    "group": s.group,
                    "expr": s.checked.expr,
                    "bindings": dict(s.checked.bindings),
                    "fingerprint": s.checked.fingerprint,
                    "relative": s.relative,
                    "initial": init,
                }
                for s, init in zip(self._slots, self._initial)
            ],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], *, retarget: bool | None = None) -> None:
        """Restore ``t`` (and the initial values of relative schedules) and write the values.

        A state written for other expressions (or bindings) is an error, unless
        ``retarget=True`` (here or at construction): then this scheduler's expressions
        continue from the saved ``t``.
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
        saved = (self._slots, self._initial, self._t)
        try:
            self._build(self._slots, initial)
            self._apply(state_dict["t"])
        except BaseException:  # e.g. a beta out of range at that step: leave everything as it was
            self._build(*saved[:2])
            self._apply(saved[2])
            raise

    # -- pickling (no closures or weak references in the pickled state) -------------------

    def __getstate__(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "state": self.state_dict(), "capturable": self.capturable,
                "retarget": self.retarget, "base_lrs": self.base_lrs}

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
        self._apply(st["state"]["t"])

    # -- integration --------------------------------------------------------------------

    def lightning_config(self, **extra: Any) -> dict[str, Any]:
        """The Lightning ``lr_scheduler`` config: step this scheduler after every
        optimizer update (``interval="step"``). ``extra`` adds keys such as ``name``."""
        return {"scheduler": self, "interval": "step", "frequency": 1, **extra}

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
        return f"ClrdslScheduler(t={self._t}, {parts})"


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
    ok = isinstance(state, Mapping) and state.get("format") == FORMAT
    if ok and not isinstance(state.get("schedules"), list):
        _bad_state("`schedules`: a list of entries", _found(state.get("schedules")))
    if not ok:
        found = f"keys {sorted(map(str, state))}" if isinstance(state, Mapping) else type(state).__name__
        raise ClrdslValueError(
            "not a clrdsl torch scheduler state", code="E606",
            expected=f"a dict from ClrdslScheduler.state_dict() (format {FORMAT!r})", found=found,
            hint="a torch scheduler's state (CyclicLR, OneCycleLR, ...) cannot be loaded into a clrdsl "
            "scheduler; set the step instead: sched.set_step(n)",
        )
    t = state.get("t")
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < MAX_STEP:
        _bad_state("`t`: an integer step in [0, 2**62) (what set_step accepts)", _found(t))
    seen = set()
    for i, e in enumerate(state["schedules"]):
        where = f"schedules[{i}]"
        if not isinstance(e, Mapping):
            _bad_state(f"{where}: a dict with param, group, expr, bindings", _found(e))
        for key, want, test in _ENTRY_FIELDS:
            if key not in e:
                _bad_state(f"{where}.{key}: {want}", f"no `{key}` (keys {sorted(map(str, e))})")
            if not test(e[key]):
                _bad_state(f"{where}.{key}: {want}", _found(e[key]))
        if (e["param"], e["group"]) in seen:
            _bad_state(f"{where}: one entry per parameter and group",
                       f"a second entry for {e['param']} of group {e['group']}")
        seen.add((e["param"], e["group"]))
    return state["schedules"]


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
