"""The LR range test: suggestion rules, the torch session, the result's expression and plot."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import clrdsl
from clrdsl.diagnostics.errors import ClrdslError, ClrdslValueError
from clrdsl.tools.suggest import suggest

# -- suggestion rules on curves whose answer is known -------------------------------------

LR = np.geomspace(1e-5, 1.0, 201)          # 40 points per decade
X = np.log10(LR)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_paper_rule_reads_the_metric_where_it_starts_and_slows():
    # the metric climbs from 0.1 to 0.9 around lr = 1e-3 (a logistic in log10 lr, width 0.25)
    metric = 0.1 + 0.8 * _sigmoid((X + 3) / 0.25)
    loss = 2.0 - metric
    s = suggest(LR, loss, metric, rule="paper")
    # 10% and 90% of the gain: x = -3 -/+ 0.25 * ln 9
    assert s.base == pytest.approx(10 ** (-3 - 0.25 * np.log(9)), rel=0.06)
    assert s.max == pytest.approx(10 ** (-3 + 0.25 * np.log(9)), rel=0.06)
    assert s.rule == "paper" and tuple(s) == (s.base, s.max)
    assert suggest(LR, loss, metric).rule == "paper"          # auto picks paper when a metric exists


def test_paper_rule_stops_at_a_metric_that_falls():
    # rises around 1e-4, peaks near 1e-2, then collapses: the max must sit before the fall
    metric = 0.1 + 0.8 * _sigmoid((X + 4) / 0.2) - 0.7 * _sigmoid((X + 1.5) / 0.1)
    s = suggest(LR, 2 - metric, metric, rule="paper")
    assert 1e-4 < s.max < 10 ** -1.5
    assert s.base < 1e-4


def test_loss_rules():
    # the loss falls from 2.3 to 0.3 around lr = 1e-2, then blows up after 3e-1
    loss = 2.3 - 2.0 * _sigmoid((X + 2) / 0.3) + 5 * _sigmoid((X + 0.5) / 0.05)
    steep = suggest(LR, loss, rule="steepest")
    assert steep.max == pytest.approx(1e-2, rel=0.12)           # the inflection of the logistic
    assert steep.base == pytest.approx(steep.max / 4)
    valley = suggest(LR, loss, rule="valley")
    assert suggest(LR, loss).rule == "valley"                   # auto without a metric
    assert 1e-2 < valley.max < 10 ** -0.5 and valley.base == pytest.approx(valley.max / 4)
    lo = suggest(LR, 2.3 - 2.0 * _sigmoid((X + 2) / 0.3), rule="loss")
    assert lo.base == pytest.approx(10 ** (-2 - 0.3 * np.log(9)), rel=0.12)
    assert lo.max == pytest.approx(10 ** (-2 + 0.3 * np.log(9)), rel=0.12)
    third = suggest(LR, 2.3 - 2.0 * _sigmoid((X + 2) / 0.3), rule="loss", base_div=3)
    assert third.max == lo.max and third.base == pytest.approx(lo.max / 3)


def test_a_lucky_early_batch_is_not_improvement():
    loss = 2.3 - 2.0 * _sigmoid((X + 2) / 0.3)
    loss[3] = 1.0                                                # one low outlier at lr ~ 1e-5
    assert suggest(LR, loss, rule="loss").base > 1e-3


@pytest.mark.parametrize("kwargs, code", [
    ({"rule": "steep"}, "E701"),
    ({"rule": "paper"}, "E704"),           # no metric
    ({"base_div": 1.0}, "E702"),
])
def test_rule_errors(kwargs, code):
    with pytest.raises(ClrdslValueError) as e:
        suggest(LR, 2 - _sigmoid(X), **kwargs)
    assert e.value.code == code


def test_no_improvement_and_too_short():
    with pytest.raises(ClrdslValueError, match="never improved"):
        suggest(LR, np.linspace(1, 2, len(LR)), rule="loss")
    with pytest.raises(ClrdslValueError, match="at least 5 steps"):
        suggest(LR[:3], np.ones(3))


# -- the torch session --------------------------------------------------------------------

torch = pytest.importorskip("torch")


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                               torch.nn.Dropout(0.2), torch.nn.Linear(16, 3))


def _classification(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return torch.utils.data.TensorDataset(x, y)


def _train(model, opt, loader, steps):
    it, loss_fn = iter(loader), torch.nn.CrossEntropyLoss()
    for _ in range(steps):
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            x, y = next(it)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()


def _snapshot(model, opt):
    import copy

    return (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()),
            [None if p.grad is None else p.grad.clone() for p in model.parameters()],
            [m.training for m in model.modules()])


def _assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("make_opt", [
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-4),
    lambda ps: torch.optim.AdamW(ps, lr=1e-3),
], ids=["sgd", "adamw"])
def test_torch_restores_everything_bit_for_bit(make_opt):
    loader = torch.utils.data.DataLoader(_classification(), batch_size=32, shuffle=True)
    model = _net()
    opt = make_opt(model.parameters())
    _train(model, opt, loader, 5)             # optimizer state exists, grads are set
    model.eval()                              # a flag the test must put back
    before = _snapshot(model, opt)
    rng = torch.get_rng_state()
    r = clrdsl.range_test(model, torch.nn.CrossEntropyLoss(), loader, opt, start=1e-4, end=100.0,
                          steps=60, metric="accuracy")
    assert r.diverged and len(r.lr) < 60      # it stopped early, mid-flight
    _assert_same(before, _snapshot(model, opt))
    assert torch.equal(rng, torch.get_rng_state())


def test_training_after_a_range_test_is_the_training_without_it():
    def run(with_test):
        model = _net()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        torch.manual_seed(123)
        loader = torch.utils.data.DataLoader(_classification(), batch_size=32, shuffle=True)
        _train(model, opt, loader, 3)
        if with_test:
            clrdsl.range_test(model, torch.nn.CrossEntropyLoss(), loader, opt, steps=30, end=1.0)
        _train(model, opt, loader, 10)        # dropout and shuffling draw from the global RNG
        return model.state_dict()

    _assert_same(run(False), run(True))


def test_torch_restores_after_an_error():
    loader = torch.utils.data.DataLoader(_classification(), batch_size=32)
    model = _net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    _train(model, opt, loader, 2)
    before = _snapshot(model, opt)
    calls = []

    def metric(out, y):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError, match="boom"):
        clrdsl.range_test(model, torch.nn.CrossEntropyLoss(), loader, opt, steps=20, metric=metric)
    _assert_same(before, _snapshot(model, opt))


def test_the_ramp_is_our_range_test_schedule():
    loader = torch.utils.data.DataLoader(_classification(), batch_size=64)
    for mode in ("exp", "linear"):
        model = _net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        r = clrdsl.range_test(model, torch.nn.CrossEntropyLoss(), loader, opt, start=1e-3, end=0.5,
                              steps=25, mode=mode, diverge=1e9)
        assert r.schedule == f"range_test(0.001, 0.5, over=24, mode={mode})"
        i = np.arange(25)
        # torch-lr-finder's ramps: start*(end/start)**(i/(n-1)) and start + (end-start)*i/(n-1)
        want = 1e-3 * 500 ** (i / 24) if mode == "exp" else 1e-3 + (0.5 - 1e-3) * i / 24
        np.testing.assert_allclose(r.lr, want, rtol=1e-12)
        np.testing.assert_array_equal(r.lr, clrdsl.compile(r.schedule)(i))
        assert r.steps_per_epoch == len(loader) and not r.diverged


def _least_squares(seed):
    g = torch.Generator().manual_seed(seed)
    n, d = 4096, 20
    x = torch.randn(n, d, generator=g)
    y = x @ torch.randn(d, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
    # The Hessian of the mean squared error is H = 2 X^T X / n, eigenvalues in [mu, L].
    # Good rates: stable (lr < 2 / L) and fast, taking at least three e-folds off the error
    # per epoch (64 updates) along the slowest direction (lr >= 3 / (64 mu)).
    eig = torch.linalg.eigvalsh(2 * x.T @ x / n)
    mu, lam = eig.min().item(), eig.max().item()
    return torch.utils.data.TensorDataset(x, y), (3.0 / (64 * mu), 2.0 / lam)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode, start, end", [("exp", 1e-4, 10.0), ("linear", 1e-3, 2.0)])
def test_the_suggestion_lands_in_the_known_band(seed, mode, start, end):
    ds, (lo, hi) = _least_squares(seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    model = torch.nn.Linear(20, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    r = clrdsl.range_test(model, torch.nn.MSELoss(), loader, opt, start=start, end=end, steps=100, mode=mode)
    base, top = r.suggestion
    assert lo <= base < top <= hi, (r.suggestion, lo, hi)


def _tiny_result(**kw):
    loader = torch.utils.data.DataLoader(_classification(), batch_size=32, shuffle=True)
    model = _net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    args = {"start": 1e-3, "end": 30.0, "steps": 80, "metric": "accuracy", **kw}
    return clrdsl.range_test(model, torch.nn.CrossEntropyLoss(), loader, opt, **args)


@pytest.fixture(scope="module")
def result():
    return _tiny_result()


def test_expressions_pass_clrdsl_check(result):
    from click.testing import CliRunner

    from clrdsl.tools.cli import main

    spe = result.steps_per_epoch
    assert spe == 16
    base, top = result.suggestion
    for policy in ("triangular", "triangular2", "exp_range", "onecycle"):
        text = result.expression(policy, 4, units="epochs", epochs=20)
        out = CliRunner().invoke(main, ["check", text, "--steps-per-epoch", str(spe)])
        assert out.exit_code == 0, out.output
        # written in updates it needs no binding at all, and means the same schedule
        plain = clrdsl.compile(result.expression(policy, 4, epochs=20))
        with_units = clrdsl.compile(text, steps_per_epoch=spe)
        t = np.arange(20 * spe)
        np.testing.assert_allclose(plain(t), with_units(t), rtol=1e-12)
    tri = clrdsl.compile(result.expression("triangular2", 4))
    assert tri(0) == pytest.approx(base, rel=2e-3) and tri(4 * spe) == pytest.approx(top, rel=2e-3)
    assert result.expression("triangular", 2.5, units="epochs").endswith("step=2.5ep)")
    assert "gamma=0.999" in result.expression("exp_range", gamma=0.999)


def test_expression_errors(result):
    with pytest.raises(ClrdslValueError, match="unknown policy"):
        result.expression("cosine")
    with pytest.raises(ClrdslValueError, match="units"):
        result.expression("triangular", units="hours")


def test_rules_selectable_on_the_result(result):
    assert result.suggestion.rule == "paper"
    for rule in ("loss", "steepest", "valley"):
        s = result.suggest(rule)
        assert s.rule == rule and 0 < s.base < s.max
    assert result.suggest("loss", base_div=3).base == pytest.approx(result.suggest("loss").max / 3)
    assert "suggestion (paper)" in result.summary()


def test_plot(result, tmp_path):
    path = tmp_path / "rt.png"
    fig = result.plot(path)
    assert path.stat().st_size > 10_000
    assert len(fig.axes) == 2             # loss, and the metric on a twin axis


@pytest.mark.parametrize("kwargs, code", [
    ({"steps": 3}, "E706"),
    ({"mode": "cos"}, "E706"),
    ({"rule": "nope"}, "E701"),
    ({"smooth": 0.0}, "E706"),
])
def test_bad_arguments_are_clrdsl_errors(kwargs, code):
    with pytest.raises(ClrdslError) as e:
        _tiny_result(**kwargs)
    assert e.value.code == code


def test_bad_bounds_point_into_the_ramp():
    with pytest.raises(ClrdslValueError) as e:
        _tiny_result(start=1.0, end=0.5)
    assert e.value.span is not None and "rises" in e.value.message


def test_wrong_inputs():
    with pytest.raises(ClrdslValueError, match="does not know this model type"):
        clrdsl.range_test(object(), None, [], None)
    with pytest.raises(ClrdslValueError, match="needs a loss function"):
        clrdsl.range_test(_net(), torch.nn.CrossEntropyLoss(), None, None)


def test_import_clrdsl_stays_light():
    code = ("import sys, clrdsl; clrdsl.range_test; "
            "bad = [m for m in ('torch', 'keras', 'tensorflow', 'jax', 'numpy', 'matplotlib') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_data_that_yields_no_batches_is_a_clear_error_and_state_is_restored():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(clrdsl.ClrdslValueError) as info:
        clrdsl.range_test(model, torch.nn.functional.mse_loss, [], opt, start=1e-4, end=1, steps=10)
    assert info.value.code == "E709" and "no batches" in info.value.message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert opt.param_groups[0]["lr"] == 0.1
