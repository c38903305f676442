"""Plateau clocks: the rule that advances them, and their state as plain data.

A schedule with ``on=plateau(...)`` is a closed form of two kinds of clock: the update
count ``t`` and, for each plateau clock, the number of reductions so far ``k``
(:func:`clrdsl.semantics.model.plateau_clocks` orders them). A backend keeps ``t`` and one
:class:`State` per plateau clock beside it; reporting a metric advances the states by
:func:`rule`, and the value is ``value(t, k)``. Nothing else is kept, so resuming is
setting ``t`` and the states.

The rule is torch ``ReduceLROnPlateau``'s, report for report (``patience``, ``mode``,
``threshold``, ``threshold_mode``, ``cooldown``, ``eps``); the porting guide gives the
arguments that reproduce Keras's callback and optax's ``contrib.reduce_on_plateau``.
:func:`rule` is written against an ``ops`` namespace, so the Python-float trackers
(torch, Keras, NumPy replays) and the in-graph optax transformation run one definition.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Sequence

from clrdsl.contract.ops import MathOps
from clrdsl.diagnostics.errors import ClrdslValueError
from clrdsl.semantics import model as M

__all__ = ["State", "initial", "rule", "Tracker", "replay", "counts_at", "read_metrics"]


@dataclass(frozen=True)
class State:
    """One plateau clock's state: the best metric so far, the bad evaluations in a row,
    the reports left in cooldown, and the reductions so far (the clock's value)."""

    best: float
    bad: int = 0
    cooldown: int = 0
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "State":
        return cls(float(d["best"]), int(d["bad"]), int(d["cooldown"]), int(d["count"]))


def initial(clock: M.Plateau) -> State:
    """Before any report: the worst possible best (torch's ``mode_worse``)."""
    return State(math.inf if clock.mode == "min" else -math.inf)


def improves(ops, clock: M.Plateau, metric, best):
    """Whether ``metric`` is better than ``best`` by the clock's threshold."""
    thr = clock.threshold
    if clock.mode == "min":
        limit = best * (1.0 - thr) if clock.threshold_mode == "rel" else best - thr
        return metric < limit
    limit = best * (thr + 1.0) if clock.threshold_mode == "rel" else best + thr
    return metric > limit


def rule(ops, clock: M.Plateau, best, bad, cooldown, count, metric):
    """One report: ``(best, bad, cooldown, count, reduced)`` after ``metric``.

    A metric better than the best (by the threshold) becomes the best and clears the bad
    evaluations; otherwise it is one more. While in cooldown the bad evaluations are
    cleared. More than ``patience`` of them make a reduction: the count rises by one,
    cooldown starts, the bad evaluations are cleared. (A NaN metric is never better.)
    Written with ``ops.where`` so that it runs on Python numbers and in-graph alike.
    """
    better = improves(ops, clock, metric, best)
    best = ops.where(better, metric, best)
    bad = ops.where(better, 0, bad + 1)
    cooling = cooldown > 0
    bad = ops.where(cooling, 0, bad)
    cooldown = ops.where(cooling, cooldown - 1, cooldown)
    reduced = bad > clock.patience
    count = ops.where(reduced, count + 1, count)
    cooldown = ops.where(reduced, clock.cooldown, cooldown)
    bad = ops.where(reduced, 0, bad)
    return best, bad, cooldown, count, reduced


ValueFn = Callable[[int, tuple], float]  # value(t, counts) as one backend computes it


class Tracker:
    """The plateau clocks of one schedule and their states, on the host.

    ``report(t, metric)`` feeds one metric reported at global step ``t``: each clock
    whose phase runs at ``t`` takes it (a clock in a phase that has not begun, or has
    ended, ignores it). ``value(t, counts)`` is the backend's own evaluation; it is used
    for ``eps`` (a reduction that would lower the value at ``t`` by ``eps`` or less is
    not taken, as torch does).
    """

    def __init__(self, root: M.Sched, value: ValueFn | None = None) -> None:
        self.clocks = M.plateau_clocks(root)
        self.states = [initial(pc.clock) for pc in self.clocks]
        self.value = value

    def __bool__(self) -> bool:
        return bool(self.clocks)

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(s.count for s in self.states)

    def report(self, t: int, metric: float) -> bool:
        """Feed one metric at step ``t``; whether a count changed."""
        metric = _metric(metric)
        changed = False
        for i, pc in enumerate(self.clocks):
            if not pc.listens(t):
                continue
            s = self.states[i]
            best, bad, cooldown, count, reduced = rule(MathOps, pc.clock, s.best, s.bad, s.cooldown,
                                                       s.count, metric)
            if reduced and pc.clock.eps > 0 and self.value is not None:
                before = self.counts
                after = before[:i] + (count,) + before[i + 1:]
                if not self.value(t, before) - self.value(t, after) > pc.clock.eps:
                    count = s.count
            self.states[i] = State(float(best), int(bad), int(cooldown), int(count))
            changed = changed or count != s.count
        return changed

    # plain data: what checkpoints hold
    def state_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.states]

    def load_state_dict(self, states: Sequence[dict[str, Any]]) -> None:
        if len(states) != len(self.clocks):
            raise ClrdslValueError(
                "this checkpoint's plateau state does not fit the schedule", code="E640",
                expected=f"{len(self.clocks)} plateau clock state(s)", found=f"{len(states)}",
                hint="a checkpoint resumes the schedule it was written with",
            )
        self.states = [State.from_dict(d) for d in states]

    def reset(self) -> None:
        self.states = [initial(pc.clock) for pc in self.clocks]


def _metric(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ClrdslValueError(
            "a reported metric must be a number", code="E641",
            expected="a float (e.g. the validation loss)", found=repr(v)[:60],
        ) from None


def replay(root: M.Sched, metrics: Iterable[tuple[int, float]], value: ValueFn | None = None):
    """The counts a run with these reports would have had: ``(report_steps, counts)``,
    where ``counts[j]`` holds each clock's count after the first ``j`` reports (row 0:
    before any). A report at step ``s`` applies from step ``s`` on; reports are taken in
    order of step, and in the given order at one step."""
    tracker = Tracker(root, value)
    rows = sorted(((int(s), m) for s, m in metrics), key=lambda r: r[0])
    steps, counts = [], [tracker.counts]
    for s, m in rows:
        if s < 0:
            raise ClrdslValueError("a metric was reported at a negative step", code="E641",
                                   expected="steps >= 0", found=str(s))
        tracker.report(s, m)
        steps.append(s)
        counts.append(tracker.counts)
    return steps, counts


def counts_at(report_steps: Sequence[int], counts: Sequence[tuple[int, ...]], steps):
    """The counts in force at each of ``steps`` (an integer array) after a :func:`replay`:
    one int64 array shaped like ``steps`` per clock (a report at step s applies from s on)."""
    import numpy as np

    table = np.asarray(counts, dtype=np.int64)
    which = np.searchsorted(np.asarray(report_steps, dtype=np.int64), steps, side="right")
    return tuple(table[which, j] for j in range(table.shape[1]))


def read_metrics(path: str, column: str | None = None) -> list[tuple[int, float]]:
    """``(step, value)`` rows of a CSV file with a header: a ``step`` column and the
    metric's column (``column``, or the only other one)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            fields = list(rows[0].keys()) if rows else []
    except OSError as exc:
        raise ClrdslValueError(f"cannot read the metrics file {path!r}", code="E642",
                               expected="a readable CSV file", found=str(exc.strerror or exc)) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ClrdslValueError(f"{path!r} is not a CSV file", code="E642",
                               expected="CSV with a header row (step,<metric>)", found=str(exc)[:80]) from None
    if "step" not in fields:
        raise ClrdslValueError(f"{path!r} has no `step` column", code="E642",
                               expected="a header with `step` and the metric", found=",".join(fields) or "no rows")
    others = [f for f in fields if f != "step"]
    if column is None:
        if len(others) != 1:
            raise ClrdslValueError(f"{path!r} has {len(others)} metric columns; name one", code="E642",
                                   expected="--metric NAME (one of: " + ", ".join(others) + ")",
                                   found=",".join(fields))
        column = others[0]
    elif column not in others:
        from clrdsl.diagnostics.errors import suggestion_hint

        raise ClrdslValueError(f"{path!r} has no column `{column}`", code="E642",
                               expected="one of: " + ", ".join(others), found=column,
                               hint=suggestion_hint(column, others))
    out = []
    for n, row in enumerate(rows, start=2):
        try:
            step = float(row["step"])
            value = float(row[column])
        except (TypeError, ValueError):
            raise ClrdslValueError(f"{path!r} line {n}: not a number", code="E642",
                                   expected="a whole step and a number",
                                   found=f"step={row['step']!r}, {column}={row[column]!r}") from None
        if step != int(step) or step < 0:
            raise ClrdslValueError(f"{path!r} line {n}: the step must be a whole number >= 0",
                                   code="E642", expected="a whole step", found=row["step"])
        out.append((int(step), value))
    return out
