"""Source spans and the diagnostics every clrdsl error carries.

Every error the project raises for bad input is a :class:`ClrdslError`. It holds one
or more :class:`Diagnostic` records (several errors in one input are reported
together, capped at :data:`MAX_DIAGNOSTICS`); the exception's class, ``code`` and
``span`` are those of the first. Each kind also subclasses the matching builtin, so
``except ValueError`` keeps working for callers that know nothing of clrdsl.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Iterable, Sequence

MAX_DIAGNOSTICS = 8


@dataclass(frozen=True)
class Source:
    """A named source text (an expression, a config value, the prelude)."""

    text: str
    name: str = "<expr>"

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, col

    def line_text(self, line: int) -> str:
        lines = self.text.split("\n")
        return lines[line - 1] if 0 < line <= len(lines) else ""


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` in a source text.

    ``source`` is the text the range points into (the user's expression, a config
    value, the prelude), so a span is never read against the wrong text; None where the
    text is implied (an error's own ``source``). Spans compare by their range only, as
    they are kept out of the equality of syntax and model nodes; ask
    :meth:`same_source` which text two spans belong to.
    """

    start: int
    end: int
    source: Source | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)

    def join(self, other: "Span | None") -> "Span":
        if other is None:
            return self
        return Span(min(self.start, other.start), max(self.end, other.end), self.source or other.source)

    def same_source(self, other: "Span | Source | None") -> bool:
        """Whether this span points into the same text as ``other`` (a span or a source);
        a span that does not know its source is taken to be in any."""
        theirs = other.source if isinstance(other, Span) else other
        if self.source is None or theirs is None:
            return True
        return self.source is theirs or self.source == theirs

    def text(self) -> str | None:
        """The text the span covers, when it knows its source."""
        return None if self.source is None else self.source.text[self.start:self.end]


@dataclass(frozen=True)
class Label:
    """A secondary span with a short label ("first given here")."""

    span: Span
    text: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    kind: str = "value"  # syntax | name | type | value | limit | plugin


class ClrdslError(Exception):
    """Base of every clrdsl error: code, span, message, expected/found, did-you-mean."""

    kind = "value"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str = "E000",
        span: Span | None = None,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
        labels: Sequence[Label] = (),
        notes: Sequence[str] = (),
        source: Source | None = None,
        diagnostics: Sequence[Diagnostic] | None = None,
        truncated: int = 0,
    ) -> None:
        if diagnostics is None:
            diagnostics = [
                Diagnostic(
                    code=code,
                    message=message or "",
                    span=span,
                    expected=expected,
                    found=found,
                    hint=hint,
                    labels=tuple(labels),
                    notes=tuple(notes),
                    kind=self.kind,
                )
            ]
        if source is not None:  # a span that did not say which text it points into: this one
            diagnostics = [_in_source(d, source) for d in diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        self.source = source
        self.truncated = truncated
        first = self.diagnostics[0]
        self.code = first.code
        self.span = first.span
        self.message = first.message
        self.expected = first.expected
        self.found = first.found
        self.hint = first.hint
        super().__init__(first.message)
        object.__setattr__(self, "_frozen", True)

    # Immutable once made: an error may be cached (a broken plugin's) and rendered by
    # several callers and threads at once, so nobody may re-point it; make a new one
    # with :meth:`replace` instead.
    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_frozen", False) and not (name.startswith("__") and name.endswith("__")):
            raise AttributeError(f"clrdsl errors are immutable once made (tried to set `{name}`); "
                                 "use .replace(...) for a changed copy")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if not (name.startswith("__") and name.endswith("__")):
            raise AttributeError(f"clrdsl errors are immutable once made (tried to delete `{name}`)")
        object.__delattr__(self, name)

    def copy(self) -> "ClrdslError":
        """A new error with the same diagnostics (what a cache hands each caller)."""
        return type(self)(diagnostics=self.diagnostics, source=self.source, truncated=self.truncated)

    def replace(self, *, source: "Source | None" = None, **first) -> "ClrdslError":
        """A copy whose first diagnostic has the given fields replaced (``span=``,
        ``hint=``, ...), optionally with another ``source``."""
        from dataclasses import replace as dc_replace

        diags = list(self.diagnostics)
        if first:
            diags[0] = dc_replace(diags[0], **first)
        return type(self)(diagnostics=diags, source=self.source if source is None else source,
                          truncated=self.truncated)

    # Builtins such as SyntaxError format themselves; we always render our own way.
    def __str__(self) -> str:
        return self.render(color=False)

    def __reduce__(self):  # picklable across processes (multiprocessing, DDP)
        return (_rebuild_error, (type(self), self.diagnostics, self.source, self.truncated))

    def with_source(self, source: Source) -> "ClrdslError":
        """This error, or a copy of it pointing into ``source`` when it has none."""
        if self.source is None and source is not None:
            return self.replace(source=source)
        return self

    # -- rendering -----------------------------------------------------------------
    def render(self, color: bool = False) -> str:
        parts = [_render_one(d, self.source, color) for d in self.diagnostics]
        if self.truncated:
            parts.append(f"... and {self.truncated} more error(s) not shown")
        return "\n\n".join(parts)

    def to_json(self) -> dict:
        def one(d: Diagnostic) -> dict:
            out: dict = {"code": d.code, "kind": d.kind, "message": d.message}
            if d.span is not None:
                out["span"] = _span_json(d.span, self.source)
            for key in ("expected", "found", "hint"):
                if getattr(d, key) is not None:
                    out[key] = getattr(d, key)
            if d.labels:
                out["labels"] = [
                    {"span": _span_json(lb.span, self.source), "text": lb.text} for lb in d.labels
                ]
            if d.notes:
                out["notes"] = list(d.notes)
            return out

        return {
            "source": self.source.name if self.source else None,
            "errors": [one(d) for d in self.diagnostics],
            "truncated": self.truncated,
        }

    def to_json_str(self) -> str:
        return json.dumps(self.to_json(), indent=2)


class ClrdslSyntaxError(ClrdslError, SyntaxError):
    kind = "syntax"


class ClrdslNameError(ClrdslError, NameError):
    kind = "name"


class ClrdslTypeError(ClrdslError, TypeError):
    kind = "type"


class ClrdslValueError(ClrdslError, ValueError):
    kind = "value"


class ClrdslLimitError(ClrdslValueError):
    """The input is too long or too deeply nested."""

    kind = "limit"


class ClrdslPluginError(ClrdslError, ImportError):
    """A backend or function plugin is unknown, broken or missing its framework."""

    kind = "plugin"


_KIND_CLASS = {
    "syntax": ClrdslSyntaxError,
    "name": ClrdslNameError,
    "type": ClrdslTypeError,
    "value": ClrdslValueError,
    "limit": ClrdslLimitError,
    "plugin": ClrdslPluginError,
}


def _in_source(d: Diagnostic, source: Source) -> Diagnostic:
    """``d`` with every span that does not know its text pointing into ``source``."""
    def fix(span: Span | None) -> Span | None:
        return Span(span.start, span.end, source) if span is not None and span.source is None else span

    if (d.span is None or d.span.source is not None) and all(lb.span.source is not None for lb in d.labels):
        return d
    from dataclasses import replace

    return replace(d, span=fix(d.span), labels=tuple(Label(fix(lb.span) or lb.span, lb.text) for lb in d.labels))


def _rebuild_error(cls, diagnostics, source, truncated):
    return cls(diagnostics=diagnostics, source=source, truncated=truncated)


def error_from(diagnostics: Sequence[Diagnostic], source: Source | None, truncated: int = 0) -> ClrdslError:
    """One exception for several diagnostics: the class is that of the first.

    ``truncated`` counts diagnostics already dropped (by an inner collector)."""
    shown = list(diagnostics[:MAX_DIAGNOSTICS])
    cls = _KIND_CLASS.get(shown[0].kind, ClrdslError)
    return cls(diagnostics=shown, source=source,
               truncated=truncated + max(0, len(diagnostics) - len(shown)))


class Collector:
    """Gathers diagnostics so that one pass can report several errors at once."""

    def __init__(self, source: Source | None) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.truncated = 0

    def add(self, err: ClrdslError) -> None:
        self.diagnostics.extend(err.diagnostics)
        self.truncated += err.truncated

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise error_from(self.diagnostics, self.source, self.truncated)


def did_you_mean(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for a misspelt name, best first (case-insensitive)."""
    cands = sorted(set(candidates))
    lower = {c.lower(): c for c in cands}
    hits = difflib.get_close_matches(word.lower(), list(lower), n=n, cutoff=0.6)
    return [lower[h] for h in hits]


def suggestion_hint(word: str, candidates: Iterable[str]) -> str | None:
    close = did_you_mean(word, candidates)
    if not close:
        return None
    if len(close) == 1:
        return f"did you mean `{close[0]}`?"
    return "did you mean " + ", ".join(f"`{c}`" for c in close[:-1]) + f" or `{close[-1]}`?"


# -- rendering helpers -------------------------------------------------------------

_STYLE = {"error": "\x1b[1;31m", "note": "\x1b[1;36m", "caret": "\x1b[1;31m", "end": "\x1b[0m"}


def _span_json(span: Span, source: Source | None) -> dict:
    """A span as JSON: offsets, and line and column in the text it points into; a span
    into another text than the error's (the prelude) also names that text."""
    out: dict = {"start": span.start, "end": span.end}
    where = span.source or source
    if where is not None:
        line, col = where.line_col(span.start)
        out.update(line=line, column=col)
    if span.source is not None and source is not None and not span.same_source(source):
        out["source"] = span.source.name
    return out


def _render_one(d: Diagnostic, source: Source | None, color: bool) -> str:
    def st(key: str, text: str) -> str:
        return f"{_STYLE[key]}{text}{_STYLE['end']}" if color else text

    lines = [st("error", f"error[{d.code}]") + f": {escape(d.message)}"]
    home = (d.span.source if d.span is not None else None) or source  # the primary span's text
    if home is not None and d.span is not None:
        # each span is shown in the text it points into: labels in the primary's text
        # under its snippet, labels in another text (the prelude) under a `:::` header
        where = [(sp, sp.source or home) for sp in [d.span] + [lb.span for lb in d.labels]]
        gw = max(len(str(src.line_col(sp.start)[0])) for sp, src in where)  # gutter width
        line, col = home.line_col(d.span.start)
        lo = _window_start(home.line_text(line), col)
        lines.append(f"{' ' * gw}--> {escape(home.name)}:{line}:{col}")
        lines.extend(_snippet(home, d.span, "", st, gw, lo))
        elsewhere = []
        for lb in d.labels:  # secondary spans are underlined with `-`
            src = lb.span.source or home
            if not (src is home or src == home):
                elsewhere.append((lb, src))
                continue
            lb_line, lb_col = home.line_col(lb.span.start)
            if lb_line == line and _window_start(home.line_text(line), lb_col) == lo:
                # same line, same window: one more underline row under the primary's
                lines.append(_snippet(home, lb.span, lb.text, st, gw, lo, mark="-")[-1])
            else:
                lines.extend(_snippet(home, lb.span, lb.text, st, gw, None, mark="-"))
        for lb, src in elsewhere:
            lb_line, lb_col = src.line_col(lb.span.start)
            lines.append(f"{' ' * gw}::: {escape(src.name)}:{lb_line}:{lb_col}")
            lines.extend(_snippet(src, lb.span, lb.text, st, gw, None, mark="-"))
    if d.expected is not None:
        lines.append(f"  expected: {escape(d.expected)}")
    if d.found is not None:
        lines.append(f"     found: {escape(d.found)}")
    if d.hint:
        lines.append(st("note", "      help") + f": {escape(d.hint)}")
    for n in d.notes:
        lines.append(st("note", "      note") + f": {escape(n)}")
    return "\n".join(lines)


_LONG_LINE = 120  # longer source lines (a 64 KiB expression) are cut around the span


def _window_start(text: str, col: int) -> int:
    """Where the shown part of a long line starts, for a span at 1-based ``col``."""
    return 0 if len(text) <= _LONG_LINE else max(0, col - 1 - 50)


def _snippet(source: Source, span: Span, label: str, st, gw: int, lo: int | None,
             mark: str = "^") -> list[str]:
    """The source line of ``span`` and a row underlining it (``^`` for the primary
    span, ``-`` for a label), in a gutter ``gw`` characters wide. Control and bidi
    characters of the line are shown escaped, and the underline follows them."""
    line, col = source.line_col(span.start)
    end_line, end_col = source.line_col(span.end)
    text = source.line_text(line).replace("\t", " ")  # one column per character
    width = (end_col - col) if end_line == line else (len(text) - col + 1)
    if lo is None:
        lo = _window_start(text, col)
    if len(text) > _LONG_LINE:
        hi = min(len(text), lo + 110)
    else:
        lo, hi = 0, len(text)
    width = min(width, max(hi - (col - 1), 0))
    shown, offsets = _escape_with_offsets(text[lo:hi])
    a = min(max(col - 1 - lo, 0), hi - lo)
    b = min(a + width, hi - lo)
    caret_col, width = offsets[a], offsets[b] - offsets[a]
    if lo:
        shown, caret_col = "..." + shown, caret_col + 3
    if hi < len(text):
        shown += "..."
    pad = " " * gw
    underline = " " * caret_col + st("caret" if mark == "^" else "note", mark * max(1, width))
    return [
        f"{pad} |",
        f"{str(line).rjust(gw)} | {shown}",
        f"{pad} | {underline}" + (f" {escape(label)}" if label else ""),
    ]


# -- escaping what came from the input ----------------------------------------------------------

def _unsafe(ch: str) -> bool:
    """A character that must not reach a terminal raw: C0/C1 controls (escape sequences),
    format characters (bidi overrides and isolates, zero-width joiners), line and
    paragraph separators, and unpaired surrogates."""
    if ch == "\n":
        return False
    o = ord(ch)
    if o < 0x20 or 0x7F <= o < 0xA0:
        return True
    if o < 0x80:
        return False
    import unicodedata

    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def _esc_char(ch: str) -> str:
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else (f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")


def escape(text: str) -> str:
    """``text`` with control and bidi characters written as escapes (``\\x1b``, ``\\u202e``),
    newlines kept: what diagnostics print of anything that came from the input."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_esc_char(ch) if _unsafe(ch) else ch for ch in text)


def _escape_with_offsets(text: str) -> tuple[str, list[int]]:
    """``escape(text)`` (newlines escaped too) and, for each position of ``text``
    (and its end), the position in the escaped text."""
    out, offsets, n = [], [], 0
    for ch in text:
        offsets.append(n)
        piece = _esc_char(ch) if (ch == "\n" or _unsafe(ch)) else ch
        out.append(piece)
        n += len(piece)
    offsets.append(n)
    return "".join(out), offsets
