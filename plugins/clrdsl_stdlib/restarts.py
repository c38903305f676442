"""Cosine annealing with warm restarts (SGDR), with growing periods and changing peaks.

Where each cycle starts is decided in exact arithmetic. A ``mult`` written as a decimal
(``2.238``) is the rational number it spells (1119/500), as is the period, so cycle
``i`` starts at the rational ``S_i = period * (mult**i - 1) / (mult - 1)``; the first
update of cycle ``i`` is the whole step ``ceil(S_i)``. Those steps are computed once,
on the host, with Python integers (every one below 2**63, the last step any backend
can count), and a step finds its cycle by counting how many of them it has passed
(``ops.bucket``): an integer comparison on every backend, float32 included. Only the
position inside the cycle is a float.
"""

import math
from fractions import Fraction

from clrdsl.contract.functions import Param, ParamError, Shape

HORIZON = 2**63  # no backend counts a step at or beyond this
MAX_RESTARTS = 4096  # restart steps kept below HORIZON (mult >= 1.01 needs fewer at any period)
_STARTS = {}  # (period, mult) -> restart_steps(period, mult)


def _exact(x):
    """A number as the rational its shortest decimal spells (2.238 -> 1119/500)."""
    return Fraction(repr(float(x)))


def restart_steps(period, mult):
    """The whole steps at which cycles 1, 2, ... start (below HORIZON), as Python ints.

    Cycle ``i`` starts at ``S_i = P (m**i - 1) / (m - 1)`` for ``m = p/q``; with the
    period ``a/b`` that is ``a (p**i - q**i) / (b (p - q) q**(i-1))``, kept as two
    integers so that nothing rounds. The list stops at HORIZON or after MAX_RESTARTS + 1
    entries (``validate`` refuses the latter).
    """
    key = (float(period), float(mult))
    if key in _STARTS:
        return _STARTS[key]
    P, m = _exact(period), _exact(mult)
    a, b = P.numerator, P.denominator
    p, q = m.numerator, m.denominator
    out = []
    pi, qi = p, q  # p**i, q**i for i = 1
    while len(out) <= MAX_RESTARTS:
        num = a * (pi - qi)
        den = b * (p - q) * (qi // q)
        first = -((-num) // den)  # ceil(S_i): the first whole step of cycle i
        if first >= HORIZON:
            break
        out.append(first)
        pi, qi = pi * p, qi * q
    if len(_STARTS) < 256:  # evaluated once per step by the Python evaluator: keep a few tables
        _STARTS[key] = out
    return out


def restarts_cycle(ops, t, max, min, period, mult, decay):
    if mult == 1:
        return ops.floordiv(t, period)
    return ops.bucket(t, restart_steps(period, mult))


def restarts_value(ops, t, max, min, period, mult, decay):
    i = restarts_cycle(ops, t, max, min, period, mult, decay)
    if mult == 1:
        c = ops.float(ops.mod(t, period)) / period
    else:
        # c = (t - S_i) / (P m**i) = t u / P - (1 - u) / (m - 1) with u = m**-i in (0, 1]:
        # no power of mult that could overflow (mult=1e308 stays finite)
        u = ops.power(mult, -ops.float(i))
        c = ops.clip(ops.float(t) * u / period - (1.0 - u) * (1.0 / (mult - 1.0)), 0.0, 1.0)
    amp = (max - min) if decay == 1 else (max - min) * ops.power(decay, ops.float(i))
    return min + amp * 0.5 * (1.0 + ops.cos(ops.pi * c))


def _nearest_phases(a):
    m, p = a["mult"], a["period"]
    return (f"explicit phases, `cosine({a['max']:g}, {a['min']:g}, over={p:g}) >> "
            f"cosine({a['max'] * a['decay']:g}, {a['min']:g}, over={p * m:g}) >> ...`")


def _validate(a):
    if a["min"] > a["max"]:
        raise ParamError("min", f"min ({a['min']:g}) is above max ({a['max']:g})")
    m = a["mult"]
    if m < 1:
        raise ParamError(
            "mult", f"mult must be >= 1 (found {m:g}): cycles shrinking by {m:g} accumulate at step "
            f"{a['period'] / (1 - m):g}, restarting infinitely often before it (Keras's "
            f"CosineDecayRestarts gives NaN after it); for a few shrinking cycles write "
            + _nearest_phases(a))
    if a["decay"] > 1 and m == 1:
        raise ParamError(
            "decay", f"decay = {a['decay']:g} > 1 with mult = 1 makes the peak grow without bound; "
            "it is accepted with mult > 1 (finitely many restarts below the last countable step), "
            "or write the cycles as " + _nearest_phases(a))
    if m > 1:
        n = len(restart_steps(a["period"], m))
        if n > MAX_RESTARTS:
            raise ParamError(
                "mult", f"mult = {m:g} with period = {a['period']:g} restarts more than {MAX_RESTARTS} "
                "times before step 2**63, and clrdsl places every restart exactly from a table of them; "
                "use a larger mult or period, or mult=1 for equal cycles")
        if a["decay"] != 1:
            top = (a["max"] - a["min"]) * a["decay"] ** n if a["decay"] > 1 else 0.0
            if not math.isfinite(top) or abs(top) > 1e38:
                raise ParamError(
                    "decay", f"decay = {a['decay']:g} over the {n} restarts before step 2**63 takes "
                    "the peak beyond float32 (3.4e38); use a smaller decay or a larger mult")


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
    doc="Cosine annealing from max to min, restarting at max every cycle (SGDR). Cycle i "
    "starts at the first whole step >= period * (mult**i - 1)/(mult - 1), computed exactly.",
    formula="cycle i, position c in [0,1): min + (max - min) * decay**i * (1 + cos(pi*c))/2",
    anchor="torch CosineAnnealingWarmRestarts(T_0, T_mult, eta_min); Keras CosineDecayRestarts "
    "(t_mul, m_mul, alpha)",
)
