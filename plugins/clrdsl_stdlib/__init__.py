"""The clrdsl standard library of shapes and scales.

Registered through the ``clrdsl.functions`` entry point group exactly as a
third-party plugin would be. Compositions of these (triangular2, exp_range,
onecycle, wsd, ...) are written in the language itself, in ``grammar/prelude.clr``.
"""
