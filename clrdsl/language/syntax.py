"""The syntax tree: small frozen dataclasses, spans kept out of equality and repr.

This is what :func:`clrdsl.parse` returns and :func:`clrdsl.unparse` prints. It says
what was written, nothing more: names are not resolved and units are not converted
(that is the checker's job, which turns a tree into the semantic model).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Union

from clrdsl.diagnostics.errors import Span


def _nospan():
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Num:
    """A number literal, with an optional unit: ``it``, ``ep`` or ``%``."""

    value: float
    unit: str | None = None
    span: Span | None = _nospan()


@dataclass(frozen=True)
class Name:
    """A reference: a definition, a parameter, a constant (``pi``) or an identifier
    keyword value (``on=cycle``, ``anneal=cos``)."""

    id: str
    span: Span | None = _nospan()


@dataclass(frozen=True)
class Arg:
    """One call argument; ``name`` is None for a positional one."""

    value: "Expr"
    name: str | None = None
    span: Span | None = _nospan()
    name_span: Span | None = _nospan()


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Arg, ...] = ()
    span: Span | None = _nospan()
    func_span: Span | None = _nospan()


@dataclass(frozen=True)
class BinOp:
    """``+ - * / **`` and the sequencing operator ``>>``."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span | None = _nospan()
    op_span: Span | None = _nospan()


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    span: Span | None = _nospan()


@dataclass(frozen=True)
class If:
    """``if cond then a else b`` — a choice made at check time, on constant arguments."""

    cond: "Expr"
    then: "Expr"
    orelse: "Expr"
    span: Span | None = _nospan()


Expr = Union[Num, Name, Call, BinOp, Neg, If]


@dataclass(frozen=True)
class Let:
    """``let name = expr``: a named piece, usable in later definitions and the body."""

    name: str
    value: Expr
    span: Span | None = _nospan()
    name_span: Span | None = _nospan()


@dataclass(frozen=True)
class Param:
    """A parameter of a ``def``: ``name [: kind] [= default]``.

    ``kind`` is a parameter kind (``number``, ``duration``, ``fraction``, ...) or a
    choice of identifiers written ``cos|linear``; see docs/language.md.
    """

    name: str
    kind: tuple[str, ...] | None = None
    default: Expr | None = None
    span: Span | None = _nospan()


@dataclass(frozen=True)
class Def:
    """``def name(params) = expr``: a function written in the language (the prelude)."""

    name: str
    params: tuple[Param, ...]
    body: Expr
    span: Span | None = _nospan()
    name_span: Span | None = _nospan()


Definition = Union[Let, Def]


@dataclass(frozen=True)
class Program:
    """Definitions, then the expression the program stands for (None in a library
    such as the prelude, which only defines)."""

    definitions: tuple[Definition, ...]
    body: Expr | None
    span: Span | None = _nospan()


NODE_TYPES = {cls.__name__: cls for cls in (Num, Name, Arg, Call, BinOp, Neg, If, Let, Param, Def, Program)}


def children(node) -> list:
    """The direct sub-nodes of a syntax node, in source order."""
    out: list = []
    for f in fields(node):
        if f.name in ("span", "name_span", "func_span", "op_span"):
            continue
        v = getattr(node, f.name)
        if isinstance(v, tuple):
            out.extend(x for x in v if type(x).__name__ in NODE_TYPES)
        elif type(v).__name__ in NODE_TYPES:
            out.append(v)
    return out
