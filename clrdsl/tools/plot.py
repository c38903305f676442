"""``clrdsl plot``: schedules drawn as figures (matplotlib) or in the terminal (braille).

Values come from the compiled NumPy backend object, the same one ``clrdsl eval``
prints. Phase boundaries (dashed) and cycle boundaries (dotted) come from the
semantic model (:func:`clrdsl.tools.explain.boundaries`). matplotlib (the ``plot`` extra)
is imported only to write a file; the terminal plot needs nothing beyond NumPy.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from clrdsl.semantics.model import CheckedSchedule
from clrdsl.tools.explain import boundaries, num

FULL = 100_000  # up to this many steps every step is evaluated; beyond, a sample
SAMPLE = 20_001
FORMATS = (".png", ".svg", ".pdf")
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass
class Series:
    label: str
    checked: CheckedSchedule
    t: np.ndarray
    v: np.ndarray
    phases: list[float]
    cycles: list[float]
    group: str | None = None  # the hyperparameter (a config key): one panel per group


def default_steps(checked: list[CheckedSchedule]) -> int:
    """How many steps to draw: the run (``total_steps``), else the longest finite
    schedule, else four of the longest cycle (at least 1000 steps)."""
    from clrdsl.tools.explain import _default_horizon

    totals = [c.bindings_dict.get("total_steps") for c in checked]
    if any(totals):
        return max(t for t in totals if t)
    finite = [c.length for c in checked if not math.isinf(c.length)]
    if finite:
        return max(int(math.ceil(max(finite))) + 1, 2)
    return max(_default_horizon(c.root) for c in checked) // 2


def series(checked: CheckedSchedule, n: int, label: str | None = None, group: str | None = None,
           metrics=None) -> Series:
    """Values of ``checked`` at steps ``[0, n)`` (every step, or a sample that keeps
    each boundary and the steps beside it). ``metrics``: a run's ``(step, value)``
    reports, for a schedule with plateau clocks (what it would have done on that run)."""
    from clrdsl.contract.registry import get_backend

    compiled = get_backend("numpy").compile(checked)
    phases, cycles = boundaries(checked.root, n)
    reports = sorted({int(s) for s, _ in metrics}) if metrics is not None else []
    if n <= FULL:
        t = np.arange(n, dtype=np.int64)
    else:
        marks = np.asarray([b + d for b in phases + cycles + reports for d in (-1, 0) if 0 <= b + d < n],
                           dtype=np.int64)
        t = np.unique(np.concatenate([np.linspace(0, n - 1, SAMPLE).astype(np.int64), marks]))
    v = np.asarray(compiled(t) if metrics is None else compiled(t, metrics=metrics), dtype=np.float64)
    return Series(label or checked.expr, checked, t, v, phases, cycles, group)


def groups(all_series: list[Series]) -> list[tuple[str | None, list[Series]]]:
    """The series by hyperparameter, in order of appearance: schedules of one
    hyperparameter share an axis; different hyperparameters (an lr and a momentum,
    values orders of magnitude apart) each get their own."""
    out: dict[str | None, list[Series]] = {}
    for s in all_series:
        out.setdefault(s.group, []).append(s)
    return list(out.items())


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- files ------------------------------------------------------------------------------


def figure(all_series: list[Series], *, log: bool = False, steps_per_epoch: int | None = None,
           ylabel: str = "value", title: str | None = None):
    """A matplotlib figure: one panel per hyperparameter (:func:`groups`), sharing the
    step axis, each with its schedules, their phase and cycle boundaries, a legend."""
    import matplotlib.pyplot as plt

    panels = groups(all_series) or [(None, [])]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 4.2 if len(panels) == 1 else 1.2 + 2.6 * len(panels)),
                             dpi=100, layout="constrained", sharex=True, squeeze=False)
    for row, (group, members) in enumerate(panels):
        ax = axes[row][0]
        _draw(ax, members, log=log, ylabel=group or ylabel, n=len(panels))
        if row == 0 and steps_per_epoch:
            spe = float(steps_per_epoch)
            top = ax.secondary_xaxis("top", functions=(_times(1 / spe), _times(spe)))
            top.set_xlabel("epoch")
    axes[-1][0].set_xlabel("step (optimizer updates)")
    axes[0][0].set_xlim(0, max(int(s.t[-1]) for s in all_series) if all_series else 1)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _times(k: float):
    return lambda x: x * k


def _draw(ax, members: list[Series], *, log: bool, ylabel: str, n: int) -> None:
    several = len(members) > 1
    for i, s in enumerate(members):
        color = COLORS[i % len(COLORS)]
        v = np.where(s.v > 0, s.v, np.nan) if log else s.v
        label = _short(s.label) if s.group is None or several else s.group
        ax.plot(s.t, v, color=color, linewidth=1.4, label=label)
        bc = color if several else "0.35"
        for b in s.phases:
            ax.axvline(b, color=bc, linestyle="--", linewidth=0.8, alpha=0.7)
        for b in s.cycles:
            ax.axvline(b, color=bc, linestyle=":", linewidth=0.7, alpha=0.45)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.25)
    handles, _ = ax.get_legend_handles_labels()
    from matplotlib.lines import Line2D

    if any(s.phases for s in members):
        handles.append(Line2D([], [], color="0.35", linestyle="--", linewidth=0.8, label="phase boundary"))
    if any(s.cycles for s in members):
        handles.append(Line2D([], [], color="0.35", linestyle=":", linewidth=0.8, label="cycle boundary"))
    ax.legend(handles=handles, fontsize=8, loc="best")


def save(all_series: list[Series], path: str, **kwargs) -> None:
    """Write the figure to ``path`` (.png, .svg or .pdf)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError(f"cannot write `{path}`: the figure formats are {', '.join(FORMATS)}")
    if "matplotlib.pyplot" not in sys.modules:  # a file needs no window: the Agg canvas
        import matplotlib

        matplotlib.use("Agg")
    fig = figure(all_series, **kwargs)
    import matplotlib.pyplot as plt

    meta = {"Software": "clrdsl"} if ext == ".png" else {"Creator": "clrdsl"} if ext == ".pdf" else None
    fig.savefig(path, metadata=meta)
    plt.close(fig)


# -- the terminal -------------------------------------------------------------------------

_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # braille dot bits by (row, col)
_ANSI = ("\x1b[34m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[35m", "\x1b[36m")
_RESET = "\x1b[0m"


def terminal(all_series: list[Series], *, width: int = 72, height: int = 16, log: bool = False,
             color: bool = False, steps_per_epoch: int | None = None) -> str:
    """Braille plots, one per hyperparameter (:func:`groups`), each headed by its name."""
    panels = groups(all_series)
    if len(panels) <= 1:
        return _terminal(all_series, width=width, height=height, log=log, color=color,
                         steps_per_epoch=steps_per_epoch)
    return "\n\n".join(f"{group}\n" + _terminal(members, width=width, height=height, log=log, color=color,
                                                  steps_per_epoch=steps_per_epoch)
                        for group, members in panels)


def _terminal(all_series: list[Series], *, width: int = 72, height: int = 16, log: bool = False,
              color: bool = False, steps_per_epoch: int | None = None) -> str:
    """A braille plot: each character holds 2 x 4 dots; phase boundaries are marked
    ``┴`` and cycle boundaries ``╵`` under the axis."""
    px, py = width * 2, height * 4
    n = max(int(s.t[-1]) for s in all_series) + 1 if all_series else 1
    vals = []
    for s in all_series:
        v = s.v.astype(np.float64)
        if log:
            v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
        vals.append(v)
    finite = np.concatenate([v[np.isfinite(v)] for v in vals]) if vals else np.array([])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - (abs(lo) or 1.0) * 0.05, hi + (abs(hi) or 1.0) * 0.05
    cells = [[0] * width for _ in range(height)]
    owner = [[-1] * width for _ in range(height)]

    def ypix(v: float) -> int:
        return int(round((hi - v) / (hi - lo) * (py - 1)))

    for si, (s, v) in enumerate(zip(all_series, vals)):
        col = np.minimum((s.t * px) // max(n, 1), px - 1)
        prev = None
        for x in range(px):
            sel = v[col == x]
            sel = sel[np.isfinite(sel)]
            if sel.size == 0:
                continue
            top, bot = ypix(float(sel.max())), ypix(float(sel.min()))
            a, b = top, bot
            if prev is not None:  # join to the previous column so jumps stay visible
                if b < prev[0]:
                    b = prev[0]
                elif a > prev[1]:
                    a = prev[1]
            for y in range(a, b + 1):
                r, c = y // 4, x // 2
                cells[r][c] |= _DOTS[y % 4][x % 2]
                owner[r][c] = si
            prev = (top, bot)
    labels = [_ylabel(hi, log), _ylabel((hi + lo) / 2, log), _ylabel(lo, log)]
    lw = max(len(x) for x in labels)
    out = []
    for r in range(height):
        label = labels[0] if r == 0 else labels[1] if r == height // 2 else labels[2] if r == height - 1 else ""
        row = []
        for c in range(width):
            ch = chr(0x2800 + cells[r][c]) if cells[r][c] else " "
            if color and cells[r][c] and len(all_series) > 1:
                ch = _ANSI[owner[r][c] % len(_ANSI)] + ch + _RESET
            row.append(ch)
        out.append(f"{label:>{lw}} ┤" + "".join(row).rstrip())
    axis = ["─"] * width

    def mark(b: float, ch: str) -> None:
        i = min(int(b * width // n), width - 1)
        if axis[i] != "┴":
            axis[i] = ch

    for s in all_series:
        for at in s.cycles:
            mark(at, "╵")
        for at in s.phases:
            mark(at, "┴")
    out.append(" " * lw + " └" + "".join(axis))
    left, right = "0", str(n - 1)
    mid = str((n - 1) // 2)
    ticks = left + " " * max(1, width // 2 - len(left) - len(mid) // 2) + mid
    ticks += " " * max(1, width - len(ticks) - len(right)) + right
    out.append(" " * lw + "  " + ticks)
    unit = "step" + (f"  (1 epoch = {steps_per_epoch} steps)" if steps_per_epoch else "")
    out.append(" " * lw + "  " + unit.center(width).rstrip())
    marks = []
    if any(s.phases for s in all_series):
        marks.append("┴ phase boundary")
    if any(s.cycles for s in all_series):
        marks.append("╵ cycle boundary")
    if log:
        marks.append("log scale")
    if marks:
        out.append(" " * lw + "  " + ", ".join(marks))
    for i, s in enumerate(all_series):
        key = f"{_ANSI[i % len(_ANSI)]}━━{_RESET}" if color and len(all_series) > 1 else f"[{i + 1}]" if len(
            all_series) > 1 else "  "
        label = f"{s.group}: {s.checked.expr}" if s.group is not None else s.label
        out.append(f"{key} {_short(label, 90)}".rstrip())
    return "\n".join(out)


def _ylabel(v: float, log: bool) -> str:
    return num(10**v) if log else num(v)
