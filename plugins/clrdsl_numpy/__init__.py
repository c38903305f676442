"""The NumPy backend: a vectorised float64 callable, and the reference for the others.

``clrdsl.compile(expr)`` (numpy is the default backend) returns a
:class:`NumpySchedule`: ``s(1000)`` gives a float, ``s(np.arange(10**6))`` a float64
array. Values are computed in closed form from the step.
"""

from __future__ import annotations

import numpy as np

from clrdsl.backend import Compiled
from clrdsl.lower import lower
from clrdsl.steps import check_host


class NumpyOps:
    name = "numpy"
    pi = np.pi
    float = staticmethod(lambda x: np.asarray(x, dtype=np.float64))
    mod = staticmethod(np.mod)
    floordiv = staticmethod(np.floor_divide)
    where = staticmethod(np.where)
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


# Generated NumPy modules (`clrdsl compile --backend numpy`) carry a copy of this function.
def evaluate(fn, t):
    """A lowered schedule ``fn`` at a step (a float) or an integer array of steps (a
    fresh float64 array of the same shape)."""
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
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        out = np.asarray(fn(arr), dtype=np.float64)
    if out.shape != arr.shape:  # a constant part broadcasts to the steps' shape
        out = np.broadcast_to(out, arr.shape).copy()
    if out.ndim == 0:
        return float(out)
    return out  # a fresh float64 array (never a view of the caller's steps)


class NumpySchedule(Compiled):
    """A compiled schedule: call it with a step or an integer array of steps."""

    def __init__(self, checked) -> None:
        self.checked = checked
        self._fn = lower(checked.root, NumpyOps)

    def __call__(self, t):
        return evaluate(self._fn, check_host(t, backend="numpy"))  # a step int64 cannot hold is refused


class NumpyBackend:
    name = "numpy"
    requires = ("numpy",)
    extra = None
    ops = NumpyOps

    def compile(self, checked, **options):
        if options:
            raise TypeError(f"the numpy backend takes no options (got {', '.join(options)})")
        return NumpySchedule(checked)

    def emit(self, checked) -> str:
        """Standalone NumPy source for the schedule (``clrdsl compile``; no clrdsl needed to run it)."""
        from .emit import emit

        return emit(checked)


backend = NumpyBackend()
