"""Golden tests of the diagnostics: one input per file under tests/golden/errors/.

Each ``NAME.clr`` is checked with ``clrdsl.check``; its rendering must equal
``NAME.out`` byte for byte, and the table below pins the error class, code, the text
under the primary span (and under each label), the hint and, for inputs with several
errors, every code. To rewrite the ``.out`` files deliberately after changing a
message, run::

    CLRDSL_REGEN_GOLDEN=1 python -m pytest tests/test_parse_errors.py

and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import clrdsl
from clrdsl import (
    ClrdslError,
    ClrdslLimitError,
    ClrdslNameError,
    ClrdslSyntaxError,
    ClrdslTypeError,
    ClrdslValueError,
)

GOLDEN = Path(__file__).parent / "golden" / "errors"
REGEN = os.environ.get("CLRDSL_REGEN_GOLDEN") == "1"


@dataclass
class Case:
    cls: type
    code: str
    under: str  # the source text under the primary span
    labels: tuple[str, ...] = ()  # the text under each label span (in the text it points into)
    hint: str | None = None  # a substring of the hint
    codes: tuple[str, ...] = ()  # every code, for inputs with several errors
    bindings: dict = field(default_factory=dict)
    line: int = 1  # line of the primary span


CASES = {
    "missing_comma": Case(ClrdslSyntaxError, "E003", "0.006", hint="separate arguments with `,`"),
    "unclosed_paren": Case(ClrdslSyntaxError, "E004", "(", hint="add the missing `)`"),
    "unmatched_paren": Case(ClrdslSyntaxError, "E005", ")", hint="remove it"),
    "positional_after_keyword": Case(ClrdslSyntaxError, "E007", "0.006", labels=("step=2000",),
                                     hint="name this argument"),
    "colon_for_equals": Case(ClrdslSyntaxError, "E009", ":", hint="`step=2000`"),
    "trailing_operator": Case(ClrdslSyntaxError, "E006", "*", hint="remove the trailing operator"),
    "exponent_without_digits": Case(ClrdslSyntaxError, "E010", "1e"),
    "exponent_sign_without_digits": Case(ClrdslSyntaxError, "E010", "1e-"),
    "unknown_unit": Case(ClrdslSyntaxError, "E011", "eps", hint="did you mean `ep`?"),
    "space_before_unit": Case(ClrdslSyntaxError, "E011", "4 ep", hint="write `4ep`"),
    "duplicate_keyword": Case(ClrdslSyntaxError, "E008", "step", labels=("step",), line=3,
                              hint="remove one of them"),
    "empty_input": Case(ClrdslSyntaxError, "E012", ""),
    "only_a_comment": Case(ClrdslSyntaxError, "E012", "# the learning rate\n"),
    "equals_as_operator": Case(ClrdslSyntaxError, "E015", "=", hint="`let name = value`"),
    "definitions_without_body": Case(ClrdslSyntaxError, "E018", "", line=2,
                                     hint="end with the expression"),
    "definition_without_value": Case(ClrdslSyntaxError, "E006", "=", hint="complete the definition"),
    "unexpected_bracket": Case(ClrdslSyntaxError, "E001", "[", hint="parentheses"),
    "quoted_identifier": Case(ClrdslSyntaxError, "E001", "'cycle'", hint="`on=cycle`"),
    "keyword_as_name": Case(ClrdslSyntaxError, "E017", "then", hint="choose another name"),
    "two_expressions": Case(ClrdslSyntaxError, "E019", "exp", hint="`>>`"),
    "unknown_function": Case(ClrdslNameError, "E102", "triangulr", hint="did you mean `triangular`"),
    "unknown_keyword": Case(ClrdslTypeError, "E103", "stp", hint="did you mean `step`?"),
    "unknown_choice": Case(ClrdslValueError, "E209", "cycles", hint="did you mean `cycle`?"),
    "missing_argument": Case(ClrdslTypeError, "E106", "triangular(0.001, 0.006)", hint="add `step=...`"),
    "operator_type_error": Case(ClrdslTypeError, "E204", "+", labels=("exp(gamma=0.5)", "exp(gamma=0.5)"),
                                hint="scales combine with `*`"),
    "negative_gamma": Case(ClrdslValueError, "E301", "-1"),
    "gamma_above_one": Case(ClrdslValueError, "E303", "gamma=1.5"),
    "zero_step": Case(ClrdslValueError, "E301", "0"),
    "unit_without_binding": Case(ClrdslValueError, "E306", "4ep", hint="steps_per_epoch"),
    # the caret on the user's call, a label on the default inside the prelude's definition
    "total_steps_without_binding": Case(ClrdslValueError, "E306", "onecycle(0.1)", labels=("total_steps",),
                                        hint="total_steps=N"),
    "sequence_after_unbounded": Case(ClrdslTypeError, "E205", "triangular(0.001, 0.006, step=2000)",
                                     labels=(">>",), hint="take("),
    "cycle_scale_on_noncyclic": Case(ClrdslTypeError, "E207", "exp(gamma=0.5, on=cycle)",
                                     labels=("linear(0.1, 0.01, over=1000)",), hint="on=iterations"),
    "several_errors": Case(ClrdslNameError, "E102", "triangulr", codes=("E102", "E103", "E301"),
                           hint="did you mean `triangular`"),
    "error_in_definition": Case(ClrdslNameError, "E102", "cosin", line=2, hint="did you mean `cosine`?"),
    "nesting_too_deep": Case(ClrdslLimitError, "E014", "(", hint="`let`"),
}


def _source(name: str) -> str:
    return (GOLDEN / f"{name}.clr").read_text(encoding="utf-8")


def _error(name: str) -> ClrdslError:
    with pytest.raises(ClrdslError) as info:
        clrdsl.check(_source(name), name=f"{name}.clr", **CASES[name].bindings)
    return info.value


def test_every_golden_input_has_a_case_and_vice_versa():
    files = {p.stem for p in GOLDEN.glob("*.clr")}
    assert files == set(CASES)
    assert len(CASES) >= 18


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_rendering(name):
    err = _error(name)
    text = err.render(color=False)
    out = GOLDEN / f"{name}.out"
    if REGEN:
        out.write_text(text + "\n", encoding="utf-8")
    assert out.exists(), f"missing {out.name}: run with CLRDSL_REGEN_GOLDEN=1 and review it"
    assert text + "\n" == out.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_code_class_and_spans(name):
    case, src, err = CASES[name], _source(name), _error(name)
    assert type(err) is case.cls
    assert err.code == case.code
    assert err.span is not None
    assert src[err.span.start:err.span.end] == case.under
    assert err.source is not None and err.source.line_col(err.span.start)[0] == case.line
    first = err.diagnostics[0]
    assert err.span.source is not None and err.span.source.text == src  # the caret is in the user's text
    assert tuple(lb.span.text() for lb in first.labels) == case.labels
    if case.hint is not None:
        assert first.hint and case.hint in first.hint
    if case.codes:
        assert tuple(d.code for d in err.diagnostics) == case.codes
    else:
        assert len(err.diagnostics) == 1
    # every diagnostic says what was expected and what was found
    for d in err.diagnostics:
        assert d.expected and d.found is not None


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendering_is_well_formed(name):
    """The caret row underlines exactly the span, on the source line shown above it."""
    err = _error(name)
    src_line = _source(name).split("\n")
    lines = err.render().split("\n")
    assert lines[0].startswith(f"error[{err.code}]: ")
    line, col = err.source.line_col(err.span.start)
    assert lines[1].strip() == f"--> {name}.clr:{line}:{col}"
    shown, carets = lines[3], lines[4]
    assert shown.lstrip().startswith(f"{line} | ")  # the gutter is as wide as the widest line number shown
    gutter = shown.index("| ") + 2
    under = _source(name)[err.span.start:err.span.end].split("\n")[0]
    if len(src_line[line - 1]) <= 120:
        assert shown[gutter:] == src_line[line - 1]
        assert carets.index("^") == gutter + col - 1
        assert len(carets.rstrip()) - carets.index("^") == max(1, len(under))
    else:  # a long line is cut around the span
        assert len(shown) < 130 and ("..." in shown)


def test_several_errors_are_rendered_together():
    err = _error("several_errors")
    text = err.render()
    assert text.count("error[") == 3
    # in source order, each under its own line
    assert text.index("triangulr") < text.index("ovr") < text.index("over=-5")
    assert "2 |   >> linear(0, 0.1, ovr=500)" in text


def test_json_diagnostics():
    err = _error("duplicate_keyword")
    data = json.loads(err.to_json_str())
    assert data["source"] == "duplicate_keyword.clr"
    (d,) = data["errors"]
    assert d["code"] == "E008" and d["kind"] == "syntax"
    assert d["span"]["line"] == 3 and d["span"]["column"] == 12
    assert d["labels"][0]["span"]["line"] == 2 and d["labels"][0]["text"] == "first given here"
    assert {"expected", "found", "hint", "message"} <= set(d)


def test_color_rendering_only_adds_escapes():
    import re

    err = _error("operator_type_error")
    colored = err.render(color=True)
    assert "\x1b[" in colored
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == err.render(color=False)


def test_errors_are_builtin_exceptions_too_and_pickle():
    import pickle

    err = _error("unknown_keyword")
    assert isinstance(err, TypeError)
    assert isinstance(_error("missing_comma"), SyntaxError)
    assert isinstance(_error("zero_step"), ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and back.render() == err.render()
    assert str(err) == err.render()


@pytest.mark.parametrize(
    "text, code, under",
    [
        ("f(1,,2)", "E002", ","),
        ("1 >> >> 2", "E006", ">>"),
        ("if true then 1", "E002", ""),
        ("def f(a, a) = a\nf(1)", "E016", "a"),
        ("torch.optim.SGD", "E001", "."),
        ("triangular(0.001, 0.006, step=2000) # fine\n  ; 1", "E002", ";"),
        ("1e999 * 2", "E302", "1e999"),
        ("f(if=1)", "E017", "if"),
        ("1 + else", "E017", "else"),
        ("let = 1\n1", "E015", "="),
        ("triangular(0.001, 0.006, step=1ep)\n", "E306", "1ep"),
    ],
)
def test_more_diagnostics(text, code, under):
    with pytest.raises(ClrdslError) as info:
        clrdsl.check(text)
    err = info.value
    assert err.code == code, err.render()
    assert text[err.span.start:err.span.end] == under


def test_expected_tokens_are_exact_for_the_context():
    # LALR tables merge states; the parser reports what this context really accepts
    with pytest.raises(ClrdslSyntaxError) as info:
        clrdsl.parse("triangular(0.001, 0.006, step=2000) = 3")
    assert info.value.expected == "end of input or an operator"
    with pytest.raises(ClrdslSyntaxError) as info:
        clrdsl.parse("f(1 2)")
    assert info.value.expected == "`,` or `)`"
