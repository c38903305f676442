"""The backend plugin contract, and the small base its compiled objects share.

A backend is any object registered under the ``clrdsl.backends`` entry-point group
with this shape (:class:`Backend`). It receives checked schedules — the semantic
model, never the syntax tree — and turns them into its framework's native object,
normally by lowering the model with its own ``ops`` namespace
(``clrdsl.lower.lower(checked.root, ops)``) rather than re-implementing formulas.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .model import CheckedSchedule


@runtime_checkable
class Backend(Protocol):
    name: str
    requires: tuple[str, ...]  # importable modules it needs (checked before compile)
    extra: str | None  # the pip extra of clrdsl that installs them, if any

    def compile(self, checked: Any, **options: Any) -> Any:
        """``checked`` is a CheckedSchedule, or a mapping of them (several
        hyperparameters, parameter groups)."""


class Compiled:
    """What every compiled schedule object tells about itself."""

    checked: CheckedSchedule

    @property
    def expr(self) -> str:
        """The canonical expression (with its definitions)."""
        return self.checked.expr

    @property
    def bindings(self) -> dict[str, Any]:
        return self.checked.bindings_dict

    @property
    def length(self) -> float:
        """Length in updates (``math.inf`` when unbounded); past it the value holds."""
        return self.checked.length

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expr!r})"

    # IPython's display protocol: a plot in notebooks, text elsewhere (see clrdsl.display)
    def _repr_png_(self) -> bytes | None:
        from .display import png

        return png(self)

    def _repr_html_(self) -> str:
        from .display import to_html

        return to_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .display import pretty

        pretty(self, p, cycle)
