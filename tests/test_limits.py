"""Input limits: at most 64 KiB of text and 200 levels of nesting; the checker's budget.

Beyond either limit the error is a :class:`ClrdslLimitError` with a span, raised
quickly — never a RecursionError or a long wait. At the limit everything works: a
200-level expression parses, checks, compiles, prints and round-trips through JSON,
even when called from deep inside a program's own stack. A flat chain of one operator
(`a >> b >> c`, `a + b - c`) is one level, however long. What an expression expands to
(definitions calling definitions, `let`s used twice) is measured against the budget of
docs/design.md ("Safety") and refused with E309.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

import clrdsl
from clrdsl import ClrdslError, ClrdslLimitError
from clrdsl.language.parse import MAX_DEPTH, MAX_LENGTH
from clrdsl.language.unparse import from_json, to_json, unparse

# Hang detectors, not speed claims (these machines are shared; wall-clock bounds fail
# under load): a limit error is found by a linear scan of the text or of lark's tree,
# before any recursive pass, and the checker's work is bounded by its budget. The speed
# of the front end is measured against lark itself in benchmarks/bench_frontend.py.
QUICK_S = 60.0
BOUNDED_S = 120.0


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
CHAINS = ["sum", "product", "sequence"]  # flat: one level however long
NESTED = [k for k in KINDS if k not in CHAINS]


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


@pytest.mark.parametrize("kind", NESTED)
def test_nesting_beyond_the_limit(kind):
    err = _limit_error(_nested(kind, MAX_DEPTH + 1))
    assert err.code == "E014"
    assert "200 levels" in err.message
    assert err.hint and "let" in err.hint


@pytest.mark.parametrize("kind", ["parens", "minus", "calls"])
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


CHAIN_ITEMS = {
    ">>": "linear({v}, 0.05, over=7)",
    "+": "linear({v}, 0.05, over=7)",
    "-": "cosine({v}, 0.01, over=9)",
    "*": "constant({v})",
}


@pytest.mark.parametrize("op", sorted(CHAIN_ITEMS))
def test_a_flat_chain_of_a_thousand_items_is_not_nested(op):
    items = [CHAIN_ITEMS[op].format(v=0.1 + i % 7 * 0.01) for i in range(1000)]
    text = f" {op} ".join(items)

    def everything():
        tree = clrdsl.parse(text)
        assert unparse(tree) == text and clrdsl.parse(unparse(tree)) == tree
        assert from_json(json.loads(json.dumps(to_json(tree)))) == tree
        checked = clrdsl.check(text)
        fn = clrdsl.compile(checked)
        steps = [0, 3, 6999, 7000, 10**9]
        from clrdsl.evaluation.scalar import scalar_function

        f = scalar_function(checked)
        return fn(steps), [f(t) for t in steps]

    arr, scalar = _deep_stack(150, everything)
    assert np.all(np.isfinite(arr)) and np.allclose(arr, scalar, rtol=1e-12)
    if op == ">>":
        assert len(clrdsl.check(text).root.phases) == 1000 and arr[0] == 0.1


def test_the_longest_flat_sequence_that_fits_in_64_kib():
    text = _fill(lambda n: " >> ".join(["constant(0.1, over=1)"] * n) + " >> constant(0.2)")
    checked = clrdsl.check(text)
    n = len(checked.root.phases)
    assert n > 2500
    assert clrdsl.compile(checked)([0, n - 2, n - 1, n + 5]).tolist() == [0.1, 0.1, 0.2, 0.2]


BUDGET = {
    "recursive twice": "def f(x) = f(x) + f(x)\nf(1)",
    "doubling >> with lets": "let a0 = constant(1, over=1)\n" + "\n".join(
        f"let a{i} = a{i - 1} >> a{i - 1}" for i in range(1, 21)) + "\na20",
    "doubling + with lets": "let a0 = linear(0, 1, over=10)\n" + "\n".join(
        f"let a{i} = a{i - 1} + a{i - 1}" for i in range(1, 41)) + "\na40",
    "doubling calls": "def d(s) = s >> s\nlet a0 = constant(1, over=1)\n" + "\n".join(
        f"let a{i} = d(a{i - 1})" for i in range(1, 41)) + "\na40",
    "let chain of 2,000 nested links": "let a0 = linear(0, 1, over=10)\n" + "\n".join(
        f"let a{i} = 0.5 + 2 * a{i - 1}" for i in range(1, 2001)) + "\na2000",
    "1,000 chained scales": "let k0 = exp(gamma=0.9)\n" + "\n".join(
        f"let k{i} = (k{i - 1}) * exp(gamma=0.99)" for i in range(1, 1001)) + "\ntriangular(0.1, 1, step=10) * k1000",
}


@pytest.mark.parametrize("name", sorted(BUDGET))
def test_expansions_past_the_budget_are_refused(name):
    text = BUDGET[name]
    assert len(text) <= MAX_LENGTH
    err = _limit_error(text)
    assert err.code == "E309", err.render()
    assert "the expression expands to more than" in err.message and err.found


def test_a_let_chain_that_is_a_flat_product_is_accepted():
    # `a2000` is `linear(...) * 2 * 2 ... * 2`: a flat chain, so within the budget
    text = "let a0 = linear(0, 1, over=10)\n" + "\n".join(
        f"let a{i} = a{i - 1} * 1.0001" for i in range(1, 2001)) + "\na2000"
    checked = clrdsl.check(text)
    assert clrdsl.compile(checked)(10) == pytest.approx(1.0001**2000, rel=1e-9)


def test_the_budget_leaves_room_for_real_schedules():
    # a hundred prelude calls in a sequence: well inside every budget
    text = " >> ".join(f"onecycle({0.1 + i % 5 * 0.01}, total=100)" for i in range(100))
    assert len(clrdsl.check(text).root.phases) >= 100


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
