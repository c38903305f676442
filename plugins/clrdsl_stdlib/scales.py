"""Amplitude scales: dimensionless functions of a clock (``on=iterations|cycle``)."""

import math

from clrdsl.contract.functions import Param, ParamError, ScaleFn


def exp_scale_value(ops, x, gamma, cap):
    if gamma > 1:  # growth stops at `cap`: hold the clock where gamma ** x reaches it
        return ops.power(gamma, ops.minimum(ops.float(x), math.log(cap) / math.log(gamma)))
    return ops.power(gamma, ops.float(x))


def _validate(a):
    g, cap = a["gamma"], a["cap"]
    if g > 1 and not math.isfinite(cap):
        steps = math.log(3.4e38) / math.log(g)
        raise ParamError(
            "gamma", f"gamma = {g:g} > 1 grows without bound (in float32 it overflows after about "
            f"{steps:.4g} units of its clock, where Keras's ExponentialDecay(decay_rate > 1) gives inf); "
            f"give it a cap, `exp(gamma={g:g}, cap=C)`, which holds at C once reached, or write growth "
            "over a finite phase as `exponential(start, start * gamma ** N, over=N)`")
    if g > 1 and not 1 <= cap <= 1e38:
        raise ParamError("cap", f"cap must be in [1, 1e38] for a growing scale (found {cap:g})")
    if g <= 1 and math.isfinite(cap):
        raise ParamError("cap", f"cap applies to a growing scale (gamma > 1); gamma = {g:g} never exceeds 1")


exp_scale = ScaleFn(
    name="exp",
    params=(Param("gamma", "positive", doc="the factor per unit of the clock"),
            Param("cap", "positive", math.inf, doc="for gamma > 1: the largest factor (required then)")),
    value=exp_scale_value,
    validate=_validate,
    range=lambda a: (0.0, 1.0),  # gamma in (0, 1], x >= 0
    doc="gamma ** x. On `iterations` this is CLR's exp_range factor; on `cycle` with "
    "gamma=0.5 it halves the amplitude every cycle (triangular2). A growing scale "
    "(gamma > 1) needs a cap: min(gamma ** x, cap).",
    formula="gamma ** x (gamma > 1: gamma ** min(x, log(cap)/log(gamma)))",
    anchor="torch CyclicLR exp_range (gamma**t) and triangular2 (1/2**(cycle-1)), 0-based here",
)
