"""The backend contract: an abstract base, capability mixins, and the base of compiled objects.

A backend is an object registered under the ``clrdsl.backends`` entry-point group. The
built-in ones (and, ideally, every third-party one) subclass :class:`Backend` and the
capability mixins they offer; the core reaches a backend only through the registry and
these declared capabilities, never by importing a plugin module::

    class MyBackend(Backend, Emits, Evaluates):
        name = "mine"
        requires = ("myframework",)
        extra = None
        target = MY_TARGET          # its ops and entry functions (see clrdsl.evaluation.emit.Target)

        def compile(self, checked, **options):
            return MySchedule(load(checked, self.target).schedule)

        def values(self, checked, steps):
            return [float(v) for v in self.compile(checked)(steps)]

It receives checked schedules (the semantic model, never the syntax tree) and builds its
objects from the code :mod:`clrdsl.evaluation.emit` generates for its :class:`~clrdsl.evaluation.emit.Target`,
so its values are those of its emitted module. A plain object with the same attributes
still works (the registry checks the attributes, not the class).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:  # the contract sits below the model: annotations only
    from clrdsl.semantics.model import CheckedSchedule


class Backend(abc.ABC):
    """What every backend declares and does."""

    #: the name it is registered under (``clrdsl.compile(expr, backend=name)``)
    name: str = ""
    #: importable modules it needs (checked before compiling, with an install hint)
    requires: tuple[str, ...] = ()
    #: the pip extra of clrdsl that installs them, if any
    extra: str | None = None

    @abc.abstractmethod
    def compile(self, checked: CheckedSchedule, **options: Any) -> Any:
        """The framework's native object for one checked schedule."""

    def compile_mapping(self, checked: Mapping[Any, Any], **options: Any) -> Any:
        """A mapping of checked schedules (several hyperparameters, parameter groups):
        by default a dict of compiled objects with the same keys (nested mappings too).
        Backends that drive several values with one object (torch) override it."""
        return {k: (self.compile_mapping(v, **options) if isinstance(v, Mapping)
                    else self.compile(v, **options)) for k, v in checked.items()}


class Emits(abc.ABC):
    """Capability: standalone source for ``clrdsl compile`` (the code the backend runs,
    with a wrapper), usually ``emit_module(checked, self.target)``."""

    @abc.abstractmethod
    def emit(self, checked: CheckedSchedule) -> str: ...


class Evaluates(abc.ABC):
    """Capability: the values the backend's compiled object gives at ``steps``, as
    Python floats (what ``clrdsl eval --backend`` prints)."""

    @abc.abstractmethod
    def values(self, checked: CheckedSchedule, steps: Sequence[int]) -> list[float]: ...


class RangeTests(abc.ABC):
    """Capability: an LR range-test session for models of its framework
    (:func:`clrdsl.range_test`)."""

    @abc.abstractmethod
    def handles_model(self, model: Any) -> bool:
        """Whether ``model`` belongs to this backend's framework (without importing it)."""

    @abc.abstractmethod
    def range_test_session(self, model: Any, loss_fn: Any, data: Any, optimizer: Any, **kw: Any) -> Any:
        """A session with ``run(lrs)`` and ``restore()`` (see :mod:`clrdsl.range_test`)."""


def has(backend: Any, capability: type) -> bool:
    """Whether ``backend`` offers ``capability`` (by subclassing it, or by having its
    methods, for plain objects)."""
    if isinstance(backend, capability):
        return True
    methods: Iterable[str] = getattr(capability, "__abstractmethods__", ())
    return bool(methods) and all(callable(getattr(backend, m, None)) for m in methods)


def model_roots(model: Any) -> set[str]:
    """The top-level packages the classes of ``model`` come from (``torch``, ``keras``)."""
    return {(c.__module__ or "").split(".")[0] for c in type(model).__mro__}


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

    # IPython's display protocol: a plot in notebooks, text elsewhere (see clrdsl.tools.display)
    def _repr_png_(self) -> bytes | None:
        from clrdsl.tools.display import png

        return png(self)

    def _repr_html_(self) -> str:
        from clrdsl.tools.display import to_html

        return to_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from clrdsl.tools.display import pretty

        pretty(self, p, cycle)
