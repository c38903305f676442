"""Printing and parsing are inverses: text → tree → canonical text → the same tree.

Generated trees cover every construct of the grammar (tests/strategies.py); the JSON
form of the tree round-trips too, with and without spans.
"""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import MISSION, SEED_EXPRS, number_texts, programs, schedule_exprs, syntax_trees

import clrdsl
from clrdsl.language import syntax as S
from clrdsl.language.unparse import from_json, to_json, unparse


def _body(text: str):
    return clrdsl.parse(text).body


def _all_spans(node):
    out = [getattr(node, f) for f in ("span", "name_span", "func_span", "op_span") if hasattr(node, f)]
    for child in S.children(node):
        out.extend(_all_spans(child))
    return out


def _assert_round_trips(tree, parsed):
    """``parsed`` is ``parse(unparse(tree))`` (the body, for an expression)."""
    text = unparse(tree)
    assert parsed == tree, text
    # the canonical text is a fixed point
    assert unparse(parsed) == text
    # JSON, directly and through real JSON text (tuples become lists, inf a string)
    assert from_json(to_json(tree)) == tree
    assert from_json(json.loads(json.dumps(to_json(tree)))) == tree
    # with spans: the same tree, the same spans
    back = from_json(json.loads(json.dumps(to_json(parsed, spans=True))))
    assert back == parsed and _all_spans(back) == _all_spans(parsed)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(syntax_trees())
def test_expression_trees_round_trip(tree):
    _assert_round_trips(tree, _body(unparse(tree)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_programs_round_trip(prog):
    _assert_round_trips(prog, clrdsl.parse(unparse(prog)))


@settings(max_examples=300, deadline=None)
@given(number_texts())
def test_number_literals(case):
    text, value, unit = case
    num = _body(text)
    assert isinstance(num, S.Num)
    assert num.unit == unit
    assert num.value == value or (math.isinf(value) and math.isinf(num.value))
    # the canonical form of the number parses to the same value
    assert _body(unparse(num)) == num


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule_exprs(units=True))
def test_valid_schedules_round_trip_through_canonical_text(text):
    tree = clrdsl.parse(text)
    canon = unparse(tree)
    assert clrdsl.parse(canon) == tree
    assert unparse(clrdsl.parse(canon)) == canon


def test_mission_example_parses_exactly_as_written():
    tree = _body(MISSION)
    expected = S.BinOp(
        "*",
        S.Call("triangular", (S.Arg(S.Num(0.001)), S.Arg(S.Num(0.006)), S.Arg(S.Num(2000.0), "step"))),
        S.Call("exp", (S.Arg(S.Num(0.99994), "gamma"), S.Arg(S.Name("iterations"), "on"))),
    )
    assert tree == expected
    assert unparse(tree) == MISSION
    # spans point into the text as written
    assert MISSION[tree.op_span.start:tree.op_span.end] == "*"
    assert MISSION[tree.left.span.start:tree.left.span.end] == "triangular(0.001, 0.006, step=2000)"
    kw = tree.right.args[0]
    assert MISSION[kw.name_span.start:kw.name_span.end] == "gamma"
    assert MISSION[kw.span.start:kw.span.end] == "gamma=0.99994"
    # spacing, comments and trailing commas do not change the tree
    loose = "triangular( 0.001,0.006 ,step = 2_000, )*exp(gamma=.99994,on=iterations)  # CLR exp_range"
    assert _body(loose) == tree


@pytest.mark.parametrize("text", SEED_EXPRS)
def test_seed_expressions_are_canonical_fixed_points(text):
    canon = unparse(clrdsl.parse(text))
    assert unparse(clrdsl.parse(canon)) == canon
    assert clrdsl.parse(canon) == clrdsl.parse(text)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("1+2*3", "1 + 2 * 3"),
        ("(1+2)*3", "(1 + 2) * 3"),
        ("1-(2-3)", "1 - (2 - 3)"),
        ("(1-2)-3", "1 - 2 - 3"),
        ("a >> (b >> c)", "a >> (b >> c)"),
        ("2**3**4", "2 ** 3 ** 4"),
        ("(2**3)**4", "(2 ** 3) ** 4"),
        ("-2**2", "-2 ** 2"),
        ("(-2)**2", "(-2) ** 2"),
        ("2**-1", "2 ** -1"),
        ("--1", "--1"),
        ("(if a then b else c) >> d", "(if a then b else c) >> d"),
        ("if a then b else c >> d", "if a then b else c >> d"),
        ("f(a,b=1,)", "f(a, b=1)"),
        ("1e-3 + 6E-3 + 2_000 + 0.5e3it + 4ep + 30%", "0.001 + 0.006 + 2000 + 500it + 4ep + 30%"),
        ("let a = b;-1", "let a = b;\n-1"),
        ("let a = f;(1 + 2) * 2", "let a = f;\n(1 + 2) * 2"),
        ("let a = b\nlet c = a\nc", "let a = b\nlet c = a\nc"),
        ("def f(a:cos|linear=cos,b)=a\nf(1)", "def f(a: cos|linear = cos, b) = a\nf(1)"),
    ],
)
def test_canonical_spelling(text, canonical):
    tree = clrdsl.parse(text)
    assert unparse(tree) == canonical
    assert clrdsl.parse(canonical) == tree


def test_definition_followed_by_a_parenthesis_or_minus_keeps_its_boundary():
    # without the `;` the next line would continue the definition's expression
    prog = S.Program((S.Let("a", S.Name("f")),), S.BinOp("*", S.BinOp("+", S.Num(1.0), S.Num(2.0)), S.Num(3.0)))
    text = unparse(prog)
    assert text == "let a = f;\n(1 + 2) * 3"
    assert clrdsl.parse(text) == prog
    prog2 = S.Program((S.Let("a", S.Name("b")),), S.Neg(S.Num(1.0)))
    assert clrdsl.parse(unparse(prog2)) == prog2


def test_spans_stay_out_of_equality():
    a, b = clrdsl.parse("f(1, x=2)"), clrdsl.parse("  f( 1 ,x = 2 )")
    assert a == b and hash(a) == hash(b)
    assert a.body.span != b.body.span
