"""The numeric contract of clrdsl, stated once; ``docs/numerics.md`` quotes these figures
and ``tests/test_one_semantics.py`` holds every backend to them.

- **Within one backend** a step's value is bit-identical however it is obtained: a
  scalar call, an array, the in-process object, its emitted module, after a resume or a
  jump. One generated code (:mod:`clrdsl.evaluation.emit`) computes all of them.
- **Across float64 backends** (NumPy, torch and the Keras callback with Python floats,
  JAX with x64) values differ only by the rounding of the transcendental functions
  (NumPy's vectorised ``exp``/``log``/``sin``/``power`` against the C library's):
  at most :data:`FLOAT64_BOUND` times the largest magnitude the schedule reaches over
  the steps compared.
- **Float32 backends** (Keras in its default ``floatx``, JAX without x64): at most
  :data:`FLOAT32_BOUND` times that peak, at any step, far ones included (a position
  inside a cycle is computed from the integer step before any conversion).
- **Inline formulas of the clock** (``scale(0.5 * (1 + sin(x * pi / 2)))``) are computed
  in the backend's float on the clock converted to it: in float32 their error grows with
  the clock (``x * pi / 2`` loses 2^-24 of ``x``). Up to :data:`INLINE_STEPS` the float32
  backends stay within :data:`FLOAT32_INLINE_BOUND` of the peak; beyond, use a float64
  backend (JAX with x64) or a shape or scale from the standard library, which are exact
  in the integer step.
"""

from __future__ import annotations

#: float64 backends agree within this many units of the schedule's peak magnitude.
FLOAT64_BOUND = 2.0**-44  # about 5.7e-14: 256 float64 ulps of the peak

#: float32 backends agree with float64 ones within this many units of the peak.
FLOAT32_BOUND = 2.0**-16  # about 1.5e-5: 512 float32 ulps of the peak

#: float32 backends agree on inline formulas of the clock within this, for clocks below
#: INLINE_STEPS (the error of a float32 formula grows with its argument).
FLOAT32_INLINE_BOUND = 2.0**-8
INLINE_STEPS = 1000
