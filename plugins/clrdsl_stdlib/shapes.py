"""Monotone shapes from ``start`` to ``end`` over a number of updates, and constants."""

import math

from clrdsl.contract.functions import Param, ParamError, Shape


def constant_value(ops, t, value, over):
    return ops.float(t) * 0.0 + value


def _ended(ops, t, end):
    # a ramp of no length is its end at every step, exactly (the formulas would cancel
    # `start` out of `start + (end - start)`, which float32 does not do exactly)
    return ops.float(t) * 0.0 + end


def linear_value(ops, t, start, end, over):
    if over == 0:
        return _ended(ops, t, end)
    p = ops.fraction(t, over)
    return start + (end - start) * p


def cosine_value(ops, t, start, end, over):
    if over == 0:
        return _ended(ops, t, end)
    p = ops.fraction(t, over)
    return end + (start - end) / 2.0 * (ops.cos(ops.pi * p) + 1.0)


def _geometric(ops, p, start, end):
    # start * (end/start) ** p, in log space when end/start over- or underflows
    # (exponential(1e-10, 1e300) is finite at every step although 1e310 is not)
    ratio = end / start
    if 0.0 < ratio < float("inf"):
        return start * ops.power(ratio, p)
    # start * e**(d*p) as start * f * f * f: |d| <= 1455, so each factor stays within
    # the float range, every partial product lies between start and the result, and
    # p = 0 gives start exactly
    f = ops.exp((ops.log(end) - ops.log(start)) / 3.0 * p)
    return start * f * f * f


def exponential_value(ops, t, start, end, over):
    if over == 0:
        return _ended(ops, t, end)
    p = ops.fraction(t, over)
    return _geometric(ops, p, start, end)


def poly_value(ops, t, start, end, over, power):
    if over == 0:
        return _ended(ops, t, end)
    p = ops.fraction(t, over)
    return end + (start - end) * ops.power(1.0 - p, power)


def interp_value(ops, t, start, end, over, kind):
    if over == 0:
        return _ended(ops, t, end)
    p = ops.fraction(t, over)
    if kind == "cos":
        return end + (start - end) / 2.0 * (ops.cos(ops.pi * p) + 1.0)
    if kind == "exp":
        return _geometric(ops, p, start, end)
    if kind == "sqrt":
        return start + (end - start) * ops.sqrt(p)
    return (end - start) * p + start


def range_test_value(ops, t, start, end, over, mode):
    if over == 0:
        return _ended(ops, t, end)
    p = ops.fraction(t, over)
    if mode == "exp":
        return _geometric(ops, p, start, end)
    return start + (end - start) * p


def _positive_ends(a):
    for k in ("start", "end"):
        if a[k] <= 0:
            raise ParamError(k, f"{k} must be > 0 for an exponential curve (found {a[k]:g})")


def _interp_validate(a):
    if a["kind"] == "exp":
        _positive_ends(a)


def _range_validate(a):
    if a["start"] <= 0 or a["end"] <= a["start"]:
        raise ParamError("end", f"a range test rises: need 0 < start < end (found start={a['start']:g}, "
                         f"end={a['end']:g})")


def _between(a):
    return min(a["start"], a["end"]), max(a["start"], a["end"])


def _ramp(name, value, doc, formula, anchor, extra=(), validate=None, base=True):
    return Shape(
        name=name,
        params=(
            Param("start", "number", doc="the value at t = 0"),
            Param("end", "number", doc="the value reached at t = over (and held after)"),
            Param("over", "duration", doc="updates from start to end"),
        ) + tuple(extra),
        value=value,
        length=lambda a: a["over"],
        base=(lambda a: min(a["start"], a["end"])) if base else None,
        range=_between,  # every ramp stays between its ends
        validate=validate,
        doc=doc,
        formula=formula,
        anchor=anchor,
    )


constant = Shape(
    name="constant",
    params=(
        Param("value", "number", doc="the value"),
        Param("over", "duration", math.inf, doc="its length in updates (default: unbounded)"),
    ),
    value=constant_value,
    length=lambda a: a["over"],
    base=lambda a: 0.0,
    range=lambda a: (a["value"], a["value"]),
    doc="A constant value, unbounded or for `over` updates (a phase of a sequence). Its base is 0, "
    "so `constant(v) * exp(gamma=g)` decays v by g per update.",
    formula="value",
    anchor="torch ConstantLR (factor 1), optax constant_schedule",
)

linear = _ramp(
    "linear", linear_value,
    "Linear from start to end over `over` updates, then holds end.",
    "start + (end - start) * min(t, over) / over",
    "torch LinearLR, optax linear_schedule, fastai SchedLin",
)

cosine = _ramp(
    "cosine", cosine_value,
    "Half a cosine from start to end over `over` updates, then holds end.",
    "end + (start - end)/2 * (1 + cos(pi * min(t, over)/over))",
    "torch CosineAnnealingLR, optax cosine_decay_schedule, fastai SchedCos",
)

exponential = _ramp(
    "exponential", exponential_value,
    "Geometric from start to end over `over` updates (start, end > 0), then holds end.",
    "start * (end/start) ** (min(t, over)/over)",
    "fastai SchedExp, optax exponential_decay (with end_value)",
    validate=_positive_ends,
)

poly = _ramp(
    "poly", poly_value,
    "Polynomial decay from start to end over `over` updates, then holds end.",
    "end + (start - end) * (1 - min(t, over)/over) ** power",
    "torch PolynomialLR (end = 0), HF polynomial, optax polynomial_schedule",
    extra=(Param("power", "positive", 1.0, doc="the exponent"),),
)

interp = _ramp(
    "interp", interp_value,
    "From start to end over `over` updates along `kind`: linear, cos, exp or sqrt "
    "(the `1-sqrt` cool-down). The building block of onecycle and wsd in the prelude.",
    "p = min(t, over)/over; linear: start + (end-start)*p; cos: end + (start-end)/2*(1+cos(pi*p)); "
    "exp: start*(end/start)**p; sqrt: start + (end-start)*sqrt(p)",
    "torch OneCycleLR anneal_strategy, HF wsd decay types",
    extra=(Param("kind", "choice", "linear", ("linear", "cos", "exp", "sqrt"), doc="the curve"),),
    validate=_interp_validate,
)

range_test = _ramp(
    "range_test", range_test_value,
    "The LR range test ramp (CLR §3.3): from start to end over `over` updates, "
    "exponentially (mode=exp) or linearly (mode=linear).",
    "exp: start * (end/start) ** (t/over); linear: start + (end - start) * t/over",
    "torch-lr-finder (over = num_iter - 1), CLR README linear range test",
    extra=(Param("mode", "choice", "exp", ("exp", "linear"), doc="how the rate rises"),),
    validate=_range_validate,
)
