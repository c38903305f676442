"""The checker's diagnostics: each class of semantic error, its code and its span.

Every error for bad input is a ``ClrdslError`` whose span points at the offending
text; several independent errors are reported together.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clrdsl
from clrdsl import (
    ClrdslError,
    ClrdslLimitError,
    ClrdslNameError,
    ClrdslSyntaxError,
    ClrdslTypeError,
    ClrdslValueError,
)
from clrdsl.diagnostics.errors import MAX_DIAGNOSTICS


def error(text, cls=ClrdslError, **bindings) -> ClrdslError:
    with pytest.raises(cls) as info:
        clrdsl.check(text, **bindings)
    return info.value


def at(text: str, span) -> str:
    return text[span.start:span.end]


def codes(exc: ClrdslError) -> list[str]:
    return [d.code for d in exc.diagnostics]


# -- names -------------------------------------------------------------------------------


def test_unknown_function_with_did_you_mean():
    text = "triangulr(0.001, 0.006, step=2000)"
    e = error(text, ClrdslNameError)
    assert e.code == "E102" and at(text, e.span) == "triangulr"
    assert "`triangular`" in e.hint and "unknown function `triangulr`" in e.message


def test_unknown_name_suggests_functions_and_definitions():
    text = "linear(0, 1, over=3) * lenear"
    e = error(text, ClrdslNameError)
    assert e.code == "E101" and at(text, e.span) == "lenear" and "`linear(...)`" in e.hint
    text = "let lr = 0.1; triangular(lr2, 0.6, step=5)"
    e = error(text, ClrdslNameError)
    assert at(text, e.span) == "lr2" and e.hint == "did you mean `lr`?"


def test_function_used_without_call():
    e = error("linear(0, 1, over=3) + cosine", ClrdslNameError)
    assert e.code == "E101" and "`cosine` is a function" in e.hint and "cosine(...)" in e.hint


def test_clock_variable_outside_a_scale():
    text = "triangular(0.1, 1, step=5) * x"
    e = error(text, ClrdslNameError)
    assert at(text, e.span) == "x" and "inline scale" in e.hint
    assert clrdsl.check("triangular(0.1, 1, step=5) * scale(x / 10, on=cycle)")


def test_unknown_keyword_with_did_you_mean_and_no_echo():
    text = "triangular(0.001, 0.006, stepp=2000)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E103" and at(text, e.span) == "stepp" and e.hint == "did you mean `step`?"
    assert "triangular(base: number, max: number, step: period" in e.expected
    # the misspelt keyword is not reported a second time as a missing `step`
    assert codes(e) == ["E103"]


def test_misspelt_keyword_with_a_default_is_reported_once():
    # `total` has a default (total_steps, unbound here): evaluating it would add noise
    text = "onecycle(0.1, totl=1000)"
    e = error(text, ClrdslTypeError)
    assert codes(e) == ["E103"] and at(text, e.span) == "totl" and e.hint == "did you mean `total`?"


# -- arguments ---------------------------------------------------------------------------


def test_missing_argument():
    text = "triangular(0.001, 0.006)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E106" and at(text, e.span) == text and "`step`" in e.message
    assert e.hint.startswith("add `step=...`")


def test_too_many_positional_arguments():
    text = "triangular(0.001, 0.006, 2000, 3000, 5000)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E104" and at(text, e.span) == "5000" and "at most 4" in e.message


def test_argument_given_twice():
    text = "triangular(0.001, 0.006, 2000, step=3)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E105" and at(text, e.span) == "step"
    assert at(text, e.diagnostics[0].labels[0].span) == "2000"
    e = error("triangular(0.001, 0.006, step=2000, step=3)", ClrdslSyntaxError)
    assert "given twice" in e.message


def test_schedule_where_a_number_is_expected():
    text = "triangular(linear(0, 1, over=3), 0.006, step=2000)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E208" and at(text, e.span) == "linear(0, 1, over=3)"
    assert "`base` of `triangular`" in e.message and e.found == "a schedule"


def test_duration_where_a_rate_is_expected():
    text = "triangular(4ep, 0.006, step=2000)"
    e = error(text, ClrdslTypeError, steps_per_epoch=10)
    assert e.code == "E208" and at(text, e.span) == "4ep" and "duration" in e.found
    text = "onecycle(0.1, total=1000, pct=30%)"
    e = error(text, ClrdslTypeError, total_steps=1000)
    assert e.code == "E208" and at(text, e.span) == "30%"


def test_choice_and_bool_arguments():
    text = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.9, on=cycles)"
    e = error(text, ClrdslValueError)
    assert e.code == "E209" and at(text, e.span) == "cycles" and e.hint == "did you mean `cycle`?"
    text = "onecycle(0.1, total=1000, anneal=cosine)"
    e = error(text, ClrdslValueError)
    assert at(text, e.span) == "cosine" and "`cos`" in e.hint
    text = "onecycle(0.1, total=1000, three_phase=yes)"
    e = error(text, ClrdslValueError)
    assert e.code == "E209" and at(text, e.span) == "yes"


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma,code,shown", [("0", "E301", "0"), ("-1", "E301", "-1"),
                                              ("1.5", "E303", "gamma=1.5")])
def test_gamma_out_of_range(gamma, code, shown):
    text = f"triangular(0.001, 0.006, step=2000) * exp(gamma={gamma})"
    e = error(text, ClrdslValueError)
    assert e.code == code and at(text, e.span) == shown and "gamma" in e.message


@pytest.mark.parametrize("arg", ["step=0", "step=-5", "step_down=0", "step=0it"])
def test_step_must_be_positive(arg):
    text = f"triangular(0.001, 0.006, step=10, {arg})" if arg.startswith("step_down") else \
        f"triangular(0.001, 0.006, {arg})"
    e = error(text, ClrdslValueError)
    assert e.code == "E301" and at(text, e.span) == arg.split("=")[1]
    assert "> 0" in e.message


def test_non_finite_numbers():
    text = "triangular(0.001, 1e400, step=5)"
    e = error(text, ClrdslValueError)
    assert e.code == "E302" and at(text, e.span) == "1e400"
    text = "linear(0, log(-1), over=3)"
    e = error(text, ClrdslValueError)
    assert e.code == "E302" and at(text, e.span) == "log(-1)"
    text = "linear(0, 1e300 * 1e300, over=3)"
    assert error(text, ClrdslValueError).code == "E302"
    # there is no NaN literal: `nan` is an unknown name
    assert error("triangular(0.001, nan, step=5)", ClrdslNameError).code == "E101"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -3, 0, 2.5, True, "10"])
def test_bad_bindings(value):
    e = error("linear(0, 1, over=30%)", ClrdslValueError, total_steps=value)
    assert e.code == "E308" and "total_steps" in e.message


def test_division_by_zero():
    text = "linear(0, 1, over=3) / (1 - 1)"
    e = error(text, ClrdslValueError)
    assert e.code == "E304" and at(text, e.span) == "/"
    text = "linear(0, 1 / 0, over=3)"
    e = error(text, ClrdslValueError)
    assert e.code == "E304" and at(text, e.span) == "/"


def test_base_above_max_is_accepted_upside_down_as_torch_does():
    # torch CyclicLR accepts base_lr > max_lr (base + (max - base) * f); the porting tests
    # compare the values with torch's
    checked = clrdsl.check("triangular(0.006, 0.001, step=5)")
    assert checked.root.base == 0.006


@pytest.mark.parametrize("pct", ["0", "1", "1.2", "-0.3"])
def test_pct_must_be_a_fraction(pct):
    text = f"onecycle(0.1, total=1000, pct={pct})"
    e = error(text, ClrdslValueError)
    assert e.code == "E301" and at(text, e.span) == pct and "(0, 1)" in e.message


@pytest.mark.parametrize("text,shown,words", [
    ("cosine_restarts(0.1, 0.2, period=5)", "0.2", "above max"),
    ("cosine_restarts(0.1, period=5, mult=0.5)", "mult=0.5", "mult must be >= 1"),
    ("exponential(0, 1, over=3)", "0", "must be > 0"),
    ("range_test(1, 0.1, over=3)", "0.1", "range test rises"),
    ("interp(0, 1, over=3, kind=exp)", "0", "exponential"),
])
def test_shape_validation_points_at_the_argument(text, shown, words):
    e = error(text, ClrdslValueError)
    assert e.code == "E303" and at(text, e.span) == shown and words in e.message


def test_missing_binding_names_the_binding():
    text = "triangular(0.001, 0.006, step=4ep)"
    e = error(text, ClrdslValueError)
    assert e.code == "E306" and at(text, e.span) == "4ep" and "`steps_per_epoch`" in e.message
    assert "steps_per_epoch=N" in e.hint
    text = "linear(0, 1, over=30%)"
    e = error(text, ClrdslValueError)
    assert e.code == "E306" and at(text, e.span) == "30%" and "`total_steps`" in e.message
    text = "onecycle(0.1)"
    e = error(text, ClrdslValueError)
    assert e.code == "E306" and at(text, e.span) == text and "total_steps" in e.message
    assert clrdsl.check(text, total_steps=100).length == 100


# -- operators -----------------------------------------------------------------------------


@pytest.mark.parametrize("text,op,left,right", [
    ("triangular(0.001, 0.006, step=2000) + exp(gamma=0.9)", "+", "a schedule", "a scale"),
    ("exp(gamma=0.9) - 1", "-", "a scale", "a number"),
    ("linear(0, 1, over=3) >> exp(gamma=0.9)", ">>", "a schedule", "a scale"),
    ("2000it + triangular(0.001, 0.006, step=5)", "+", "a duration", "a schedule"),
    ("triangular(0.001, 0.006, step=5) / linear(1, 2, over=3)", "/", "a schedule", "a schedule"),
    ("linear(0, 1, over=3) ** 2", "**", "a schedule", "a number"),
    ("exp(gamma=0.5) ** exp(gamma=0.5)", "**", "a scale", "a scale"),
    ("linear(0, 1, over=3) >> 4ep", ">>", "a schedule", "a duration"),
])
def test_operator_type_errors_name_both_types_and_point_at_the_operator(text, op, left, right):
    e = error(text, ClrdslTypeError, steps_per_epoch=3)
    assert e.code == "E204" and at(text, e.span) == op
    assert e.message == f"`{op}` cannot combine {left} and {right}"
    labels = [lb.text for lb in e.diagnostics[0].labels]
    assert labels == [left, right]
    assert e.hint and e.expected
    rendered = str(e)
    assert "^" * len(op) in rendered and left in rendered and right in rendered


def test_unbounded_left_of_sequence():
    text = "triangular(0.001, 0.006, step=2000) >> linear(0, 1, over=3)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E205" and at(text, e.span) == "triangular(0.001, 0.006, step=2000)"
    assert at(text, e.diagnostics[0].labels[0].span) == ">>" and "take(" in e.hint


def test_modulating_without_a_base_or_cycles():
    text = "(linear(0, 1, over=3) - linear(1, 0, over=3)) * exp(gamma=0.9)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E206" and at(text, e.span) == "linear(0, 1, over=3) - linear(1, 0, over=3)"
    text = "linear(0, 1, over=3) * exp(gamma=0.9, on=cycle)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E207" and at(text, e.span) == "exp(gamma=0.9, on=cycle)"


def test_wrong_kind_of_whole_expression_and_unary_minus():
    e = error("exp(gamma=0.9)", ClrdslTypeError)
    assert e.code == "E201" and "a scale" in e.message
    e = error("4ep", ClrdslTypeError, steps_per_epoch=3)
    assert e.code == "E201" and "duration" in e.message
    text = "-exp(gamma=0.5)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E203" and at(text, e.span) == text


def test_if_condition():
    text = "if tru then constant(1) else constant(2)"
    e = error(text, ClrdslTypeError)
    assert e.code == "E202" and at(text, e.span) == "tru" and e.hint == "did you mean `true`?"


# -- the prelude ----------------------------------------------------------------------------


PRELUDE = "grammar/prelude.clr"


def prelude_lines() -> list[str]:
    from importlib import resources

    return resources.files("clrdsl._grammar").joinpath("prelude.clr").read_text("utf-8").split("\n")


def prelude_line(*pieces: str, last: bool = False) -> int:
    """The 1-based line of the prelude file holding every piece (the first or last such)."""
    found = [i + 1 for i, line in enumerate(prelude_lines()) if all(p in line for p in pieces)]
    assert found, pieces
    return found[-1] if last else found[0]


def test_a_parameter_passed_on_unchanged_is_pointed_at_in_the_callers_text():
    text = "exp_range(0.001, 0.006, step=5, gamma=2)"
    e = error(text, ClrdslValueError)
    assert e.code == "E303" and at(text, e.span) == "gamma=2"
    assert e.span.source is not None and e.span.source.text == text  # the user's text, not the prelude's
    line = prelude_line("def exp_range(")
    assert f"while expanding the prelude's definition of `exp_range` ({PRELUDE}:{line})" in e.diagnostics[0].notes
    rendered = str(e)
    assert "--> <expr>:1:33" in rendered and text in rendered


def test_an_error_inside_a_prelude_definition_shows_the_call_and_the_definition():
    text = "onecycle(0.1, total=2)"  # over=pct * total - 1 = -0.4 inside the definition
    e = error(text, ClrdslValueError)
    d = e.diagnostics[0]
    # the primary caret: the user's call, in the user's text
    assert d.code == "E301" and at(text, d.span) == text and d.span.source.name == "<expr>"
    # the place inside the prelude, labelled as the prelude's (the span knows its text)
    (label,) = d.labels
    assert label.text == "in the prelude's definition of `onecycle`"
    assert label.span.source.name == PRELUDE and label.span.text() == "pct * total - 1"
    line = prelude_line("interp(max / div, max, over=pct * total - 1", last=True)  # the two-phase branch
    col = prelude_lines()[line - 1].index("pct * total - 1") + 1
    rendered = str(e)
    assert "--> <expr>:1:1" in rendered and f"::: {PRELUDE}:{line}:{col}" in rendered
    shown = rendered.splitlines()
    caret = next(i for i, row in enumerate(shown) if row.rstrip().endswith("^" * len(text)))
    assert shown[caret - 1].endswith(text)  # the caret row underlines the call
    under = next(row for row in shown if row.endswith("- in the prelude's definition of `onecycle`"))
    assert under.count("-" * len("pct * total - 1")) == 1
    # JSON: the label's span names the prelude and gives its line there
    js = e.to_json()["errors"][0]
    assert "source" not in js["span"] and js["span"]["line"] == 1
    assert js["labels"][0]["span"]["source"] == PRELUDE
    assert (js["labels"][0]["span"]["line"], js["labels"][0]["span"]["column"]) == (line, col)
    assert pickle.loads(pickle.dumps(e)).render() == e.render()


def test_a_default_of_a_prelude_definition_is_labelled_in_the_prelude():
    e = error("onecycle(0.1)", ClrdslValueError)  # total = total_steps, unbound
    d = e.diagnostics[0]
    assert d.code == "E306" and at("onecycle(0.1)", d.span) == "onecycle(0.1)"
    (label,) = d.labels
    assert label.span.source.name == PRELUDE and label.span.text() == "total_steps"
    assert label.span.source.line_col(label.span.start)[0] == prelude_line("def onecycle(", "total_steps")


def test_a_prelude_definition_inside_a_users_definition():
    text = "def f(m: number) = onecycle(m, total=2); f(0.1)"
    e = error(text, ClrdslValueError)
    # the user's definition is the user's text: the caret stays on the call inside it
    assert e.code == "E301" and at(text, e.span) == "onecycle(m, total=2)"
    assert e.diagnostics[0].labels[0].span.source.name == PRELUDE


def fake_prelude(monkeypatch, text: str):
    """Replace the prelude by ``text`` (parsed under the prelude's name) for one test."""
    import importlib

    from clrdsl.language import syntax as S

    C = importlib.import_module("clrdsl.language.check")

    prog = clrdsl.parse(text, PRELUDE, library=True)
    defs = {d.name: C.DefV(d, {}, prog.span.source) for d in prog.definitions if isinstance(d, S.Def)}
    monkeypatch.setattr(C, "prelude", lambda: defs)
    return prog.span.source


def test_nested_prelude_definitions_label_each_level(monkeypatch):
    src = fake_prelude(monkeypatch, "def inner(a: number) = linear(0, a, over=-1)\n"
                                    "def outer(b: number) = constant(b, over=1) >> inner(b)\n")
    text = "outer(0.1)"
    e = error(text, ClrdslValueError)
    d = e.diagnostics[0]
    assert d.code == "E301" and at(text, d.span) == text
    assert [(lb.span.text(), lb.text, lb.span.source.line_col(lb.span.start)[0]) for lb in d.labels] == [
        ("inner(b)", "in the prelude's definition of `outer`", 2),
        ("-1", "in the prelude's definition of `inner`", 1),
    ]
    assert all(lb.span.source is src for lb in d.labels)


def test_a_recursive_prelude_definition_is_labelled_once(monkeypatch):
    fake_prelude(monkeypatch, "def r(a: number) = r(a)\n")
    e = error("r(1)", ClrdslLimitError)
    d = e.diagnostics[0]
    assert d.code == "E307" and at("r(1)", d.span) == "r(1)"
    assert [(lb.span.text(), lb.text) for lb in d.labels] == [("r(a)", "in the prelude's definition of `r`")]


def test_the_budget_refused_inside_the_prelude_points_at_the_call(monkeypatch):
    defs = ["def d0(a: number) = constant(a, over=1)"]
    defs += [f"def d{i}(a: number) = d{i - 1}(a) >> d{i - 1}(a)" for i in range(1, 12)]  # 2**11 expansions
    fake_prelude(monkeypatch, "\n".join(defs) + "\n")
    text = "constant(1, over=1) >> d11(1)"
    e = error(text, ClrdslLimitError)
    d = e.diagnostics[0]
    assert d.code == "E309" and at(text, d.span) == "d11(1)"
    assert d.labels and all(lb.span.source.name == PRELUDE for lb in d.labels)
    assert d.labels[0].text == "in the prelude's definition of `d11`"


def test_a_range_error_inside_the_prelude_points_at_the_call(monkeypatch):
    fake_prelude(monkeypatch, "def boom(a: number) = constant(a) * 10 + constant(1)\n")
    text = "boom(1e308)"
    e = error(text, ClrdslValueError)
    d = e.diagnostics[0]
    assert d.code == "E310" and at(text, d.span) == text
    (label,) = d.labels
    assert label.span.text() == "constant(a) * 10" and label.text == "in the prelude's definition of `boom`"
    assert "`constant(a) * 10` can overflow" in d.message  # quoted from the prelude's text


def test_prelude_signature_reads_as_the_language():
    e = error("onecycle(total=1000)", ClrdslTypeError)
    assert e.code == "E106" and "`max`" in e.message
    assert "total: period = total_steps" in e.expected and "pct: fraction = 0.3" in e.expected
    assert "anneal: cos|linear = cos" in e.expected and "Name(" not in e.expected


def test_prelude_argument_errors_point_at_the_argument():
    text = "triangular2(0.001, 0.006, step=0)"
    e = error(text, ClrdslValueError)
    assert e.code == "E301" and at(text, e.span) == "0"


# -- definitions in user text ------------------------------------------------------------------


def test_let_and_def_in_user_text():
    c = clrdsl.check("let warm = linear(0, 0.1, over=5); def cyc(s: period = 4) = triangular(0.01, 0.1, step=s); "
                     "warm >> cyc()")
    assert c.length == float("inf")
    assert clrdsl.compile(c)(5) == 0.01


def test_a_failed_let_is_reported_once():
    text = "let a = triangulr(1, 2, step=3); a + a * 2"
    e = error(text, ClrdslNameError)
    assert codes(e) == ["E102"]


def test_def_parameter_kinds_are_checked_at_the_callers_argument():
    text = "def f(a: number, b: period) = triangular(a, 1, step=b); f(1, 0)"
    e = error(text, ClrdslValueError)
    assert e.code == "E301" and e.span.start == text.rindex("0") and "`b` of `f`" in e.message
    text = "def f(a: number, b: period) = cosine_restarts(a, 0.5, period=b); f(0.1, 5)"
    e = error(text, ClrdslValueError)  # a user def is the user's text: the span stays inside it
    assert e.code == "E303" and at(text, e.span) == "0.5"


def test_unknown_parameter_kind_in_a_def():
    text = "def f(a: numbr, b: choice) = constant(a); f(1) + f(2)"
    e = error(text, ClrdslNameError)
    assert codes(e) == ["E108", "E108"]  # and no echo from the two calls
    assert at(text, e.span) == "a: numbr" and e.hint == "did you mean `number`?"


@pytest.mark.parametrize("text,name", [
    ("def f(a) = f(a); f(1)", "f"),
    ("def f(a) = g(a); def g(a) = f(a); f(1)", "g"),
])
def test_recursion_limit(text, name):
    e = error(text, ClrdslLimitError)
    assert e.code == "E307" and f"`{name}`" in e.message and "recursive" in e.message
    assert isinstance(e, ClrdslValueError)


def test_nesting_limit():
    e = error("(" * 500 + "1" + ")" * 500, ClrdslLimitError)
    assert "nested" in e.message


# -- several errors at once ---------------------------------------------------------------------


def test_independent_errors_are_reported_together_in_order():
    text = "triangulr(0.1, 1, step=5) + linear(0, 1, ovr=3) + cosine(1, 0, over=-1)"
    e = error(text, ClrdslNameError)
    assert codes(e) == ["E102", "E103", "E301"]
    assert [at(text, d.span) for d in e.diagnostics] == ["triangulr", "ovr", "-1"]
    text = "triangular(0.1, 1, step=0, step_down=-1)"
    e = error(text, ClrdslValueError)
    assert [at(text, d.span) for d in e.diagnostics] == ["0", "-1"]


def test_many_errors_are_capped():
    text = " + ".join(f"linear(0, 1, over=-{i})" for i in range(1, MAX_DIAGNOSTICS + 4))
    e = error(text, ClrdslValueError)
    assert len(e.diagnostics) == MAX_DIAGNOSTICS and e.truncated == 3
    assert "3 more error(s)" in str(e)


def test_errors_serialise():
    text = "triangular(0.001, 0.006)\n  * exp(gamma=2)"
    e = error(text, ClrdslError)
    js = e.to_json()
    assert [x["code"] for x in js["errors"]] == ["E106", "E303"]
    assert js["errors"][1]["span"]["line"] == 2
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is type(e) and str(again) == str(e)


# -- robustness: bad input never escapes as a non-clrdsl exception ----------------------------------

TOKENS = ["triangular(", "linear(", "onecycle(", "exp(", "scale(", "take(", "cosine_restarts(", "wsd(", "sin(",
          "f(", ")", ",", "0.1", "1", "0", "-1", "3ep", "30%", "1e400", "step=", "over=", "gamma=", "on=",
          "total=", "pct=", "mult=", "kind=", "cycle", "iterations", "x", "pi", "total_steps", "*", ">>", "+",
          "-", "/", "**", "let a =", "def f(b: number) =", "def f(b: numbr) =", ";", "a", "if true then",
          "else", "true", "cos"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=16), st.booleans())
def test_token_soup_gives_clrdsl_errors_with_spans(tokens, bound):
    text = " ".join(tokens)
    bindings = {"steps_per_epoch": 10, "total_steps": 1000} if bound else {}
    try:
        clrdsl.compile(text, **bindings)(3)
    except ClrdslError as e:
        for d in e.diagnostics:
            assert d.span is not None, (text, d)
            assert 0 <= d.span.start <= d.span.end <= len(text)
