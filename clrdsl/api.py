"""The public API: parse, check, compile."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal, Mapping, overload

from clrdsl.contract import registry
from clrdsl.contract.backend import Backend
from clrdsl.diagnostics.errors import ClrdslError, ClrdslTypeError, Source
from clrdsl.language.check import check_program
from clrdsl.language.parse import parse
from clrdsl.semantics.model import CheckedSchedule

if TYPE_CHECKING:  # each backend's own type, for type checkers only (no framework is imported)
    from clrdsl_jax import JaxSchedule
    from clrdsl_keras.schedule import Schedule as KerasSchedule
    from clrdsl_numpy import NumpySchedule
    from clrdsl_torch.scheduler import ClrdslScheduler


def check(text: str | CheckedSchedule, *, steps_per_epoch: int | None = None,
          total_steps: int | None = None, name: str = "<expr>") -> CheckedSchedule:
    """Parse and check an expression: the semantic model every backend compiles.

    Units resolve with the bindings: ``4ep`` needs ``steps_per_epoch``, ``30%`` needs
    ``total_steps``. Raises a :class:`ClrdslError` with spans on bad input.
    """
    if isinstance(text, CheckedSchedule):
        given = {k: v for k, v in (("steps_per_epoch", steps_per_epoch), ("total_steps", total_steps))
                 if v is not None}
        if not given or given == {k: v for k, v in text.bindings if k in given}:
            return text
        text = text.expr
    source = Source(text, name) if isinstance(text, str) else None
    prog = _parse_cached(text, name) if isinstance(text, str) else parse(text, name)
    return check_program(prog, source, steps_per_epoch=steps_per_epoch, total_steps=total_steps)


@functools.lru_cache(maxsize=256)
def _parse_cached(text: str, name: str):
    # Syntax trees are immutable, so a repeated expression (a config value read on every
    # run, a schedule rebuilt per parameter group) skips the parser; checking is cheap.
    return parse(text, name)


@overload
def compile(expr: str | CheckedSchedule, backend: Literal["numpy"] = ..., *, steps_per_epoch: int | None = ...,
            total_steps: int | None = ...) -> NumpySchedule: ...
@overload
def compile(expr: str | CheckedSchedule | Mapping[Any, Any], backend: Literal["torch"], *,
            steps_per_epoch: int | None = ..., total_steps: int | None = ..., **options: Any) -> ClrdslScheduler: ...
@overload
def compile(expr: str | CheckedSchedule, backend: Literal["keras"], *, steps_per_epoch: int | None = ...,
            total_steps: int | None = ...) -> KerasSchedule: ...
@overload
def compile(expr: str | CheckedSchedule, backend: Literal["jax"], *, steps_per_epoch: int | None = ...,
            total_steps: int | None = ..., **options: Any) -> JaxSchedule: ...
@overload
def compile(expr: Mapping[Any, Any], backend: Literal["numpy", "keras", "jax"] = ..., *,
            steps_per_epoch: int | None = ..., total_steps: int | None = ..., **options: Any) -> dict[Any, Any]: ...
@overload
def compile(expr: str | CheckedSchedule | Mapping[Any, Any], backend: str = ..., *,
            steps_per_epoch: int | None = ..., total_steps: int | None = ..., **options: Any) -> Any: ...
def compile(expr: str | CheckedSchedule | Mapping[Any, Any], backend: str = "numpy", *,
            steps_per_epoch: int | None = None, total_steps: int | None = None, **options: Any) -> Any:
    """Compile an expression to a backend's native schedule object.

    ``backend`` names a ``clrdsl.backends`` plugin (numpy, torch, keras, ...);
    ``options`` go to that backend (for torch: ``optimizer=``, ...). A mapping of
    expressions (``{"lr": ..., "momentum": ...}``, or per parameter group) is checked
    value by value and handed to the backend as a mapping of checked schedules.
    """
    b = registry.get_backend(backend)
    bindings = {"steps_per_epoch": steps_per_epoch, "total_steps": total_steps}
    if isinstance(expr, Mapping):
        checked: Any = {k: _check_value(v, bindings, f"<{k}>") for k, v in expr.items()}
        mapping = getattr(b, "compile_mapping", None)
        if mapping is None:  # a plain-object backend without the base class's default
            mapping = lambda c, **o: Backend.compile_mapping(b, c, **o)  # noqa: E731
        return registry.compile_with(backend, b, checked, via=mapping, **options)
    return registry.compile_with(backend, b, check(expr, steps_per_epoch=steps_per_epoch, total_steps=total_steps),
                                 **options)


def _check_value(v, bindings, name):
    if isinstance(v, Mapping):
        return {k: _check_value(x, bindings, f"{name[:-1]}.{k}>") for k, x in v.items()}
    return check(v, name=name, **bindings)
