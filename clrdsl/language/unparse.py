"""The canonical printer (tree → one text) and the JSON form of the syntax tree.

``parse(unparse(t)) == t`` for every tree the parser can produce; ``from_json(to_json(t))
== t`` likewise. Canonical text: single spaces around binary operators, none inside
calls, the fewest parentheses that keep the tree, numbers in their shortest exact form.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any

from clrdsl.diagnostics.errors import Span
from clrdsl.language import syntax as S

# Binding strength; higher binds tighter.
_PREC = {"if": 0, ">>": 1, "+": 2, "-": 2, "*": 3, "/": 3, "neg": 4, "**": 5, "atom": 6}


def format_number(value: float) -> str:
    if math.isinf(value):
        return "1e999"
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _prec(node) -> int:
    if isinstance(node, S.BinOp):
        return _PREC[node.op]
    if isinstance(node, S.Neg):
        return _PREC["neg"]
    if isinstance(node, S.If):
        return _PREC["if"]
    if isinstance(node, S.Num) and node.value < 0:
        return _PREC["neg"]
    return _PREC["atom"]


def _wrap(node, need: int) -> str:
    text = unparse(node)
    return f"({text})" if _prec(node) < need else text


def unparse(node) -> str:
    """One canonical text for a syntax tree (a Program or any expression node)."""
    if isinstance(node, S.Program):
        lines = [unparse(d) for d in node.definitions]
        if node.body is not None:
            lines.append(unparse(node.body))
        # A definition ends where its expression ends; when the next line starts with
        # `(` or `-` it would continue that expression, so `;` ends it explicitly.
        return "\n".join(
            line + (";" if i < len(node.definitions) and lines[i + 1][:1] in ("(", "-") else "")
            for i, line in enumerate(lines)
        )
    if isinstance(node, S.Num):
        if node.value < 0:
            return "-" + format_number(-node.value) + (node.unit or "")
        return format_number(node.value) + (node.unit or "")
    if isinstance(node, S.Name):
        return node.id
    if isinstance(node, S.Call):
        return f"{node.func}({', '.join(_arg(a) for a in node.args)})"
    if isinstance(node, S.Neg):
        return "-" + _wrap(node.operand, _PREC["neg"])
    if isinstance(node, S.BinOp):
        p = _PREC[node.op]
        if node.op == "**":
            left, right = _wrap(node.left, _PREC["atom"]), _wrap(node.right, _PREC["neg"])
        else:
            left, right = _wrap(node.left, p), _wrap(node.right, p + 1)
        return f"{left} {node.op} {right}"
    if isinstance(node, S.If):
        return f"if {unparse(node.cond)} then {unparse(node.then)} else {unparse(node.orelse)}"
    if isinstance(node, S.Let):
        return f"let {node.name} = {unparse(node.value)}"
    if isinstance(node, S.Def):
        return f"def {node.name}({', '.join(_param(p) for p in node.params)}) = {unparse(node.body)}"
    raise TypeError(f"not a clrdsl syntax node: {type(node).__name__}")


def _arg(a: S.Arg) -> str:
    return f"{a.name}={unparse(a.value)}" if a.name else unparse(a.value)


def _param(p: S.Param) -> str:
    out = p.name
    if p.kind:
        out += ": " + "|".join(p.kind)
    if p.default is not None:
        out += " = " + unparse(p.default)
    return out


# -- JSON -------------------------------------------------------------------------------

_SPAN_FIELDS = ("span", "name_span", "func_span", "op_span")


def to_json(node, spans: bool = False):
    """A JSON-ready dict for a syntax tree: ``{"node": "Call", "func": ..., ...}``."""
    if isinstance(node, tuple):
        return [to_json(x, spans) for x in node]
    if type(node).__name__ not in S.NODE_TYPES:
        if isinstance(node, float) and math.isinf(node):
            return "inf"
        return node
    out: dict[str, Any] = {"node": type(node).__name__}
    for f in fields(node):
        v = getattr(node, f.name)
        if f.name in _SPAN_FIELDS:
            if spans and v is not None:
                out[f.name] = [v.start, v.end]
            continue
        out[f.name] = to_json(v, spans)
    return out


def from_json(obj):
    """Inverse of :func:`to_json` (spans restored when present)."""
    if isinstance(obj, list):
        return tuple(from_json(x) for x in obj)
    if not isinstance(obj, dict):
        return obj
    cls = S.NODE_TYPES.get(obj.get("node", ""))
    if cls is None:
        raise ValueError(f"not a clrdsl syntax-tree JSON object: {obj!r:.80}")
    kwargs = {}
    for f in fields(cls):
        if f.name not in obj:
            continue
        v = obj[f.name]
        if f.name in _SPAN_FIELDS:
            kwargs[f.name] = Span(*v) if v is not None else None
        elif f.name == "value" and cls is S.Num:
            kwargs[f.name] = math.inf if v == "inf" else float(v)
        elif f.name == "kind" and v is not None:
            kwargs[f.name] = tuple(v)
        else:
            kwargs[f.name] = from_json(v)
    return cls(**kwargs)


_COMMENT = re.compile(r"#[^\n]*")  # the language has no strings: `#` always starts a comment


def format_source(text: str, name: str = "<expr>") -> str:
    """The canonical form of a program's source, with its comments kept.

    A comment on a line of its own stays on a line of its own, before the statement
    that follows it (or at the end); a comment after code, or inside a statement that
    spans several lines, follows that statement's canonical line. Formatting twice
    gives the same text, and the result parses to the same program.
    """
    from clrdsl.language.parse import parse

    prog = parse(text, name)
    canon = unparse(prog).split("\n") if (prog.definitions or prog.body is not None) else []
    stmts = [*prog.definitions, *([prog.body] if prog.body is not None else [])]
    starts = [s.span.start if s.span is not None else 0 for s in stmts]
    ends = [s.span.end if s.span is not None else 0 for s in stmts]
    leading: list[list[str]] = [[] for _ in range(len(stmts) + 1)]  # the last: after everything
    trailing: list[list[str]] = [[] for _ in stmts]
    for m in _COMMENT.finditer(text):
        pos, comment = m.start(), m.group().rstrip()
        after_code = text[text.rfind("\n", 0, pos) + 1:pos].strip() != ""
        inside = [i for i in range(len(stmts)) if starts[i] <= pos < ends[i]]
        before = [i for i in range(len(stmts)) if starts[i] <= pos]
        if inside:
            trailing[inside[-1]].append(comment)
        elif after_code and before:
            trailing[before[-1]].append(comment)
        else:
            leading[next((i for i in range(len(stmts)) if starts[i] > pos), len(stmts))].append(comment)
    out: list[str] = []
    for i, line in enumerate(canon):
        out.extend(leading[i])
        out.append("  ".join([line, *trailing[i]]))
    out.extend(leading[len(stmts)])
    return "\n".join(out)
