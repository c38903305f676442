"""Amplitude scales: dimensionless functions of a clock (``on=iterations|cycle``)."""

from clrdsl.functions import Param, ParamError, ScaleFn


def exp_scale_value(ops, x, gamma):
    return ops.power(gamma, ops.float(x))


def _validate(a):
    if not 0 < a["gamma"] <= 1:
        raise ParamError("gamma", f"gamma must be in (0, 1] (found {a['gamma']:g}): "
                         "a scale above 1 grows without bound")


exp_scale = ScaleFn(
    name="exp",
    params=(Param("gamma", "positive", doc="the factor per unit of the clock"),),
    value=exp_scale_value,
    validate=_validate,
    range=lambda a: (0.0, 1.0),  # gamma in (0, 1], x >= 0
    doc="gamma ** x. On `iterations` this is CLR's exp_range factor; on `cycle` with "
    "gamma=0.5 it halves the amplitude every cycle (triangular2).",
    formula="gamma ** x",
    anchor="torch CyclicLR exp_range (gamma**t) and triangular2 (1/2**(cycle-1)), 0-based here",
)
