"""Code generation: the one definition of evaluation.

A checked schedule becomes Python source for one backend (a :class:`Target`), and that
source is what computes values everywhere:

- in-process, :func:`load` executes it in a fresh module (registered with
  :mod:`linecache`, so tracebacks show the generated lines) and each backend's object
  calls the functions it defines (``value(t)``, ``schedule(step)``, ...);
- ``clrdsl compile EXPR --backend NAME`` writes the same text out as a standalone
  module (:func:`emit_module`), with a header and the backend's native wrapper.

So a backend's object and its emitted module cannot drift: they run the same code.

- ``value(t)`` is generated from the semantic model by :class:`ValueGenerator`.
- Each shape and scale the schedule uses is copied in with :func:`inspect.getsource`,
  together with the helpers, constants and imports it refers to (:class:`SourceCopier`).
  Shapes are written against ``ops`` (see :mod:`clrdsl.contract.ops`), so the copies run
  unchanged.
- The backend supplies its ``ops`` class (copied the same way), the entry functions it
  calls in-process, and the wrapper of the standalone module.

Generated code imports its framework (and standard-library modules such as ``math``),
never clrdsl.
"""

from __future__ import annotations

import ast
import builtins
import collections
import functools
import inspect
import io
import itertools
import json
import keyword
import linecache
import math
import sys
import textwrap
import threading
import tokenize
import types
from dataclasses import dataclass
from typing import Any

from clrdsl.diagnostics.errors import ClrdslPluginError
from clrdsl.semantics import model as M
from clrdsl.semantics.model import CheckedSchedule

LINE = 100  # longest generated line

__all__ = ["Target", "Generated", "EmitError", "generate", "load", "emit_module", "SourceCopier"]


class EmitError(ClrdslPluginError):
    """A function or ops class that cannot be copied into a standalone module."""


@dataclass(frozen=True)
class Target:
    """What a backend contributes to its generated code.

    ``ops`` is the backend's ops class; it is copied into the code (with what it refers
    to) and bound to the name ``ops``. ``imports`` are the import lines the entry and
    the wrapper need. ``entry`` is source appended after ``value(t)`` that defines the
    functions the backend calls (``schedule(step)`` at least): it runs in-process too,
    so the backend's objects and the standalone module compute with the same code.
    ``wrapper`` defines the native object of the standalone module (an ``LRScheduler``,
    a ``LearningRateSchedule``, ...) and is only written out. Both may use the module
    constants ``EXPR``, ``BINDINGS``, ``FINGERPRINT`` and ``LENGTH``, and the
    ``extras`` (functions or classes copied into the code under their own names).
    ``usage`` is the body of the module docstring.
    """

    backend: str
    framework: str
    ops: type
    imports: tuple[str, ...]
    entry: str
    wrapper: str = ""
    usage: str = ""
    extras: tuple[Any, ...] = ()  # functions or classes the entry or wrapper call, copied under their names


# -- literals and expressions ---------------------------------------------------------

ATOM, UNARY, MUL, ADD = 4, 3, 2, 1


@dataclass(frozen=True)
class Expr:
    """Generated expression text and its binding strength (for the fewest parentheses)."""

    text: str
    prec: int = ATOM
    call: tuple[str, tuple[str, ...]] | None = None  # (callee, args) when it is a call


def literal(v: Any) -> Expr:
    """Python source for a constant argument (exact: floats print in shortest repr)."""
    if isinstance(v, bool):
        return Expr("True" if v else "False")
    if isinstance(v, int):
        return Expr(str(v), UNARY if v < 0 else ATOM)
    if isinstance(v, float):
        if math.isnan(v):
            return Expr('float("nan")')
        if math.isinf(v):
            return Expr('float("inf")') if v > 0 else Expr('-float("inf")', UNARY)
        return Expr(repr(v), UNARY if math.copysign(1.0, v) < 0 else ATOM)
    if isinstance(v, str):
        return Expr(json.dumps(v))
    if isinstance(v, bytes):
        return Expr(repr(v))
    if isinstance(v, frozenset):
        return Expr(f"frozenset({literal(tuple(sorted(v, key=repr))).text})")
    if v is None:
        return Expr("None")
    if isinstance(v, tuple):
        inner = ", ".join(literal(x).text for x in v)
        return Expr(f"({inner}{',' if len(v) == 1 else ''})")
    raise EmitError(
        f"cannot write the argument value {v!r} ({type(v).__name__}) into generated code",
        code="E511", expected="a number, a string, a bool or a tuple of them", found=type(v).__name__,
    )


def binop(op: str, a: Expr, b: Expr) -> Expr:
    """``a op b`` with the parentheses that keep the evaluation order (float + is not
    associative, so an equal-strength right operand is always parenthesised)."""
    p = MUL if op in ("*", "/") else ADD
    left = a.text if a.prec >= p else f"({a.text})"
    right = b.text if b.prec > p else f"({b.text})"
    return Expr(f"{left} {op} {right}", p)


def _tuple_statement(name: str, items: list[str]) -> str:
    """``name = (items...)`` at module level, wrapped to LINE columns."""
    one = f"{name} = ({items[0]},)" if len(items) == 1 else f"{name} = ({', '.join(items)})"
    if len(one) <= LINE:
        return one + "\n"
    lines, cur = [f"{name} = ("], "   "
    for item in items:
        if len(cur) + len(item) + 2 > LINE:
            lines.append(cur.rstrip())
            cur = "   "
        cur += f" {item},"
    lines.append(cur.rstrip())
    return "\n".join(lines + [")"]) + "\n"


def neg(a: Expr) -> Expr:
    return Expr("-" + (a.text if a.prec == ATOM else f"({a.text})"), UNARY)


def call(fn: str, *args: str) -> Expr:
    return Expr(f"{fn}({', '.join(args)})", ATOM, (fn, tuple(args)))


# -- copying source -------------------------------------------------------------------


def _top_package(module: str | None) -> str:
    return (module or "").split(".")[0]


def _is_clrdsl(module: str | None) -> bool:
    return _top_package(module).startswith("clrdsl")


def _is_literal_constant(v: Any) -> bool:
    if isinstance(v, (bool, int, float, str, bytes, type(None))):
        return True
    if isinstance(v, (tuple, frozenset)):
        return all(_is_literal_constant(x) for x in v)
    return False


class _Module:
    """A source module, parsed once: where each top-level name is bound."""

    def __init__(self, name: str) -> None:
        self.name = name
        mod = sys.modules.get(name)
        self.scope: dict = vars(mod) if mod is not None else {}
        self.package = getattr(mod, "__package__", None) or name.rpartition(".")[0]
        self.text = ""
        self.bindings: dict[str, ast.stmt] = {}
        try:
            self.text = inspect.getsource(mod) if mod is not None else ""
        except (OSError, TypeError):
            return
        for stmt in ast.parse(self.text).body:
            for bound in _bound_names(stmt):
                self.bindings[bound] = stmt  # the last top-level binding wins, as at run time

    def with_scope(self, scope: dict) -> "_Module":
        """This parsed module reading its globals from ``scope`` (shares the parse)."""
        out = object.__new__(_Module)
        out.__dict__.update(self.__dict__, scope=scope)
        return out

    def absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.package.split(".") if self.package else []
        base = ".".join(parts[: len(parts) - node.level + 1])
        return f"{base}.{node.module}" if node.module else base


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    if isinstance(stmt, ast.Import):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names]
    if isinstance(stmt, ast.ImportFrom):
        return [a.asname or a.name for a in stmt.names if a.name != "*"]
    return []


class SourceCopier:
    """Copies module-level functions and classes, and what they refer to, into one
    generated namespace.

    ``copy(obj)`` returns the name ``obj`` has in the generated module. Each global
    that a copied source reads is resolved by the statement that binds it in its
    module: an import of another library is repeated (an import of clrdsl is an
    error: generated code never imports it; what it imports from clrdsl or from its
    own package is copied instead), a ``def`` or ``class`` is copied, an assignment
    is written out (a literal) or copied with what it refers to. Names that clash
    are renamed (``name_2``) and references rewritten.
    """

    def __init__(self, reserved: set[str] = frozenset()) -> None:
        self.taken: set[str] = set(reserved) | set(keyword.kwlist)
        self.blocks: list[tuple[str, int, str]] = []  # (module, line, source), dependencies first
        self.imports: dict[str, str] = {}  # bound name -> import statement
        self.annotations = False  # a copied source has annotations (needs the __future__ import)
        self._names: dict[int, str] = {}  # id(obj) -> generated name
        self._objs: list[Any] = []  # keep copied objects alive (ids stay unique)
        self._stmts: dict[tuple[str, str], str] = {}  # (module, name) -> generated name
        self._modules: dict[str, _Module] = {}
        self._next: dict[str, int] = {}  # wanted name -> next suffix to try

    def module(self, name: str) -> _Module:
        if name not in self._modules:
            self._modules[name] = _module(name)
        return self._modules[name]

    def fresh(self, wanted: str) -> str:
        name, i = wanted, self._next.get(wanted, 2)
        while name in self.taken or hasattr(builtins, name):
            name = f"{wanted}_{i}"
            i += 1
        self._next[wanted] = i
        self.taken.add(name)
        return name

    def add_import(self, line: str, bound: str) -> str:
        prev = self.imports.get(bound)
        if prev is not None and prev != line:
            raise EmitError(
                f"generated code would bind `{bound}` by two imports: `{prev}` and `{line}`",
                code="E512", expected="one import per name", found=line,
            )
        self.imports[bound] = line
        self.taken.add(bound)
        return bound

    def copy(self, obj: Any) -> str:
        """Copy a module-level function or class (once); its name in the module."""
        key = id(obj)
        if key in self._names:
            return self._names[key]
        what = f"`{getattr(obj, '__qualname__', obj)}` ({getattr(obj, '__module__', '?')})"
        if getattr(obj, "__name__", "") == "<lambda>":
            raise EmitError(
                f"{what} is a lambda, which cannot be copied into generated code",
                code="E510", expected="a module-level `def`", found="a lambda",
                hint="write shape and scale implementations as module-level functions",
            )
        if "<locals>" in getattr(obj, "__qualname__", "") or getattr(obj, "__closure__", None):
            raise EmitError(
                f"{what} is a nested function or closure, which cannot be copied into generated code",
                code="E510", expected="a module-level `def` or `class`", found="a nested definition",
            )
        try:
            src, refs, local, line, annotated = _source_info(obj)
        except (OSError, TypeError) as exc:
            raise EmitError(
                f"the source of {what} is not available",
                code="E510", expected="a function or class defined in a Python source file",
                found=f"{type(exc).__name__}: {exc}",
            ) from None
        self.annotations |= annotated
        self._names[key] = name = self.fresh(obj.__name__)
        self._objs.append(obj)
        mod = self.module(obj.__module__)
        if not mod.scope:  # a module not in sys.modules: read names where the function does
            mod = self._modules[obj.__module__] = mod.with_scope(getattr(obj, "__globals__", {}))
        renames = {obj.__name__: name}
        for ref in sorted(refs):
            if ref in mod.scope:
                renames[ref] = self.resolve(mod, ref, what)
        self.blocks.append((obj.__module__, line, _rename(src, tuple(sorted(renames.items())), local)))
        return name

    def resolve(self, mod: _Module, ref: str, what: str) -> str:
        """Make the global ``ref`` of module ``mod`` available; its generated name."""
        v = mod.scope[ref]
        stmt = mod.bindings.get(ref)
        if isinstance(stmt, ast.Import):
            alias = next(a for a in stmt.names if (a.asname or a.name).split(".")[0] == ref)
            return self._import_module(alias.name, alias.asname, ref, what)
        if isinstance(stmt, ast.ImportFrom):
            source = mod.absolute(stmt)
            alias = next(a for a in stmt.names if (a.asname or a.name) == ref)
            if not (_is_clrdsl(source) or _top_package(source) == _top_package(mod.name)):
                line = f"from {source} import {alias.name}" + (f" as {ref}" if alias.asname else "")
                return self.add_import(line, ref)
            # imported from clrdsl or from the plugin's own package: copy what it is
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return self._statement(mod, ref, stmt, what)
        if isinstance(v, types.ModuleType):
            return self._import_module(v.__name__, None if ref == v.__name__ else ref, ref, what)
        if _is_literal_constant(v):
            return self._constant(mod, ref, v)
        if isinstance(v, (types.FunctionType, type)):
            if _is_clrdsl(v.__module__) or _top_package(v.__module__) == _top_package(mod.name):
                return self.copy(v)
            line = f"from {v.__module__} import {v.__name__}" + (f" as {ref}" if ref != v.__name__ else "")
            return self.add_import(line, ref)
        if callable(v) and getattr(v, "__module__", None) and not _is_clrdsl(v.__module__):
            # a builtin or ufunc of another library (numpy.where, math.floor, ...)
            nm = getattr(v, "__name__", ref)
            line = f"from {v.__module__} import {nm}" + (f" as {ref}" if ref != nm else "")
            return self.add_import(line, ref)
        raise EmitError(
            f"{what} refers to `{ref}` ({type(v).__name__}), which cannot be copied into generated code",
            code="E510", expected="functions, classes, modules, literal constants and assignments",
            found=f"`{ref}`: {type(v).__name__}",
        )

    def _import_module(self, module: str, asname: str | None, ref: str, what: str) -> str:
        if _is_clrdsl(module):
            raise EmitError(
                f"{what} uses the module `{module}`, and generated code must not import clrdsl",
                code="E510", expected="only the framework and the standard library",
                found=f"`{ref}` = {module}",
            )
        return self.add_import(f"import {module}" + (f" as {asname}" if asname else ""), ref)

    def _constant(self, mod: _Module, ref: str, v: Any) -> str:
        key = (mod.name, ref)
        if key not in self._stmts:
            self._stmts[key] = name = self.fresh(ref)
            stmt = mod.bindings.get(ref)
            self.blocks.append((mod.name, getattr(stmt, "lineno", 0), f"{name} = {literal(v).text}\n"))
        return self._stmts[key]

    def _statement(self, mod: _Module, ref: str, stmt: ast.stmt, what: str) -> str:
        """Copy the assignment that binds ``ref`` (``_HOST_INT = (int, np.integer)``,
        ``_minimum, _maximum = _extreme(True), _extreme(False)``) with what it reads."""
        key = (mod.name, ref)
        if key in self._stmts:
            return self._stmts[key]
        v = mod.scope[ref]
        bound = _bound_names(stmt)
        if _is_literal_constant(v) and bound == [ref]:
            return self._constant(mod, ref, v)
        renames = {}
        for n in bound:
            self._stmts[(mod.name, n)] = renames[n] = self.fresh(n)
        src = ast.get_source_segment(mod.text, stmt) or ""
        for dep in sorted(_loads(stmt, self) - set(bound)):
            if dep in mod.scope:
                renames[dep] = self.resolve(mod, dep, f"`{ref}` ({mod.name})")
        self.blocks.append((mod.name, stmt.lineno, _rename(src, tuple(sorted(renames.items())), frozenset())))
        return self._stmts[key]


_MODULES: dict[tuple[str, int], _Module] = {}
_SOURCES: dict[Any, tuple] = {}


def _module(name: str) -> _Module:
    """A module's parsed source, once per process (per module object, so a reload reparses)."""
    key = (name, id(sys.modules.get(name)))
    if key not in _MODULES:
        _MODULES[key] = _Module(name)
    return _MODULES[key]


def _source_info(obj: Any) -> tuple[str, frozenset[str], frozenset[str], int, bool]:
    """(source, globals it reads, its local names, first line, has annotations) of a
    function or class, computed once per object."""
    info = _SOURCES.get(obj)
    if info is None:
        src = textwrap.dedent(inspect.getsource(obj))
        probe = SourceCopier()
        refs = _loads(ast.parse(src), probe) - {obj.__name__}
        local = frozenset(_local_names(obj))
        if isinstance(obj, types.FunctionType):
            refs -= local
        try:
            line = inspect.getsourcelines(obj)[1]
        except (OSError, TypeError):  # pragma: no cover - getsource worked above
            line = 0
        info = _SOURCES[obj] = (src, frozenset(refs), local, line, probe.annotations)
    return info


def render_blocks(blocks: list[tuple[str, int, str]]) -> str:
    """Copied sources, grouped by the module they come from (modules in the order they
    were first needed) and in their original order within it, which is an order in
    which they can run."""
    order: dict[str, int] = {}
    for module, _, _ in blocks:
        order.setdefault(module, len(order))
    groups: dict[str, list[tuple[int, str]]] = {}
    prev_one_line = False
    for module, line, src in blocks:
        groups.setdefault(module, []).append((line, src))
    out = []
    for module in sorted(groups, key=order.__getitem__):
        text = ""
        for _, src in sorted(groups[module], key=lambda b: b[0]):
            src = src.rstrip()
            one_line = "\n" not in src and not src.startswith(("def ", "class ", "@"))
            if text:
                text += "\n" if one_line and prev_one_line else "\n\n\n"
            text += src
            prev_one_line = one_line
        out.append(f"# from {module}\n" + text)
    return "\n\n\n".join(out)


def _loads(tree: ast.AST, copier: SourceCopier | None = None) -> set[str]:
    """Names a source reads, leaving out annotations (never evaluated at run time
    with ``from __future__ import annotations``, which a module with them gets)."""
    out: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        ann = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ann = [node.returns] + [a.annotation for a in ast.walk(node.args) if isinstance(a, ast.arg)]
        elif isinstance(node, ast.AnnAssign):
            ann = [node.annotation]
        for a in ann:
            if a is not None:
                skip.update(id(n) for n in ast.walk(a))
                if copier is not None:
                    copier.annotations = True
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in skip:
            out.add(node.id)
    return out


def _local_names(obj: Any) -> set[str]:
    out: set[str] = set()

    def walk(code):
        out.update(code.co_varnames, code.co_cellvars, code.co_freevars)
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                walk(c)

    if isinstance(obj, types.FunctionType):
        walk(obj.__code__)
    elif isinstance(obj, type):
        for v in vars(obj).values():
            f = getattr(v, "__func__", v)
            if isinstance(f, types.FunctionType) and f.__name__ != "<lambda>":
                walk(f.__code__)
    return out


@functools.lru_cache(maxsize=4096)
def _rename(src: str, renames_items: tuple[tuple[str, str], ...], local: frozenset[str]) -> str:
    """Rewrite references to globals (not attributes, keyword names or locals); the
    source with a final newline."""
    renames = {k: v for k, v in renames_items if k != v}
    if not renames:
        return src.rstrip() + "\n"
    lines = src.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    depth = 0
    sig = [t for t in toks if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                                              tokenize.INDENT, tokenize.DEDENT)]
    for i, tok in enumerate(sig):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if tok.type != tokenize.NAME or tok.string not in renames:
            continue
        prev = sig[i - 1].string if i else ""
        nxt = sig[i + 1].string if i + 1 < len(sig) else ""
        is_def_name = prev in ("def", "class")
        if not is_def_name and (prev == "." or tok.string in local or (depth and nxt == "=")):
            continue
        (row, col), (_, end) = tok.start, tok.end
        edits.append((row, col, end, renames[tok.string]))
    for row, col, end, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[end:]
    return "".join(lines).rstrip() + "\n"


# -- the schedule as code ----------------------------------------------------------------


class _Body:
    """The statements of one generated function."""

    def __init__(self, names: set[str], indent: int = 1) -> None:
        self.lines: list[str] = []
        self.names = names  # names used in this function
        self.indent = indent
        self._next: dict[str, int] = {}  # prefix -> next suffix to try (fresh names in O(1))

    def line(self, text: str) -> None:
        self.lines.extend(_wrap_statement("    " * self.indent, text))

    def let(self, prefix: str, e: Expr) -> Expr:
        """Bind ``e`` to a fresh local (unless it is already a name or a literal)."""
        if e.call is None and e.prec == ATOM and (e.text.isidentifier() or _is_number(e.text)):
            return e
        name, i = prefix, self._next.get(prefix, 1)
        while name in self.names:
            name = f"{prefix}_{i}"
            i += 1
        self._next[prefix] = i
        self.names.add(name)
        self.line(f"{name} = {e.text}")
        return Expr(name)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _wrap_statement(pad: str, text: str) -> list[str]:
    """One statement, broken inside its outermost call's parentheses when too long."""
    if len(pad) + len(text) <= LINE:
        return [pad + text]
    # find the first top-level "(" that opens a call running to the end of the line
    depth, start = 0, -1
    for i, ch in enumerate(text):
        if ch in "([{":
            if depth == 0 and start < 0 and i and (text[i - 1].isalnum() or text[i - 1] == "_"):
                start = i
            depth += 1
        elif ch in ")]}":
            depth -= 1
    if start < 0 or not text.endswith(")") or _closing(text, start) != len(text) - 1:
        return [pad + text]  # only a call that runs to the end of the statement is broken
    head, inner = text[: start + 1], text[start + 1 : -1]
    args = _split_args(inner)
    one = pad + "    " + ", ".join(args)
    if len(one) <= LINE:
        return [pad + head, one, pad + ")"]
    return [pad + head] + [pad + "    " + a + "," for a in args] + [pad + ")"]


def _closing(text: str, open_at: int) -> int:
    """The index of the bracket closing the one at ``open_at`` (-1 if none)."""
    depth, quote = 0, None
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split_args(inner: str) -> list[str]:
    out, depth, cur, quote = [], 0, "", None
    for ch in inner:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


_XFN = {"min": "minimum", "max": "maximum"}


class ValueGenerator:
    """Semantic model → the source of ``value(t)`` (and the helper functions it calls).

    This is the one definition of evaluation: every backend executes the code it writes
    (in-process, through :func:`load`) and ``clrdsl compile`` writes the same text out.
    A finite node clamps its clock at its length; ``schedule * scale`` is
    ``base + (value - base) * scale``; a sequence is ``ops.piecewise(t, starts, phases)``
    with one function per phase, so each backend evaluates a phase on its own steps
    (NumPy: a gather per phase; Python floats: the one current phase; in-graph
    backends: a ``where`` chain). Chains of ``+ - * /`` are written iteratively, so a
    long flat sum never recurses.
    """

    def __init__(self, copier: SourceCopier, clocks: tuple = ()) -> None:
        self.copier = copier
        self.functions: list[str] = []  # helper functions, then value()
        # A schedule with plateau clocks is a function of (t, k): k holds the count of
        # each clock, in the order of `model.plateau_clocks`; every function takes it on.
        self.counts = {pc.clock: i for i, pc in enumerate(clocks)}
        self.probing = False  # probes (the tools) read a node before any report: k defaults to 0s

    def generate(self, root: M.Sched, name: str = "value", doc: str = "") -> str:
        if isinstance(root, M.Seq):  # the common warmup >> decay: value() is the sequence
            self._seq(root, Expr("t"), name, doc)
        else:
            self.function(name, lambda body, t: self._sched(body, root, t, math.inf), doc)
        return "\n\n".join(self.functions)

    def function(self, name: str, build, doc: str = "", arg: str = "t") -> str:
        """Append ``def name(arg): ...`` whose return value ``build(body, Expr(arg))`` writes."""
        body = _Body({arg, "k"} if self.counts else {arg})
        result = build(body, Expr(arg))
        body.line(f"return {result.text}")
        k = "k" if not self.counts or not self.probing else f"k={literal((0,) * len(self.counts)).text}"
        head = [f"def {name}({arg}, {k}):" if self.counts else f"def {name}({arg}):"]
        if doc:
            head.append(f'    """{doc}"""')
        self.functions.append("\n".join(head + body.lines) + "\n")
        return name

    def _arg(self, v: Any) -> str:
        """A shape's or scale's argument: its literal, but ``math.inf`` for an infinity
        (``cap=inf``), a constant where ``float("inf")`` is a call at every step."""
        cp = self.copier
        free = cp.imports.get("math") == "import math" or ("math" not in cp.imports and "math" not in cp.taken)
        if isinstance(v, float) and math.isinf(v) and free:  # (else `math` means something else here)
            cp.add_import("import math", "math")
            return "math.inf" if v > 0 else "-math.inf"
        return literal(v).text

    # schedules
    def _sched(self, body: _Body, node: M.Sched, t: Expr, bound: float) -> Expr:
        if node.length < bound:  # hold past the end: the clock stops at the length
            t = body.let("t", call("ops.minimum", t.text, literal(node.length).text))
        return self._node(body, node, t)

    def _node(self, body: _Body, node: M.Sched, t: Expr) -> Expr:
        if isinstance(node, M.Const):
            return literal(float(node.value))
        if isinstance(node, M.Prim):
            fn = self.copier.copy(node.shape.value)
            return call(fn, "ops", t.text, *(f"{k}={self._arg(v)}" for k, v in node.args))
        if isinstance(node, M.Window):
            return self._sched(body, node.sched, t, node.length)
        if isinstance(node, M.Pointwise):
            return self._pointwise(body, node, t)
        if isinstance(node, M.Modulate):
            return self._modulate(body, node, t)
        if isinstance(node, M.Seq):
            return self._seq(node, t)
        raise EmitError(f"not a schedule node: {type(node).__name__}", code="E513",
                        expected="a node of clrdsl.semantics.model", found=type(node).__name__)

    def _pointwise(self, body: _Body, node: M.Pointwise, t: Expr) -> Expr:
        # The left spine of `a + b - c * d ...` iteratively: clocks top-down, values bottom-up.
        spine: list[tuple[M.Pointwise, Expr]] = []
        cur: M.Sched = node
        while isinstance(cur, M.Pointwise):
            spine.append((cur, t))
            left = cur.left
            if left.length < cur.length:
                t = body.let("t", call("ops.minimum", t.text, literal(left.length).text))
            cur = left
        acc = body.let("a", self._node(body, cur, t))
        for i, (pw, clock) in enumerate(reversed(spine)):
            b = body.let("b", self._sched(body, pw.right, clock, pw.length))
            acc = call(f"ops.{_XFN[pw.op]}", acc.text, b.text) if pw.op in _XFN else binop(pw.op, acc, b)
            if i + 1 < len(spine):
                acc = body.let("a", acc)
        return acc

    def _seq(self, node: M.Seq, t: Expr, name: str | None = None, doc: str = "") -> Expr:
        name = name or self.copier.fresh("sequence")
        phases = []
        n = len(node.phases)
        for i, (start, phase) in enumerate(zip(node.starts, node.phases)):
            end = literal(node.starts[i + 1]).text if i + 1 < n else "..."
            what = f"Phase {i + 1} of {n} of `{name}`: steps [{literal(start).text}, {end}), its clock from 0."
            phases.append(self.function(self.copier.fresh(f"{name}_phase_{i + 1}"),
                                        lambda body, c, p=phase: self._sched(body, p, c, math.inf), what))
        # the phase table is built once, at module level: a step costs O(log n), not O(n)
        starts, table = self.copier.fresh(f"{name.upper()}_STARTS"), self.copier.fresh(f"{name.upper()}_PHASES")
        self.functions.append(_tuple_statement(starts, [literal(v).text for v in node.starts])
                              + _tuple_statement(table, phases))
        shown = ", ".join(literal(s).text for s in node.starts[:4]) + (", ..." if n > 4 else "")
        more = ("k",) if self.counts else ()
        self.function(name, lambda body, c: call("ops.piecewise", c.text, starts, table, *more),
                      doc or f"{n} phases starting at steps {shown}.")
        return call(name, t.text, *more)

    def _modulate(self, body: _Body, node: M.Modulate, t: Expr) -> Expr:
        s = body.let("v", self._node(body, node.sched, t))
        base = literal(float(node.base))
        c = None
        if "cycle" in M.scale_clocks(node.scale):
            c = body.let("cycle", self._cycle(node.sched, t))
        k = body.let("k", self._scale(body, node.scale, t, c))
        return binop("+", base, binop("*", binop("-", s, base), k))

    def _cycle(self, node: M.Sched, t: Expr) -> Expr:
        while isinstance(node, (M.Modulate, M.Window, M.Pointwise)):
            if isinstance(node, M.Pointwise):
                if node.cycle_source is None:
                    break
                node = node.cycle_source
            else:
                node = node.sched
        if isinstance(node, M.Prim) and node.shape.cycle is not None:
            fn = self.copier.copy(node.shape.cycle)
            return call(fn, "ops", t.text, *(f"{k}={self._arg(v)}" for k, v in node.args))
        raise EmitError("a scale on=cycle needs a cyclic schedule", code="E513",  # the checker prevents this
                        expected="a cyclic schedule", found=type(node).__name__)

    # scales
    def _scale(self, body: _Body, node: M.Scale, t: Expr, c: Expr | None) -> Expr:
        if isinstance(node, M.ScalePrim):
            fn = self.copier.copy(node.fn.value)
            x = self._clock(node.clock, t, c)
            return call(fn, "ops", x.text, *(f"{k}={self._arg(v)}" for k, v in node.args))
        if isinstance(node, M.ScaleExpr):
            x = body.let("x", call("ops.float", self._clock(node.clock, t, c).text))
            return self._x(node.body, x)
        if isinstance(node, M.ScaleConst):
            return literal(float(node.value))
        if isinstance(node, M.ScaleMul):
            a = body.let("k", self._scale(body, node.left, t, c))
            b = body.let("k", self._scale(body, node.right, t, c))
            return binop("*", a, b)
        if isinstance(node, M.ScalePow):
            a = self._scale(body, node.scale, t, c)
            return call("ops.power", a.text, literal(float(node.power)).text)
        raise EmitError(f"not a scale node: {type(node).__name__}", code="E513",
                        expected="a scale node of clrdsl.semantics.model", found=type(node).__name__)

    def _clock(self, clock: M.Clock, t: Expr, c: Expr | None) -> Expr:
        if isinstance(clock, M.Plateau):
            return Expr(f"k[{self.counts[clock]}]")
        return c if clock == "cycle" and c is not None else t

    def _x(self, node: M.XExpr, x: Expr) -> Expr:
        if isinstance(node, M.XVar):
            return x
        if isinstance(node, M.XNum):
            return literal(float(node.value))
        if isinstance(node, M.XNeg):
            return neg(self._x(node.operand, x))
        if isinstance(node, M.XBin):
            a, b = self._x(node.left, x), self._x(node.right, x)
            if node.op == "**":
                return call("ops.power", a.text, b.text)
            return binop(node.op, a, b)
        if isinstance(node, M.XCall):
            return call(f"ops.{_XFN.get(node.fn, node.fn)}", *(self._x(a, x).text for a in node.args))
        raise EmitError(f"not a clock-expression node: {type(node).__name__}", code="E513",
                        expected="a clock-expression node of clrdsl.semantics.model", found=type(node).__name__)

    # what the tools read: a node's cycle index and the factor of a modulation
    def cycle_function(self, node: M.Sched, name: str) -> str:
        return self.function(name, lambda body, t: self._cycle(node, t),
                             "The 0-based cycle index of the schedule at step `t`.")

    def scale_function(self, node: M.Modulate, name: str) -> str:
        def build(body, t):
            c = body.let("cycle", self._cycle(node.sched, t)) if "cycle" in M.scale_clocks(node.scale) else None
            return self._scale(body, node.scale, t, c)

        return self.function(name, build, "The modulation factor at step `t`.")


VALUE_DOC = "The schedule at step `t` (non-negative; past the end the value holds)."
VALUE_DOC_PLATEAU = ("The schedule at step `t` with `k[i]` reductions so far on its plateau clock `i` "
                     "(non-negative; past the end the value holds).")


# -- the module ------------------------------------------------------------------------------


def _rule(title: str) -> str:
    text = f"# -- {title} "
    return text + "-" * max(4, LINE - 12 - len(text))


def _bindings_text(checked: CheckedSchedule) -> str:
    return ", ".join(f"{k}={v}" for k, v in checked.bindings) or "none"


def _str_literal(text: str, indent: str = "    ") -> str:
    if len(text) <= 76 and "\n" not in text:
        return json.dumps(text)
    pieces, cur = [], ""
    for part in text.splitlines(keepends=True):
        while len(part) > 70:
            cut = part.rfind(" ", 0, 70) + 1 or 70
            pieces.append(cur + part[:cut]) if cur else pieces.append(part[:cut])
            cur, part = "", part[cut:]
        cur += part
        if cur.endswith("\n"):
            pieces.append(cur)
            cur = ""
    if cur:
        pieces.append(cur)
    return "(\n" + "".join(f"{indent}{json.dumps(p)}\n" for p in pieces) + ")"


def _top_level_names(src: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(src).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


@dataclass(frozen=True)
class Generated:
    """The code of one schedule for one target: ``code`` is what runs in-process (its
    imports, the copied ops, shapes and scales, ``value(t)`` and the entry);
    ``module`` is the standalone module ``clrdsl compile`` writes: a header, ``code``
    verbatim, and the wrapper."""

    code: str
    module: str
    filename: str


def generate(checked: CheckedSchedule, target: Target, *, probes: tuple = ()) -> Generated:
    """The generated code of ``checked`` on ``target``.

    ``probes`` asks for more functions of ``t`` beside ``value`` (what the tools read):
    ``("value", node, name)`` a sub-schedule, ``("cycle", node, name)`` a schedule's
    0-based cycle index, ``("scale", modulate_node, name)`` a modulation's factor.
    """
    plateaus = M.plateau_clocks(checked.root)
    # a schedule with plateau clocks is value(t, k): its backend drives it (no entry, no module)
    entry = textwrap.dedent(target.entry).strip() + "\n" if not plateaus else ""
    wrapper = textwrap.dedent(target.wrapper).strip() + "\n" if target.wrapper.strip() and not plateaus else ""
    imports_src = "\n".join(target.imports)
    reserved = {"ops", "value", "t", "EXPR", "BINDINGS", "FINGERPRINT", "LENGTH"}
    reserved |= _top_level_names(entry) | _top_level_names(wrapper) | _top_level_names(imports_src)
    copier = SourceCopier(reserved)
    for line in target.imports:
        for bound in _top_level_names(line):
            copier.imports.setdefault(bound, line)
    for obj in target.extras:
        if copier.copy(obj) != obj.__name__:
            raise EmitError(
                f"the {target.backend} wrapper's helper `{obj.__name__}` clashes with a generated name",
                code="E512", expected="distinct names", found=obj.__name__,
            )
    extra_blocks = list(copier.blocks)
    copier.blocks.clear()
    ops_name = copier.copy(target.ops)
    ops_blocks = list(copier.blocks)
    copier.blocks.clear()
    gen = ValueGenerator(copier, plateaus)
    gen.probing = not checked.expr
    gen.generate(checked.root, doc=VALUE_DOC if not gen.counts else VALUE_DOC_PLATEAU)
    for kind, node, name in probes:
        name = copier.fresh(name)
        if kind == "value":
            gen.function(name, lambda body, t, n=node: gen._sched(body, n, t, math.inf))
        elif kind == "cycle":
            gen.cycle_function(node, name)
        else:
            gen.scale_function(node, name)
    value_src = "\n\n".join(gen.functions)
    fn_blocks = list(copier.blocks)

    imports = sorted(set(copier.imports.values()), key=lambda s: (s.startswith("from "), s))
    stdlib = [i for i in imports if _top_package(i.split()[1]) in sys.stdlib_module_names]
    third = [i for i in imports if i not in stdlib]
    if copier.annotations:
        stdlib.insert(0, "from __future__ import annotations\n")
    length = checked.length
    consts = [
        f"EXPR = {_str_literal(checked.expr)}",
        "BINDINGS = {" + ", ".join(f"{json.dumps(k)}: {v!r}" for k, v in checked.bindings) + "}",
        f"FINGERPRINT = {json.dumps(checked.fingerprint)}",
        f"LENGTH = {literal(length if isinstance(length, int) else float(length)).text}"
        + ("  # the schedule never ends" if math.isinf(length) else "  # updates; after them the value holds"),
    ]
    parts = [
        "\n\n".join(p for p in ("\n".join(stdlib), "\n".join(third)) if p) + "\n\n" + "\n".join(consts),
        _rule(f"the ops namespace of the {target.backend} backend") + "\n\n"
        + render_blocks(ops_blocks + extra_blocks) + f"\n\n\nops = {ops_name}",
    ]
    if fn_blocks:
        parts.append(_rule("shapes and scales, copied from their plugins") + "\n\n" + render_blocks(fn_blocks))
    parts.append(_rule("the schedule") + "\n\n\n" + value_src.rstrip())
    if entry:
        parts.append(_rule(f"{target.framework} entry points") + "\n\n\n" + entry.rstrip())
    code = "\n\n\n".join(p.rstrip() for p in parts) + "\n"

    expr_lines = checked.expr.splitlines() or [""]
    header = [
        f"# Generated by `clrdsl compile --backend {target.backend}`. Do not edit: change the",
        "# expression and generate again.",
        "#",
        f"#   expr:        {expr_lines[0]}",
        *[f"#                {line}" for line in expr_lines[1:]],
        f"#   bindings:    {_bindings_text(checked)}",
        f"#   fingerprint: {checked.fingerprint}",
    ]
    usage = textwrap.dedent(target.usage).strip()
    doc = [
        f'"""A training schedule for {target.framework}, generated by clrdsl.',
        "",
        "Standalone: it imports only the framework and the standard library.",
    ]
    if usage:
        doc += ["", *usage.splitlines()]
    doc.append('"""')
    module = "\n".join(header + doc) + "\n\n" + code
    if wrapper:
        module += "\n\n" + _rule(f"the {target.framework} object") + "\n\n\n" + wrapper
    filename = f"<clrdsl {target.backend} {checked.fingerprint}{'' if checked.expr else f' probe {next(_PROBES)}'}>"
    return Generated(code, module, filename)


def emit_module(checked: CheckedSchedule, target: Target) -> str:
    """The standalone module for ``checked`` on ``target`` (a backend's ``emit``)."""
    refuse_plateau(checked, f"a standalone {target.framework} module")
    gen = generate(checked, target)
    _compile(gen.module, gen.filename, target)  # a generator bug must not reach the user as a file
    return gen.module


def refuse_plateau(checked: CheckedSchedule, what: str) -> None:
    """Plateau clocks need something that reports metrics: refuse them in ``what``."""
    clocks = M.plateau_clocks(checked.root)
    if clocks:
        from clrdsl.diagnostics.errors import ClrdslTypeError

        raise ClrdslTypeError(
            f"{what} cannot take reported metrics, so it cannot run a plateau clock",
            code="E644", span=clocks[0].clock.span, expected="a schedule of the update count alone",
            found="`on=plateau(...)`",
            hint="compile it in-process (`clrdsl.compile(expr, backend=...)`), whose object takes "
            "`report(metric)`; see docs/plateau.md",
        )


def _compile(text: str, filename: str, target: Target):
    try:
        return builtins.compile(text, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise EmitError(
            f"the code generated for the {target.backend} backend does not compile",
            code="E514", expected="valid Python", found=f"{type(exc).__name__}: {exc}",
        ) from None


_PROBES = itertools.count(1)
_LOADED: "collections.OrderedDict[tuple, types.ModuleType]" = collections.OrderedDict()
_LOADED_MAX = 256
_LOCK = threading.Lock()


def load(checked: CheckedSchedule, target: Target, *, probes: tuple = ()) -> types.ModuleType:
    """The generated code of ``checked`` on ``target``, executed in a fresh module: what
    a backend's in-process object calls (``module.value``, ``module.schedule``, ...).

    The text is the very text :func:`emit_module` writes, registered with
    :mod:`linecache` so tracebacks show it. Modules are cached per target and
    expression (the most recent 256).
    """
    key = (id(target), target.backend, checked.expr, checked.bindings)
    if not checked.expr:  # a probe of a model node (the tools): not cached
        return _execute(generate(checked, target, probes=probes), target)
    with _LOCK:
        mod = _LOADED.get(key)
        if mod is not None:
            _LOADED.move_to_end(key)
            return mod
    mod = _execute(generate(checked, target), target)
    with _LOCK:
        _LOADED[key] = mod
        while len(_LOADED) > _LOADED_MAX:
            _, old = _LOADED.popitem(last=False)
            linecache.cache.pop(old.__file__, None)
    return mod


def _execute(gen: Generated, target: Target) -> types.ModuleType:
    code = _compile(gen.code, gen.filename, target)
    mod = types.ModuleType(gen.filename.strip("<>").replace(" ", "_"))
    mod.__file__ = gen.filename
    linecache.cache[gen.filename] = (len(gen.code), None, gen.code.splitlines(keepends=True), gen.filename)
    exec(code, mod.__dict__)
    return mod


def probe(root: M.Sched, target: Target, probes: tuple = ()) -> types.ModuleType:
    """Generated functions of a model node (not a whole checked program) for the tools:
    ``value`` and each of ``probes`` (see :func:`generate`), executed in-process. A node
    with plateau clocks is read before any report: ``k`` defaults to all counts 0."""
    return load(CheckedSchedule("", (), root), target, probes=probes)
