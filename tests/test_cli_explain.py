"""`clrdsl explain` and the lints: golden explanations, one test per lint code.

Regenerate the golden files after an intended change with
``CLRDSL_UPDATE_GOLDEN=1 python -m pytest tests/test_cli_explain.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import clrdsl
from clrdsl.tools.cli import main
from clrdsl.tools.explain import ClrdslLintError, explain, lint, lint_error

GOLDEN = Path(__file__).parent / "golden" / "explain"
UPDATE = bool(os.environ.get("CLRDSL_UPDATE_GOLDEN"))

MISSION = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"

CASES = {
    "mission": [MISSION],
    "triangular2": ["triangular2(0.001, 0.006, step=2000)", "--total-steps", "30000"],
    "onecycle": ["onecycle(0.1, total=10_000)"],
    "warmup_cosine": ["linear(0, 0.1, over=1ep) >> cosine(0.1, 1e-5, over=19ep)", "--steps-per-epoch", "500",
                      "--total-steps", "10000"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_explain_golden(case):
    result = CliRunner().invoke(main, ["explain", *CASES[case]])
    assert result.exit_code == 0, result.output
    path = GOLDEN / f"{case}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text(encoding="utf-8")


def test_explain_numbers_come_from_the_schedule():
    ex = explain("onecycle(0.1, total=10_000)")
    s = clrdsl.compile("onecycle(0.1, total=10_000)")
    v = ex.facts["values"]
    assert v["max"] == {"step": 2999, "value": s(2999)} and s(2999) == 0.1
    assert v["start"]["value"] == s(0) and v["end"]["value"] == s(10_000)
    phases = ex.facts["structure"]["phases"]
    assert [(p["start"], p["end"]) for p in phases] == [(0, 2999), (2999, 9999), (9999, 10_000)]
    assert [p["first"] for p in phases] == [s(0), s(2999), s(9999)]
    assert [p["last"] for p in phases] == [s(2998), s(9998), s(9999)]


def test_explain_triangular2_cycles_halve():
    ex = explain("triangular2(0.001, 0.006, step=2000)", total_steps=24_000)
    cyc = ex.facts["structure"]
    assert cyc["period"] == 4000
    rows = cyc["cycles"]
    assert [r["scale_at_peak"] for r in rows] == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert [r["max_at"] for r in rows] == [2000, 6000, 10_000, 14_000, 18_000]
    assert rows[1]["max"] == pytest.approx(0.001 + 0.005 / 2)
    assert ex.lints == []  # 6 whole cycles: no W005, amplitude still above 1% of base


def test_explain_json_is_the_facts():
    result = CliRunner().invoke(main, ["explain", MISSION, "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["expr"] == MISSION
    assert data["structure"]["period"] == 4000
    assert [w["code"] for w in data["lints"]] == ["W001"]


# -- one test per lint ----------------------------------------------------------------------


def codes(text, **kw):
    return [w.code for w in lint(text, **kw)]


def the(code, text, **kw):
    found = [w for w in lint(text, **kw) if w.code == code]
    assert len(found) == 1, lint(text, **kw)
    return found[0]


def test_w001_amplitude_below_one_percent_of_base():
    w = the("W001", "triangular2(0.001, 0.006, step=100)", total_steps=2000)
    assert "from cycle 9 (step 1800)" in w.message  # 0.005 / 2**9 < 1e-5 = 1% of 0.001
    assert "W001" not in codes("triangular2(0.001, 0.006, step=100)", total_steps=1800)
    # exp_range decays per step: flat once 0.005 * gamma**t < 1e-5 at a peak
    w = the("W001", "exp_range(0.001, 0.006, step=2000, gamma=0.99994)", total_steps=200_000)
    assert "cycle 26 (step 104000)" in w.message
    assert "W001" not in codes("triangular(0.001, 0.006, step=2000)", total_steps=200_000)


def test_w001_points_at_the_users_call_inside_a_sequence():
    text = "linear(1e-4, 0.001, over=1000) >> triangular2(0.001, 0.006, step=100)"
    w = the("W001", text, total_steps=5000)
    assert text[w.span.start:w.span.end] == "triangular2(0.001, 0.006, step=100)"
    assert "step 2800" in w.message  # cycle 9 of the phase that starts at 1000


def test_w002_phases_past_total_steps():
    text = "linear(0, 0.1, over=500) >> cosine(0.1, 0, over=9500) >> constant(0.001, over=100)"
    ws = [w for w in lint(text, total_steps=8000) if w.code == "W002"]
    assert len(ws) == 2
    assert "phase 2 runs to step 10000" in ws[0].message and "only 7500 of its 9500" in ws[0].message
    assert "phase 3 starts at step 10000" in ws[1].message and "never runs" in ws[1].message
    assert text[ws[1].span.start:ws[1].span.end] == "constant(0.001, over=100)"
    assert "W002" not in codes(text, total_steps=10_100)


def test_w003_warmup_that_decreases():
    text = "linear(0.1, 0.001, over=500) >> cosine(0.1, 0.001, over=9500)"
    w = the("W003", text)
    assert text[w.span.start:w.span.end] == "linear(0.1, 0.001, over=500)"
    assert "W003" not in codes("linear(0.001, 0.1, over=500) >> cosine(0.1, 0.001, over=9500)")
    # momentum goes down and back up without a jump: not a swapped warmup
    assert "W003" not in codes("onecycle_momentum(total=1000)")


def test_w004_values_at_or_below_zero():
    w = the("W004", "warmup_cosine(0.1, warmup=500, decay=9500)", total_steps=10_000)
    assert "0 at step 0" in w.message
    w = the("W004", "constant(0.1) - linear(0, 0.2, over=100)", total_steps=1000)
    assert "negative at step 51" in w.message and "lowest -0.1 at step 100" in w.message
    # the final 0 of a cosine is reached at step `length`, after the last update
    assert "W004" not in codes("warmup_cosine(0.1, warmup=500, decay=9500, init=1e-5)", total_steps=10_000)


def test_w005_training_ends_mid_cycle():
    w = the("W005", "triangular(0.001, 0.006, step=1000)", total_steps=3000)
    assert "1000 steps into cycle 1" in w.message and "total_steps 2000 or 4000" in w.hint
    assert "W005" not in codes("triangular(0.001, 0.006, step=1000)", total_steps=4000)
    w = the("W005", "take(triangular(0.001, 0.006, step=2000), over=21_000) >> constant(1e-4)")
    assert "over=20000 or over=24000" in w.hint


def test_w006_schedule_ends_before_training():
    w = the("W006", "cosine(0.1, 0.001, over=1000)", total_steps=2000)
    assert "holds for the last 1000" in w.message
    assert "W006" not in codes("cosine(0.1, 0.001, over=100%)", total_steps=2000)


def test_lint_error_is_a_clrdsl_error_with_every_lint():
    lints = lint("linear(0.1, 0.001, over=500) >> cosine(0.1, 0, over=9500)", total_steps=12_000)
    err = lint_error(lints, None)
    assert isinstance(err, ClrdslLintError) and isinstance(err, clrdsl.ClrdslError)
    assert [d.code for d in err.diagnostics] == ["W003", "W004", "W006"]


def test_strict_makes_lints_errors():
    args = ["triangular2(0.001, 0.006, step=2000)", "--total-steps", "30000"]
    r = CliRunner().invoke(main, ["explain", *args, "--strict"])
    assert r.exit_code == 1 and "error[W005]" in r.stderr
    r = CliRunner().invoke(main, ["check", *args, "--strict"])
    assert r.exit_code == 1 and "error[W005]" in r.stderr and r.stdout == ""
    r = CliRunner().invoke(main, ["check", *args, "--lint"])
    assert r.exit_code == 0 and "warning[W005]" in r.stderr
    assert r.stdout == "triangular2(0.001, 0.006, step=2000)\n"
    r = CliRunner().invoke(main, ["check", *args])  # without the flags check does not lint
    assert r.exit_code == 0 and r.stderr == ""
    r = CliRunner().invoke(main, ["lint", *args])
    assert r.exit_code == 0 and r.stdout.startswith("warning[W005]")
    r = CliRunner().invoke(main, ["lint", *args, "--strict", "--format", "json"])
    assert r.exit_code == 1 and json.loads(r.stderr)["errors"][0]["code"] == "W005"
    r = CliRunner().invoke(main, ["lint", "triangular2(0.001, 0.006, step=2000)", "--total-steps", "32000"])
    assert r.exit_code == 0 and r.stdout == "no warnings\n"


def test_explain_handles_restarts_whose_later_cycles_start_beyond_any_step():
    # with mult=2 only ~60 cycles start below 2^62: the amplitude lint must stop there
    from clrdsl.tools.explain import explain

    text = ("((cosine_restarts(0.77019, min=0.37509, period=44, mult=2)) * scale((min(x, 50)) + "
            "((0.60003) ** (exp(abs(sin(x) - 0.5)))), on=iterations)) * (triangular(0.74646, 0.99751, step=25))")
    assert "cycle" in explain(text).render()
    lints = explain("cosine_restarts(0.1, period=10, mult=2) * exp(gamma=0.5, on=cycle)").lints
    assert [x.code for x in lints] == ["W001"]
