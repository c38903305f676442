"""``clrdsl explain``: a plain account of a schedule, with every number resolved, and lints.

:func:`explain` checks an expression and describes its semantic model: the length,
the values at the start, the peak and the end, each phase of a sequence (where it
starts and ends and its values there), each shape with its resolved arguments, the
period and extremes of each cycle, and, for a cyclic schedule modulated by a scale,
what the scale does cycle by cycle.

:func:`lint` reports likely mistakes as warnings with codes and spans:

====  =====================================================================
W001  the amplitude of a modulated cyclic schedule falls below 1% of its base
W002  a phase runs past ``total_steps`` (it is cut, or never runs)
W003  a warmup that decreases: a first phase falls and the next jumps back up
W004  the value is <= 0 at some step an update uses
W005  a cyclic schedule ends mid-cycle (CLR advises ending at a cycle boundary)
W006  the schedule ends before ``total_steps``: its last value holds for the rest
W007  a plateau clock in a phase too short for its patience ever to reduce
====  =====================================================================

Values come from the generated Python-float code (:mod:`clrdsl.evaluation.scalar`, one step at a
time) and, to scan many steps for extremes, from the NumPy backend (the same generated
code over arrays). The output is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from clrdsl.diagnostics.codes import LINTS
from clrdsl.diagnostics.errors import ClrdslError, ClrdslValueError, Diagnostic, Source, Span
from clrdsl.evaluation.emit import probe
from clrdsl.evaluation.scalar import PYTHON
from clrdsl.language.unparse import format_number
from clrdsl.semantics import model as M

DEFAULT_HORIZON = 10_000  # steps described for a schedule without end when no total is given
SCAN_LIMIT = 2_000_000  # steps scanned one by one; beyond, a regular sample plus boundaries
FLAT = 0.01  # W001: amplitude below this fraction of the base
MAX_CYCLE_SEARCH = 100_000  # cycles searched for W001 on a schedule without end

__all__ = ["explain", "lint", "boundaries", "Explanation", "Lint", "ClrdslLintError", "LINT_CODES"]

LINT_CODES = LINTS  # the catalogue: clrdsl/diagnostics/codes.py


class ClrdslLintError(ClrdslValueError):
    """Lints reported as errors (``--strict``)."""

    kind = "lint"


@dataclass(frozen=True)
class Lint:
    code: str
    message: str
    span: Span | None = None
    hint: str | None = None

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(code=self.code, message=self.message, span=self.span, hint=self.hint, kind="lint")

    def to_json(self) -> dict:
        out = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.span is not None:
            out["span"] = {"start": self.span.start, "end": self.span.end}
        return out


def render_lints(lints: list[Lint], source: Source | None, color: bool = False) -> str:
    """Lints as warnings, with carets under their spans."""
    out = []
    for w in lints:
        text = ClrdslError(diagnostics=[w.diagnostic()], source=source).render(color=color)
        out.append(text.replace("error[", "warning[", 1))
    return "\n\n".join(out)


def lint_error(lints: list[Lint], source: Source | None) -> ClrdslLintError:
    """``--strict``: the lints as one error (exit status 1)."""
    return ClrdslLintError(diagnostics=[w.diagnostic() for w in lints], source=source)


# -- numbers ----------------------------------------------------------------------------


def num(v: float) -> str:
    """A value for people: 6 significant digits, no trailing zeros."""
    if v is None:
        return "-"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    text = f"{v:.6g}"
    return "0" if text == "-0" else text


def steps(v: float) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "unbounded"
    return format_number(v)


def _arg(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return format_number(v) if math.isfinite(v) else "unbounded"
    return str(v)


def call_text(name: str, args) -> str:
    return f"{name}({', '.join(f'{k}={_arg(v)}' for k, v in args)})"


def _x_text(node: M.XExpr, prec: int = 0) -> str:
    if isinstance(node, M.XVar):
        return "x"
    if isinstance(node, M.XNum):
        return num(node.value)
    if isinstance(node, M.XNeg):
        return "-" + _x_text(node.operand, 4)
    if isinstance(node, M.XCall):
        return f"{node.fn}({', '.join(_x_text(a) for a in node.args)})"
    p = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 3}[node.op]
    text = f"{_x_text(node.left, p)} {node.op} {_x_text(node.right, p + 1)}"
    return f"({text})" if p < prec else text


def clock_text(clock: M.Clock) -> str:
    if isinstance(clock, M.Plateau):
        return f"the reductions so far of {call_text('plateau', tuple(clock.params.items()))}"
    return "the 0-based cycle index" if clock == "cycle" else "the step"


def plateau_rule(clock: M.Plateau) -> str:
    """The rule of a plateau clock in words (torch ReduceLROnPlateau's)."""
    better = {("min", "rel"): f"below best · (1 − {num(clock.threshold)})",
              ("min", "abs"): f"below best − {num(clock.threshold)}",
              ("max", "rel"): f"above best · (1 + {num(clock.threshold)})",
              ("max", "abs"): f"above best + {num(clock.threshold)}"}[clock.mode, clock.threshold_mode]
    text = (f"each reported metric {better} becomes the best; any other is a bad evaluation, and after "
            f"{clock.patience + 1} bad evaluation{'s' if clock.patience else ''} in a row the count "
            "rises by 1")
    if clock.cooldown:
        text += f"; the {clock.cooldown} report{'s' if clock.cooldown > 1 else ''} after a reduction count as good"
    if clock.eps:
        text += f"; a reduction that would lower the value by {num(clock.eps)} or less is not taken"
    return text + ". Before any report the count is 0."


def scale_text(node: M.Scale) -> str:
    """A scale in words and numbers."""
    if isinstance(node, M.ScalePrim):
        return f"{call_text(node.name, node.args)} of {clock_text(node.clock)}"
    if isinstance(node, M.ScaleExpr):
        return f"scale({_x_text(node.body)}) with x = {clock_text(node.clock)}"
    if isinstance(node, M.ScaleConst):
        return num(node.value)
    if isinstance(node, M.ScaleMul):
        return f"{scale_text(node.left)}, times {scale_text(node.right)}"
    if isinstance(node, M.ScalePow):
        return f"({scale_text(node.scale)}) ** {num(node.power)}"
    raise TypeError(type(node).__name__)


# -- walking the model ------------------------------------------------------------------


def _cyclic_prim(node: M.Sched) -> M.Prim | None:
    """The shape whose cycles a cyclic node has."""
    if isinstance(node, M.Prim):
        return node if node.cyclic else None
    if isinstance(node, (M.Modulate, M.Window)):
        return _cyclic_prim(node.sched)
    if isinstance(node, M.Pointwise) and node.cycle_source is not None:
        return _cyclic_prim(node.cycle_source)
    return None


class Cycles:
    """Where the cycles of a cyclic node start (on its own clock)."""

    def __init__(self, node: M.Sched) -> None:
        self.node = node
        prim = _cyclic_prim(node)
        self.period = prim.period if prim is not None else None
        self.index = None if prim is None else probe(node, PYTHON, (("cycle", node, "probe_cycle"),)).probe_cycle

    def start(self, k: int) -> float:
        """The first step of cycle ``k`` (0-based)."""
        if self.period:
            return k * self.period
        if k <= 0:
            return 0
        lo, hi = 0, 1
        while self.index(hi) < k:  # cycle indices only grow
            lo, hi = hi, hi * 2
            if hi > 2**62:
                return math.inf
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.index(mid) >= k:
                hi = mid
            else:
                lo = mid
        return hi

    def last_index(self, limit: int) -> int:
        """The last cycle (at most ``limit``) that starts at a step below 2^62."""
        if math.isfinite(self.start(limit)):
            return limit
        lo, hi = 0, limit  # start(lo) is finite, start(hi) is not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if math.isfinite(self.start(mid)) else (lo, mid)
        return lo

    def of(self, t: float) -> int:
        return int(self.index(t))

    def count_before(self, end: float) -> float:
        """Cycles that start before step ``end``."""
        if math.isinf(end):
            return math.inf
        return self.of(max(end - 1, 0)) + 1


def _fn(node: M.Sched) -> Callable[[float], float]:
    f = probe(node, PYTHON).value  # the generated Python-float code of the node
    return lambda t: float(f(t))


# -- facts ------------------------------------------------------------------------------


@dataclass
class Explanation:
    """What :func:`explain` found: the facts (also its JSON form) and the lints."""

    checked: M.CheckedSchedule
    source: Source | None
    facts: dict
    lints: list[Lint] = field(default_factory=list)

    def to_json(self) -> dict:
        return {**self.facts, "lints": [w.to_json() for w in self.lints]}

    def render(self, color: bool = False) -> str:
        out = _render(self.facts)
        if self.lints:
            out += "\n\n" + render_lints(self.lints, self.source, color)
        else:
            out += "\n\nNo warnings."
        return out


class _Explainer:
    def __init__(self, checked: M.CheckedSchedule, source: Source | None, metrics=None) -> None:
        self.checked = checked
        self.metrics = None if metrics is None else list(metrics)
        self.source = source
        self.total = checked.bindings_dict.get("total_steps")
        self.spe = checked.bindings_dict.get("steps_per_epoch")
        self.lints: list[Lint] = []
        root = checked.root
        self.length = root.length
        if self.total is not None:
            self.horizon = self.total  # the updates of training: steps 0 .. total - 1
        elif not math.isinf(self.length):
            self.horizon = max(int(math.ceil(self.length)), 1)
        else:
            self.horizon = _default_horizon(root)
        self.value = _fn(root)
        if self.metrics is not None:  # the values of the run the metrics come from
            whole = _numpy_fn(checked, self.metrics)
            self.value = lambda t: float(whole(int(t)))

    def span(self, node, fallback: Span | None) -> Span | None:
        # model nodes built inside the prelude carry spans into the prelude's text: only
        # a span into the user's text is shown against it
        s = getattr(node, "span", None)
        if s is not None and s.source is not None and self.source is not None and s.same_source(self.source):
            return s
        return fallback

    def active_span(self, node: M.Sched, t: float, span: Span | None) -> Span | None:
        """The span of the innermost phase running at step ``t``."""
        span = self.span(node, span)
        if isinstance(node, M.Seq):
            i = max(j for j, s in enumerate(node.starts) if s <= t or j == 0)
            return self.active_span(node.phases[i], t - node.starts[i], span)
        if isinstance(node, (M.Window, M.Modulate)):
            return self.active_span(node.sched, t, span)
        return span

    def warn(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.lints.append(Lint(code, message, span, hint))

    # the whole schedule
    def run(self) -> dict:
        root = self.checked.root
        top = self.span(root, None) or (Span(0, len(self.source.text)) if self.source else None)
        facts: dict = {
            "expr": self.checked.expr,
            "bindings": self.checked.bindings_dict,
            "length": None if math.isinf(self.length) else self.length,
            "horizon": self.horizon,
        }
        scan = _scan(self.checked, self.horizon, self.metrics)
        facts["values"] = {
            "start": {"step": 0, "value": self.value(0)},
            "min": {"step": scan[1], "value": scan[0]},
            "max": {"step": scan[3], "value": scan[2]},
        }
        if self.total is not None:
            facts["values"]["end"] = {"step": self.total - 1, "value": self.value(self.total - 1)}
        elif not math.isinf(self.length):
            facts["values"]["end"] = {"step": self.length, "value": self.value(self.length)}
        facts["structure"] = self.node(root, 0, top)
        clocks = M.plateau_clocks(root)
        if clocks:
            facts["plateaus"] = self.plateaus(clocks)
        self.global_lints(root, scan, top)
        return facts

    def plateaus(self, clocks) -> list[dict]:
        """Each plateau clock: its rule in words, where it listens, and (given a run's
        metrics) the reductions it would have made."""
        out = []
        reductions: list[list[dict]] = [[] for _ in clocks]
        if self.metrics is not None:
            from clrdsl.contract.registry import get_backend

            report_steps, counts = get_backend("numpy").compile(self.checked).replay(self.metrics)
            for j, t in enumerate(report_steps):
                for i in range(len(clocks)):
                    if counts[j + 1][i] != counts[j][i]:
                        reductions[i].append({"step": t, "count": counts[j + 1][i]})
        for i, pc in enumerate(clocks):
            c = pc.clock
            row = {"clock": call_text("plateau", tuple(c.params.items())), **c.params,
                   "windows": [[a, None if math.isinf(b) else b] for a, b in pc.windows],
                   "rule": plateau_rule(c)}
            if self.metrics is not None:
                row["reductions"] = reductions[i]
            out.append(row)
            self.plateau_lint(pc)
        return out

    def plateau_lint(self, pc: M.PlateauClock) -> None:
        """W007: a window shorter than the reports a reduction needs (at most one report per
        update; with ``steps_per_epoch``, one per epoch)."""
        need = pc.clock.patience + 1
        per = self.spe or 1
        for a, b in pc.windows:
            if self.total is not None:
                b = min(b, self.total)
            if math.isinf(b):
                continue
            if (b - a) < need * per:
                unit = "epochs" if self.spe else "updates"
                have = (b - a) / per
                self.warn("W007", f"the plateau clock listens on steps [{steps(a)}, {steps(b)}): "
                          f"{num(have)} {unit}, but a reduction needs {need} bad evaluations in a row "
                          f"(patience={pc.clock.patience}){' reporting once an epoch' if self.spe else ''}: "
                          "it can never reduce", self.span(pc.clock, None),
                          "lengthen the phase, or lower `patience`")

    def global_lints(self, root: M.Sched, scan, top: Span | None) -> None:
        lo, lo_at = scan[0], scan[1]
        if lo <= 0:
            first = _first_nonpositive(self.checked, self.horizon, strict=lo < 0, metrics=self.metrics)
            v = self.value(first)
            if v < 0:
                msg = (f"the value turns negative at step {first} ({num(v)}; lowest {num(lo)} at step {lo_at}): "
                       "a negative rate climbs the loss")
                hint = "check the signs and offsets of the terms"
            elif first == 0:
                msg = "the value is 0 at step 0: the first update does not move the weights"
                hint = "start the warmup above 0 (`linear(1e-5, ...)`, or `init=` of warmup_cosine)"
            else:
                msg = f"the value is 0 at step {first}: updates there do nothing"
                hint = "end above 0 (`end=`, `min=`)"
            self.warn("W004", msg, self.active_span(root, first, top), hint)
        if self.total is not None and not math.isinf(self.length) and self.length < self.total:
            self.warn(
                "W006",
                f"the schedule ends at step {steps(self.length)} but training has {self.total} updates: "
                f"its last value {num(self.value(self.length))} holds for the last "
                f"{steps(self.total - self.length)}",
                top, f"stretch it to total_steps (durations such as `100%` follow --total-steps), "
                "or end it with an unbounded phase (`>> constant(...)`) if holding is meant",
            )

    # nodes: each returns its facts; offset = the global step where its clock is 0
    def node(self, node: M.Sched, offset: float, span: Span | None, plain: bool = False) -> dict:
        """Facts of a node; ``plain``: inside a cyclic node already described by cycles."""
        span = self.span(node, span)
        if isinstance(node, M.Const):
            return {"node": "constant", "value": node.value}
        if isinstance(node, M.Seq):
            return self.seq(node, offset, span)
        if node.cyclic and not plain:
            return self.cyclic(node, offset, span)
        if isinstance(node, M.Prim) and node.cyclic:
            return {"node": "shape", "call": call_text(node.name, node.args), "cyclic": True}
        if isinstance(node, M.Prim):
            f = _fn(node)
            out = {"node": "shape", "call": call_text(node.name, node.args), "length": _len(node.length),
                   "first": f(0)}
            if not math.isinf(node.length):
                out["last"] = f(node.length)
            return out
        if isinstance(node, M.Window):
            return {"node": "window", "length": node.length,
                    "schedule": self.node(node.sched, offset, span, plain)}
        if isinstance(node, M.Pointwise):
            return {"node": "pointwise", "op": node.op, "left": self.node(node.left, offset, span, plain),
                    "right": self.node(node.right, offset, span, plain)}
        if isinstance(node, M.Modulate):
            return {"node": "modulate", "base": node.base, "scale": scale_text(node.scale),
                    "schedule": self.node(node.sched, offset, span, plain)}
        raise TypeError(type(node).__name__)

    def seq(self, node: M.Seq, offset: float, span: Span | None) -> dict:
        f = _fn(node)
        phases = []
        n = len(node.phases)
        for i, (p, start) in enumerate(zip(node.phases, node.starts)):
            end = node.starts[i + 1] if i + 1 < n else start + p.length
            last = end - 1 if not math.isinf(end) else None
            row = {"start": offset + start, "end": offset + end if not math.isinf(end) else None,
                   "first": f(start), "node": self.node(p, offset + start, span)}
            if last is not None and end > start:
                row["last"] = f(last)
            phases.append(row)
            self.phase_lints(node, i, offset, span)
        self.warmup_lint(node, f, span)
        return {"node": "sequence", "length": _len(node.length), "phases": phases}

    def phase_lints(self, node: M.Seq, i: int, offset: float, span: Span | None) -> None:
        if self.total is None:
            return
        p, start = node.phases[i], offset + node.starts[i]
        end = start + p.length
        pspan = self.span(p, span)
        if start >= self.total and p.length > 0:
            self.warn("W002", f"phase {i + 1} starts at step {steps(start)}, after training ends "
                      f"(total_steps = {self.total}): it never runs", pspan,
                      "shorten the phases before it, or raise total_steps")
        elif end > self.total and not math.isinf(end):
            self.warn("W002", f"phase {i + 1} runs to step {steps(end)}, past the end of training at "
                      f"step {self.total}: only {steps(self.total - start)} of its {steps(p.length)} "
                      "steps run", pspan, f"make the phases add up to the run: over={steps(self.total - start)} (= {num(100 * (self.total - start) / self.total)}% of total_steps) ends this one at step {self.total}")

    def warmup_lint(self, node: M.Seq, f, span: Span | None) -> None:
        first = node.phases[0]
        if len(node.phases) < 2 or first.cyclic or math.isinf(first.length) or first.length <= 0:
            return
        g = _fn(first)
        a, b = g(0), g(first.length)
        nxt = f(node.starts[1])
        if b < a and nxt > b + 1e-12 * max(abs(nxt), 1.0):
            self.warn(
                "W003",
                f"the first phase falls from {num(a)} to {num(b)}, then the next jumps up to {num(nxt)}: "
                "a warmup with its ends swapped?",
                self.span(first, span), "a warmup rises: `linear(low, high, over=...)`",
            )

    def cyclic(self, node: M.Sched, offset: float, span: Span | None) -> dict:
        cyc = Cycles(node)
        inner = node
        while isinstance(inner, M.Window):
            inner = inner.sched
        out: dict = {"node": "cyclic", "start": offset, "length": _len(node.length),
                     "schedule": self.node(node, offset, span, plain=True)}
        out["period"] = cyc.period
        out["first_starts"] = [s for s in (cyc.start(k) for k in range(5)) if s < node.length]
        # where it ends: its own end, or the end of training, whichever comes first
        end = node.length
        if self.total is not None:
            end = min(end, self.total - offset)
        modulated = inner if isinstance(inner, M.Modulate) else None
        out["cycles"] = self.cycle_table(node, modulated, cyc, min(end, self.horizon - offset))
        if modulated is not None:
            self.amplitude_lint(node, modulated, cyc, end, offset, span, out)
        self.mid_cycle_lint(node, cyc, end, offset, span)
        return out

    def cycle_table(self, node: M.Sched, inner: M.Modulate | None, cyc: Cycles, end: float) -> list[dict]:
        """Cycles 0-4, then 8, 16, ...: where each starts, its peak and trough."""
        f = _fn(node)
        count = cyc.count_before(end)
        ks = [k for k in range(5)]
        k = 8
        while k < min(count, 2**40) and len(ks) < 12:
            ks.append(k)
            k *= 2
        rows = []
        peak_pos = None
        for k in ks:
            if k >= count:
                break
            a, b = cyc.start(k), cyc.start(k + 1)
            if math.isinf(a):
                break
            stop = min(b, end, node.length + 1 if not math.isinf(node.length) else math.inf)
            lo, lo_at, hi, hi_at = _extremes(f, a, stop)
            row = {"cycle": k, "start": a, "end": b, "min": lo, "min_at": lo_at, "max": hi, "max_at": hi_at}
            if stop < b:
                row["cut_at"] = stop
            if inner is not None:
                if peak_pos is None:
                    peak_pos = _peak_position(inner, cyc)
                t = a + round(peak_pos * (b - a))
                row["scale_at_peak"] = _scale_value(inner, t)
            rows.append(row)
        return rows

    def amplitude_lint(self, node, inner: M.Modulate, cyc: Cycles, end: float, offset: float,
                       span: Span | None, out: dict) -> None:
        base = inner.base
        pos = _peak_position(inner, cyc)
        f = _fn(inner)

        def amplitude(k: int) -> float:
            a, b = cyc.start(k), cyc.start(k + 1)
            if math.isinf(b):  # the last cycle that starts within 2^62 steps never ends
                b = a + max(a - cyc.start(k - 1), 1) if k > 0 else a + 1
            return abs(f(a + round(pos * (b - a))) - base)

        first = amplitude(0)
        ref = abs(base) if base > 0 else first
        limit = FLAT * ref
        if first <= limit or ref == 0:
            return
        count = cyc.count_before(end)
        last = int(min(count - 1, MAX_CYCLE_SEARCH)) if not math.isinf(count) else cyc.last_index(MAX_CYCLE_SEARCH)
        k = _first_flat(amplitude, limit, last)
        if k is None:
            return
        start = offset + cyc.start(k)
        out["flat_from"] = {"cycle": k, "step": start}
        of = f"of its base {num(base)}" if base > 0 else "of its first cycle's"
        self.warn(
            "W001",
            f"the amplitude falls below 1% {of} from cycle {k} (step {steps(start)}) on: "
            f"the rest of the run is flat at {num(base)}",
            self.span(inner, span),
            "use a gentler scale (gamma closer to 1), fewer cycles, or end training earlier",
        )

    def mid_cycle_lint(self, node: M.Sched, cyc: Cycles, end: float, offset: float, span) -> None:
        if math.isinf(end) or end <= 0:
            return
        tau = end
        if cyc.of(tau) != cyc.of(tau - 1):
            return  # the last cycle is complete
        k = cyc.of(tau - 1)
        a, b = cyc.start(k), cyc.start(k + 1)
        by_training = self.total is not None and self.total - offset <= node.length
        what = "training ends" if by_training else "the cyclic schedule ends"
        hint = (f"end at a cycle boundary: total_steps {steps(offset + a)} or {steps(offset + b)}"
                if by_training else f"cut it at a cycle boundary: over={steps(a)} or over={steps(b)}")
        self.warn("W005", f"{what} at step {steps(offset + tau)}, {steps(tau - a)} steps into cycle {k} "
                  f"(of {steps(b - a)}): CLR advises ending at a cycle boundary", self.span(node, span), hint)


def _len(v: float):
    return None if math.isinf(v) else v


def _default_horizon(root: M.Sched) -> int:
    """Steps worth describing for a schedule without end: ten of its longest cycles
    after its last phase starts, or DEFAULT_HORIZON."""
    longest, last_start = 0.0, 0.0
    for node, offset, _ in M.timed_walk(root):
        last_start = max(last_start, offset)
        prim = _cyclic_prim(node)
        if prim is not None and prim.period:
            longest = max(longest, prim.period)
    h = last_start + 10 * longest if longest else last_start + DEFAULT_HORIZON
    return int(max(h, DEFAULT_HORIZON if not longest else 1))


def _numpy_fn(checked: M.CheckedSchedule, metrics=None):
    """The schedule on NumPy arrays of steps (with a run's metrics, for plateau clocks)."""
    from clrdsl.contract.registry import get_backend

    s = get_backend("numpy").compile(checked)
    return s if metrics is None else (lambda t: s(t, metrics=metrics))


def _scan(checked: M.CheckedSchedule, horizon: int, metrics=None):
    """(min, first step of min, max, first step of max) over steps [0, horizon)."""
    import numpy as np

    fn = _numpy_fn(checked, metrics)
    h = max(int(horizon), 1)
    best = [math.inf, 0, -math.inf, 0]
    if h <= SCAN_LIMIT:
        chunks = [np.arange(a, min(a + 1_000_000, h)) for a in range(0, h, 1_000_000)]
    else:
        chunks = [_grid(checked.root, h)]
    for t in chunks:
        v = np.asarray(fn(t), dtype=np.float64)
        v = np.where(np.isnan(v), np.inf, v)
        i = int(np.argmin(v))
        if v[i] < best[0]:
            best[0], best[1] = float(v[i]), int(t[i])
        v = np.where(np.isinf(v) & (v > 0), -np.inf, v)
        j = int(np.argmax(v))
        if v[j] > best[2]:
            best[2], best[3] = float(v[j]), int(t[j])
    return tuple(best)


def _first_nonpositive(checked: M.CheckedSchedule, horizon: int, strict: bool = False, metrics=None) -> int:
    """The first step in [0, horizon) whose value is <= 0 (< 0 when ``strict``); over a
    long run, the first such step of the sample :func:`_scan` uses, refined step by step."""
    import numpy as np

    fn = _numpy_fn(checked, metrics)
    h = max(int(horizon), 1)

    def first_bad(t):
        v = np.asarray(fn(t))
        bad = np.flatnonzero(v < 0 if strict else v <= 0)
        return int(bad[0]) if bad.size else None

    if h > SCAN_LIMIT:
        grid = _grid(checked.root, h)
        i = first_bad(grid)
        if i is None:
            return 0
        lo = int(grid[i - 1]) + 1 if i else 0
        t = np.arange(lo, int(grid[i]) + 1)
        return int(t[first_bad(t)])
    for a in range(0, h, 1_000_000):
        t = np.arange(a, min(a + 1_000_000, h))
        i = first_bad(t)
        if i is not None:
            return int(t[i])
    return 0


def _grid(root: M.Sched, h: int):
    """The steps a long run is scanned at: a regular sample plus every boundary (sorted)."""
    import numpy as np

    t = np.sort(np.concatenate([np.linspace(0, h - 1, SCAN_LIMIT).astype(np.int64), _boundaries(root, h)]))
    return t[np.concatenate(([True], t[1:] != t[:-1]))]


def _boundaries(root: M.Sched, horizon: int):
    import numpy as np

    out = []
    for node, offset, _ in M.timed_walk(root, prune=lambda n: not isinstance(n, M.Seq)):
        if isinstance(node, M.Seq):
            out.extend(b for s in node.starts for b in (offset + s - 1, offset + s))
        elif not math.isinf(node.length):
            out.extend([offset + node.length - 1, offset + node.length])
    arr = np.asarray([int(b) for b in out if 0 <= b < horizon and math.isfinite(b)], dtype=np.int64)
    return arr


def _extremes(f, a: float, b: float):
    """(min, step, max, step) of ``f`` over steps [a, b) (sampled beyond 20001 steps)."""
    a, b = int(a), int(b if not math.isinf(b) else a + DEFAULT_HORIZON)
    if b <= a:
        b = a + 1
    n = b - a
    if n <= 20001:
        ts = range(a, b)
    else:
        ts = sorted({a + (n - 1) * i // 20000 for i in range(20001)})
    lo, lo_at, hi, hi_at = math.inf, a, -math.inf, a
    for t in ts:
        v = f(t)
        if v < lo:
            lo, lo_at = v, t
        if v > hi:
            hi, hi_at = v, t
    return lo, lo_at, hi, hi_at


def _peak_position(node: M.Modulate, cyc: Cycles) -> float:
    """Where in a cycle (0..1) the unmodulated schedule is farthest from its base."""
    f = _fn(node.sched)
    a, b = cyc.start(0), cyc.start(1)
    if math.isinf(b) or b <= a:
        return 0.0
    lo, lo_at, hi, hi_at = _extremes(f, a, b)
    at = hi_at if abs(hi - node.base) >= abs(lo - node.base) else lo_at
    return (at - a) / (b - a)


def _scale_value(node: M.Modulate, t: int) -> float:
    return float(probe(node, PYTHON, (("scale", node, "probe_scale"),)).probe_scale(t))


def _first_flat(amplitude: Callable[[int], float], limit: float, last: int) -> int | None:
    """The first cycle ``k <= last`` whose amplitude is below ``limit`` (amplitudes
    assumed to fall: a linear scan, then doubling and bisection)."""
    for k in range(min(last, 64) + 1):
        if amplitude(k) < limit:
            return k
    lo, hi = 64, 128
    while hi <= last and amplitude(hi) >= limit:
        lo, hi = hi, hi * 2
    if hi > last:
        if last <= lo or amplitude(last) >= limit:
            return None
        hi = last
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if amplitude(mid) < limit:
            hi = mid
        else:
            lo = mid
    return hi


def boundaries(root: M.Sched, horizon: float, max_cycles: int = 400) -> tuple[list[float], list[float]]:
    """Global steps in ``(0, horizon)`` where a phase starts and where a cycle starts
    (at most ``max_cycles`` of those, none when there would be more)."""
    phases: list[float] = []
    cycles: list[float] = []
    too_many = False

    for node, offset, end in M.timed_walk(root, prune=lambda n: n.cyclic and not isinstance(n, M.Seq)):
        if offset >= min(horizon, end):
            continue
        if isinstance(node, M.Seq):
            prev = None
            for s in node.starts:
                if 0 < offset + s < min(horizon, end) and (prev is None or s > prev):
                    phases.append(offset + s)
                prev = s
        elif node.cyclic and not too_many:
            cyc = Cycles(node)
            stop = min(end, horizon, offset + node.length)
            k = 1
            while not too_many:
                s = offset + cyc.start(k)
                if s >= stop:
                    break
                cycles.append(s)
                if len(cycles) > max_cycles:
                    too_many = True
                k += 1
    return sorted(set(phases)), ([] if too_many else sorted(set(cycles) - set(phases)))


# -- rendering --------------------------------------------------------------------------


def _render(facts: dict) -> str:
    lines = [facts["expr"].replace("\n", "\n    ") if "\n" not in facts["expr"] else facts["expr"], ""]
    b = facts["bindings"]
    if b:
        lines.append("bindings: " + ", ".join(f"{k}={v}" for k, v in sorted(b.items())))
    length, horizon = facts["length"], facts["horizon"]
    total = b.get("total_steps")
    spe = b.get("steps_per_epoch")

    def ep(n) -> str:
        return f" ({num(n / spe)} epochs)" if spe and n is not None else ""

    if length is None:
        lines.append("length:   unbounded" + (f"; training has {total} updates{ep(total)}" if total else
                                               f" (described over its first {horizon} steps; "
                                               "pass --total-steps for the run)"))
    else:
        tail = f"; training has {total} updates{ep(total)}" if total else ""
        lines.append(f"length:   {steps(length)} steps{ep(length)}, then the value holds{tail}")
    v = facts["values"]
    lines.append(f"start:    {num(v['start']['value'])} at step 0")
    lines.append(f"peak:     {num(v['max']['value'])} at step {v['max']['step']}")
    lines.append(f"lowest:   {num(v['min']['value'])} at step {v['min']['step']}")
    if "end" in v:
        what = "the last update" if total else "where it ends"
        lines.append(f"end:      {num(v['end']['value'])} at step {v['end']['step']} ({what})")
    lines.append("")
    lines.extend(_render_node(facts["structure"], 0))
    for i, p in enumerate(facts.get("plateaus", ())):
        where = ", ".join(f"[{steps(a)}, {'...' if b is None else steps(b)})" for a, b in p["windows"])
        lines += ["", f"plateau clock {i + 1}: {p['clock']}, listening on steps {where}",
                  f"  {p['rule']}"]
        if "reductions" in p:
            if p["reductions"]:
                lines += [f"  with the metrics given: count {r['count']} from step {steps(r['step'])}"
                          for r in p["reductions"]]
            else:
                lines.append("  with the metrics given: no reduction")
    return "\n".join(lines)


def _render_node(f: dict, depth: int) -> list[str]:
    pad = "  " * depth
    kind = f["node"]
    if kind == "constant":
        return [f"{pad}constant {num(f['value'])}"]
    if kind == "shape":
        head = f"{pad}{f['call']}"
        if f.get("cyclic"):
            return [head]
        if f.get("length") is None:
            return [head, f"{pad}  starts at {num(f['first'])}, no end"]
        n = f["length"]
        over = f"{steps(n)} step{'s' if n != 1 else ''}"
        if f["last"] == f["first"]:
            return [head, f"{pad}  holds {num(f['first'])} for {over}"]
        trend = "rises" if f["last"] > f["first"] else "falls"
        return [head, f"{pad}  {trend} from {num(f['first'])} to {num(f['last'])} over {over}"]
    if kind == "sequence":
        n = len(f["phases"])
        out = [f"{pad}a sequence of {n} phases (at a boundary the new phase applies, its clock at 0):"]
        for i, p in enumerate(f["phases"]):
            end = "..." if p["end"] is None else steps(p["end"])
            vals = f"{num(p['first'])} at its first step"
            if "last" in p:
                vals += f", {num(p['last'])} at its last (step {steps(p['end'] - 1)})"
            out.append(f"{pad}  phase {i + 1}: steps [{steps(p['start'])}, {end}): {vals}")
            out.extend(_render_node(p["node"], depth + 2))
        return out
    if kind == "window":
        return [f"{pad}the first {steps(f['length'])} steps of:"] + _render_node(f["schedule"], depth + 1)
    if kind == "pointwise":
        word = {"+": "the sum", "-": "the difference", "*": "the product", "/": "the quotient",
                "max": "the larger, step by step,", "min": "the smaller, step by step,"}[f["op"]]
        return ([f"{pad}{word} ({f['op']}) of:"] + _render_node(f["left"], depth + 1)
                + _render_node(f["right"], depth + 1))
    if kind == "modulate":
        return ([f"{pad}the amplitude above {num(f['base'])} scaled by {f['scale']}, of:"]
                + _render_node(f["schedule"], depth + 1))
    if kind == "cyclic":
        return _render_cyclic(f, depth)
    raise TypeError(kind)


def _render_cyclic(f: dict, depth: int) -> list[str]:
    pad = "  " * depth
    out = _render_node(f["schedule"], depth)
    off = f["start"]
    if f["period"]:
        out.append(f"{pad}cycles of {steps(f['period'])} steps:")
    else:
        starts = ", ".join(steps(s + off) for s in f["first_starts"])
        out.append(f"{pad}cycles starting at steps {starts}, ...:")
    rows = f["cycles"]
    scale = any("scale_at_peak" in r for r in rows)
    table = [["cycle", "steps", "lowest", "highest"] + (["scale at peak"] if scale else [])]
    for r in rows:
        row = [str(r["cycle"]), f"[{steps(off + r['start'])}, {steps(off + r['end'])})",
               f"{num(r['min'])} at {steps(off + r['min_at'])}", f"{num(r['max'])} at {steps(off + r['max_at'])}"]
        if scale:
            row.append(num(r["scale_at_peak"]))
        if "cut_at" in r:
            row[-1] += f"  (cut at {steps(off + r['cut_at'])})"
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        out.append((pad + "  " + "   ".join(c.ljust(w) for c, w in zip(row, widths))).rstrip())
    if f.get("flat_from"):
        ff = f["flat_from"]
        out.append(f"{pad}from cycle {ff['cycle']} (step {steps(ff['step'])}) on, the amplitude is below 1% "
                   "of the base")
    return out


# -- entry points ------------------------------------------------------------------------


def explain(text: str | M.CheckedSchedule, *, steps_per_epoch: int | None = None,
            total_steps: int | None = None, name: str = "<expr>", metrics=None) -> Explanation:
    """Check ``text`` and explain it (raises :class:`~clrdsl.ClrdslError` on bad input).

    ``metrics``: the ``(step, value)`` reports of a run, for a schedule with plateau
    clocks: the explanation then lists the reductions they would have made, and its
    values are those of that run (without them, before any report)."""
    from clrdsl.api import check

    checked = check(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    if metrics is not None and not M.plateau_clocks(checked.root):
        from clrdsl.diagnostics.errors import ClrdslTypeError

        raise ClrdslTypeError("this schedule has no plateau clock, so reported metrics cannot change it",
                              code="E643", expected="a schedule with `on=plateau(...)`, or no metrics",
                              found=checked.expr[:60])
    source = Source(text, name) if isinstance(text, str) else None
    ex = _Explainer(checked, source, metrics)
    facts = ex.run()
    return Explanation(checked, source, facts, _ordered(ex.lints))


def lint(text: str | M.CheckedSchedule, *, steps_per_epoch: int | None = None,
         total_steps: int | None = None, name: str = "<expr>") -> list[Lint]:
    """The lints of an expression (see the module docstring for the codes)."""
    return explain(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name).lints


def _ordered(lints: list[Lint]) -> list[Lint]:
    seen, out = set(), []
    for w in sorted(lints, key=lambda w: (w.code, w.span.start if w.span else -1, w.message)):
        key = (w.code, w.message)
        if key not in seen:
            seen.add(key)
            out.append(w)
    return out
