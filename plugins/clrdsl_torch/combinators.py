"""torch's ``SequentialLR`` and ``ChainedScheduler`` around a ``ClrdslScheduler``: refused,
with the expression that says the same thing.

Why refuse rather than play along: a clrdsl schedule computes every value from the
update count alone, and the language already has both combinators — ``a >> b`` is
``SequentialLR`` (half-open phases, ``b``'s clock restarted at 0 at the milestone) and
``a * b`` of two schedules is the product that chaining multiplicative torch
schedulers gives. Split across torch's wrappers the same schedule would have two
clocks and two checkpoint states, ``SequentialLR`` rewinds its members to step ``-1``
(a step that does not exist here), and a chained clrdsl value, written whole at each
update, would silently drop the factors of the schedulers chained before it. One
string keeps one clock, one state and one meaning, so the error shows that string.

``SequentialLR`` is detected when it rewinds the scheduler (``last_epoch -= 1`` at its
construction); ``ChainedScheduler`` at its first ``step()``.
"""

from __future__ import annotations

import sys
from typing import Any

from clrdsl.diagnostics.errors import ClrdslTypeError

CODE = "E609"


def _wrapper(kind: str) -> Any:
    """The torch combinator of class ``kind`` whose method is on the call stack, if any."""
    import torch.optim.lr_scheduler as L

    cls = getattr(L, kind)
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return None
        me = frame.f_locals.get("self")
        if isinstance(me, cls):
            return me
        frame = frame.f_back
    return None


def in_sequential() -> Any:
    return _wrapper("SequentialLR")


def in_chain() -> Any:
    return _wrapper("ChainedScheduler")


def _num(x: float) -> str:
    return repr(float(x))


def _torch_phase(s: Any, length: int | None) -> str | None:
    """A torch scheduler's phase as a clrdsl expression, where the translation is exact."""
    import torch.optim.lr_scheduler as L

    base = getattr(s, "base_lrs", [None])[0]
    if base is None:
        return None
    if isinstance(s, L.LinearLR) and length is not None and s.total_iters == length:
        return f"linear({_num(base * s.start_factor)}, {_num(base * s.end_factor)}, over={length})"
    if isinstance(s, L.ConstantLR) and length is not None and s.total_iters >= length:
        return f"constant({_num(base * s.factor)}, over={length})"
    return None


def _ours(s: Any) -> str | None:
    expr = getattr(s, "expressions", {}).get("lr")
    return expr if isinstance(expr, str) else None


def sequential_error(sched: Any, wrapper: Any) -> ClrdslTypeError:
    scheds = list(getattr(wrapper, "_schedulers", []))
    miles = list(getattr(wrapper, "_milestones", []))
    bounds = [0, *miles]
    phases: list[str] = []
    for i, s in enumerate(scheds):
        length = bounds[i + 1] - bounds[i] if i + 1 < len(bounds) else None
        text = _ours(s) if s is sched or type(s).__name__ == "ClrdslScheduler" else _torch_phase(s, length)
        if text is None:
            text = f"<{type(s).__name__} for {length} updates>" if length is not None else f"<{type(s).__name__}>"
        phases.append(text)
    found = ("SequentialLR([" + ", ".join(type(s).__name__ for s in scheds) + f"], milestones={miles})"
             if scheds else "SequentialLR")
    return ClrdslTypeError(
        "a clrdsl scheduler does not run inside torch's SequentialLR: write the phases in the expression with `>>`",
        code=CODE, expected="one clrdsl expression whose phases are joined with `>>` (each phase's clock "
        "restarts at 0, as in SequentialLR)", found=found,
        hint="clrdsl.compile(" + repr(" >> ".join(phases)) + ', backend="torch", optimizer=opt)',
    )


def chain_error(sched: Any, wrapper: Any) -> ClrdslTypeError:
    scheds = list(getattr(wrapper, "_schedulers", []))
    names = ", ".join(type(s).__name__ for s in scheds) or "..."
    ours = _ours(sched) or "<expression>"
    return ClrdslTypeError(
        "a clrdsl scheduler does not run inside torch's ChainedScheduler: it writes each value whole, "
        "so the factors of the schedulers chained with it would be lost",
        code=CODE, expected="one clrdsl expression: the product of two schedules is `a * b`",
        found=f"ChainedScheduler([{names}])",
        hint=f"multiply in the expression, e.g. {ours!r} -> '({ours}) * exponential(1, 0.01, over=10_000)'",
    )
