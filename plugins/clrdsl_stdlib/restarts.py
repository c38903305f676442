"""Cosine annealing with warm restarts (SGDR), with growing periods and decaying peaks."""

from clrdsl.functions import Param, ParamError, Shape


def restarts_cycle(ops, t, max, min, period, mult, decay):
    if mult == 1:
        return ops.floordiv(t, period)
    tf = ops.float(t)
    i = ops.floor(ops.log(1.0 - tf / period * (1.0 - mult)) / ops.log(mult))
    # floating-point logs can land a step on the wrong side of a restart: correct it
    start = period * (1.0 - ops.power(mult, i)) / (1.0 - mult)
    i = ops.where(tf < start, i - 1.0, i)
    nxt = period * (1.0 - ops.power(mult, i + 1.0)) / (1.0 - mult)
    return ops.where(tf >= nxt, i + 1.0, i)


def restarts_value(ops, t, max, min, period, mult, decay):
    i = restarts_cycle(ops, t, max, min, period, mult, decay)
    if mult == 1:
        c = ops.float(ops.mod(t, period)) / period
        fi = ops.float(i)
    else:
        fi = i
        start = period * (1.0 - ops.power(mult, fi)) / (1.0 - mult)
        c = (ops.float(t) - start) / (period * ops.power(mult, fi))
    peak = (max - min) * ops.power(decay, fi)
    return min + peak * 0.5 * (1.0 + ops.cos(ops.pi * c))


def _validate(a):
    if a["min"] > a["max"]:
        raise ParamError("min", f"min ({a['min']:g}) is above max ({a['max']:g})")
    if a["mult"] < 1:
        raise ParamError("mult", f"mult must be >= 1 (found {a['mult']:g}): shrinking periods would "
                         "restart infinitely often")
    if not 0 < a["decay"] <= 1:
        raise ParamError("decay", f"decay must be in (0, 1] (found {a['decay']:g})")


cosine_restarts = Shape(
    name="cosine_restarts",
    params=(
        Param("max", "number", doc="the value at each restart (before decay)"),
        Param("min", "number", 0.0, doc="the floor each cycle anneals to"),
        Param("period", "period", doc="updates in the first cycle"),
        Param("mult", "positive", 1.0, doc="each cycle is `mult` times longer than the last"),
        Param("decay", "positive", 1.0, doc="each cycle's peak is `decay` times the last's"),
    ),
    value=restarts_value,
    cycle=restarts_cycle,
    period=lambda a: a["period"] if a["mult"] == 1 else None,
    base=lambda a: a["min"],
    validate=_validate,
    doc="Cosine annealing from max to min, restarting at max every cycle (SGDR).",
    formula="cycle i, position c in [0,1): min + (max - min) * decay**i * (1 + cos(pi*c))/2",
    anchor="torch CosineAnnealingWarmRestarts(T_0, T_mult, eta_min); Keras CosineDecayRestarts "
    "(t_mul, m_mul, alpha)",
)
