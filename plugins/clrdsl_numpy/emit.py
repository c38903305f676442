"""Standalone NumPy code for ``clrdsl compile --backend numpy``.

The generated module copies :class:`NumpyOps` and defines ``schedule(step)``: an int
gives a float, an integer array gives a float64 array, exactly as
:class:`NumpySchedule` does.
"""

from __future__ import annotations

from clrdsl.emit import Target, emit_module

from . import NumpyOps, evaluate

WRAPPER = '''
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
    wrapper=WRAPPER,
    usage=USAGE,
    extras=(evaluate,),
)


def emit(checked) -> str:
    """The standalone NumPy module for a checked schedule."""
    return emit_module(checked, TARGET)
