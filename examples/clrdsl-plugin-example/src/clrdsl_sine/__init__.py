"""clrdsl-sine: an example third-party function plugin for clrdsl.

It adds two functions to the language, registered through the entry-point group
``clrdsl.functions`` in this package's ``pyproject.toml``:

* ``sine_wave(period=4, phase=1)`` — a scale (an amplitude factor between 0 and 1),
  ``0.5 * (1 + sin(2 * pi * (x + phase) / period))``. With the defaults and
  ``on=cycle`` it is the custom cycle policy of the CLR paper's Keras callback,
  ``0.5 * (1 + sin(x * pi / 2))``, whose ``x`` is the 1-based cycle number (ours is
  0-based, hence ``phase=1``).
* ``sawtooth(low, high, period)`` — a cyclic shape: rises linearly from ``low`` to
  just below ``high`` over ``period`` updates, then drops back and repeats.

Implementations are module-level functions that use only the ``ops`` namespace and
their arguments, so the same code runs on NumPy, torch and keras.ops.
"""

from __future__ import annotations

from clrdsl import Param, ParamError, ScaleFn, Shape

__all__ = ["sine_wave", "sawtooth"]


# -- sine_wave: a scale ----------------------------------------------------------------


def sine_wave_value(ops, x, period, phase):
    return 0.5 * (1.0 + ops.sin(2.0 * ops.pi * (ops.float(x) + phase) / period))


sine_wave = ScaleFn(
    name="sine_wave",
    params=(
        Param("period", "positive", 4.0, doc="units of the clock per full wave"),
        Param("phase", "number", 1.0, doc="shift of the clock, in the clock's units"),
    ),
    value=sine_wave_value,
    default_clock="cycle",
    doc="A sine wave between 0 and 1. Defaults: CLR's custom cycle policy "
    "0.5 * (1 + sin(x * pi / 2)) on the 1-based cycle.",
    formula="0.5 * (1 + sin(2 * pi * (x + phase) / period))",
    anchor="CLR Keras callback, clr_fn = lambda x: 0.5 * (1 + np.sin(x * np.pi / 2.)), scale_mode='cycle'",
)


# -- sawtooth: a cyclic shape ---------------------------------------------------------------


def sawtooth_value(ops, t, low, high, period):
    pos = ops.float(ops.mod(t, period))  # exact on integer steps
    return low + (high - low) * pos / period


def sawtooth_cycle(ops, t, low, high, period):
    return ops.floordiv(t, period)


def _validate_sawtooth(args):
    if args["low"] > args["high"]:
        raise ParamError("high", f"high ({args['high']:g}) is below low ({args['low']:g})")


sawtooth = Shape(
    name="sawtooth",
    params=(
        Param("low", "number", doc="the value at the start of each cycle"),
        Param("high", "number", doc="the value the ramp approaches at the end of each cycle"),
        Param("period", "period", doc="updates per cycle"),
    ),
    value=sawtooth_value,
    cycle=sawtooth_cycle,
    period=lambda a: a["period"],
    base=lambda a: a["low"],
    validate=_validate_sawtooth,
    doc="A sawtooth: a linear ramp from low towards high over `period` updates, repeated.",
    formula="low + (high - low) * (t mod period) / period",
)
