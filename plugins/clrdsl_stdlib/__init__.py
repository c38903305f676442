"""The clrdsl standard library of shapes and scales.

Registered by one entry point, ``clrdsl_stdlib = "clrdsl_stdlib:FUNCTIONS"`` in the
``clrdsl.function_bundles`` group: :data:`FUNCTIONS` maps each function's name in the
language to the ``module:attr`` of its ``Shape`` or ``ScaleFn``, each imported when an
expression first uses it, exactly as a third-party plugin's entry point would be. This
module holds the mapping only, so listing the names (``clrdsl plugins``, did-you-mean)
imports nothing else. Adding a shape: its function and ``Shape`` in one of the modules
here, its line below, its row in docs/language.md; no packaging change.

Compositions of these (triangular2, exp_range, onecycle, wsd, ...) are written in the
language itself, in ``grammar/prelude.clr``.
"""

FUNCTIONS = {
    "triangular": "clrdsl_stdlib.cyclic:triangular",
    "exp": "clrdsl_stdlib.scales:exp_scale",
    "constant": "clrdsl_stdlib.shapes:constant",
    "linear": "clrdsl_stdlib.shapes:linear",
    "cosine": "clrdsl_stdlib.shapes:cosine",
    "exponential": "clrdsl_stdlib.shapes:exponential",
    "poly": "clrdsl_stdlib.shapes:poly",
    "interp": "clrdsl_stdlib.shapes:interp",
    "cosine_restarts": "clrdsl_stdlib.restarts:cosine_restarts",
    "range_test": "clrdsl_stdlib.shapes:range_test",
    "stepwise": "clrdsl_stdlib.stairs:stepwise",
    "cosine_cycles": "clrdsl_stdlib.stairs:cosine_cycles",
    "poly_cycles": "clrdsl_stdlib.stairs:poly_cycles",
}
