"""The NumPy backend: a vectorised float64 callable, and the reference for the others.

``clrdsl.compile(expr)`` (numpy is the default backend) returns a
:class:`NumpySchedule`: ``s(1000)`` gives a float, ``s(np.arange(10**6))`` a float64
array. Values are computed in closed form from the step, by the code
``clrdsl compile --backend numpy`` writes (:func:`clrdsl.evaluation.emit.load`). A single step is
evaluated as an array of one step, through the same ufunc loops, so ``s(t)`` and
``s(steps)[i]`` are bit-identical.
"""

from __future__ import annotations

import numpy as np

from clrdsl.contract.backend import Backend, Compiled, Emits, Evaluates
from clrdsl.diagnostics.errors import ClrdslTypeError
from clrdsl.evaluation.emit import emit_module, load
from clrdsl.evaluation.plateau import counts_at, replay
from clrdsl.evaluation.steps import check_host
from clrdsl.semantics.model import plateau_clocks


def _gather_phases(t, starts, phases, *k):
    """A sequence over an array of steps: each phase runs on its own steps only, so n
    phases over T steps cost O(T + n log T) when the steps are in order (each phase is a
    slice, found by bisecting the steps for the phases' starts) and O(T log T + n)
    otherwise (a stable sort groups them), never O(T * n).
    ``k`` (schedules with plateau clocks) is the tuple of counts, each an array shaped
    like ``t`` or a number; each phase gets the counts of its own steps."""
    t = np.asarray(t)
    flat_t = t.ravel()
    if flat_t.size > 1 and bool(np.all(flat_t[1:] >= flat_t[:-1])):
        # in order: phase i holds the steps from its start (the first also those before
        # it, which it clamps) to the next phase's start
        bounds = np.searchsorted(flat_t, np.asarray(starts), side="left")
        bounds[0] = 0
        bounds = np.append(bounds, flat_t.size)
        order = None
    else:
        which = np.searchsorted(np.asarray(starts), flat_t, side="right") - 1
        np.maximum(which, 0, out=which)
        if len(phases) <= 1 << 16:  # NumPy sorts 16-bit integers by radix: O(T)
            which = which.astype(np.uint16)
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(phases) + 1))
    live = np.flatnonzero(np.diff(bounds)).tolist()
    if len(live) == 1:  # one phase (a block of steps inside it)
        i = live[0]
        return phases[i](t - starts[i], *k)
    out = np.empty(flat_t.shape, dtype=np.float64)
    for i in live:
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        sel = slice(lo, hi) if order is None else order[lo:hi]
        more = tuple(tuple(np.ravel(c)[sel] if np.ndim(c) else c for c in counts) for counts in k)
        out[sel] = phases[i](flat_t[sel] - starts[i], *more)
    return out.reshape(t.shape)


class NumpyOps:
    name = "numpy"
    pi = np.pi
    float = staticmethod(lambda x: np.asarray(x, dtype=np.float64))
    mod = staticmethod(np.mod)
    floordiv = staticmethod(np.floor_divide)
    where = staticmethod(np.where)
    fraction = staticmethod(lambda t, over: np.asarray(t, dtype=np.float64) / over)  # IEEE: at most 1
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    clip = staticmethod(np.clip)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    tan = staticmethod(np.tan)
    tanh = staticmethod(np.tanh)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    floor = staticmethod(np.floor)
    ceil = staticmethod(np.ceil)
    power = staticmethod(np.power)
    piecewise = staticmethod(_gather_phases)
    bucket = staticmethod(lambda t, edges: np.searchsorted(np.asarray(edges, dtype=np.int64), t, side="right"))


# Generated NumPy modules (`clrdsl compile --backend numpy`) carry a copy of this function.
def evaluate(fn, t):
    """The schedule ``fn`` at a step (a float) or an integer array of steps (a fresh
    float64 array of the same shape). A single step runs as an array of one step, so it
    takes exactly the path an array does."""
    arr = np.asarray(t)
    if arr.size and arr.dtype.kind in "uf" and np.nanmax(arr) >= 2**63:  # would wrap in int64
        raise OverflowError(f"step {np.nanmax(arr)} does not fit in int64 (steps are < 2**63)")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"steps must be integers (optimizer updates), got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:  # steps before the start read as step 0
        arr = np.maximum(arr, 0)
    flat = arr.reshape(-1)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        out = np.asarray(fn(flat), dtype=np.float64)
    if out.shape != flat.shape:  # a constant part broadcasts to the steps' shape
        out = np.broadcast_to(out, flat.shape)
    if arr.ndim == 0:
        return float(out[0])
    return out.reshape(arr.shape).copy()  # a fresh float64 array (never a view of the caller's steps)


class NumpySchedule(Compiled):
    """A compiled schedule: call it with a step or an integer array of steps.

    A schedule with plateau clocks also takes ``metrics``, the ``(step, value)`` reports
    of a run (a report at step ``s`` applies from step ``s`` on): ``s(steps, metrics=...)``
    is what the schedule would have done on that run. Without reports every plateau
    clock reads 0.
    """

    def __init__(self, checked) -> None:
        self.checked = checked
        self.plateaus = plateau_clocks(checked.root)
        mod = load(checked, _target())
        if self.plateaus:
            self._value = mod.value  # value(t, k)
        else:
            self._fn = mod.schedule

    def __call__(self, t, metrics=None):
        t = check_host(t, backend="numpy")  # a step int64 cannot hold is refused
        if not self.plateaus:
            if metrics is not None:
                raise ClrdslTypeError(
                    "this schedule has no plateau clock, so reported metrics cannot change it",
                    code="E643", expected="a schedule with `on=plateau(...)`, or no `metrics=`",
                    found=f"metrics= with {self.checked.expr!r}",
                )
            return self._fn(t)
        report_steps, rows = self.replay(metrics or ())
        return evaluate(lambda flat: self._value(flat, counts_at(report_steps, rows, flat)), t)

    def replay(self, metrics):
        """``(report_steps, counts)`` of :func:`clrdsl.evaluation.plateau.replay` for this schedule."""
        return replay(self.checked.root, metrics, self._scalar)

    def _scalar(self, t, counts):
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            one = np.asarray([t], dtype=np.int64)
            return float(self._value(one, tuple(np.asarray([c], dtype=np.int64) for c in counts))[0])


class NumpyBackend(Backend, Emits, Evaluates):
    name = "numpy"
    requires = ("numpy",)
    extra = None
    ops = NumpyOps

    @property
    def target(self):
        return _target()

    def compile(self, checked, **options):
        if options:
            raise ClrdslTypeError(
                f"the numpy backend takes no options (got {', '.join(options)})", code="E620",
                expected="clrdsl.compile(expr, steps_per_epoch=..., total_steps=...)",
                found=", ".join(f"{k}=" for k in options),
            )
        return NumpySchedule(checked)

    def emit(self, checked) -> str:
        """Standalone NumPy source for the schedule (``clrdsl compile``; no clrdsl needed to run it)."""
        return emit_module(checked, _target())

    def values(self, checked, steps, metrics=None):
        return NumpySchedule(checked)(np.asarray(list(steps), dtype=np.int64), metrics=metrics).tolist()


def _target():
    from .emit import TARGET

    return TARGET


backend = NumpyBackend()
