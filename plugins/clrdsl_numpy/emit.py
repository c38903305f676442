"""Standalone NumPy code for ``clrdsl compile --backend numpy``.

The generated code copies :class:`NumpyOps` and defines ``schedule(step)``: an int
gives a float, an integer array gives a float64 array. :class:`NumpySchedule` calls this
very code in-process.
"""

from __future__ import annotations

from clrdsl.evaluation.emit import Target, emit_module

from . import NumpyOps, evaluate

ENTRY = '''
def schedule(step):
    """The value at `step` (an int gives a float) or at every step of an integer array."""
    return evaluate(value, step)
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
    entry=ENTRY,
    usage=USAGE,
    extras=(evaluate,),
)


def emit(checked) -> str:
    """The standalone NumPy module for a checked schedule."""
    return emit_module(checked, TARGET)
