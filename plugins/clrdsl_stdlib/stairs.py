"""Shapes counted in whole cycles: staircases, N cycles over D steps, Keras's cycling poly.

Each finds its cycle with integer arithmetic on the step (``floordiv``/``mod`` by a whole
number of updates, exact on every backend at any step), so the boundaries of a staircase
or of a cycle land on the same step everywhere.
"""

from clrdsl.contract.functions import Param, ParamError, Shape


def stepwise_value(ops, t, value, every):
    return ops.float(t) * 0.0 + value


def stepwise_cycle(ops, t, value, every):
    return ops.floordiv(t, every)


stepwise = Shape(
    name="stepwise",
    params=(
        Param("value", "number", doc="the value"),
        Param("every", "period", doc="updates per cycle (stair)"),
    ),
    value=stepwise_value,
    cycle=stepwise_cycle,
    period=lambda a: a["every"],
    base=lambda a: 0.0,
    doc="A constant whose cycles are `every` updates long: the carrier of a staircase. "
    "`stepwise(lr, every=k) * exp(gamma=g, on=cycle)` is lr * g ** floor(t / k).",
    formula="value (cycle = floor(t / every))",
    anchor="torch StepLR, Keras ExponentialDecay(staircase=True), optax exponential_decay(staircase=True)",
)


def cosine_cycles_value(ops, t, max, min, cycles, over):
    # N cycles over D updates: the position is (N t mod D) / D, exact for whole N and D;
    # t is clamped to [0, over], and at t = over the last cycle has ended (min)
    pos = ops.float(ops.mod(t * cycles, over)) / over
    c = ops.where(t >= over, 1.0, pos)
    return min + (max - min) * 0.5 * (1.0 + ops.cos(ops.pi * c))


def cosine_cycles_cycle(ops, t, max, min, cycles, over):
    return ops.minimum(ops.floordiv(t * cycles, over), cycles - 1)


def _cycles_validate(a):
    if a["min"] > a["max"]:
        raise ParamError("min", f"min ({a['min']:g}) is above max ({a['max']:g})")


cosine_cycles = Shape(
    name="cosine_cycles",
    params=(
        Param("max", "number", doc="the value at each restart"),
        Param("min", "number", 0.0, doc="the floor each cycle anneals to (and the value at the end)"),
        Param("cycles", "positive", 1.0, doc="how many cycles (a whole number keeps boundaries exact)"),
        Param("over", "period", doc="updates for all the cycles together"),
    ),
    value=cosine_cycles_value,
    cycle=cosine_cycles_cycle,
    length=lambda a: a["over"],
    base=lambda a: a["min"],
    validate=_cycles_validate,
    doc="`cycles` cosine cycles from max to min over `over` updates, without a rounded period: "
    "cycle k starts at the first step >= k * over / cycles. Ends at min and holds.",
    formula="c = (cycles * t mod over) / over (1 at t = over); min + (max - min) * (1 + cos(pi c))/2",
    anchor="HF get_cosine_with_hard_restarts_schedule_with_warmup (num_cycles)",
)


def poly_cycles_value(ops, t, start, end, over, power):
    # Keras PolynomialDecay(cycle=True): the horizon is over * ceil(t / over) (over at t = 0)
    k = ops.maximum(ops.floordiv(t + (over - 1), over), 1)
    p = ops.float(t) / (ops.float(k) * over)
    return end + (start - end) * ops.power(ops.maximum(1.0 - p, 0.0), power)


def _poly_cycles_validate(a):
    if a["over"] != int(a["over"]):
        raise ParamError("over", f"over must be a whole number of updates here (found {a['over']:g})")


poly_cycles = Shape(
    name="poly_cycles",
    params=(
        Param("start", "number", doc="the value at t = 0"),
        Param("end", "number", doc="the value at every multiple of `over`"),
        Param("over", "period", doc="updates of the first decay"),
        Param("power", "positive", 1.0, doc="the exponent"),
    ),
    value=poly_cycles_value,
    base=lambda a: min(a["start"], a["end"]),
    validate=_poly_cycles_validate,
    doc="Polynomial decay whose horizon grows to the next multiple of `over` once passed "
    "(Keras PolynomialDecay(cycle=True)): it jumps back up at over + 1, 2 over + 1, ...",
    formula="p = t / (over * max(1, ceil(t / over))); end + (start - end) * (1 - p) ** power",
    anchor="Keras PolynomialDecay(cycle=True)",
)
