"""Input limits: at most 64 KiB of text and 200 levels of nesting.

Beyond either limit the error is a :class:`ClrdslLimitError` with a span, raised
quickly — never a RecursionError or a long wait. At the limit everything works: a
200-level expression parses, checks, compiles, prints and round-trips through JSON,
even when called from deep inside a program's own stack.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

import clrdsl
from clrdsl import ClrdslError, ClrdslLimitError
from clrdsl.parse import MAX_DEPTH, MAX_LENGTH
from clrdsl.unparse import from_json, to_json, unparse

# Generous: a limit error is found by a linear scan of the text or of lark's tree,
# before any recursive pass (a 64 KiB chain of operators is ~0.5 s of lark's time).
QUICK_S = 5.0
# A legal 64 KiB input is parsed by lark in linear time; this bound only catches a
# quadratic (or worse) pass, with room for a loaded CI machine.
BOUNDED_S = 20.0


def _limit_error(text: str) -> ClrdslLimitError:
    t0 = time.perf_counter()
    with pytest.raises(ClrdslLimitError) as info:
        clrdsl.check(text)
    assert time.perf_counter() - t0 < QUICK_S
    err = info.value
    assert err.span is not None and 0 <= err.span.start <= err.span.end <= len(text)
    assert isinstance(err, ValueError)  # a ClrdslLimitError is a ClrdslValueError
    err.render()
    return err


def _nested(kind: str, n: int) -> str:
    """An expression nested ``n`` levels deep in one way."""
    if kind == "parens":
        return "(" * n + "0.1" + ")" * n
    if kind == "calls":
        return "take(" * (n - 1) + "constant(0.1)" + ", over=10)" * (n - 1)
    if kind == "keyword_calls":
        return "take(schedule=" * (n - 1) + "constant(0.1)" + ", over=10)" * (n - 1)
    if kind == "math_calls":
        return "min(" * n + "0.1" + ", 1)" * n
    if kind == "sum":
        return " + ".join(["0.001"] * (n + 1))
    if kind == "product":
        return " * ".join(["1"] * (n + 1))
    if kind == "sequence":
        return " >> ".join(["constant(0.1, over=10)"] * n)  # n - 1 operators over calls
    if kind == "minus":
        return "-" * n + "0.1"
    if kind == "power":
        return "1 ** " * n + "1"
    if kind == "if":
        return "if true then " * n + "0.1" + " else 0.2" * n
    if kind == "inline_scale":
        return "triangular(0.1, 1, step=5) * scale(" + "sin(" * (n - 2) + "x" + ")" * (n - 2) + ")"
    raise AssertionError(kind)


KINDS = ["parens", "calls", "keyword_calls", "math_calls", "sum", "product", "sequence", "minus", "power",
         "if", "inline_scale"]


def test_input_longer_than_64_kib():
    text = "1 + " * (MAX_LENGTH // 4) + "1"
    assert len(text) > MAX_LENGTH
    err = _limit_error(text)
    assert err.code == "E013"
    assert err.span.start == MAX_LENGTH and err.span.end == len(text)
    assert str(MAX_LENGTH) in err.message
    # also huge inputs, of any content, are refused at once
    _limit_error("(" * (10 * MAX_LENGTH))
    _limit_error("x" * (MAX_LENGTH + 1))


@pytest.mark.parametrize("kind", KINDS)
def test_nesting_beyond_the_limit(kind):
    err = _limit_error(_nested(kind, MAX_DEPTH + 1))
    assert err.code == "E014"
    assert "200 levels" in err.message
    assert err.hint and "let" in err.hint


@pytest.mark.parametrize("kind", ["parens", "sum", "minus", "calls"])
def test_far_beyond_the_limit_is_still_quick(kind):
    n = (MAX_LENGTH - 100) // (len(_nested(kind, 3)) - len(_nested(kind, 2)))
    text = _nested(kind, n)
    assert len(text) <= MAX_LENGTH
    assert _limit_error(text).code == "E014"


def test_parenthesis_limit_points_at_the_first_parenthesis_too_deep():
    text = _nested("parens", 300)
    err = _limit_error(text)
    assert err.span.start == MAX_DEPTH and text[err.span.start] == "("
    # parentheses in comments do not count
    assert clrdsl.check("# " + "(" * 500 + "\n0.1").root.value == 0.1


def _deep_stack(depth: int, fn):
    """Call ``fn`` from ``depth`` frames down, as a program's own code might."""
    return fn() if depth == 0 else _deep_stack(depth - 1, fn)


@pytest.mark.parametrize("kind", KINDS)
def test_nesting_at_the_limit_works_everywhere(kind):
    text = _nested(kind, MAX_DEPTH)

    def everything():
        tree = clrdsl.parse(text)
        canon = unparse(tree)
        assert clrdsl.parse(canon) == tree
        assert from_json(json.loads(json.dumps(to_json(tree)))) == tree
        try:
            checked = clrdsl.check(text)
        except ClrdslError as err:  # a value error of the formula is fine, a limit error is not
            assert not isinstance(err, ClrdslLimitError), err.render()
            return None
        fn = clrdsl.compile(checked)
        return fn(3), fn([0, 3, 10_000])

    _deep_stack(150, everything)


def test_recursion_limit_is_only_raised_as_needed():
    before = sys.getrecursionlimit()
    clrdsl.check("triangular(0.001, 0.006, step=2000)")
    assert sys.getrecursionlimit() == before


def test_definitions_that_expand_forever_are_a_limit_error():
    err = _limit_error("def f(a) = f(a) + 1\nf(1)")
    assert err.code == "E307" and "recursive" in err.message


def _balanced(items: list[str], op: str) -> str:
    while len(items) > 1:
        items = [f"({items[i]} {op} {items[i + 1]})" if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]


def _fill(make) -> str:
    """The largest ``make(n)`` that fits in MAX_LENGTH."""
    lo, hi = 1, 2
    while len(make(hi)) <= MAX_LENGTH:
        lo, hi = hi, hi * 2
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if len(make(mid)) <= MAX_LENGTH else (lo, mid)
    return make(lo)


LEGAL_64K = {
    "balanced_sequence": lambda: _fill(lambda n: _balanced(["linear(0, 0.1, over=5)"] * n, ">>")),
    "many_definitions": lambda: _fill(
        lambda n: "\n".join(f"let a{i} = cosine(0.1, 0, over={i + 1})" for i in range(n)) + "\na0 >> a1"),
    "long_comment": lambda: _fill(lambda n: "# " + "c" * n + "\ntriangular(0.001, 0.006, step=2000)"),
}


@pytest.mark.parametrize("name", sorted(LEGAL_64K))
def test_a_legal_64_kib_input_is_handled_in_bounded_time(name):
    text = LEGAL_64K[name]()
    assert MAX_LENGTH - 200 < len(text) <= MAX_LENGTH
    t0 = time.perf_counter()
    checked = clrdsl.check(text)
    elapsed = time.perf_counter() - t0
    assert checked.length > 0
    assert elapsed < BOUNDED_S, f"{elapsed:.1f}s"
