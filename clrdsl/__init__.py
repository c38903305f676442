"""clrdsl — one language for training-hyperparameter schedules.

    >>> import clrdsl
    >>> s = clrdsl.compile("triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)")
    >>> round(s(2000), 6)
    0.00544

``import clrdsl`` imports no framework: backends load lazily through entry points.
"""

from clrdsl.api import check, compile
from clrdsl.contract._import_hooks import after_import_declared as _after_import_declared
from clrdsl.contract.functions import Param, ParamError, ScaleFn, Shape
from clrdsl.diagnostics.errors import (
    ClrdslError,
    ClrdslLimitError,
    ClrdslNameError,
    ClrdslPluginError,
    ClrdslSyntaxError,
    ClrdslTypeError,
    ClrdslValueError,
    Source,
    Span,
)
from clrdsl.language.parse import parse
from clrdsl.language.unparse import from_json, to_json, unparse
from clrdsl.semantics.model import CheckedSchedule
from clrdsl.tools.range_test import range_test

__version__ = "0.1.0"

# Keras looks saved schedules up by registered name: the plugins that register classes
# with it (entry points `clrdsl.on_import`, name `keras`) are imported the moment Keras is
# imported (at once if it already is), without importing it here.
_after_import_declared("keras")

__all__ = [
    "check", "compile", "range_test", "parse", "unparse", "to_json", "from_json",
    "ClrdslError", "ClrdslSyntaxError", "ClrdslNameError", "ClrdslTypeError", "ClrdslValueError",
    "ClrdslLimitError", "ClrdslPluginError", "Source", "Span",
    "Shape", "ScaleFn", "Param", "ParamError", "CheckedSchedule",
]
