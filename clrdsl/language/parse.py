"""Text → syntax tree. The only module of the project that imports lark.

The grammar (``grammar/clrdsl.lark``) is loaded once per process. Lark's exceptions
and trees never leave this module: every failure becomes a :class:`ClrdslError`
with a span, what was expected and what was found.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from importlib import resources

from clrdsl.diagnostics.errors import (
    ClrdslLimitError,
    ClrdslSyntaxError,
    Collector,
    Label,
    Source,
    Span,
    suggestion_hint,
)
from clrdsl.language import syntax as S

MAX_LENGTH = 64 * 1024
MAX_DEPTH = 200
UNITS = ("it", "ep", "%")
KEYWORDS = ("let", "def", "if", "then", "else")

_NUM_RE = re.compile(
    r"(?P<mant>\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)"
    r"(?P<exp>[eE][+-]?\d(?:_?\d)*)?"
    r"(?P<rest>.*)\Z",
    re.S,
)


@functools.lru_cache(maxsize=None)
def grammar_text() -> str:
    return resources.files("clrdsl._grammar").joinpath("clrdsl.lark").read_text("utf-8")


@functools.lru_cache(maxsize=None)
def _parser():
    import lark

    return lark.Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",  # keywords are reserved everywhere (never read as names)
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "library"],
        cache=False,
    )


@functools.lru_cache(maxsize=None)
def _terminal_text() -> dict[str, str]:
    """Lark terminal name → how a person would write it."""
    out = {"$END": "end of input", "NUMBER": "a number", "NAME": "a name"}
    for t in _parser().terminals:
        if t.name not in out and t.pattern.type == "str":
            out[t.name] = f"`{t.pattern.value}`"
    return out


def parse(text: str, name: str = "<expr>", *, library: bool = False) -> S.Program:
    """Parse clrdsl text into a :class:`~clrdsl.language.syntax.Program`.

    ``library=True`` parses definitions only (the prelude, a plugin's definitions):
    the program's body is then None. Raises :class:`ClrdslSyntaxError` (or
    :class:`ClrdslLimitError`) with spans.
    """
    source = Source(text, name)
    if not isinstance(text, str):
        raise ClrdslSyntaxError(
            "a schedule must be text", code="E012", expected="a string", found=type(text).__name__
        )
    if len(text) > MAX_LENGTH:
        raise ClrdslLimitError(
            f"the input is {len(text)} characters long; the limit is {MAX_LENGTH}",
            code="E013",
            span=Span(MAX_LENGTH, len(text)),
            expected=f"at most {MAX_LENGTH} characters",
            found=f"{len(text)} characters",
            source=source,
        )
    if not library and not _strip_comments(text).strip():
        raise ClrdslSyntaxError(
            "empty schedule",
            code="E012",
            span=Span(0, len(text)),
            expected="an expression such as `triangular(0.001, 0.006, step=2000)`",
            found="nothing",
            source=source,
        )
    _check_parens(text, source)
    _prescan(text, source)  # refuse the 64 KiB worst cases before lark spends seconds on them
    import lark

    try:
        tree = _parser().parse(text, start="library" if library else "start")
    except lark.exceptions.UnexpectedInput as exc:
        raise _translate(exc, source, "library" if library else "start") from None
    _make_room(_check_depth(tree, source))
    return _Builder(source).program(tree)


def parse_expr(text: str, name: str = "<expr>") -> S.Expr:
    """Parse text that must be a single expression (no definitions)."""
    prog = parse(text, name)
    if prog.definitions:
        d = prog.definitions[0]
        raise ClrdslSyntaxError(
            "definitions are not allowed here", code="E015", span=d.span, source=Source(text, name),
            expected="a single expression", found=f"a definition of `{d.name}`",
        )
    return prog.body


# -- lark tree → syntax tree ---------------------------------------------------------


def _tree_span(tree, source: Source | None = None) -> Span:
    import lark

    if isinstance(tree, lark.Token):
        return Span(tree.start_pos, tree.end_pos, source)
    if getattr(tree.meta, "empty", True):
        return Span(0, 0, source)
    return Span(tree.meta.start_pos, tree.meta.end_pos, source)


_BINOPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "then": ">>"}


class _Builder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.errors = Collector(source)

    def _span(self, tree) -> Span:
        """The span of a lark tree or token, in this builder's source."""
        return _tree_span(tree, self.source)

    def program(self, tree) -> S.Program:
        kids = list(tree.children)
        body = self.expr(kids.pop()) if tree.data == "start" else None
        defs = tuple(self.definition(k) for k in kids)
        self.errors.raise_if_any()
        return S.Program(defs, body, span=Span(0, len(self.source.text), self.source))

    def definition(self, tree):
        if tree.data == "let_def":
            name, value = tree.children
            return S.Let(str(name), self.expr(value), span=self._span(tree), name_span=self._span(name))
        name, *rest = tree.children
        body = self.expr(rest[-1])
        params = []
        seen: dict[str, Span] = {}
        for p in rest[:-1]:
            if p is None:
                continue
            pname, kind, default = p.children
            pspan = self._span(pname)
            if str(pname) in seen:
                self.errors.add(
                    ClrdslSyntaxError(
                        f"parameter `{pname}` is declared twice",
                        code="E016",
                        span=pspan,
                        labels=[Label(seen[str(pname)], "first declared here")],
                        expected="distinct parameter names",
                        found=f"`{pname}` again",
                    )
                )
            seen[str(pname)] = pspan
            params.append(
                S.Param(
                    str(pname),
                    tuple(str(k) for k in kind.children) if kind is not None else None,
                    self.expr(default) if default is not None else None,
                    span=self._span(p),
                )
            )
        return S.Def(str(name), tuple(params), body, span=self._span(tree), name_span=self._span(name))

    def expr(self, tree) -> S.Expr:
        import lark

        if isinstance(tree, lark.Token):  # a bare token inlined by `?` rules
            if tree.type == "NUMBER":
                return self.number(tree)
            return S.Name(str(tree), span=self._span(tree))
        data = tree.data
        span = self._span(tree)
        if data == "number":
            return self.number(tree.children[0])
        if data == "name":
            return S.Name(str(tree.children[0]), span=span)
        if data == "neg":
            return S.Neg(self.expr(tree.children[0]), span=span)
        if data in _BINOPS:
            left, right = (self.expr(c) for c in tree.children)
            op = _BINOPS[data]
            return S.BinOp(op, left, right, span=span, op_span=self._op_span(op, left.span, right.span))
        if data == "if_expr":
            c, a, b = (self.expr(x) for x in tree.children)
            return S.If(c, a, b, span=span)
        if data == "call":
            return self.call(tree, span)
        raise AssertionError(f"unhandled grammar rule {data!r}")  # grammar and builder disagree

    def call(self, tree, span: Span) -> S.Call:
        import lark

        fname, *raw = tree.children
        args: list[S.Arg] = []
        first_kw: S.Arg | None = None
        seen: dict[str, S.Arg] = {}
        for a in raw:
            if a is None:
                continue
            if isinstance(a, lark.Tree) and a.data == "kwarg":
                kname, kval = a.children
                arg = S.Arg(self.expr(kval), str(kname), span=self._span(a), name_span=self._span(kname))
                if arg.name in seen:
                    prev = seen[arg.name]
                    self.errors.add(
                        ClrdslSyntaxError(
                            f"keyword argument `{arg.name}` is given twice in the call to `{fname}`",
                            code="E008",
                            span=arg.name_span,
                            labels=[Label(prev.name_span, "first given here")],
                            expected=f"`{arg.name}` at most once",
                            found=f"`{arg.name}` again",
                            hint="remove one of them",
                        )
                    )
                seen[arg.name] = arg
                first_kw = first_kw or arg
            else:
                arg = S.Arg(self.expr(a), None, span=self._span(a))
                if first_kw is not None:
                    self.errors.add(
                        ClrdslSyntaxError(
                            f"positional argument after a keyword argument in the call to `{fname}`",
                            code="E007",
                            span=arg.span,
                            labels=[Label(first_kw.span, "keyword argument here")],
                            expected="keyword arguments after all positional ones",
                            found="a positional argument",
                            hint="name this argument (`name=value`) or move it before the keywords",
                        )
                    )
            args.append(arg)
        return S.Call(str(fname), tuple(args), span=span, func_span=self._span(fname))

    def number(self, tok) -> S.Num:
        text = str(tok)
        span = self._span(tok)
        m = _NUM_RE.match(text)
        rest = m.group("rest") if m else text
        value_text = text[: len(text) - len(rest)] if m else "0"
        if rest and rest[0] in "eE" and re.fullmatch(r"[eE][+-]?", rest):
            self.errors.add(
                ClrdslSyntaxError(
                    f"malformed number `{text}`: the exponent has no digits",
                    code="E010",
                    span=span,
                    expected="digits after the exponent marker, as in `1e-3`",
                    found=f"`{text}`",
                )
            )
            return S.Num(0.0, None, span=span)
        unit = None
        if rest:
            if rest in UNITS:
                unit = rest
            else:
                hint = suggestion_hint(rest, UNITS)
                self.errors.add(
                    ClrdslSyntaxError(
                        f"unknown unit `{rest}` in `{text}`",
                        code="E011",
                        span=Span(span.start + len(value_text), span.end, self.source),
                        expected="a unit: `it` (updates), `ep` (epochs) or `%` (of total_steps)",
                        found=f"`{rest}`",
                        hint=hint,
                    )
                )
        return S.Num(float(value_text.replace("_", "")), unit, span=span)

    def _op_span(self, op: str, left: Span | None, right: Span | None) -> Span | None:
        if left is None or right is None:
            return None
        text = self.source.text
        i = left.end
        while i < right.start:
            if text.startswith("#", i):
                nl = text.find("\n", i)
                i = right.start if nl < 0 else nl + 1
                continue
            if text.startswith(op, i):
                return Span(i, i + len(op), self.source)
            i += 1
        return None


# Grammar rules that nest: each adds one level to the depth the limit counts.
_NESTING_RULES = frozenset(("add", "sub", "mul", "div", "pow", "then", "neg", "call", "if_expr"))
# Left-associative operators of one precedence: `a >> b >> c` or `a + b - c` is a flat
# chain, one level however long (its left spine is walked iteratively or with room made).
_CHAINS = {"then": "then", "add": "sum", "sub": "sum", "mul": "product", "div": "product"}


def _depth_error(span: Span, source: Source, found: str) -> ClrdslLimitError:
    span = Span(span.start, span.end, source)
    return ClrdslLimitError(
        f"the expression is nested more than {MAX_DEPTH} levels deep",
        code="E014",
        span=span,
        expected=f"at most {MAX_DEPTH} levels of nesting",
        found=found,
        hint="name intermediate pieces with `let`",
        source=source,
    )


def _check_parens(text: str, source: Source) -> None:
    """Reject more than MAX_DEPTH nested parentheses before lark sees the text.

    Parentheses leave no node in the tree, so this scan of the text is what bounds
    them; it points at the first `(` past the limit.
    """
    if text.count("(") <= MAX_DEPTH:
        return
    depth = 0
    for i, ch in enumerate(_strip_comments(text)):
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise _depth_error(Span(i, i + 1), source, f"`(` at nesting level {depth}")
        elif ch == ")" and depth:
            depth -= 1


# A call takes at most this many arguments (no function has more than a handful of
# parameters); checked by the pre-scan, so 32,000 arguments are refused at once.
MAX_ARGS = 255

_SCAN_TOKEN = re.compile(r">>|\*\*|[A-Za-z_][A-Za-z_0-9]*|(?:\d|\.\d)(?:[\w.%]|(?<=[eE])[+-])*|\S")
_SCAN_CLASS = {">>": 0, "+": 1, "-": 1, "*": 2, "/": 2, "**": 3}
_SCAN_RESET = frozenset((",", "=", ";", ":", "|") + KEYWORDS)


def _prescan(text: str, source: Source) -> None:
    """One linear pass over the tokens that refuses, before lark parses anything, what is
    certain to be refused later: a `)` with no `(`, a call with more than MAX_ARGS
    arguments, and a run of operators that nests deeper than MAX_DEPTH.

    Within one operand (between `(`/`,`/`=`/keywords), when ``**`` is the loosest
    operator present its chain nests (it is right-associative), so its count is a lower
    bound on the nesting: refusing past MAX_DEPTH here refuses only inputs the tree check
    would refuse too, but in milliseconds instead of the seconds lark takes for 64 KiB of
    operators. A chain of a left-associative operator (``>>``, ``+ -``, ``* /``) is flat:
    one level however long (see _check_depth).
    """
    if len(text) < 2 * MAX_DEPTH:
        return
    clean = _strip_comments(text)
    # per open parenthesis: [argument commas, first comma past MAX_ARGS, per-class counts, ...]
    stack: list[list] = [[0, [0, 0, 0, 0], [None] * 4]]
    prev, minus_run = "", 0

    def settle(seg) -> None:
        counts, where = seg[1], seg[2]
        for c in range(4):
            if counts[c]:
                if c == 3 and counts[c] > MAX_DEPTH:  # only a chain of `**` nests
                    raise _depth_error(Span(where[c], where[c] + (2 if c in (0, 3) else 1)), source,
                                       f"a chain of more than {MAX_DEPTH} operators")
                break
        seg[1], seg[2] = [0, 0, 0, 0], [None] * 4

    for m in _SCAN_TOKEN.finditer(clean):
        tok, pos = m.group(), m.start()
        if tok == "-" and not _operand_end(prev):  # unary minus: a run of them nests
            minus_run += 1
            if minus_run > MAX_DEPTH:
                raise _depth_error(Span(pos, pos + 1), source, f"more than {MAX_DEPTH} `-` in a row")
            prev = tok
            continue
        minus_run = 0
        if tok == "(":
            stack.append([0, [0, 0, 0, 0], [None] * 4])
        elif tok == ")":
            if len(stack) == 1:
                raise ClrdslSyntaxError(
                    "unmatched `)`", code="E005", span=Span(pos, pos + 1),
                    expected="an operator or the end of input" if _operand_end(prev) else "an expression",
                    found="`)` with no `(` before it", hint="remove it or add the missing `(`", source=source,
                )
            settle(stack.pop())
        elif tok in _SCAN_RESET:
            seg = stack[-1]
            settle(seg)
            if tok == "," and len(stack) > 1:
                seg[0] += 1
                if seg[0] >= MAX_ARGS:
                    raise ClrdslLimitError(
                        f"a call with more than {MAX_ARGS} arguments", code="E020", span=Span(pos, pos + 1),
                        expected=f"at most {MAX_ARGS} arguments", found=f"argument {seg[0] + 1} here",
                        hint="no function takes that many; check the commas", source=source,
                    )
        elif tok in _SCAN_CLASS and (tok != "-" or _operand_end(prev)):
            seg = stack[-1]
            c = _SCAN_CLASS[tok]
            seg[1][c] += 1
            if seg[1][c] == MAX_DEPTH + 1:
                seg[2][c] = pos
        prev = tok
    for seg in stack:
        settle(seg)


def _operand_end(tok: str) -> bool:
    return tok == ")" or (bool(tok) and (tok[0].isalnum() or tok[0] in "_.") and tok not in KEYWORDS)


def _check_depth(tree, source: Source) -> int:
    """Reject trees nested more than MAX_DEPTH levels (operators, unary minus, calls,
    `if`) before any recursive pass walks them: iterative, so never a RecursionError.

    A chain of one left-associative operator (``a >> b >> c``, ``a + b - c``) counts as
    one level, however long. Returns the depth of the tree itself (chains counted link by
    link), which is what recursive passes need room for."""
    import lark

    deepest = 0
    stack = [(tree, 0, 0, None)]  # node, nesting depth, tree depth, chain it continues
    while stack:
        node, depth, height, chain = stack.pop()
        if not isinstance(node, lark.Tree):
            continue
        mine = _CHAINS.get(node.data)
        if node.data in _NESTING_RULES:
            height += 1
            deepest = max(deepest, height)
            if mine is None or mine != chain:
                depth += 1
                if depth > MAX_DEPTH:
                    raise _depth_error(_tree_span(node), source, f"nesting level {depth}")
        kids = [c for c in node.children if c is not None]
        for i, c in enumerate(kids):
            # the left operand of a chain link continues the chain; everything else nests
            stack.append((c, depth, height, mine if i == 0 and mine is not None else None))
    return deepest


# The recursive passes over a tree (building it, checking, printing, JSON, dataclass
# equality) take at most this many Python frames per level of the tree.
FRAMES_PER_LEVEL = 8


def _make_room(depth: int) -> None:
    """Make sure the interpreter's recursion limit leaves room for every recursive pass
    over a tree this deep, counted from the caller's current stack depth.

    Only inputs near MAX_DEPTH need more than Python's default; the limit is only
    ever raised, by a bounded amount, so no pass over an accepted input can hit a
    RecursionError.
    """
    need = FRAMES_PER_LEVEL * depth + 250
    if need < 500 and sys.getrecursionlimit() >= 1000:
        return
    frame, used = sys._getframe(), 0
    while frame is not None:
        frame, used = frame.f_back, used + 1
    if sys.getrecursionlimit() < used + need:
        sys.setrecursionlimit(used + need)


# -- lark errors → diagnostics -------------------------------------------------------

_EXPR_START = {"NUMBER", "NAME", "LPAR", "MINUS", "IF"}
_ATOM_START = _EXPR_START - {"MINUS"}  # tokens that can only start an expression
_OPERATORS = ("**", ">>", "+", "-", "*", "/", "=")


def _strip_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), text)


def _describe_token(tok) -> str:
    if tok.type == "$END":
        return "end of input"
    if tok.type == "NUMBER":
        return f"number `{tok}`"
    if tok.type == "NAME":
        return f"name `{tok}`"
    if str(tok) in KEYWORDS:
        return f"keyword `{tok}`"
    return f"`{tok}`"


_OPERATOR_TERMS = {"PLUS", "MINUS", "STAR", "SLASH", "__ANON_0", "__ANON_1", "__ANON_2"}


def _describe_expected(names) -> str:
    names = set(names)
    table = _terminal_text()
    parts = []
    if _EXPR_START & names and {"NUMBER", "NAME"} <= names:
        parts.append("an expression")
        names -= _EXPR_START
    ops = {n for n in names if table.get(n, "").strip("`") in _OPERATORS and n != "EQUAL"}
    if len(ops) > 1:
        names -= ops
        names.add("an operator")
    order = ["COMMA", "RPAR", "EQUAL", "SEMICOLON"]
    for n in sorted(names, key=lambda n: (order.index(n) if n in order else 99, n)):
        parts.append(table.get(n, n))
    if not parts:
        return "something else"
    if len(parts) > 6:
        parts = parts[:6] + ["..."]
    return ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1]


def _open_parens(text: str, upto: int) -> list[int]:
    stack: list[int] = []
    clean = _strip_comments(text)
    for i, ch in enumerate(clean[:upto]):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
    return stack


def _clean_before(text: str, pos: int) -> str:
    """The text before ``pos``, comments blanked and trailing whitespace removed."""
    return _strip_comments(text)[:pos].rstrip()


def _last_word(text: str) -> str:
    m = re.search(r"(?:\d[\w.]*[eE][+-])?[\w.%]+\Z", text)
    return m.group() if m else ""


def _prev_operator(text: str, pos: int) -> Span | None:
    clean = _strip_comments(text)[:pos].rstrip()
    for op in _OPERATORS:
        if clean.endswith(op):
            return Span(len(clean) - len(op), len(clean))
    return None


def _acceptable(exc, text: str, pos: int, start: str) -> set[str]:
    """The terminals the grammar accepts at ``pos``, where the parser stopped.

    The ``expected`` set lark reports is inexact both ways: LALR tables merge states
    (so it can list `,` at top level), and the parser may already have reduced on the
    bad token (so after `f(1)` it lists only the end, not the operators). Re-reading
    the text before ``pos`` and asking which tokens could come next gives the exact set.
    """
    try:
        ip = _parser().parse_interactive(text[:pos], start=start)
        ip.exhaust_lexer()
        return set(ip.accepts())
    except Exception:  # pragma: no cover - fall back on what lark reported
        return set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())


def _translate(exc, source: Source, start: str) -> ClrdslSyntaxError:
    import lark

    text = source.text
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos]
        span = Span(pos, pos + 1)
        expected = _describe_expected(_acceptable(exc, text, pos, start))
        if ch in "'\"":
            close = text.find(ch, pos + 1)
            if close > 0 and "\n" not in text[pos:close]:
                inner = text[pos + 1 : close]
                bare = inner.strip()
                return ClrdslSyntaxError(
                    "strings are not part of the language",
                    code="E001",
                    span=Span(pos, close + 1),
                    expected=expected,
                    found=f"the quoted text `{text[pos:close + 1]}`",
                    hint=f"write identifiers bare, as in `on={bare}`"
                    if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", bare) else "remove the quotes",
                    source=source,
                )
        if ch == ":":
            return ClrdslSyntaxError(
                "`:` is not how arguments are named",
                code="E009",
                span=span,
                expected=expected,
                found="`:`",
                hint="keyword arguments use `=`, as in `step=2000`",
                source=source,
            )
        if ch.isdigit() or ch.isdecimal():  # a Unicode digit (fullwidth, Arabic-Indic, ...)
            first = pos
            while first > 0 and (text[first - 1] in "0123456789._"):
                first -= 1
            m = re.match(r"[\d._]+", text[first:])
            run = m.group() if m else ch
            ascii_run = "".join(str(unicodedata.digit(c, 0)) if c.isdigit() else c for c in run)
            return ClrdslSyntaxError(
                "numbers are written with ASCII digits", code="E001", span=Span(first, first + len(run)),
                expected=expected, found=f"`{run}` (Unicode digits)",
                hint=f"did you mean `{ascii_run}`?", source=source,
            )
        if ch == "[" or ch == "{":
            hint = "group with parentheses `( )`"
        elif ch == ".":
            hint = "attribute access is not part of the language; call functions by name"
        elif ch in "'\"":
            hint = "identifiers are written bare, as in `on=cycle`"
        else:
            hint = None
        return ClrdslSyntaxError(
            f"unexpected character `{ch}`",
            code="E001",
            span=span,
            expected=expected,
            found=f"`{ch}`",
            hint=hint,
            source=source,
        )

    tok = exc.token
    expected = _acceptable(exc, text, tok.start_pos if tok.type != "$END" else len(text), start)
    if tok.type == "$END":
        end = len(text.rstrip())
        opens = _open_parens(text, len(text))
        if opens and "RPAR" in expected:
            return ClrdslSyntaxError(
                "unclosed `(`",
                code="E004",
                span=Span(opens[-1], opens[-1] + 1),
                expected="`)` before the end of input",
                found="end of input",
                hint="add the missing `)`",
                source=source,
            )
        op = _prev_operator(text, end)
        if op is not None and text[op.start:op.end] == "=" and {"NUMBER", "NAME"} <= expected:
            return ClrdslSyntaxError(
                "`=` at the end has nothing after it",
                code="E006",
                span=op,
                expected="a value after `=`",
                found="end of input",
                hint="complete the definition or argument, as in `let warm = linear(0, 0.1, over=500)`",
                source=source,
            )
        if op is not None and {"NUMBER", "NAME"} <= expected:
            return ClrdslSyntaxError(
                f"`{text[op.start:op.end]}` at the end has no right-hand operand",
                code="E006",
                span=op,
                expected="an expression after the operator",
                found="end of input",
                hint="complete the expression or remove the trailing operator",
                source=source,
            )
        if "LET" in expected and "DEF" in expected:
            return ClrdslSyntaxError(
                "the definitions are not followed by an expression",
                code="E018",
                span=Span(end, end),
                expected="the schedule expression after the last definition",
                found="end of input",
                hint="end with the expression that uses the definitions, e.g. `warm >> decay`",
                source=source,
            )
        return ClrdslSyntaxError(
            "unexpected end of input",
            code="E002",
            span=Span(end, end),
            expected=_describe_expected(expected),
            found="end of input",
            source=source,
        )

    span = Span(tok.start_pos, tok.end_pos)
    found = _describe_token(tok)
    if tok.type == "RPAR" and not _open_parens(text, tok.start_pos):
        return ClrdslSyntaxError(
            "unmatched `)`", code="E005", span=span, expected=_describe_expected(expected),
            found="`)` with no `(` before it", hint="remove it or add the missing `(`", source=source,
        )
    prev = _clean_before(text, tok.start_pos)
    if str(tok) in KEYWORDS and "NAME" in expected and tok.type not in expected:
        return ClrdslSyntaxError(
            f"`{tok}` is a keyword; it cannot be used as a name",
            code="E017",
            span=span,
            expected=_describe_expected(expected),
            found=found,
            hint=f"choose another name, such as `{tok}_`",
            source=source,
        )
    if tok.type == "NAME" and str(tok) in UNITS and prev[-1:].isdigit() and not expected & _ATOM_START:
        number = _last_word(prev)
        return ClrdslSyntaxError(
            f"a space separates the number `{number}` from its unit `{tok}`",
            code="E011",
            span=Span(len(prev) - len(number), tok.end_pos),
            expected="the unit right after the number",
            found=f"`{text[len(prev) - len(number):tok.end_pos]}`",
            hint=f"write `{number}{tok}`",
            source=source,
        )
    if "COMMA" in expected and tok.type in _ATOM_START:
        return ClrdslSyntaxError(
            "missing `,` between arguments",
            code="E003",
            span=span,
            expected="`,` or `)`",
            found=found,
            hint="separate arguments with `,`",
            source=source,
        )
    if tok.type == "COLON":
        return ClrdslSyntaxError(
            "`:` is not how arguments are named", code="E009", span=span,
            expected=_describe_expected(expected), found="`:`",
            hint="keyword arguments use `=`, as in `step=2000`", source=source,
        )
    if tok.type == "EQUAL" and re.search(r"\b(let|def)\Z", prev):
        return ClrdslSyntaxError(
            f"`{prev[-3:]}` needs a name before `=`",
            code="E015", span=span, expected="a name", found="`=`",
            hint="write `let name = value`" if prev.endswith("let") else "write `def name(params) = body`",
            source=source,
        )
    kw = re.search(r"\b(if|then|else)\Z", prev)
    if tok.type == "EQUAL" and kw:  # `f(if=1)`: a keyword where a keyword argument's name goes
        return ClrdslSyntaxError(
            f"`{kw.group()}` is a keyword; it cannot be used as a name",
            code="E017", span=Span(kw.start(), kw.end()), expected="a name", found=f"keyword `{kw.group()}`",
            hint=f"choose another name, such as `{kw.group()}_`", source=source,
        )
    if tok.type == "EQUAL":
        return ClrdslSyntaxError(
            "`=` names a keyword argument or a definition; it is not an operator",
            code="E015", span=span, expected=_describe_expected(expected), found="`=`",
            hint="inside a call write `name=value`; at top level write `let name = value`",
            source=source,
        )
    if tok.type in _ATOM_START and not expected & _ATOM_START:
        return ClrdslSyntaxError(
            "two expressions in a row with no operator between them",
            code="E019",
            span=span,
            expected=_describe_expected(expected),
            found=found,
            hint="join them with an operator: `>>` runs one schedule after another, "
            "`*` modulates or multiplies, `+` adds",
            source=source,
        )
    op = _prev_operator(text, tok.start_pos)
    if op is not None and {"NUMBER", "NAME"} <= expected:
        return ClrdslSyntaxError(
            f"`{text[op.start:op.end]}` needs an expression on its right",
            code="E006",
            span=span,
            labels=[Label(op, "this operator")],
            expected="an expression",
            found=found,
            source=source,
        )
    return ClrdslSyntaxError(
        f"unexpected {found}",
        code="E002",
        span=span,
        expected=_describe_expected(expected),
        found=found,
        source=source,
    )
