"""Plateau clocks in the core: the language, the report rule against torch's
``ReduceLROnPlateau`` running in the test, windows, NumPy replays, the tools and the CLI.

The backends' own objects (torch scheduler, Keras callback, optax transformation) have
their tests beside their backends; here the rule and the NumPy replay are held to torch.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

import clrdsl
from clrdsl.diagnostics.errors import ClrdslError
from clrdsl.evaluation.numerics import FLOAT64_BOUND
from clrdsl.evaluation.plateau import State, Tracker, initial, read_metrics, replay
from clrdsl.semantics import model as M
from clrdsl.tools.cli import main

torch = pytest.importorskip("torch")


def _trace(rng: np.random.Generator, n: int) -> list[float]:
    """A metric that improves, stalls (exact ties), wobbles and sometimes is NaN."""
    out, v = [], 1.0
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            v = v * (1 - rng.uniform(0, 0.05))  # improves (sometimes by less than the threshold)
        elif r < 0.55:
            pass  # an exact tie
        elif r < 0.97:
            v = v * (1 + rng.uniform(0, 0.03))
        out.append(float("nan") if r >= 0.97 else v)
    return out


def _torch_lrs(trace, **kw) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=kw.pop("lr", 0.1))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = []
    for m in trace:
        sched.step(m)
        out.append(float(opt.param_groups[0]["lr"]))
    return out


CASES = [
    dict(mode="min", threshold_mode="rel", patience=3, cooldown=0, threshold=1e-4),
    dict(mode="min", threshold_mode="abs", patience=0, cooldown=2, threshold=1e-3),
    dict(mode="max", threshold_mode="rel", patience=2, cooldown=1, threshold=1e-2),
    dict(mode="max", threshold_mode="abs", patience=5, cooldown=0, threshold=0.0),
    dict(mode="min", threshold_mode="rel", patience=1, cooldown=3, threshold=0.0),
]


def _expr(factor, c, floor=None, eps=0.0):
    clock = (f"plateau(patience={c['patience']}, mode={c['mode']}, threshold={c['threshold']}, "
             f"threshold_mode={c['threshold_mode']}, cooldown={c['cooldown']}, eps={eps})")
    body = f"constant(0.1) * exp(gamma={factor}, on={clock})"
    return body if floor is None else f"max({body}, {floor})"


@pytest.mark.parametrize("case", range(len(CASES)))
def test_replay_matches_torch_reduce_lr_on_plateau(case):
    """Value for value on a seeded random trace: the reductions land on exactly the
    reports where torch's lr changes, and the values agree within the float64 bound
    (torch multiplies iteratively; clrdsl computes ``lr0 * gamma ** k``)."""
    c = CASES[case]
    rng = np.random.default_rng(100 + case)
    trace = _trace(rng, 300)
    if c["mode"] == "max":
        trace = [-m for m in trace]
    theirs = _torch_lrs(trace, factor=0.5, min_lr=1e-4, eps=0.0, **c)
    s = clrdsl.compile(_expr(0.5, c, floor=1e-4))
    metrics = list(enumerate(trace))  # one report per step: step j's value follows report j
    ours = s(np.arange(len(trace)), metrics=metrics)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=FLOAT64_BOUND * 0.1)
    # the reductions themselves, exactly: where torch's lr changed, our count changed
    _, counts = s.replay(metrics)
    ours_changed = [counts[j + 1][0] != counts[j][0] for j in range(len(trace))]
    before = [0.1] + theirs[:-1]
    theirs_changed = [a != b for a, b in zip(before, theirs)]
    floor_reached = [b <= 1e-4 for b in before]
    assert sum(theirs_changed) >= 3
    assert [x for x, f in zip(ours_changed, floor_reached) if not f] == \
        [x for x, f in zip(theirs_changed, floor_reached) if not f]


def test_eps_skips_a_reduction_too_small_to_matter_as_torch_does():
    rng = np.random.default_rng(7)
    trace = [1.0] + [1.0] * 60 + _trace(rng, 60)
    c = dict(mode="min", threshold_mode="rel", patience=1, cooldown=0, threshold=1e-4)
    theirs = _torch_lrs(trace, factor=0.1, min_lr=0.0, eps=1e-6, **c)
    s = clrdsl.compile(_expr(0.1, c, eps=1e-6))
    ours = s(np.arange(len(trace)), metrics=list(enumerate(trace)))
    assert min(theirs) > 1e-7  # eps stopped torch's reductions...
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)  # ...and ours at the same lr
    no_eps = clrdsl.compile(_expr(0.1, c))(np.arange(len(trace)), metrics=list(enumerate(trace)))
    assert no_eps.min() < 1e-12  # without eps the count keeps rising


def test_rule_state_is_plain_data_and_resumes_exactly():
    root = clrdsl.check("constant(0.1) * exp(gamma=0.5, on=plateau(patience=2, cooldown=1))").root
    rng = np.random.default_rng(3)
    trace = _trace(rng, 80)
    whole = Tracker(root)
    for t, m in enumerate(trace):
        whole.report(t, m)
    first = Tracker(root)
    for t, m in enumerate(trace[:37]):
        first.report(t, m)
    saved = json.loads(json.dumps(first.state_dict()))  # through JSON: plain data
    second = Tracker(root)
    second.load_state_dict(saved)
    for t, m in enumerate(trace[37:], start=37):
        second.report(t, m)
    assert second.state_dict() == whole.state_dict()
    assert whole.counts[0] >= 2
    with pytest.raises(ClrdslError) as e:
        second.load_state_dict([])
    assert e.value.code == "E640"


def test_initial_state_is_torch_mode_worse():
    clock = clrdsl.check("constant(1) * exp(gamma=0.5, on=plateau(mode=max))").root.scale.clock
    assert initial(clock) == State(-math.inf)
    assert State.from_dict(initial(clock).to_dict()) == initial(clock)


def test_a_plateau_clock_listens_only_while_its_phase_runs():
    s = clrdsl.compile("linear(0.01, 0.1, over=100) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=0))")
    (pc,) = s.plateaus
    assert pc.windows == ((100, math.inf),)
    bad_warmup = [(t, 1.0) for t in range(0, 100, 10)]  # would reduce ten times if it counted
    assert s(150, metrics=bad_warmup) == 0.1
    after = bad_warmup + [(100, 1.0), (110, 1.0), (120, 1.0)]
    assert s(np.array([99, 100, 109, 110, 119, 120]), metrics=after).tolist() == \
        [s(99), 0.1, 0.1, 0.05, 0.05, 0.025]


def test_two_clocks_are_two_states_and_a_let_is_one_clock():
    two = clrdsl.check("constant(0.1) * exp(gamma=0.5, on=plateau(patience=0)) "
                       "* exp(gamma=0.5, on=plateau(patience=0))").root
    assert len(M.plateau_clocks(two)) == 2
    one = clrdsl.check("let c = plateau(patience=0)\n"
                       "constant(0.1) * exp(gamma=0.5, on=c) * exp(gamma=0.5, on=c)").root
    assert len(M.plateau_clocks(one)) == 1
    s = clrdsl.compile("let c = plateau(patience=0)\nconstant(0.1) * exp(gamma=0.5, on=c) * exp(gamma=0.5, on=c)")
    assert s(5, metrics=[(0, 1.0), (1, 1.0)]) == 0.1 * 0.25  # one reduction read by both scales


def test_scalar_equals_array_with_reports():
    s = clrdsl.compile("take(triangular(0.001, 0.01, step=7) * scale(0.9 ** x, on=plateau(patience=1)), "
                       "over=250) >> 0.001")
    rng = np.random.default_rng(5)
    metrics = [(int(t), float(m)) for t, m in zip(sorted(rng.integers(0, 200, 60)), _trace(rng, 60))]
    steps = np.arange(300)
    arr = s(steps, metrics=metrics)
    assert [s(int(t), metrics=metrics) for t in steps] == arr.tolist()


def test_reports_at_one_step_apply_in_order_and_from_that_step():
    steps, counts = replay(clrdsl.check("constant(1) * exp(gamma=0.5, on=plateau(patience=0))").root,
                           [(5, 1.0), (5, 2.0), (3, 1.0)])
    assert steps == [3, 5, 5] and [c[0] for c in counts] == [0, 0, 1, 2]


def test_without_plateau_clocks_nothing_changes():
    s = clrdsl.compile("triangular(0.001, 0.006, step=2000)")
    assert s.plateaus == ()
    with pytest.raises(ClrdslError) as e:
        s(3, metrics=[(0, 1.0)])
    assert e.value.code == "E643"


# -- the checker ------------------------------------------------------------------------


@pytest.mark.parametrize("text, code, caret", [
    ("constant(0.1) * exp(gamma=0.5, on=plateau(patience=1.5))", "E209", "patience=1.5"),
    ("constant(0.1) * exp(gamma=0.5, on=plateau(threshold=1))", "E209", "threshold=1"),
    ("constant(0.1) * exp(gamma=0.5, on=plateau(mode=minimum))", "E209", "minimum"),
    ("constant(0.1) * exp(gamma=0.5, on=plateau(patience=-1))", "E301", "-1"),
    ("constant(0.1) * exp(gamma=0.5, on=plateau(pateince=3))", "E103", "pateince"),
    ("constant(0.1) * exp(gamma=0.5, on=plateau)", "E209", "plateau"),
    ("constant(0.1) * plateau(patience=3)", "E204", "*"),
    ("max(constant(0.1), exp(gamma=0.5))", "E208", "exp(gamma=0.5)"),
])
def test_bad_plateau_input_is_refused_with_a_caret(text, code, caret):
    with pytest.raises(ClrdslError) as e:
        clrdsl.check(text)
    d = e.value.diagnostics[0]
    assert d.code == code
    assert text[d.span.start:d.span.end].startswith(caret) or caret in text[d.span.start:d.span.end]


def test_a_bare_plateau_gets_a_hint_to_call_it():
    with pytest.raises(ClrdslError) as e:
        clrdsl.check("constant(0.1) * exp(gamma=0.5, on=plateau)")
    assert "plateau(patience=10)" in e.value.diagnostics[0].hint


def test_growth_on_a_plateau_clock_needs_a_cap_like_any_clock():
    with pytest.raises(ClrdslError) as e:
        clrdsl.check("constant(0.1) * exp(gamma=2, on=plateau())")
    assert e.value.code == "E303"


def test_a_floor_and_a_ceiling_of_schedules():
    s = clrdsl.compile("max(linear(0.1, 0, over=10), 0.03) + min(0.01, linear(0, 1, over=10))")
    v = s(np.arange(11))
    expected = np.maximum(np.linspace(0.1, 0, 11), 0.03) + np.minimum(0.01, np.linspace(0, 1, 11))
    np.testing.assert_allclose(v, expected, rtol=1e-15, atol=1e-17)
    assert clrdsl.check("max(3, 2) * linear(0, 1, over=2)").root.left.value == 3.0  # numbers fold


# -- explain, lints, CLI --------------------------------------------------------------


def test_explain_states_the_rule_and_the_reductions_of_a_run():
    from clrdsl.tools.explain import explain

    text = "linear(0, 0.1, over=10) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=1, cooldown=2))"
    ex = explain(text)
    (p,) = ex.facts["plateaus"]
    assert p["windows"] == [[10, None]] and "after 2 bad evaluations in a row" in p["rule"]
    assert "the 2 reports after a reduction count as good" in p["rule"]
    ran = explain(text, metrics=[(t, 1.0) for t in range(10, 40)])
    assert ran.facts["plateaus"][0]["reductions"][:2] == [{"step": 12, "count": 1}, {"step": 16, "count": 2}]
    assert ran.facts["values"]["min"]["value"] < 0.1 / 4


def test_w007_flags_a_plateau_phase_too_short_for_its_patience():
    from clrdsl.tools.explain import lint

    short = "constant(0.1) * exp(gamma=0.5, on=plateau(patience=10)) >> 0.01"
    w = lint(f"take({short.split(' >> ')[0]}, over=5ep) >> 0.01", steps_per_epoch=100)
    assert [x.code for x in w] == ["W007"]
    assert "11 bad evaluations" in w[0].message
    assert lint(f"take({short.split(' >> ')[0]}, over=20ep) >> 0.01", steps_per_epoch=100) == []


def test_cli_eval_plot_explain_take_a_run_csv(tmp_path):
    run = tmp_path / "run.csv"
    run.write_text("step,val_loss,val_acc\n0,1.0,0.1\n100,1.0,0.2\n200,1.0,0.2\n300,0.5,0.3\n")
    expr = "constant(0.1) * exp(gamma=0.5, on=plateau(patience=0))"
    r = CliRunner().invoke(main, ["eval", expr, "--metrics", str(run), "--metric", "val_loss",
                                  "--steps", "0:400:100", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["values"] == clrdsl.compile(expr)(
        np.arange(0, 400, 100), metrics=read_metrics(str(run), "val_loss")).tolist() == [0.1, 0.05, 0.025, 0.025]
    r = CliRunner().invoke(main, ["explain", expr, "--metrics", str(run), "--metric", "val_loss"])
    assert r.exit_code == 0 and "count 2 from step 200" in r.output
    r = CliRunner().invoke(main, ["plot", expr, "--metrics", str(run), "--metric", "val_loss", "--steps", "400"])
    assert r.exit_code == 0
    r = CliRunner().invoke(main, ["eval", expr, "--metrics", str(run), "--steps", "3"])
    assert r.exit_code != 0 and "E642" in r.output and "val_loss" in r.output  # two columns: name one
    r = CliRunner().invoke(main, ["eval", expr, "--metrics", str(run), "--metric", "val_los", "--steps", "3"])
    assert "did you mean `val_loss`" in r.output
    r = CliRunner().invoke(main, ["eval", "constant(0.1)", "--metrics", str(run), "--metric", "val_loss",
                                  "--steps", "3"])
    assert r.exit_code != 0 and "E643" in r.output


def test_cli_compile_refuses_a_plateau_clock_with_a_caret():
    expr = "constant(0.1) * exp(gamma=0.5, on=plateau(patience=3))"
    r = CliRunner().invoke(main, ["compile", expr, "-b", "numpy"])
    assert r.exit_code != 0 and "E644" in r.output
    lines = r.output.splitlines()
    source_line = next(ln for ln in lines if ln.startswith("1 | "))
    caret_line = next(ln for ln in lines if "^" in ln)
    assert caret_line.index("^") == source_line.index("plateau(")
