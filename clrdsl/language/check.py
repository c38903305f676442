"""The checker: syntax tree + bindings → semantic model (:mod:`clrdsl.semantics.model`).

It resolves names (definitions, the prelude, plugin functions), binds and validates
arguments, infers the type of every expression (number, duration, schedule, scale,
identifier, clock expression), applies the operator table of DESIGN §2, converts
units to updates with the bindings ``steps_per_epoch`` and ``total_steps``, and
expands prelude definitions. Errors carry spans that know their text: the user's,
or the prelude's for a label inside a prelude definition (the caret stays on the
user's call); independent errors (two bad arguments) are reported together.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

from clrdsl.contract import registry
from clrdsl.contract.functions import (
    KINDS,
    REQUIRED,
    Param,
    ParamError,
    ScaleFn,
    Shape,
    call_hook,
    checked_base,
    checked_length,
    probe,
)
from clrdsl.diagnostics.errors import (
    ClrdslError,
    ClrdslLimitError,
    ClrdslNameError,
    ClrdslPluginError,
    ClrdslTypeError,
    ClrdslValueError,
    Collector,
    Label,
    Source,
    Span,
    did_you_mean,
    error_from,
    suggestion_hint,
)
from clrdsl.language import syntax as S
from clrdsl.language.parse import _make_room, parse
from clrdsl.language.unparse import format_number, unparse
from clrdsl.semantics import model as M

BINDINGS = ("steps_per_epoch", "total_steps")
CONSTANTS = {"pi": math.pi, "e": math.e}

# The budget of one expression (docs/language.md, "Limits"): measured while the checker
# expands it, so a short string can never hang the checker or exhaust memory.
MAX_EXPANSION_DEPTH = 48  # definitions expanding inside definitions
MAX_EXPANSIONS = 2_000  # calls of definitions (`def`s and the prelude's) in one check
MAX_NODES = 20_000  # model nodes the expression expands to (a definition used twice counts twice)
MAX_PHASES = 10_000  # phases of one `>>` sequence
MAX_MODEL_DEPTH = 256  # nesting of the expanded model

# -- check-time values --------------------------------------------------------------


@dataclass
class NumV:
    value: float
    span: Span | None
    duration: bool = False  # written with a unit, or derived from one


@dataclass
class IdentV:
    name: str
    span: Span | None


@dataclass
class SchedV:
    node: Any
    span: Span | None


@dataclass
class ScaleV:
    node: Any
    span: Span | None


@dataclass
class ClockV:
    node: Any
    span: Span | None


@dataclass
class PlateauV:
    """``plateau(...)``: a metric-driven clock, the value of a scale's ``on=``."""

    node: M.Plateau
    span: Span | None


CLOCKS = ("iterations", "cycle")  # the clocks named by an identifier; `plateau(...)` is called


def type_name(v) -> str:
    if isinstance(v, NumV):
        return "a duration" if v.duration else "a number"
    if isinstance(v, IdentV):
        return f"the identifier `{v.name}`"
    if isinstance(v, SchedV):
        return "a schedule"
    if isinstance(v, ScaleV):
        return "a scale"
    if isinstance(v, ClockV):
        return "an expression of the clock `x`"
    if isinstance(v, PlateauV):
        return "a plateau clock"
    return type(v).__name__


# -- the prelude ----------------------------------------------------------------------


@dataclass
class DefV:
    """A function written in the language: its syntax, its closure, its source."""

    node: S.Def
    env: dict
    source: Source


PRELUDE_NAME = "grammar/prelude.clr"  # how diagnostics name the prelude's text


@functools.lru_cache(maxsize=None)
def _prelude_program() -> S.Program:
    text = resources.files("clrdsl._grammar").joinpath("prelude.clr").read_text("utf-8")
    return parse(text, PRELUDE_NAME, library=True)


def prelude_source() -> Source:
    """The prelude's text: the one :class:`Source` every span into the prelude carries."""
    source = _prelude_program().span.source
    assert source is not None  # the parser gives every span its source
    return source


@functools.lru_cache(maxsize=None)
def prelude() -> dict[str, DefV]:
    src = prelude_source()
    defs: dict[str, DefV] = {}
    env: dict = {}
    for d in _prelude_program().definitions:
        if isinstance(d, S.Def):
            defs[d.name] = DefV(d, env, src)
    return defs


# -- the checker ----------------------------------------------------------------------


@dataclass
class _Ctx:
    env: dict
    defs: dict
    source: Source
    clock: bool = False  # inside an inline scale body: `x` is the clock
    depth: int = 0


def _int_if_integral(v: float):
    if isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) < 2**62:
        return int(v)
    return v


class _OverBudget(Exception):
    """Unwinds the whole check at once when the budget is exceeded (not collected with
    other errors: nothing more is checked); :meth:`Checker.program` raises the error."""


class Budget:
    """What an expression has expanded to so far, against the limits above.

    Each model node is measured once (size as a tree, depth) from its children's
    measures, so measuring is linear in the distinct nodes even when definitions share
    them. Once a limit is hit, every later expansion fails at once: the work done on a
    refused expression stays bounded.
    """

    def __init__(self) -> None:
        self.expansions = 0
        self.exceeded: ClrdslLimitError | None = None
        self._measures: dict[int, tuple[int, int]] = {}
        self._keep: list[Any] = []  # measured nodes stay alive, so their ids stay theirs

    def refuse(self, what: str, limit: int, found: str, span: Span | None) -> _OverBudget:
        self.exceeded = ClrdslLimitError(
            f"the expression expands to more than {limit:,} {what}",
            code="E309", span=span, expected=f"at most {limit:,} {what} (the checker's budget)",
            found=found,
            hint="a definition used many times, or calling itself, multiplies what it expands to; "
            "write the repetition with a shape's own cycles (triangular, cosine_restarts) instead",
        )
        return _OverBudget()

    def check(self) -> None:
        if self.exceeded is not None:
            raise _OverBudget()

    def expand(self, name: str, span: Span | None) -> None:
        self.check()
        self.expansions += 1
        if self.expansions > MAX_EXPANSIONS:
            raise self.refuse("expansions of definitions", MAX_EXPANSIONS,
                              f"`{name}` expanded {self.expansions:,} times", span)

    def phases(self, n: int, span: Span | None) -> None:
        if n > MAX_PHASES:
            raise self.refuse("phases in one sequence", MAX_PHASES, f"{n:,} phases", span)

    def admit(self, node, span: Span | None):
        """Measure a new model node; refuse it when the expression grows past the budget."""
        size, depth, _ = self.measure(node)
        if size > MAX_NODES:
            raise self.refuse("model nodes", MAX_NODES, f"more than {MAX_NODES:,} nodes", span)
        if depth > MAX_MODEL_DEPTH:
            raise self.refuse("levels of nesting", MAX_MODEL_DEPTH, f"{depth} levels", span)
        return node

    def flattened(self, seq, a, b) -> None:
        """Measure the sequence ``a >> b`` from the measures of its two sides (its phases
        are theirs), in O(1): a long chain of `>>` stays linear to check."""
        size, depth, height = 1, 1, 1
        for piece in (a, b):
            ps, pd, ph = self.measure(piece)
            if isinstance(piece, M.Seq):
                ps, pd, ph = ps - 1, pd - 1, ph - 1
            size, depth, height = min(size + ps, MAX_NODES + 1), max(depth, pd + 1), max(height, ph + 1)
        self._measures[id(seq)] = (size, depth, height)
        self._keep.append(seq)

    def measure(self, root) -> tuple[int, int, int]:
        """(size as a tree, nesting depth, height) of a model node. The left operand of a
        `+ - * /` that is itself one continues a flat chain: it adds to the height (what
        recursive passes need room for), not to the nesting the limit counts."""
        memo = self._measures
        stack = [root]
        while stack:
            node = stack[-1]
            if id(node) in memo:
                stack.pop()
                continue
            kids = M.children(node)
            todo = [k for k in kids if id(k) not in memo]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            size, depth, height = 1, 0, 0
            chain = isinstance(node, M.Pointwise)
            for i, k in enumerate(kids):
                ks, kd, kh = memo[id(k)]
                if chain and i == 0 and isinstance(k, M.Pointwise):
                    kd -= 1  # the chain goes on: same level
                size, depth, height = min(size + ks, MAX_NODES + 1), max(depth, kd), max(height, kh)
            memo[id(node)] = (size, depth + 1, height + 1)
            self._keep.append(node)
        return memo[id(root)]


class Checker:
    def __init__(self, source: Source, bindings: dict[str, Any]) -> None:
        self.source = source
        self.bindings = bindings
        self.budget = Budget()
        self.plateau_count = 0  # plateau clocks made so far (each gets its own uid)

    # -- entry ----------------------------------------------------------------------
    def program(self, prog: S.Program) -> M.Sched:
        try:
            return self._program(prog)
        except _OverBudget:
            raise self.budget.exceeded from None

    def _program(self, prog: S.Program) -> M.Sched:
        env: dict = {}
        defs: dict = {}
        ctx = _Ctx(env, defs, self.source)
        errors = Collector(self.source)
        for d in prog.definitions:
            if isinstance(d, S.Def):
                try:
                    self.check_def(d)
                    defs[d.name] = DefV(d, env, self.source)
                except ClrdslError as exc:
                    errors.add(exc)
                    defs[d.name] = None  # poisoned: calls of it report nothing more
            else:
                try:
                    env[d.name] = self.expr(d.value, ctx)
                except _Poisoned:  # uses an earlier failed definition, already reported
                    env[d.name] = None
                except ClrdslError as exc:
                    errors.add(exc)
                    env[d.name] = None  # poisoned: uses of it report nothing more
        body = None
        try:
            body = self.expr(prog.body, ctx)
        except _Poisoned:
            pass
        except ClrdslError as exc:
            errors.add(exc)
        errors.raise_if_any()
        return self.as_schedule(body, "the whole expression", ctx)

    def check_def(self, d: S.Def) -> None:
        """A parameter kind is a known kind or a choice of two or more identifiers."""
        errors = Collector(self.source)
        kinds = [k for k in KINDS if k != "choice"]
        for p in d.params:
            if p.kind is not None and len(p.kind) == 1 and p.kind[0] not in kinds:
                errors.add(ClrdslNameError(
                    f"unknown parameter kind `{p.kind[0]}` for `{p.name}` of `{d.name}`",
                    code="E108", span=p.span, expected="one of " + ", ".join(f"`{k}`" for k in kinds)
                    + ", or a choice of two or more identifiers such as `cos|linear`",
                    found=f"`{p.kind[0]}`", hint=suggestion_hint(p.kind[0], kinds),
                ))
        errors.raise_if_any()

    def as_schedule(self, v, what: str, ctx: _Ctx | None = None) -> M.Sched:
        if isinstance(v, SchedV):
            return v.node
        if isinstance(v, NumV) and not v.duration:
            return M.Const(float(v.value), span=v.span)
        if isinstance(v, ScaleV):
            raise ClrdslTypeError(
                f"{what} is a scale, not a schedule",
                code="E201", span=v.span, expected="a schedule", found="a scale",
                hint="a scale modulates a schedule's amplitude: multiply a schedule by it, "
                "e.g. `triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994)`",
            )
        if isinstance(v, IdentV):
            raise self.unknown_name(v, ctx)
        raise ClrdslTypeError(
            f"{what} is {type_name(v)}, not a schedule",
            code="E201", span=v.span, expected="a schedule or a number", found=type_name(v),
            hint="a duration counts updates; use it as an argument such as `step=` or `over=`"
            if isinstance(v, NumV) else None,
        )

    # -- expressions ----------------------------------------------------------------
    def expr(self, node, ctx: _Ctx):
        v = self._expr(node, ctx)
        if isinstance(v, (SchedV, ScaleV, ClockV)):
            self.budget.admit(v.node, v.span)
        return v

    def _expr(self, node, ctx: _Ctx):
        if isinstance(node, S.Num):
            return self.number(node)
        if isinstance(node, S.Name):
            return self.name(node, ctx)
        if isinstance(node, S.Neg):
            return self.neg(node, ctx)
        if isinstance(node, S.BinOp):
            return self.binop(node, ctx)
        if isinstance(node, S.Call):
            return self.call(node, ctx)
        if isinstance(node, S.If):
            cond = self.expr(node.cond, ctx)
            if not (isinstance(cond, IdentV) and cond.name in ("true", "false")):
                raise ClrdslTypeError(
                    "the condition of `if` must be `true` or `false`",
                    code="E202", span=node.cond.span, expected="`true` or `false`", found=type_name(cond),
                    hint=suggestion_hint(cond.name, ("true", "false")) if isinstance(cond, IdentV) else None,
                )
            return self.expr(node.then if cond.name == "true" else node.orelse, ctx)
        raise TypeError(f"not an expression node: {type(node).__name__}")

    def number(self, node: S.Num) -> NumV:
        v, unit = node.value, node.unit
        if not math.isfinite(v):
            raise ClrdslValueError(
                f"the number `{format_number(v)}` is not finite", code="E302", span=node.span,
                expected="a finite number", found=format_number(v),
            )
        if unit is None:
            return NumV(v, node.span)
        if unit == "it":
            return NumV(_int_if_integral(v), node.span, duration=True)
        binding = "steps_per_epoch" if unit == "ep" else "total_steps"
        b = self.bindings.get(binding)
        if b is None:
            raise ClrdslValueError(
                f"`{format_number(v)}{unit}` needs the binding `{binding}`, which was not given",
                code="E306", span=node.span, expected=f"a value for `{binding}`", found="no binding",
                hint=f"pass {binding}=N to compile/check (on the command line "
                f"--{binding.replace('_', '-')} N), or write the duration in updates",
            )
        steps = v * b if unit == "ep" else v / 100.0 * b
        return NumV(_int_if_integral(steps), node.span, duration=True)

    def name(self, node: S.Name, ctx: _Ctx):
        n = node.id
        if n in ctx.env:
            v = ctx.env[n]
            if v is None:  # its definition failed and was reported
                raise _Poisoned()
            return _respan(v, _written_at(v.span, node.span))
        if ctx.clock and n == "x":
            return ClockV(M.XVar(), node.span)
        if n in CONSTANTS:
            return NumV(CONSTANTS[n], node.span)
        if n in BINDINGS:
            b = self.bindings.get(n)
            if b is None:
                raise ClrdslValueError(
                    f"`{n}` is used but no value was bound for it",
                    code="E306", span=node.span, expected=f"a value for `{n}`", found="no binding",
                    hint=f"pass {n}=N to compile/check (on the command line --{n.replace('_', '-')} N)",
                )
            return NumV(b, node.span, duration=True)
        return IdentV(n, node.span)

    def unknown_name(self, v: IdentV, ctx: _Ctx | None) -> ClrdslNameError:
        known = set(CONSTANTS) | set(BINDINGS)
        if ctx is not None:
            known |= set(ctx.env)
            if ctx.clock:
                known.add("x")
        functions = set(prelude()) | set(registry.functions.names()) | {"scale", "take"}
        if ctx is not None:
            functions |= set(ctx.defs)
        if v.name in functions:
            hint = f"`{v.name}` is a function: call it with its arguments, `{v.name}(...)`"
        elif v.name == "x":
            hint = "`x` is the clock inside an inline scale, e.g. `scale(0.5 * (1 + sin(x * pi / 2)), on=cycle)`"
        else:
            close = [c if c in known else f"{c}(...)" for c in did_you_mean(v.name, known | functions)]
            hint = _did_you_mean_text(close)
        return ClrdslNameError(
            f"unknown name `{v.name}`",
            code="E101", span=v.span, expected="a number, a defined name or a function call",
            found=f"`{v.name}`", hint=hint,
        )

    def neg(self, node: S.Neg, ctx: _Ctx):
        v = self.value(node.operand, ctx)
        if isinstance(v, NumV):
            return NumV(-v.value, node.span, v.duration)
        if isinstance(v, ClockV):
            return ClockV(M.XNeg(v.node), node.span)
        if isinstance(v, SchedV):
            return SchedV(self.pointwise("-", M.Const(0.0), v.node, node.span), node.span)
        raise ClrdslTypeError(
            f"unary `-` cannot apply to {type_name(v)}", code="E203", span=node.span,
            expected="a number or a schedule", found=type_name(v),
        )

    def value(self, node, ctx: _Ctx):
        """Evaluate an operand: identifiers that are not values are unknown names."""
        v = self.expr(node, ctx)
        if isinstance(v, IdentV):
            raise self.unknown_name(v, ctx)
        return v

    # -- operators ------------------------------------------------------------------
    def binop(self, node: S.BinOp, ctx: _Ctx):
        errors = Collector(self.source)
        vals = []
        for side in (node.left, node.right):
            try:
                vals.append(self.value(side, ctx))
            except _Poisoned:
                vals.append(None)
            except ClrdslError as exc:
                errors.add(exc)
                vals.append(None)
        errors.raise_if_any()
        if None in vals:
            raise _Poisoned()
        left, right = vals
        op, span = node.op, node.span
        if op == ">>":
            return self.sequence(left, right, node)
        # numbers: constant folding
        if isinstance(left, NumV) and isinstance(right, NumV):
            return self.fold(op, left, right, node)
        # clock expressions (inline scale bodies)
        if isinstance(left, (NumV, ClockV)) and isinstance(right, (NumV, ClockV)):
            return ClockV(M.XBin(op, _xnode(left), _xnode(right)), span)
        # schedule * scale: amplitude modulation
        if op == "*" and {type(left), type(right)} == {SchedV, ScaleV}:
            s, k = (left, right) if isinstance(left, SchedV) else (right, left)
            return SchedV(self.modulate(s, k, node), span)
        # scales
        if isinstance(left, ScaleV) or isinstance(right, ScaleV):
            return self.scale_op(op, left, right, node)
        # schedules and numbers, pointwise
        if isinstance(left, (SchedV, NumV)) and isinstance(right, (SchedV, NumV)):
            for v in (left, right):
                if isinstance(v, NumV) and v.duration:
                    raise self.op_error(node, left, right, "a duration is a count of updates, "
                                        "not a value; pass it as `over=`, `step=`, ...")
            if op == "/" and isinstance(right, SchedV) and isinstance(left, SchedV):
                raise self.op_error(node, left, right, "divide a schedule by a number, or modulate "
                                    "its amplitude with a scale (`schedule * exp(...)`)")
            if op == "**":
                raise self.op_error(node, left, right, "`**` applies to numbers and scales")
            if op == "/" and isinstance(right, NumV) and right.value == 0:
                raise ClrdslValueError("division by zero", code="E304", span=node.op_span or span,
                                       expected="a non-zero divisor", found=f"{type_name(left)} / 0")
            l = left.node if isinstance(left, SchedV) else M.Const(float(left.value))
            r = right.node if isinstance(right, SchedV) else M.Const(float(right.value))
            return SchedV(self.pointwise(op, l, r, span), span)
        raise self.op_error(node, left, right, None)

    def op_error(self, node: S.BinOp, left, right, hint: str | None) -> ClrdslTypeError:
        if hint is None:
            hint = _OP_HINTS.get(node.op)
        return ClrdslTypeError(
            f"`{node.op}` cannot combine {type_name(left)} and {type_name(right)}",
            code="E204",
            span=node.op_span or node.span,
            labels=[Label(left.span, type_name(left)), Label(right.span, type_name(right))]
            if left.span and right.span else [],
            expected=_OP_EXPECTED.get(node.op),
            found=f"{type_name(left)} {node.op} {type_name(right)}",
            hint=hint,
        )

    def fold(self, op: str, a: NumV, b: NumV, node: S.BinOp) -> NumV:
        x, y = float(a.value), float(b.value)
        try:
            if op == "+":
                r = x + y
            elif op == "-":
                r = x - y
            elif op == "*":
                r = x * y
            elif op == "/":
                r = x / y
            else:
                r = x**y
        except ZeroDivisionError:
            raise ClrdslValueError(
                "division by zero", code="E304", span=node.op_span or node.span,
                expected="a non-zero divisor", found=f"{format_number(x)} / 0",
            ) from None
        except OverflowError:
            r = math.inf
        if isinstance(r, complex) or not math.isfinite(r):
            raise ClrdslValueError(
                f"`{unparse(node)}` has no finite real value", code="E302", span=node.span,
                expected="a finite number", found=str(r),
            )
        # durations: d±d, d*n, n*d, d/n stay durations; d/d is a ratio
        dur = (a.duration or b.duration) and not (op == "/" and b.duration) and op != "**"
        return NumV(_int_if_integral(r) if dur else r, node.span, dur)

    def pointwise(self, op: str, l, r, span: Span | None):
        lc, rc = isinstance(l, M.Const), isinstance(r, M.Const)
        finite = [n.length for n in (l, r) if not isinstance(n, M.Const)]
        length = max(finite) if finite else M.INF
        base = None
        if rc and l.base is not None:
            k = r.value
            base = {"+": l.base + k, "-": l.base - k, "*": l.base * k if k >= 0 else None,
                    "/": l.base / k if k > 0 else None, "max": max(l.base, k), "min": min(l.base, k)}[op]
        elif lc and r.base is not None:
            k = l.value
            base = {"+": k + r.base, "*": k * r.base if k >= 0 else None,
                    "max": max(k, r.base), "min": min(k, r.base)}.get(op)
        elif op == "+" and l.base is not None and r.base is not None:
            base = l.base + r.base
        return M.Pointwise(op, l, r, length=length, base=base, span=span)

    def sequence(self, left, right, node: S.BinOp):
        phases = []
        for v, side in ((left, "left"), (right, "right")):
            if isinstance(v, NumV) and not v.duration:
                phases.append(M.Const(float(v.value), span=v.span))
            elif isinstance(v, SchedV):
                phases.append(v.node)
            else:
                raise self.op_error(node, left, right, "`>>` runs one schedule after another: "
                                    "both sides must be schedules (or numbers)")
        a, b = phases
        if math.isinf(a.length):
            raise ClrdslTypeError(
                "the left side of `>>` never ends, so what follows it would never run",
                code="E205", span=left.span, labels=[Label(node.op_span, "sequenced here")] if node.op_span else [],
                expected="a finite schedule on the left of `>>`",
                found="an unbounded schedule",
                hint="give it a length, e.g. `take(triangular(...), over=20000)`, or "
                "`constant(0.1, over=500)`",
            )
        count = sum(len(p.phases) if isinstance(p, M.Seq) else 1 for p in (a, b))
        self.budget.phases(count, node.span)
        parts, starts = [], []
        for piece, offset in ((a, 0), (b, a.length)):
            if isinstance(piece, M.Seq):
                parts.extend(piece.phases)
                starts.extend(piece.starts if offset == 0 else
                              (_int_if_integral(offset + s) for s in piece.starts))
            else:
                parts.append(piece)
                starts.append(_int_if_integral(offset))
        length = _int_if_integral(a.length + b.length)
        seq = M.Seq(tuple(parts), tuple(starts), length=length, span=node.span)
        self.budget.flattened(seq, a, b)
        return SchedV(seq, node.span)

    def modulate(self, s: SchedV, k: ScaleV, node) -> M.Modulate:
        if s.node.base is None:
            raise ClrdslTypeError(
                "this schedule has no base for a scale to modulate its amplitude above",
                code="E206", span=s.span, labels=[Label(node.op_span, "modulated here")] if node.op_span else [],
                expected="a shape with a base (triangular, cosine_restarts, linear, ...)",
                found="a combination whose base is undefined",
                hint="apply the scale to one shape before combining, or multiply by a number",
            )
        if "cycle" in M.scale_clocks(k.node) and not s.node.cyclic:
            raise ClrdslTypeError(
                "a scale `on=cycle` needs a cyclic schedule to count cycles of",
                code="E207", span=k.span, labels=[Label(s.span, "not cyclic")] if s.span else [],
                expected="a cyclic schedule (triangular, cosine_restarts, ...)",
                found="a schedule without cycles",
                hint="use `on=iterations` to scale by the update count",
            )
        return M.Modulate(s.node, k.node, span=node.span)

    def scale_op(self, op: str, left, right, node: S.BinOp) -> ScaleV:
        span = node.span
        if op == "*":
            parts = []
            for v in (left, right):
                if isinstance(v, ScaleV):
                    parts.append(v.node)
                elif isinstance(v, NumV) and not v.duration:
                    parts.append(M.ScaleConst(float(v.value)))
                else:
                    raise self.op_error(node, left, right, None)
            return ScaleV(M.ScaleMul(parts[0], parts[1], span=span), span)
        if op == "/" and isinstance(left, ScaleV) and isinstance(right, NumV) and not right.duration:
            if right.value == 0:
                raise ClrdslValueError("division by zero", code="E304", span=node.op_span or span,
                                       expected="a non-zero divisor", found="0")
            return ScaleV(M.ScaleMul(left.node, M.ScaleConst(1.0 / right.value), span=span), span)
        if op == "**" and isinstance(left, ScaleV) and isinstance(right, NumV) and not right.duration:
            return ScaleV(M.ScalePow(left.node, float(right.value), span=span), span)
        raise self.op_error(node, left, right, "scales combine with `*` (product), `**` (power) "
                            "and multiplication by a number; a schedule `*` a scale modulates it")

    # -- calls ----------------------------------------------------------------------
    def call(self, node: S.Call, ctx: _Ctx):
        name = node.func
        if ctx.depth > MAX_EXPANSION_DEPTH:
            raise ClrdslLimitError(
                f"definitions expand more than {MAX_EXPANSION_DEPTH} levels deep (is `{name}` recursive?)",
                code="E307", span=node.span, expected="non-recursive definitions",
                found=f"`{name}` expanding again",
            )
        if name in ctx.defs:
            if ctx.defs[name] is None:  # its definition failed and was reported
                raise _Poisoned()
            return self.expand(ctx.defs[name], node, ctx)
        if name == "scale":
            return self.inline_scale(node, ctx)
        if name == "take":
            return self.take(node, ctx)
        if name == "plateau":
            return self.plateau(node, ctx)
        if name in M.MATH_FUNCTIONS and (ctx.clock or name not in registry.functions):
            return self.math_call(node, ctx)
        pre = prelude()
        if name in pre:
            return self.expand(pre[name], node, ctx)
        if name in registry.functions:
            try:
                fn = registry.functions.get(name)
            except ClrdslPluginError as exc:  # a new error pointing at this call (never re-point a cached one)
                raise type(exc)(diagnostics=[_with_span(exc.diagnostics[0], node.func_span)]
                                + list(exc.diagnostics[1:]), source=exc.source) from None
            if isinstance(fn, Shape):
                return self.apply_shape(fn, node, ctx)
            if isinstance(fn, ScaleFn):
                return self.apply_scale(fn, node, ctx)
            raise ClrdslPluginError(
                f"function plugin `{name}` is neither a Shape nor a ScaleFn",
                code="E505", span=node.func_span, expected="clrdsl.contract.functions.Shape or ScaleFn",
                found=type(fn).__name__,
            )
        known = set(ctx.defs) | set(pre) | set(registry.functions.names()) | {"scale", "take", "plateau"}
        if ctx.clock:
            known |= set(M.MATH_FUNCTIONS)
        raise ClrdslNameError(
            f"unknown function `{name}`",
            code="E102", span=node.func_span, expected="a function of the standard library or a plugin",
            found=f"`{name}`", hint=suggestion_hint(name, known),
            notes=["`clrdsl plugins` lists every function with its signature"]
            + [f"the function bundle `{b.name}` ({b.dist}) could not be read, so its functions are unknown: "
               f"{b.error.found}" for b in registry.functions.bundles() if b.error is not None],
        )

    def bind(self, fname: str, params: list[Param], node: S.Call, ctx: _Ctx,
             coerce_default: Callable | None = None, spans_out: dict | None = None) -> tuple[dict, dict]:
        """Match a call's arguments to parameters; evaluate and coerce each.

        Returns (values by name, spans by name): an argument's span is where its value
        was written (the argument, or the caller's argument it passes on from another
        text), a default's the call's. ``spans_out`` is filled as the arguments are
        bound (a default reads the spans of those before it). Errors of several
        arguments are reported together.
        """
        by_name = {p.name: p for p in params}
        errors = Collector(self.source)
        given: dict[str, tuple[Any, S.Arg]] = {}
        positional = [a for a in node.args if a.name is None]
        if len(positional) > len(params):
            extra = positional[len(params)]
            errors.add(ClrdslTypeError(
                f"`{fname}` takes at most {len(params)} positional argument(s); {len(positional)} were given",
                code="E104", span=extra.span, expected=_sig(fname, params),
                found=f"{len(positional)} positional arguments",
            ))
        for p, a in zip(params, positional):
            given[p.name] = (None, a)
        misspelt: set[str] = set()  # parameters an unknown keyword was probably meant as
        for a in node.args:
            if a.name is None:
                continue
            if a.name not in by_name:
                close = did_you_mean(a.name, by_name)
                if close:
                    misspelt.add(close[0])
                errors.add(ClrdslTypeError(
                    f"`{fname}` has no parameter `{a.name}`",
                    code="E103", span=a.name_span, expected=_sig(fname, params), found=f"`{a.name}=`",
                    hint=suggestion_hint(a.name, by_name),
                ))
                continue
            if a.name in given:
                prev = given[a.name][1]
                errors.add(ClrdslTypeError(
                    f"`{a.name}` is given both by position and by keyword",
                    code="E105", span=a.name_span, labels=[Label(prev.span, "given by position here")],
                    expected=f"`{a.name}` once", found="twice",
                ))
                continue
            given[a.name] = (None, a)
        values: dict[str, Any] = {}
        spans: dict[str, Span | None] = {} if spans_out is None else spans_out
        for p in params:
            if p.name in given:
                arg = given[p.name][1]
                spans[p.name] = arg.span
                try:
                    raw = self.expr(arg.value, ctx)
                    spans[p.name] = _written_at(raw.span, arg.span)
                    values[p.name] = self.coerce(raw, p, fname, ctx)
                except _Poisoned:
                    values[p.name] = _POISON
                except ClrdslError as exc:
                    errors.add(exc)
                    values[p.name] = _POISON
            elif p.required:
                if p.name in misspelt:  # already reported as a misspelt keyword
                    values[p.name] = _POISON
                    continue
                errors.add(ClrdslTypeError(
                    f"`{fname}` is missing the argument `{p.name}`",
                    code="E106", span=node.span, expected=_sig(fname, params),
                    found=f"no `{p.name}`", hint=f"add `{p.name}=...`" + (f" ({p.doc})" if p.doc else ""),
                ))
                values[p.name] = _POISON
            else:
                spans[p.name] = node.span
                if p.name in misspelt or any(v is _POISON for v in values.values()):
                    values[p.name] = _POISON
                    continue
                try:
                    values[p.name] = coerce_default(p, values) if coerce_default else (
                        p.default(values) if callable(p.default) else p.default)
                except ClrdslError as exc:
                    errors.add(exc)
                    values[p.name] = _POISON
        errors.raise_if_any()
        if any(v is _POISON for v in values.values()):
            raise _Poisoned()
        return values, spans

    def coerce(self, v, p: Param, fname: str, ctx: _Ctx | None = None):
        """Check a value against a parameter kind; returns the backend-ready value
        (float, int for integral durations, bool, str, model node)."""
        kind = p.kind

        def bad(expected: str, hint: str | None = None):
            return ClrdslTypeError(
                f"`{p.name}` of `{fname}` takes {expected}, not {type_name(v)}",
                code="E208", span=v.span, expected=expected, found=type_name(v), hint=hint,
            )

        if kind == "any":
            return v
        if kind == "choice":
            if isinstance(v, IdentV) and v.name in p.choices:
                return v.name
            choices = ", ".join(f"`{c}`" for c in p.choices)
            found = v.name if isinstance(v, IdentV) else type_name(v)
            raise ClrdslValueError(
                f"`{p.name}` of `{fname}` must be one of {choices}",
                code="E209", span=v.span, expected=f"one of {choices}", found=f"`{found}`",
                hint=suggestion_hint(found, p.choices) if isinstance(v, IdentV) else None,
            )
        if kind == "clock":
            if isinstance(v, PlateauV):
                return v.node
            if isinstance(v, IdentV) and v.name in CLOCKS:
                return v.name
            found = f"`{v.name}`" if isinstance(v, IdentV) else type_name(v)
            raise ClrdslValueError(
                f"`{p.name}` of `{fname}` must be a clock", code="E209", span=v.span,
                expected="`iterations`, `cycle` or `plateau(...)`", found=found,
                hint=("a plateau clock is called with its settings: `on=plateau(patience=10)`"
                      if isinstance(v, IdentV) and v.name == "plateau" else
                      suggestion_hint(v.name, CLOCKS + ("plateau",)) if isinstance(v, IdentV) else None),
            )
        if kind == "bool":
            if isinstance(v, IdentV) and v.name in ("true", "false"):
                return v.name == "true"
            raise ClrdslValueError(
                f"`{p.name}` of `{fname}` must be `true` or `false`", code="E209", span=v.span,
                expected="`true` or `false`",
                found=f"`{v.name}`" if isinstance(v, IdentV) else type_name(v),
                hint=suggestion_hint(v.name, ("true", "false")) if isinstance(v, IdentV) else None,
            )
        if kind == "schedule":
            if isinstance(v, SchedV):
                return v.node
            if isinstance(v, NumV) and not v.duration:
                return M.Const(float(v.value), span=v.span)
            raise bad("a schedule")
        if kind == "scale":
            if isinstance(v, ScaleV):
                return v.node
            raise bad("a scale")
        # numeric kinds
        if isinstance(v, IdentV):
            raise self.unknown_name(v, ctx)
        if not isinstance(v, NumV):
            hint = None
            if isinstance(v, SchedV):
                hint = "shape parameters are constants; combine schedules with operators instead"
            raise bad(KINDS[kind], hint)
        x = v.value
        is_dur_kind = kind in ("duration", "period")
        if v.duration and not is_dur_kind:
            raise ClrdslTypeError(
                f"`{p.name}` of `{fname}` takes a plain number, but this is a duration",
                code="E208", span=v.span, expected=KINDS[kind], found="a duration (a count of updates)",
                hint="units (`it`, `ep`, `%`) belong on durations such as `step=` and `over=`",
            )
        ok = {
            "number": True,
            "positive": x > 0,
            "nonneg": x >= 0,
            "fraction": 0 < x < 1,
            "unit": 0 <= x <= 1,
            "duration": x >= 0,
            "period": x > 0,
        }[kind]
        if not math.isfinite(x):
            ok = False
        if not ok:
            raise ClrdslValueError(
                f"`{p.name}` of `{fname}` must be {KINDS[kind]}",
                code="E301", span=v.span, expected=KINDS[kind], found=f"{x:.10g}",
            )
        return _int_if_integral(x) if is_dur_kind else float(x)

    def validate(self, fn, args: dict, spans: dict, node: S.Call) -> None:
        if fn.validate is None:
            return
        try:
            call_hook(fn, node.func, "validate", node.func_span, args)
        except ParamError as exc:
            span = spans.get(exc.param) or node.span
            raise ClrdslValueError(
                f"`{fn.name}`: {exc.message}",
                code="E303", span=span, expected=fn.signature(),
                found=", ".join(f"{k}={_fmt(v)}" for k, v in args.items()),
            ) from None

    def apply_shape(self, fn: Shape, node: S.Call, ctx: _Ctx) -> SchedV:
        args, spans = self.bind(fn.name, list(fn.params), node, ctx)
        self.validate(fn, args, spans, node)
        length = _int_if_integral(checked_length(fn, node.func, args, node.func_span))
        base = checked_base(fn, node.func, args, node.func_span)
        probe(fn, node.func, args, node.func_span, length)
        prim = M.Prim(fn, tuple(args.items()), length=length, base=base, span=node.span)
        return SchedV(prim, node.span)

    def apply_scale(self, fn: ScaleFn, node: S.Call, ctx: _Ctx) -> ScaleV:
        on = Param("on", "clock", fn.default_clock, doc="the clock the scale reads")
        args, spans = self.bind(fn.name, list(fn.params) + [on], node, ctx)
        clock = args.pop("on")
        self.validate(fn, args, spans, node)
        probe(fn, node.func, args, node.func_span)
        return ScaleV(M.ScalePrim(fn, tuple(args.items()), clock, span=node.span), node.span)

    def inline_scale(self, node: S.Call, ctx: _Ctx) -> ScaleV:
        params = [Param("on", "clock", "iterations")]
        body_ctx = _Ctx(ctx.env, ctx.defs, ctx.source, clock=True, depth=ctx.depth)
        args, _ = self.bind("scale", params, _only_kw(node, "on"), ctx)
        body_arg = [a for a in node.args if a.name is None or a.name == "body"]
        if len(body_arg) > 1 or any(a.name not in (None, "body", "on") for a in node.args):
            raise ClrdslTypeError(
                "`scale` takes one formula of `x` and `on=`", code="E104", span=node.span,
                expected="scale(formula, on=iterations|cycle|plateau(...))", found=unparse(node),
            )
        if not body_arg:
            raise ClrdslTypeError(
                "`scale` needs a formula of the clock `x`", code="E106", span=node.span,
                expected="scale(0.5 * (1 + sin(x * pi / 2)), on=cycle)", found="no formula",
            )
        body = self.value(body_arg[0].value, body_ctx)
        if isinstance(body, NumV) and not body.duration:
            return ScaleV(M.ScaleConst(float(body.value), span=node.span), node.span)
        if not isinstance(body, ClockV):
            raise ClrdslTypeError(
                "the formula of `scale` must be a number-valued expression of `x`",
                code="E208", span=body.span, expected="an expression of `x`", found=type_name(body),
            )
        return ScaleV(M.ScaleExpr(body.node, args["on"], span=node.span), node.span)

    def plateau(self, node: S.Call, ctx: _Ctx) -> PlateauV:
        """``plateau(patience=, mode=, threshold=, threshold_mode=, cooldown=, eps=)``."""
        params = [
            Param("patience", "nonneg", 10, doc="bad evaluations tolerated before a reduction"),
            Param("mode", "choice", "min", ("min", "max"), "whether the metric should fall or rise"),
            Param("threshold", "nonneg", 1e-4, doc="how much better than the best counts as better"),
            Param("threshold_mode", "choice", "rel", ("rel", "abs"), "threshold relative to the best, or absolute"),
            Param("cooldown", "nonneg", 0, doc="reports ignored after a reduction"),
            Param("eps", "nonneg", 0.0, doc="a reduction that lowers the value by eps or less is skipped"),
        ]
        args, spans = self.bind("plateau", params, node, ctx)
        for name in ("patience", "cooldown"):
            v = args[name]
            if v != int(v) or v > 2**31 - 1:
                raise ClrdslValueError(
                    f"`{name}` of `plateau` counts reports: a whole number", code="E209",
                    span=spans.get(name) or node.span, expected="a whole number of reports below 2**31",
                    found=format_number(v),
                )
            args[name] = int(v)
        if args["threshold_mode"] == "rel" and args["threshold"] >= 1:
            raise ClrdslValueError(
                "a relative threshold of 1 or more means no metric can ever improve on the best",
                code="E209", span=spans.get("threshold") or node.span,
                expected="threshold < 1 with threshold_mode=rel", found=format_number(args["threshold"]),
                hint="use `threshold_mode=abs` for an absolute margin",
            )
        self.plateau_count += 1
        clock = M.Plateau(args["patience"], args["mode"], float(args["threshold"]), args["threshold_mode"],
                          args["cooldown"], float(args["eps"]), uid=self.plateau_count, span=node.span)
        return PlateauV(clock, node.span)

    def take(self, node: S.Call, ctx: _Ctx) -> SchedV:
        params = [Param("schedule", "schedule"), Param("over", "duration")]
        args, _ = self.bind("take", params, node, ctx)
        return SchedV(M.Window(args["schedule"], args["over"], span=node.span), node.span)

    def math_call(self, node: S.Call, ctx: _Ctx):
        name = node.func
        arity = M.MATH_FUNCTIONS[name]
        if any(a.name for a in node.args) or len(node.args) != arity:
            raise ClrdslTypeError(
                f"`{name}` takes {arity} positional argument(s)", code="E104", span=node.span,
                expected=f"{name}({', '.join('x' * 1 for _ in range(arity))})",
                found=f"{len(node.args)} argument(s)",
            )
        vals = [self.value(a.value, ctx) for a in node.args]
        if all(isinstance(v, NumV) and not v.duration for v in vals):
            from clrdsl.contract.ops import MathOps

            fn = getattr(MathOps, {"min": "minimum", "max": "maximum"}.get(name, name))
            try:
                r = float(fn(*[float(v.value) for v in vals]))
            except (ValueError, OverflowError):
                r = math.nan
            if not math.isfinite(r):
                raise ClrdslValueError(
                    f"`{unparse(node)}` has no finite value", code="E302", span=node.span,
                    expected="an argument in the function's domain", found=str(r),
                )
            return NumV(r, node.span)
        if name in ("min", "max") and not ctx.clock and any(isinstance(v, SchedV) for v in vals):
            return self.extremum(name, vals, node)
        for v in vals:
            if not isinstance(v, (NumV, ClockV)):
                raise ClrdslTypeError(
                    f"`{name}` takes numbers or expressions of `x`, not {type_name(v)}",
                    code="E208", span=v.span, expected="a number or an expression of `x`", found=type_name(v),
                )
        return ClockV(M.XCall(name, tuple(_xnode(v) for v in vals)), node.span)

    def extremum(self, name: str, vals: list, node: S.Call) -> SchedV:
        """``max(a, b)`` / ``min(a, b)`` of schedules (or a schedule and a number), step by
        step: a floor (``max(schedule, 1e-5)``, torch's ``min_lr``) or a ceiling."""
        nodes = []
        for v in vals:
            if isinstance(v, SchedV):
                nodes.append(v.node)
            elif isinstance(v, NumV) and not v.duration:
                nodes.append(M.Const(float(v.value), span=v.span))
            else:
                raise ClrdslTypeError(
                    f"`{name}` of schedules takes schedules and numbers, not {type_name(v)}",
                    code="E208", span=v.span, expected="a schedule or a number", found=type_name(v),
                    hint="a floor is `max(schedule, 1e-5)`" if isinstance(v, (ScaleV, NumV)) else None,
                )
        return SchedV(self.pointwise(name, nodes[0], nodes[1], node.span), node.span)

    def expand(self, d: DefV, node: S.Call, ctx: _Ctx):
        self.budget.expand(d.node.name, node.span)
        params = []
        for p in d.node.params:
            if p.kind is None:
                kind, choices = "any", ()
            elif len(p.kind) > 1 or p.kind[0] not in KINDS:
                kind, choices = "choice", p.kind
            else:
                kind, choices = p.kind[0], ()
            params.append(Param(p.name, kind, REQUIRED if p.default is None else _Shown(p.default), choices))
        decl = {p.name: p for p in d.node.params}

        def default(p: Param, so_far: dict):
            env = dict(d.env)
            env.update({k: _as_value(v, spans.get(k) or node.span) for k, v in so_far.items()})
            dctx = _Ctx(env, _defs_of(d, ctx), d.source, depth=ctx.depth + 1)
            try:
                raw = self._in_def(d, node, lambda: self.expr(decl[p.name].default, dctx))
            except ClrdslError as exc:
                if exc.code == "E306":  # a default reading an unbound binding
                    from dataclasses import replace

                    first = exc.diagnostics[0]
                    raise exc.replace(hint=f"pass `{p.name}=` to `{d.node.name}`, or {first.hint}") from None
                raise
            return self.coerce(_respan(raw, node.span), p, d.node.name)

        spans: dict[str, Span | None] = {}  # where each argument was written: the call's text
        args, arg_spans = self.bind(d.node.name, params, node, ctx, coerce_default=default, spans_out=spans)
        env = dict(d.env)
        env.update({k: _as_value(v, arg_spans.get(k) or node.span) for k, v in args.items()})
        body_ctx = _Ctx(env, _defs_of(d, ctx), d.source, clock=False, depth=ctx.depth + 1)
        result = self._in_def(d, node, lambda: self.expr(d.node.body, body_ctx))
        if (isinstance(result, (SchedV, ScaleV)) and result.node.span is not None and node.span is not None
                and not result.node.span.same_source(node.span)):
            # built in the definition's text (the prelude): the expansion's model node spans
            # the call, in the caller's text; the nodes inside it keep their own spans
            from dataclasses import replace

            result = type(result)(replace(result.node, span=node.span), node.span)
        return _respan(result, node.span)

    def _in_def(self, d: DefV, node: S.Call, thunk):
        """Run a step of a definition's expansion. A definition of another text than the
        user's (the prelude) is shown as that text: an error that arises inside it gets
        the call as its primary span and the place in the definition as a label naming
        it (its span knows it points into the prelude); an error already in the user's
        text (an argument passed on unchanged) stays there, with a note. The spans say
        where each piece was written; no text is matched."""
        if d.source is self.source:
            return thunk()
        try:
            return thunk()
        except ClrdslError as exc:
            diags = [self._from_def(diag, d, node) for diag in exc.diagnostics]
            raise error_from(diags, self.source, exc.truncated) from None
        except _OverBudget:
            over = self.budget.exceeded
            if over is not None:  # the budget's error, re-pointed the same way
                self.budget.exceeded = type(over)(diagnostics=[self._from_def(x, d, node) for x in over.diagnostics],
                                                  source=over.source, truncated=over.truncated)
            raise

    def _from_def(self, diag, d: DefV, node: S.Call):
        from dataclasses import replace

        span = diag.span
        if span is not None and span.source is not None and span.same_source(d.source):
            # inside the definition: the caller's call is primary, the definition a label
            label = Label(span, f"in {_definition_name(d)}")
            known = any(lb.text == label.text and lb.span == span and lb.span.same_source(span) for lb in diag.labels)
            return replace(diag, span=node.span, labels=diag.labels if known else (label,) + diag.labels)
        note = f"while expanding {_definition_name(d)} ({_defined_at(d)})"
        return replace(diag, span=node.span if span is None else span, notes=diag.notes + (note,))


class _Shown:
    """A ``def`` parameter's default as the signature in a message shows it."""

    def __init__(self, node) -> None:
        self.node = node

    def __str__(self) -> str:
        return unparse(self.node)


class _Poisoned(Exception):
    """An operand whose error was already reported: stop without a second message."""


_POISON = object()

_OP_HINTS = {
    "+": "`+` adds schedules and numbers; scales combine with `*`",
    "-": "`-` subtracts schedules and numbers",
    "*": "a schedule `*` a scale modulates its amplitude; schedules and numbers multiply pointwise",
    "/": "divide a schedule or a number by a number",
    "**": "`**` raises a number or a scale to a number",
    ">>": "`>>` runs one schedule after another",
}
_OP_EXPECTED = {
    "+": "schedules or numbers on both sides",
    "-": "schedules or numbers on both sides",
    "*": "schedule * scale, schedule * number, schedule * schedule, scale * scale or number * scale",
    "/": "schedule / number or number / number",
    "**": "number ** number or scale ** number",
    ">>": "schedule >> schedule",
}


def _did_you_mean_text(names: list[str]) -> str | None:
    if not names:
        return None
    quoted = [f"`{n}`" for n in names]
    return "did you mean " + (quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]) + "?"


def _sig(fname: str, params: list[Param]) -> str:
    return f"{fname}({', '.join(p.describe() for p in params)})"


def _fmt(v) -> str:
    if isinstance(v, float):
        return format_number(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _xnode(v):
    return v.node if isinstance(v, ClockV) else M.XNum(float(v.value))


def _written_at(value_span: Span | None, here: Span | None) -> Span | None:
    """The span to show for a value used at ``here``: ``here``, unless the value was
    written in another text (an argument passed from the user's text into the prelude),
    where it keeps the span it was written at."""
    if value_span is not None and here is not None and not value_span.same_source(here):
        return value_span
    return here


def _definition_name(d: DefV) -> str:
    """``the prelude's definition of `onecycle```, or of another text's definition."""
    if d.source.name == PRELUDE_NAME:
        return f"the prelude's definition of `{d.node.name}`"
    return f"the definition of `{d.node.name}` in {d.source.name}"


def definition_label(span: Span) -> str:
    """The label of a span inside a prelude definition: ``in the prelude's definition
    of `onecycle``` (the definition whose span, in the same text, holds it)."""
    if span.source is None:
        return "in a definition"
    for d in prelude().values():
        ds = d.node.span
        if ds is not None and ds.source is not None and ds.same_source(span) and ds.start <= span.start \
                and span.end <= ds.end:
            return f"in {_definition_name(d)}"
    return f"in {span.source.name}"


def _defined_at(d: DefV) -> str:
    """Where a definition starts: ``grammar/prelude.clr:22``."""
    if d.node.span is None:
        return d.source.name
    return f"{d.source.name}:{d.source.line_col(d.node.span.start)[0]}"


def _respan(v, span):
    if isinstance(v, (NumV, IdentV, SchedV, ScaleV, ClockV)):
        out = type(v)(**{**v.__dict__, "span": span})
        return out
    return v


def _as_value(v, span):
    """A coerced argument back as a check-time value, for a definition's body."""
    if isinstance(v, bool):
        return IdentV("true" if v else "false", span)
    if isinstance(v, str):
        return IdentV(v, span)
    if isinstance(v, (int, float)):
        return NumV(v, span, duration=isinstance(v, int))
    if isinstance(v, (NumV, IdentV, SchedV, ScaleV, ClockV, PlateauV)):
        return v
    if isinstance(v, M.Plateau):
        return PlateauV(v, span)
    if isinstance(v, (M.Const, M.Prim, M.Seq, M.Pointwise, M.Modulate, M.Window)):
        return SchedV(v, span)
    if isinstance(v, (M.ScalePrim, M.ScaleExpr, M.ScaleConst, M.ScaleMul, M.ScalePow)):
        return ScaleV(v, span)
    raise TypeError(f"not a check-time value or model node: {type(v).__name__}")  # a checker bug


def _defs_of(d: DefV, ctx: _Ctx) -> dict:
    # a definition sees the definitions of its own source (user defs see user defs)
    return ctx.defs if d.source is ctx.source else {}


def _only_kw(node: S.Call, *names: str) -> S.Call:
    return S.Call(node.func, tuple(a for a in node.args if a.name in names), span=node.span,
                  func_span=node.func_span)


def _with_span(diag, span):
    """A plugin's error (it has no span of its own) pointed at the call that loaded it."""
    from dataclasses import replace

    return replace(diag, span=span, labels=())


# -- public entry -----------------------------------------------------------------------


def check_bindings(bindings: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in bindings.items():
        if k not in BINDINGS:
            raise ClrdslTypeError(
                f"unknown binding `{k}`", code="E107", expected=", ".join(BINDINGS), found=k,
                hint=suggestion_hint(k, BINDINGS),
            )
        if v is None:
            continue
        if (k == "steps_per_epoch" and isinstance(v, float) and math.isfinite(v) and v > 0
                and v != int(v)):  # 390.625: a last partial batch; `ep` durations may be fractional
            out[k] = v
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 or v != int(v):
            raise ClrdslValueError(
                f"binding `{k}` must be a positive whole number of updates", code="E308",
                expected="a positive integer", found=repr(v),
            )
        out[k] = int(v)
    return out


def check_program(prog: S.Program, source: Source, **bindings) -> M.CheckedSchedule:
    b = check_bindings(bindings)
    checker = Checker(source, b)
    try:
        root = checker.program(prog)
        _make_room(checker.budget.measure(root)[2])  # for the recursive passes over the model
    except _Poisoned:  # pragma: no cover - every poison has a reported cause
        raise ClrdslValueError("invalid expression", code="E000", source=source) from None
    except ClrdslError as exc:
        raise exc.with_source(source)
    from clrdsl.language.ranges import check_ranges

    check_ranges(root, source)  # finite at every step, or refused with a span (E310)
    return M.CheckedSchedule(unparse(prog), tuple(sorted(b.items())), root)
