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
- A division by a constant stays a division (:func:`exact_divisions`): XLA rewrites
  ``x / c`` as ``x * (1 / c)``, which is an ulp off where the quotient is whole, so
  ``floor(x / 2697)`` at ``x = 2697`` gave 0 and ``1 - t / over`` at ``t = over`` a tiny
  positive number (``poly(..., power=0.13)`` then ended at 7.7e-3 of its start, not 0).
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from clrdsl.contract.ops import where_chain


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


def exact_divisions(fn):
    """``fn`` (a function of the step) with every floating division by a constant kept a
    division, as IEEE 754 and NumPy compute it.

    XLA's algebraic simplifier rewrites ``x / c`` for a constant ``c`` (and ``x /
    broadcast(y)``) as ``x * (1 / c)``: an ulp off where ``x / c`` is whole, which moves a
    ``floor``, a comparison or a ``1 - p`` across its boundary. ``fn`` is traced to a
    jaxpr and re-run primitive by primitive (inside calls too), each such division by
    ``c + zero`` instead, where ``zero`` is 0 made from the step behind an optimization
    barrier: XLA cannot see a constant (nor, under ``vmap``, a broadcast: the zero is
    batched with the step), and the quotient is the same. Other primitives run as traced;
    tracing does twice the work, the computation one addition more per division.
    """

    def run(t, *more):
        # ``more``: the counts of plateau clocks (a pytree of arrays), passed on to ``fn``
        leaves = jax.tree.leaves((t, more))
        structs = jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), (t, more))
        closed = jax.make_jaxpr(lambda t, more: fn(t, *more))(*structs)
        zeros: dict = {}

        def zero(dtype):  # one opaque 0 of the step's shape per float dtype
            if dtype not in zeros:
                zeros[dtype] = lax.optimization_barrier(t * 0).astype(dtype)
            return zeros[dtype]

        (out,) = _run_keeping_divisions(closed.jaxpr, closed.consts, leaves, zero, jnp.shape(t))
        return out

    return run


_CALLS = frozenset({"pjit", "jit", "closed_call", "core_call"})  # a jaxpr inlined by name


def _run_keeping_divisions(jaxpr, consts, args, zero, shape):
    """Evaluate ``jaxpr`` on ``args`` (tracers or arrays), as ``jax.core.eval_jaxpr`` does,
    dividing by ``c + zero(dtype)`` where it divides a value of ``shape`` by a
    compile-time constant ``c`` of a float dtype."""
    env: dict = {}
    fixed: set = set()  # variables that are compile-time constants

    def read(v):
        return v.val if hasattr(v, "val") else env[v]  # a Literal has its value; a Var its binding

    def constant(v) -> bool:
        return hasattr(v, "val") or v in fixed

    for v, c in zip(jaxpr.constvars, consts):
        env[v] = c
        fixed.add(v)
    for v, a in zip(jaxpr.invars, args):
        env[v] = a
    for eqn in jaxpr.eqns:
        vals = [read(v) for v in eqn.invars]
        sub = eqn.params.get("jaxpr")
        out_aval = eqn.outvars[0].aval if eqn.outvars else None
        if eqn.primitive.name in _CALLS and hasattr(sub, "jaxpr") and hasattr(sub, "consts"):
            outs = _run_keeping_divisions(sub.jaxpr, sub.consts, vals, zero, shape)
        elif (eqn.primitive is lax.div_p and constant(eqn.invars[1]) and not constant(eqn.invars[0])
              and jnp.issubdtype(out_aval.dtype, jnp.inexact) and tuple(out_aval.shape) == tuple(shape)):
            a, c = vals
            outs = [lax.div(a, zero(out_aval.dtype) + jnp.asarray(c, dtype=out_aval.dtype))]
        else:
            params = eqn.primitive.get_bind_params(eqn.params)
            subfuns, params = params if isinstance(params, tuple) else ((), params)  # older jax: a pair
            outs = eqn.primitive.bind(*subfuns, *vals, **params)
            if not eqn.primitive.multiple_results:
                outs = [outs]
        if all(constant(v) for v in eqn.invars):
            fixed.update(eqn.outvars)
        for v, o in zip(eqn.outvars, outs):
            env[v] = o
    return [read(v) for v in jaxpr.outvars]


def _fraction(t, over):
    """``t / over`` for a clock ``0 <= t <= over``: at most 1 with no ``minimum``, because
    the schedule always runs under :func:`exact_divisions` (the IEEE quotient of
    ``float(t) <= float(over)``)."""
    return jnp.asarray(t, dtype=float_dtype()) / over


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
    fraction = staticmethod(_fraction)
