"""The CLR triangle (Smith, arXiv 1506.01186), the shape under every CLR policy."""

from clrdsl.contract.functions import Param, Shape


def triangular_value(ops, t, base, max, step, step_down):
    period = step + step_down
    pos = ops.float(ops.mod(t, period))  # exact position inside the cycle
    rise = pos / step
    fall = (period - pos) / step_down
    return base + (max - base) * ops.where(pos <= step, rise, fall)


def triangular_cycle(ops, t, base, max, step, step_down):
    return ops.floordiv(t, step + step_down)


def _step_default(args):
    """step"""
    return args["step"]


triangular = Shape(
    name="triangular",
    params=(
        Param("base", "number", doc="the lower bound (the value at t = 0)"),
        Param("max", "number", doc="the upper bound, reached after `step` updates"),
        Param("step", "period", doc="updates in the rising half-cycle"),
        Param("step_down", "period", _step_default, doc="updates in the falling half-cycle (default: step)"),
    ),
    value=triangular_value,
    cycle=triangular_cycle,
    period=lambda a: a["step"] + a["step_down"],
    base=lambda a: a["base"],
    range=lambda a: (min(a["base"], a["max"]), max(a["base"], a["max"])),
    doc="The CLR triangle: rises linearly from base to max over `step` updates, falls back "
    "over `step_down`, and repeats. A base above max gives the triangle upside down, as torch's "
    "CyclicLR does (modulation still scales the distance from base).",
    formula="pos = t mod (step + step_down); base + (max - base) * (pos/step if pos <= step "
    "else (step + step_down - pos)/step_down)",
    anchor="torch CyclicLR(mode='triangular', step_size_up, step_size_down); CLR callback",
)
