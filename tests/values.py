"""Reference values for tests of backends that step with Python floats (torch, the Keras
callback): the generated code they run (:mod:`clrdsl.evaluation.scalar`), so comparisons are exact.
Comparisons with NumPy's ufuncs use :data:`clrdsl.evaluation.numerics.FLOAT64_BOUND` instead."""

from __future__ import annotations

import numpy as np

import clrdsl
from clrdsl.evaluation.scalar import scalar_function


def python_values(expr, steps, **bindings) -> np.ndarray:
    f = scalar_function(clrdsl.check(expr, **bindings))
    return np.array([f(int(t)) for t in np.asarray(steps).ravel()]).reshape(np.shape(steps))
