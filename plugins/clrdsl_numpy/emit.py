"""Standalone NumPy code for ``clrdsl compile --backend numpy``.

The generated module copies :class:`NumpyOps` and defines ``schedule(step)``: an int
gives a float, an integer array gives a float64 array, exactly as
:class:`NumpySchedule` does.
"""

from __future__ import annotations

from clrdsl.emit import Target, emit_module

from . import NumpyOps

WRAPPER = '''
def schedule(step):
    """The value at `step` (an int gives a float) or at every step of an integer array."""
    arr = np.asarray(step)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"steps must be integers (optimizer updates), got dtype {arr.dtype}")
    arr = np.maximum(arr.astype(np.int64, copy=False), 0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        out = np.broadcast_to(np.asarray(value(arr), dtype=np.float64), arr.shape)
    if out.ndim == 0:
        return float(out)
    return np.array(out)
'''

USAGE = '''
Usage:
    from this_module import schedule
    schedule(1000)                 # a float
    schedule(np.arange(10_000))    # a float64 array, one value per step
'''

TARGET = Target(
    backend="numpy",
    framework="NumPy",
    ops=NumpyOps,
    imports=("import numpy as np",),
    wrapper=WRAPPER,
    usage=USAGE,
)


def emit(checked) -> str:
    """The standalone NumPy module for a checked schedule."""
    return emit_module(checked, TARGET)
