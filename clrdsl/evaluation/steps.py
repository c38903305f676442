"""Steps a backend can represent: one validation shared by every backend's entry point.

A step is a count of optimizer updates. Every backend counts in a fixed-width integer
(int64 on NumPy, torch and Keras' host path; int32 on JAX unless x64 is enabled), so a
step at or beyond ``2**63`` (``2**31``) cannot be represented, and converting it would
wrap it around to a small or negative number: a wrong value, silently. Such a step is
refused here with a :class:`StepError` naming the step and the fix, before any
conversion. So is a step that is not a whole number (``2.5``, ``nan``, ``inf``).

What is checked:

- Python ints (any size), floats, NumPy scalars and arrays (any integer or float
  dtype, object arrays of Python ints), lists and tuples of those;
- tensors of any framework whose values can be read on the host (eager TF, torch,
  concrete JAX arrays). A traced tensor (inside ``tf.function`` or ``jax.jit``) has no
  value yet; what each backend does with it in-graph is documented in
  ``docs/numerics.md``.

Negative steps are not refused here: a schedule's value before its start is its value
at step 0 on every backend whose schedule is a function of the step (NumPy, Keras,
JAX), as documented. Positioning APIs (torch ``set_step``) refuse them.
"""

from __future__ import annotations

from typing import Any

from clrdsl.diagnostics.errors import ClrdslTypeError, ClrdslValueError

INT64_LIMIT = 2**63  # steps are < 2**63 on int64 paths
INT32_LIMIT = 2**31  # ... and < 2**31 on JAX without x64

_FIX = {
    "jax": "enable 64-bit steps before JAX runs: jax.config.update('jax_enable_x64', True)",
}


class StepError(ClrdslValueError, OverflowError):
    """A step the backend cannot represent (E630)."""


def _limit_text(limit: int) -> str:
    return {INT64_LIMIT: "2**63 (int64)", INT32_LIMIT: "2**31 (int32)"}.get(limit, str(limit))


def too_large(step: Any, limit: int, backend: str) -> StepError:
    fix = _FIX.get(backend) if limit == INT32_LIMIT else None
    return StepError(
        f"step {step} is beyond what the {backend} backend can count",
        code="E630",
        expected=f"a step < {_limit_text(limit)}",
        found=f"{step}",
        hint=fix or "steps count optimizer updates; no run has this many. Pass an integer step "
        "(an int64 tensor or array, not uint64 or float)",
    )


def not_whole(step: Any, backend: str) -> ClrdslTypeError:
    return ClrdslTypeError(
        f"steps must be integers (optimizer updates); the {backend} backend got {_short(step)}",
        code="E631",
        expected="an integer (or an integral float) >= 0",
        found=_short(step),
        hint="pass the optimizer's update count, e.g. int(step)",
    )


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def check_host(step: Any, *, limit: int = INT64_LIMIT, backend: str = "numpy"):
    """Validate host steps; return them as an int64 NumPy array (0-d for a scalar).

    Raises :class:`StepError` for a step ``>= limit`` and a type error for one that is
    not a whole number, before any conversion that could wrap."""
    import numpy as np

    if isinstance(step, bool):
        return np.asarray(int(step), dtype=np.int64)
    if isinstance(step, int):
        if step >= limit:
            raise too_large(step, limit, backend)
        if step < -(2**63):
            return np.asarray(-(2**63), dtype=np.int64)  # before the start: clamped by the backend
        return np.asarray(step, dtype=np.int64)
    try:
        arr = np.asarray(step)
    except (OverflowError, ValueError, TypeError):
        raise not_whole(step, backend) from None
    kind = arr.dtype.kind
    if kind == "O":  # Python ints beyond int64 (or anything else)
        flat = arr.reshape(-1).tolist()
        for v in flat:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise not_whole(v, backend)
        conv = [check_host(v, limit=limit, backend=backend) for v in flat]
        return np.asarray([int(c) for c in conv], dtype=np.int64).reshape(arr.shape)
    if kind == "b":
        return arr.astype(np.int64)
    if kind in "iu":
        if arr.size:
            hi = arr.max()
            if int(hi) >= limit:
                raise too_large(int(hi), limit, backend)
        return arr.astype(np.int64, copy=False)
    if kind == "f":
        if arr.size:
            bad = ~np.isfinite(arr) | (arr != np.floor(arr))
            if bad.any():
                raise not_whole(arr[bad].reshape(-1)[0].item() if arr.ndim else arr.item(), backend)
            hi = float(arr.max())
            if hi >= limit:
                raise too_large(f"{hi:.17g}", limit, backend)
        return np.maximum(arr, -1.0).astype(np.int64)  # before the start stays before it
    raise not_whole(step, backend)


def check_tensor(step: Any, *, limit: int = INT64_LIMIT, backend: str = "keras") -> None:
    """Validate a framework tensor's steps when its values can be read (an eager tensor);
    a traced tensor has no values yet and passes (see the module's doc)."""
    import numpy as np

    try:
        arr = np.asarray(step)
    except Exception:  # noqa: BLE001 - a tracer or a symbolic tensor: nothing to read
        return
    if arr.dtype.kind == "f":  # a float tensor is floored by the backends (a count in float form)
        if arr.size:
            if not np.all(np.isfinite(arr)):
                raise not_whole(arr[~np.isfinite(arr)].reshape(-1)[0].item(), backend)
            if float(np.floor(arr.max())) >= limit:
                raise too_large(f"{float(np.floor(arr.max())):.17g}", limit, backend)
    elif arr.dtype.kind in "iubO":
        check_host(arr, limit=limit, backend=backend)


def _is_host(step: Any) -> bool:
    import numpy as np

    return isinstance(step, (int, float, list, tuple, np.ndarray, np.generic))


def check_step(step: Any, *, backend: str, limit: int = INT64_LIMIT, tensor_limit: int | None = None) -> None:
    """Refuse a step (scalar, array, list or eager tensor) that ``backend`` cannot count:
    host values against ``limit``, tensors against ``tensor_limit`` (default ``limit``)."""
    if _is_host(step):
        check_host(step, limit=limit, backend=backend)
    else:
        check_tensor(step, limit=tensor_limit or limit, backend=backend)


# -- saved states ----------------------------------------------------------------------

BINDING_NAMES = ("steps_per_epoch", "total_steps")


def config_parts(config: Any, *, what: str = "Keras Schedule config", code: str = "E614"):
    """``(expr, bindings)`` of a serialized schedule ``{"expr": str, "bindings": {...}}``,
    after checking all of it: a ClrdslValueError with expected and found otherwise."""
    from collections.abc import Mapping

    def bad(expected: str, found: str):
        return ClrdslValueError(
            f"not a valid {what}", code=code, expected=expected, found=found,
            hint="load what get_config() wrote: {'expr': '<expression>', 'bindings': {...}}",
        )

    if not isinstance(config, Mapping):
        raise bad("a dict with `expr` and `bindings`", _short(config) + f" ({type(config).__name__})")
    extra = sorted(str(k) for k in config if k not in ("expr", "bindings", "name"))
    if extra:
        raise bad("the keys expr, bindings", "unknown key(s) " + ", ".join(f"`{k}`" for k in extra))
    expr = config.get("expr")
    if not isinstance(expr, str):
        raise bad("`expr`: the expression (a string)", "no `expr`" if "expr" not in config else _short(expr))
    bindings = config.get("bindings") or {}
    if not isinstance(bindings, Mapping):
        raise bad("`bindings`: a dict of steps_per_epoch / total_steps", _short(bindings))
    for k, v in bindings.items():
        if k not in BINDING_NAMES:
            raise bad("`bindings` with keys steps_per_epoch, total_steps", f"unknown binding `{k}`")
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise bad(f"`bindings.{k}`: a positive integer", _short(v))
    return expr, dict(bindings)
