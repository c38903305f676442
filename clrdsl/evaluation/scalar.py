"""Evaluation with Python floats: the target the torch backend, the Keras callback and
the tools (``explain``, lints) step with.

Its code is generated like every backend's (:mod:`clrdsl.evaluation.emit`) with
:class:`clrdsl.contract.ops.MathOps`, float64 through the C library's ``math``; the torch backend's
standalone module is this code plus an ``LRScheduler`` wrapper.
"""

from __future__ import annotations

from typing import Callable

from clrdsl.contract.ops import MathOps
from clrdsl.evaluation.emit import Target, load
from clrdsl.semantics.model import CheckedSchedule

ENTRY = '''
def schedule(step):
    """The value after `step` optimizer updates (an int gives a float), in float64."""
    if isinstance(step, bool) or int(step) != step:
        raise TypeError(f"a step is a whole number of optimizer updates, got {step!r}")
    return float(value(max(int(step), 0)))
'''

PYTHON = Target(backend="python", framework="Python", ops=MathOps, imports=(), entry=ENTRY)


def scalar_function(checked: CheckedSchedule) -> Callable[[int], float]:
    """``step -> float`` for a checked schedule (the generated ``schedule``)."""
    return load(checked, PYTHON).schedule
