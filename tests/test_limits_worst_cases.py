"""The 64 KiB worst cases are refused by a linear pre-scan before lark parses them, and
Unicode digits are refused with a did-you-mean to ASCII. (The speed itself is measured
against a peer in benchmarks/bench_worst_inputs.py; here only what the pre-scan decides.)"""

from __future__ import annotations

import pytest

import clrdsl
from clrdsl import ClrdslLimitError, ClrdslSyntaxError
from clrdsl.language.parse import MAX_ARGS, MAX_DEPTH, MAX_LENGTH
from clrdsl.language.unparse import unparse


def _refused(text: str, cls=ClrdslLimitError):
    import lark

    calls = []
    real = lark.Lark.parse

    def spy(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    lark.Lark.parse = spy
    try:
        with pytest.raises(cls) as info:
            clrdsl.parse(text)
    finally:
        lark.Lark.parse = real
    assert not calls, "refused before lark parsed the text"
    err = info.value
    assert 0 <= err.span.start <= err.span.end <= len(text)
    err.render()
    return err


def test_a_sum_with_an_unmatched_parenthesis():
    text = "1+" * 32767 + ")"
    assert len(text) <= MAX_LENGTH
    err = _refused(text, ClrdslSyntaxError)
    assert err.code == "E005" and err.span.start == len(text) - 1


def test_a_call_with_32000_arguments():
    text = "f(" + ",".join(["1"] * 32000) + ")"
    assert len(text) <= MAX_LENGTH
    err = _refused(text)
    assert err.code == "E020" and str(MAX_ARGS) in err.message
    assert clrdsl.parse("min(" + "1, " * 1 + "2)")  # ordinary calls are untouched


def _chain(op: str) -> str:
    text = f" {op} ".join(["1"] * 30000)[:MAX_LENGTH]
    return text[: text.rfind("1") + 1]


def test_a_long_chain_of_powers_nests_and_is_refused():
    assert _refused(_chain("**")).code == "E014"  # `**` is right-associative: real nesting


@pytest.mark.parametrize("op", ["+", "*", ">>", "-"])
def test_a_long_chain_of_a_left_associative_operator_is_flat(op):
    text = _chain(op)
    tree = clrdsl.parse(text)  # one level of nesting however long (tests/test_limits.py)
    assert unparse(tree) == text


def test_chains_at_the_limit_and_in_separate_operands_are_accepted():
    assert clrdsl.parse(" + ".join(["0.001"] * (MAX_DEPTH + 1)))  # 200 operators: depth 200
    many = ", ".join("+".join(["1"] * 150) for _ in range(3))  # 3 x 149 operators, separate arguments
    assert clrdsl.parse(f"f({many})")
    products = " + ".join("*".join(["2"] * 100) for _ in range(100))  # 99 `+`: `*` chains are separate
    assert clrdsl.parse(products)


@pytest.mark.parametrize("text, found, suggestion", [
    ("constant(１２)", "１２", "12"),
    ("constant(1２.5)", "1２.5", "12.5"),
    ("linear(٣, 0, over=٥٠)", "٣", "3"),
])
def test_unicode_digits_are_refused_with_ascii_suggestion(text, found, suggestion):
    with pytest.raises(ClrdslSyntaxError) as info:
        clrdsl.check(text)
    err = info.value
    assert err.code == "E001" and "ASCII digits" in err.message
    assert text[err.span.start:err.span.end] == found
    assert err.hint == f"did you mean `{suggestion}`?"
