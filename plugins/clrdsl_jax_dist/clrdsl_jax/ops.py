"""The ``ops`` namespace on ``jax.numpy``: what clrdsl's generated code runs on here.

Precision rules (JAX computes in 32 bits unless ``jax_enable_x64`` is set):

- The step stays an integer (int32, or int64 with x64) through ``mod``, ``floordiv``,
  clamping and phase offsets, so a position inside a cycle is exact at any step; only
  that small position is converted to a float (``float``).
- ``power(a, x)`` with a constant positive base ``a`` that float32 cannot hold exactly
  (``gamma=0.99994``) is computed as ``exp(x * log(a))`` with ``log(a)`` taken in float64
  on the host: rounding ``a`` to float32 first would cost ``x`` ulps (``0.99994 **
  100000`` would be off by 0.3%). Exact bases (``mult=1.5``, ``0.5``) use ``power``, whose
  integer powers stay exact, as restart boundaries need.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from clrdsl.ops import where_chain


def float_dtype():
    """The float dtype JAX computes in now: float32, or float64 under x64."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def int_dtype():
    """The integer dtype of a step: int32, or int64 under x64."""
    return jax.dtypes.canonicalize_dtype(jnp.int64)


def as_int_step(t):
    """The step in the integer dtype of the run, clamped at 0 (traced floats are floored)."""
    idt = int_dtype()
    if jnp.issubdtype(t.dtype, jnp.floating):
        top = np.asarray(np.iinfo(idt).max, dtype=t.dtype)
        if float(top) > np.iinfo(idt).max:  # the int maximum rounds up in this float type
            top = np.nextafter(top, 0)
        t = jnp.clip(jnp.floor(t), 0, top)
    return jnp.maximum(t.astype(idt), 0)


def as_value(out, t):
    """A schedule's result in the float dtype of the run, shaped like the steps ``t``
    (``out`` is a Python float for a constant schedule)."""
    return jnp.broadcast_to(jnp.asarray(out, dtype=float_dtype()), jnp.shape(t))


def _power(a, b):
    if isinstance(a, numbers.Real) and not isinstance(a, bool) and a > 0:
        dtype = float_dtype()
        if float(np.asarray(a, dtype=dtype)) != a:  # the base would round: use its float64 log
            return jnp.exp(jnp.asarray(b, dtype=dtype) * math.log(a))
    return jnp.power(a, b)  # exact bases (1.5, 0.5, 2) keep exact integer powers


def _piecewise(t, starts, phases, *k):
    """A sequence in-graph: a ``where`` chain over the phases (traceable)."""
    return where_chain(JaxOps, t, starts, phases, *k)


def _bucket(t, edges):
    """How many of the sorted whole ``edges`` are <= t (exact: an integer comparison; edges
    beyond the step's integer dtype are never reached)."""
    t = jnp.asarray(t)
    if jnp.issubdtype(t.dtype, jnp.integer):
        top = np.iinfo(t.dtype).max
        es = np.asarray([e for e in edges if e <= top], dtype=t.dtype)
    else:
        es = np.asarray(edges, dtype=t.dtype)
    if es.size == 0:
        return jnp.zeros(t.shape, dtype=int_dtype())
    return jnp.searchsorted(es, t, side="right").astype(int_dtype())


class JaxOps:
    """``ops`` over ``jax.numpy`` arrays (traceable: no Python branching on values)."""

    name = "jax"
    pi = math.pi
    float = staticmethod(lambda x: jnp.asarray(x, dtype=float_dtype()))
    mod = staticmethod(jnp.mod)
    floordiv = staticmethod(jnp.floor_divide)
    where = staticmethod(jnp.where)
    minimum = staticmethod(jnp.minimum)
    maximum = staticmethod(jnp.maximum)
    clip = staticmethod(jnp.clip)
    exp = staticmethod(jnp.exp)
    log = staticmethod(jnp.log)
    sin = staticmethod(jnp.sin)
    cos = staticmethod(jnp.cos)
    tan = staticmethod(jnp.tan)
    tanh = staticmethod(jnp.tanh)
    sqrt = staticmethod(jnp.sqrt)
    abs = staticmethod(jnp.abs)
    floor = staticmethod(jnp.floor)
    ceil = staticmethod(jnp.ceil)
    power = staticmethod(_power)
    piecewise = staticmethod(_piecewise)
    bucket = staticmethod(_bucket)
