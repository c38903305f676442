"""The offline demo: MNIST-1D generator, the experiment's expressions, the table, `clrdsl demo --quick`."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

import clrdsl
from clrdsl_demo import data as mnist1d_data
from clrdsl_demo.experiment import CLR_POLICIES, DEFAULT, QUICK, Config, DemoResult, expressions_for
from clrdsl_demo.table import PAPER_ROWS, format_table, rows, verdict
from clrdsl_demo.train import Curve, Job

# -- data ---------------------------------------------------------------------------------


def test_generator_reproduces_the_published_dataset():
    ref_pkg = pytest.importorskip("mnist1d.data")
    ref = ref_pkg.make_dataset(ref_pkg.get_dataset_args())   # the generator only: no download path
    ours = mnist1d_data.generate()
    np.testing.assert_allclose(ours.x, ref["x"], atol=1e-5)  # ours is float32
    np.testing.assert_allclose(ours.x_test, ref["x_test"], atol=1e-5)
    np.testing.assert_array_equal(ours.y, ref["y"])
    np.testing.assert_array_equal(ours.y_test, ref["y_test"])


def test_generator_is_deterministic_and_shaped():
    a = mnist1d_data.generate(seed=7, num_samples=500)
    b = mnist1d_data.generate(seed=7, num_samples=500)
    c = mnist1d_data.generate(seed=8, num_samples=500)
    assert a.x.shape == (400, 40) and a.x_test.shape == (100, 40) and a.x.dtype == np.float32
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    assert np.bincount(np.concatenate([a.y, a.y_test])).tolist() == [50] * 10
    allx = np.concatenate([a.x, a.x_test])
    assert abs(allx.mean()) < 1e-5 and abs(allx.std() - 1) < 1e-5
    val = mnist1d_data.generate(seed=1, num_samples=200, train_split=0.0)
    assert val.x.shape == (0, 40) and val.x_test.shape == (200, 40)


# -- the experiment's expressions -----------------------------------------------------------


class _FakeRangeTest:
    """Only what expressions_for reads: a real RangeTestResult's expression method."""

    def __init__(self, base, top):
        from clrdsl.tools.range_test import RangeTestResult

        lr = np.geomspace(1e-4, 1, 50)
        self._r = RangeTestResult(lr=lr, loss=np.ones(50), smoothed_loss=np.ones(50), metric=None,
                                  smoothed_metric=None, start=1e-4, end=1.0, steps=50, mode="exp",
                                  schedule="", steps_per_epoch=40)
        self._bounds = (base, top)

    def expression(self, policy, half, **kw):
        from clrdsl.tools.suggest import Suggestion

        self._r.suggest = lambda rule=None, base_div=None: Suggestion(*self._bounds, "paper", 0, 1, "")
        return self._r.expression(policy, half, **kw)


@pytest.mark.parametrize("cfg", [DEFAULT, QUICK], ids=["default", "quick"])
def test_cyclic_policies_end_at_the_end_of_a_cycle(cfg):
    spe = 40
    exprs = expressions_for(_FakeRangeTest(0.04, 0.25), cfg, spe, fixed_lr=0.1)
    assert set(exprs) == {("fixed", "full")} | {(p, b) for p in CLR_POLICIES for b in ("full", "half")}
    for (policy, budget), e in exprs.items():
        n = (cfg.epochs if budget == "full" else cfg.epochs // 2) * spe
        lr = clrdsl.compile(e["lr"], steps_per_epoch=spe)
        if policy in ("triangular", "triangular2", "exp_range"):
            assert lr(n) == pytest.approx(0.04) and lr(0) == pytest.approx(0.04)
            assert lr(cfg.half_cycle_epochs * spe) > 0.1
        if policy == "onecycle":
            assert lr(np.arange(n)).max() == pytest.approx(0.25)
            mom = clrdsl.compile(e["momentum"], steps_per_epoch=spe)
            assert mom(0) == pytest.approx(0.95) and mom(n - 1) == pytest.approx(0.95)
    gamma = float(re.search(r"gamma=([0-9.]+)", exprs[("exp_range", "full")]["lr"]).group(1))
    assert gamma ** (cfg.epochs * spe) == pytest.approx(0.1, rel=1e-4)


def test_a_half_budget_run_is_the_first_half_of_the_full_run():
    pytest.importorskip("torch")
    from clrdsl_demo.experiment import _first_half
    from clrdsl_demo.train import train

    d = mnist1d_data.generate(num_samples=500)               # 4 updates per epoch
    expr = "triangular2(0.01, 0.2, step=1ep)"
    full = train(Job("triangular2", expr, 16, 3), d.x, d.y, d.x_test, d.y_test, eval_every=2)
    half = train(Job("triangular2", expr, 8, 3, budget="half"), d.x, d.y, d.x_test, d.y_test, eval_every=2)
    cut = _first_half(full)
    assert cut.job == half.job and cut.prefix
    assert cut.iterations == half.iterations == [2, 4, 6, 8]
    assert cut.accuracy == half.accuracy                       # bit for bit, so it need not be rerun
    assert len(set(full.accuracy)) > 2                          # it did learn something along the way


def test_config_guards():
    with pytest.raises(ValueError, match="multiple of 4 half cycles"):
        replace(DEFAULT, epochs=30)
    with pytest.raises(ValueError, match="tuning seed"):
        Config(seeds=(0, 1))


# -- the table and the verdict, on made-up curves ---------------------------------------------


def _fake_result(curves_by_key, fixed_lr=0.1):
    curves = []
    for (policy, budget), per_seed in curves_by_key.items():
        for seed, acc in enumerate(per_seed, start=1):
            n = 40 * len(acc)
            c = Curve(Job(policy, "constant(0.1)", n, seed, budget=budget),
                      iterations=[40 * (i + 1) for i in range(len(acc))], accuracy=list(acc))
            curves.append(c)
    return DemoResult(config=QUICK, range_test=None, base=0.03, max=0.3, steps_per_epoch=40, fixed_lr=fixed_lr,
                      grid={0.1: 0.8, 0.3: 0.7}, expressions={}, curves=curves, seconds=1.0, workers=2)


def test_table_rows_and_reach():
    fixed = [[0.5, 0.7, 0.8, 0.80], [0.5, 0.7, 0.8, 0.82]]        # final mean 81%
    fast = [[0.6, 0.82, 0.85, 0.86], [0.6, 0.80, 0.84, 0.86]]      # mean crosses 81% at 80
    slow = [[0.3, 0.4, 0.5, 0.6], [0.3, 0.4, 0.5, 0.6]]            # never
    half = [[0.7, 0.83], [0.7, 0.81]]                             # mean 82% at 80
    res = _fake_result({("fixed", "full"): fixed, ("triangular", "full"): fast, ("onecycle", "full"): slow,
                        ("triangular", "half"): half})
    rs = rows(res)
    assert [(r.policy, r.budget) for r in rs] == [("fixed", "full"), ("triangular", "full"),
                                                  ("onecycle", "full"), ("triangular", "half")]
    assert rs[0].mean == pytest.approx(81.0) and rs[0].sd == pytest.approx(np.std([80, 82], ddof=1))
    assert [r.reach for r in rs] == [160, 80, None, 80]
    text = format_table(res, rs)
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert lines[0].split("|")[1:-1] == [" policy         ", " iterations ", " accuracy (%) ",
                                         " iterations to 81.0% "]
    assert len(lines) == 1 + 4 + 1 + len(PAPER_ROWS)                 # ours, then the paper's
    assert "| onecycle" in text and "—" in text.split("\n| onecycle")[1].splitlines()[0]
    assert "| exp_range   |     42,000 |         82.2 |" in text
    assert "not comparable" in text


def test_verdict_says_plainly_who_won():
    fixed = [[0.5, 0.80], [0.5, 0.81], [0.5, 0.79]]
    better = [[0.6, 0.90], [0.6, 0.91], [0.6, 0.89]]
    same = [[0.6, 0.80], [0.6, 0.82], [0.6, 0.78]]
    won = verdict(_fake_result({("fixed", "full"): fixed, ("triangular", "full"): better}))
    assert won.startswith("In this run CLR beat fixed LR.") and "+10.0 points" in won
    tie = verdict(_fake_result({("fixed", "full"): fixed, ("triangular", "full"): same}))
    assert tie.startswith("In this run CLR did not clearly beat fixed LR.") and "within seed noise" in tie
    lost = verdict(_fake_result({("fixed", "full"): fixed, ("triangular", "full"): [[0.2, 0.3]] * 3}))
    assert "fell short of" in lost and "no CLR policy reached" in lost


# -- the whole thing, quick --------------------------------------------------------------------


def test_clrdsl_demo_quick(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    from click.testing import CliRunner

    from clrdsl.tools.cli import main

    out = CliRunner().invoke(main, ["demo", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert out.exit_code == 0, out.output
    text = out.output
    table = [ln for ln in text.split("For context only")[0].splitlines() if ln.startswith("| ")]
    assert len(table) == 1 + 1 + 2 * len(CLR_POLICIES)            # header, fixed, 4 policies x 2 budgets
    accs = [float(m) for m in re.findall(r"\|\s+([0-9.]+) ± [0-9.]+ \|", "\n".join(table))]
    assert len(accs) == 9 and min(accs) > 30.0, accs                # chance is 10%
    assert "In this run CLR" in text and "Smith 2017" in text
    for name in ("accuracy.png", "lr.png", "range_test.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 1000
    res = json.loads((tmp_path / "results.json").read_text())
    assert len(res["runs"]) == len(QUICK.seeds) * 9
    assert {r["seed"] for r in res["runs"]} == set(QUICK.seeds) and QUICK.tuning_seed not in QUICK.seeds
    assert res["range_test"]["base"] < res["range_test"]["max"]


def test_clrdsl_range_test_on_the_demo_problem(tmp_path):
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from clrdsl.tools.cli import main

    out = CliRunner().invoke(main, ["range-test", "--steps", "40", "--policy", "exp_range", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    expr = next(ln for ln in out.output.splitlines() if ln.startswith("exp_range("))
    assert clrdsl.check(expr, steps_per_epoch=40).expr == expr and "step=4ep" in expr
    assert "suggestion (valley)" in out.output
    assert (tmp_path / "range_test.png").stat().st_size > 10_000
