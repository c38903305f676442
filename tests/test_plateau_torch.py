"""Plateau clocks on the torch backend: ``ClrdslScheduler.report(metric)`` against the real
``torch.optim.lr_scheduler.ReduceLROnPlateau``, warmup then plateau, resume mid-plateau,
state, and the errors.

Bounds: torch computes the rate iteratively (``lr * factor`` at each reduction), the
scheduler in closed form (``lr0 * gamma ** k``), so rates are compared within
:data:`clrdsl.evaluation.numerics.FLOAT64_BOUND` of the peak (two float paths); the reductions (the
count of each clock against the number of times torch's rate changed) are compared
exactly. Runs of the scheduler against itself (resume) are compared bit for bit.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import clrdsl
from clrdsl.diagnostics.errors import ClrdslError
from clrdsl.evaluation.emit import load
from clrdsl.evaluation.numerics import FLOAT64_BOUND

torch = pytest.importorskip("torch")

from torch.optim.lr_scheduler import ReduceLROnPlateau  # noqa: E402

from clrdsl_torch import MetricReport  # noqa: E402
from clrdsl_torch.emit import TARGET  # noqa: E402

UPDATES = 7  # optimizer updates per "epoch" (one report per epoch)


def trace(seed: int, n: int = 200) -> list[float]:
    """A seeded metric trace: stretches of a random walk that improves, and plateaus
    (noise above the best, the same value again, exact ties with the best), with NaN."""
    rng = np.random.default_rng(seed)
    out: list[float] = []
    v, best = 1.0, math.inf
    while len(out) < n:
        length = int(rng.integers(2, 16))
        improving = rng.random() < 0.4
        for _ in range(length):
            r = rng.random()
            if r < 0.05:
                m = math.nan
            elif improving:
                v = v + float(rng.normal(-0.03, 0.03))
                m = v
            elif r < 0.3 and out and not math.isnan(out[-1]):
                m = out[-1]  # the same value again
            elif r < 0.45 and math.isfinite(best):
                m = best  # an exact tie with the best so far
            else:
                m = best + abs(float(rng.normal(0, 0.02))) if math.isfinite(best) else v
            if not math.isnan(m):
                best = min(best, m)
            out.append(m)
    return out[:n]


def _opt(lr=0.1, groups=1):
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))]} for _ in range(groups)], lr=lr)


def _expr(lr0, factor=0.1, patience=10, mode="min", threshold=1e-4, threshold_mode="rel", cooldown=0,
          min_lr=0.0, eps=1e-8):
    """The clrdsl spelling of torch ``ReduceLROnPlateau`` with these arguments."""
    clock = (f"plateau(patience={patience}, mode={mode}, threshold={threshold!r}, "
             f"threshold_mode={threshold_mode}, cooldown={cooldown}, eps={eps!r})")
    e = f"constant({lr0!r}) * exp(gamma={factor!r}, on={clock})"
    return f"max({e}, {min_lr!r})" if min_lr else e


CASES = {
    "min_rel_defaults": dict(lr0=0.1, factor=0.1, patience=3),
    "max_rel_cooldown": dict(lr0=0.1, factor=0.5, patience=2, mode="max", cooldown=2),
    "min_abs_patience0_floor": dict(lr0=0.05, factor=0.5, patience=0, threshold=0.02, threshold_mode="abs",
                                    cooldown=1, min_lr=1e-3),
    "max_abs_floor": dict(lr0=0.3, factor=0.7, patience=5, mode="max", threshold=0.01, threshold_mode="abs",
                          min_lr=0.01),
    "eps_matters": dict(lr0=1e-6, factor=0.5, patience=0, threshold=0.0),
    "eps_zero_long_patience": dict(lr0=0.2, factor=0.8, patience=8, eps=0.0, cooldown=3),
    "min_rel_big_threshold": dict(lr0=1.0, factor=0.3, patience=1, threshold=0.05, min_lr=1e-4),
}


def _torch_kwargs(case):
    kw = {k: case[k] for k in ("factor", "patience", "mode", "threshold", "threshold_mode", "cooldown", "min_lr",
                               "eps") if k in case}
    return kw


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_reduce_lr_on_plateau(name, seed):
    case = CASES[name]
    lr0 = case["lr0"]
    ours_opt, theirs_opt = _opt(lr0), _opt(lr0)
    sched = clrdsl.compile(_expr(**case), backend="torch", optimizer=ours_opt)
    theirs = ReduceLROnPlateau(theirs_opt, **_torch_kwargs(case))
    changes = 0
    metrics = trace(seed)
    if case.get("mode") == "max":
        metrics = [-m for m in metrics]
    for epoch, m in enumerate(metrics):
        for _ in range(UPDATES):
            ours_opt.step()
            sched.step()
        assert sched.t == UPDATES * (epoch + 1)
        before = theirs_opt.param_groups[0]["lr"]
        theirs.step(m)
        after = theirs_opt.param_groups[0]["lr"]
        changed = sched.report(torch.tensor(m, dtype=torch.float64) if epoch % 3 == 0 else m)
        changes += after != before
        assert changed == (after != before), f"epoch {epoch}: torch {'did' if after != before else 'did not'} reduce"
        assert sched.plateau_counts["lr"] == (changes,), f"epoch {epoch}"
        ours = sched.get_last_lr()[0]
        assert ours_opt.param_groups[0]["lr"] == ours
        assert abs(ours - after) <= FLOAT64_BOUND * lr0, f"epoch {epoch}: {ours!r} vs torch {after!r}"
    assert changes >= 2, "the trace must make reductions happen"
    if name == "eps_matters":  # torch stopped reducing because a reduction would be <= eps
        final = theirs_opt.param_groups[0]["lr"]
        assert final * (1 - case["factor"]) <= 1e-8 < final / case["factor"] * (1 - case["factor"])
        assert theirs.num_bad_epochs == 0 and changes < sum(1 for _ in metrics)


def test_per_group_eps_in_relative_mode_matches_torch():
    """Each (hyperparameter, group) pair has its own clocks, and eps is judged on the value
    written: with relative=True and groups of different rates, the small group stops
    reducing first, as in torch (which judges ``old_lr - new_lr > eps`` per group)."""
    lrs = [1e-6, 1e-3]
    ours_opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs])
    theirs_opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs])
    sched = clrdsl.compile("constant(1) * exp(gamma=0.5, on=plateau(patience=0, eps=1e-8))", backend="torch",
                           optimizer=ours_opt, relative=True)
    theirs = ReduceLROnPlateau(theirs_opt, factor=0.5, patience=0)
    changes = [0, 0]
    for m in [1.0] + [2.0] * 12:
        sched.step()
        before = [g["lr"] for g in theirs_opt.param_groups]
        theirs.step(m)
        sched.report(m)
        for i, g in enumerate(theirs_opt.param_groups):
            changes[i] += g["lr"] != before[i]
            assert abs(ours_opt.param_groups[i]["lr"] - g["lr"]) <= FLOAT64_BOUND * lrs[i]
    assert sched.plateau_counts == {"lr": {0: (changes[0],), 1: (changes[1],)}}
    assert changes[0] < changes[1] == 12


def test_each_hyperparameter_has_its_own_clocks_and_matches_numpy_replay():
    exprs = {"lr": "linear(0.01, 0.1, over=30) >> max(constant(0.1) * exp(gamma=0.5, on=plateau(patience=2)), 0.005)",
             "momentum": "constant(0.9) * exp(gamma=0.9, on=plateau(mode=max, patience=4, cooldown=1))",
             "weight_decay": "cosine(1e-3, 1e-4, over=200)"}
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9, weight_decay=0.0)
    sched = clrdsl.compile(exprs, backend="torch", optimizer=opt)
    metrics = trace(7, 40)
    reports, seen = [], {k: [] for k in exprs}
    for m in metrics:
        for _ in range(UPDATES):
            for k in exprs:
                seen[k].append(opt.param_groups[0][k])
            sched.step()
        reports.append((sched.t, m))
        sched.report(m)
    steps = np.arange(len(seen["lr"]))
    counts = sched.plateau_counts
    assert set(counts) == {"lr", "momentum"} and counts["lr"] != counts["momentum"]
    for k, e in exprs.items():
        ref = clrdsl.compile(e)(steps, metrics=reports if "plateau" in e else None)
        np.testing.assert_allclose(seen[k], ref, rtol=0, atol=FLOAT64_BOUND * float(np.max(np.abs(ref))))


WARMUP = "linear(0.01, 0.1, over=500) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=5))"


def test_warmup_then_plateau_ignores_reports_in_warmup_and_then_matches_torch():
    """The recipe torch refuses (ReduceLROnPlateau cannot go inside SequentialLR)."""
    per_epoch = 50
    opt = _opt(0.01)
    sched = clrdsl.compile(WARMUP, backend="torch", optimizer=opt)
    value = load(clrdsl.check(WARMUP), TARGET).value  # the code the scheduler runs
    # flat during the warmup: patience 5 would have reduced twice if the clock listened
    metrics = [1.0] * 12 + trace(3, 40)
    theirs_opt = theirs = None
    changes = 0
    for epoch, m in enumerate(metrics):
        for _ in range(per_epoch):
            lr = opt.param_groups[0]["lr"]
            if theirs_opt is None:
                assert lr == value(sched.t, (0,))
            else:
                assert abs(lr - theirs_opt.param_groups[0]["lr"]) <= FLOAT64_BOUND * 0.1
            opt.step()
            sched.step()
        t = sched.t
        if t >= 500 and theirs is None:  # torch's scheduler starts with the plateau phase
            theirs_opt = _opt(0.1)
            theirs = ReduceLROnPlateau(theirs_opt, factor=0.5, patience=5, eps=0.0)
        sched.report(m)
        if theirs is None:
            assert sched.plateau_counts == {"lr": (0,)}
            assert sched.state_dict()["schedules"][0]["plateau"] == [
                {"best": math.inf, "bad": 0, "cooldown": 0, "count": 0}]
            continue
        before = theirs_opt.param_groups[0]["lr"]
        theirs.step(m)
        changes += theirs_opt.param_groups[0]["lr"] != before
        assert sched.plateau_counts == {"lr": (changes,)}
        assert abs(opt.param_groups[0]["lr"] - theirs_opt.param_groups[0]["lr"]) <= FLOAT64_BOUND * 0.1
    assert changes >= 1


RESUMED = {
    "lr": "linear(0.01, 0.1, over=20) >> max(constant(0.1) * exp(gamma=0.5, on=plateau(patience=3, cooldown=2)), 1e-3)",
    "momentum": {0: "constant(0.9) * exp(gamma=0.95, on=plateau(mode=max, patience=2))", 1: "constant(0.8)"},
}


def _model_opt():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias]}], lr=0.1, momentum=0.9)
    return model, opt


def _run(model, opt, sched, metrics, start, stop, log, states=None):
    """Optimizer updates ``start..stop-1``, a report after every UPDATES of them; the
    driven values are logged before each update and after each report."""
    x = torch.linspace(-1, 1, 12).reshape(4, 3)
    for n in range(start, stop):
        log.append([(g["lr"], g["momentum"]) for g in opt.param_groups])
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (n + 1) % UPDATES == 0:
            sched.report(metrics[(n + 1) // UPDATES - 1])
            log.append([(g["lr"], g["momentum"]) for g in opt.param_groups])
            if states is not None:
                states.append((n + 1, [d for e in sched.state_dict()["schedules"] for d in e.get("plateau", [])]))


def test_resume_mid_plateau_is_bit_for_bit():
    metrics = trace(11, 40)
    total = 40 * UPDATES
    model, opt = _model_opt()
    sched = clrdsl.compile(RESUMED, backend="torch", optimizer=opt)
    full: list = []
    states: list = []
    _run(model, opt, sched, metrics, 0, total, full, states)
    assert sum(sched.plateau_counts["lr"]) >= 2
    # checkpoint 3 updates after a report that left a plateau under way (bad evaluations
    # or cooldown pending) and after at least one reduction
    at = next(n for n, st in states if n >= 8 * UPDATES and any(d["bad"] or d["cooldown"] for d in st)
              and any(d["count"] for d in st)) + 3
    model, opt = _model_opt()
    sched = clrdsl.compile(RESUMED, backend="torch", optimizer=opt)
    first: list = []
    _run(model, opt, sched, metrics, 0, at, first)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
    # a fresh model, optimizer and scheduler, from the checkpoint alone
    ckpt = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    model2, opt2 = _model_opt()
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    sched2 = clrdsl.compile(RESUMED, backend="torch", optimizer=opt2)
    sched2.load_state_dict(ckpt["sched"])
    assert sched2.t == at and sched2.state_dict() == sched.state_dict()
    rest: list = []
    _run(model2, opt2, sched2, metrics, at, total, rest)
    assert first + rest == full  # every rate and momentum, bit for bit
    assert sched2.state_dict() == _final_state(metrics, total)


def _final_state(metrics, total):
    model, opt = _model_opt()
    sched = clrdsl.compile(RESUMED, backend="torch", optimizer=opt)
    _run(model, opt, sched, metrics, 0, total, [])
    return sched.state_dict()


def test_state_dict_is_plain_data_and_round_trips_through_torch_save():
    opt = _opt()
    sched = clrdsl.compile("constant(0.1) * exp(gamma=0.5, on=plateau(patience=1))", backend="torch", optimizer=opt)
    state = sched.state_dict()
    assert state["format"] == "clrdsl.torch.scheduler/2"
    assert state["schedules"][0]["plateau"] == [{"best": math.inf, "bad": 0, "cooldown": 0, "count": 0}]
    for m in (3.0, 2.0, 2.0, 2.0, 2.5):
        sched.report(m)
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    fresh = clrdsl.compile("constant(0.1) * exp(gamma=0.5, on=plateau(patience=1))", backend="torch",
                           optimizer=_opt())
    fresh.load_state_dict(loaded)
    assert fresh.plateau_counts == sched.plateau_counts == {"lr": (1,)}
    assert fresh.optimizer.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_without_plateau_clocks_the_state_is_unchanged_format_1():
    sched = clrdsl.compile("cosine(0.1, 0.0, over=100)", backend="torch", optimizer=_opt())
    state = sched.state_dict()
    assert state["format"] == "clrdsl.torch.scheduler/1"
    assert all("plateau" not in e for e in state["schedules"])
    assert sched.plateau_counts == {}
    sched.set_step(40)
    other = clrdsl.compile("cosine(0.1, 0.0, over=100)", backend="torch", optimizer=_opt())
    other.load_state_dict(sched.state_dict())
    assert other.t == 40
    # the /1 reader refuses plateau states inside a /1 tag
    bad = {**state, "schedules": [{**state["schedules"][0], "plateau": []}]}
    with pytest.raises(ClrdslError) as err:
        other.load_state_dict(bad)
    assert err.value.diagnostics[0].code == "E606"


PLATEAU = "constant(0.1) * exp(gamma=0.5, on=plateau(patience=1))"


def _plateau_sched():
    sched = clrdsl.compile(PLATEAU, backend="torch", optimizer=_opt())
    for m in (3.0, 3.0, 3.0):
        sched.step()
        sched.report(m)
    return sched


def _code(excinfo):
    return excinfo.value.diagnostics[0].code


@pytest.mark.parametrize("corrupt, code", [
    (lambda e: e.pop("plateau"), "E640"),
    (lambda e: e.__setitem__("plateau", []), "E640"),
    (lambda e: e.__setitem__("plateau", e["plateau"] * 2), "E640"),
    (lambda e: e.__setitem__("plateau", "x"), "E606"),
    (lambda e: e["plateau"][0].__setitem__("count", -1), "E606"),
    (lambda e: e["plateau"][0].__setitem__("best", math.nan), "E606"),
    (lambda e: e["plateau"][0].pop("bad"), "E606"),
    (lambda e: e.__setitem__("expr", "constant(0.1) * exp(gamma=0.5, on=plateau(patience=2))"), "E605"),
])
def test_a_state_that_does_not_fit_is_refused_and_nothing_changes(corrupt, code):
    src = _plateau_sched()
    state = src.state_dict()
    corrupt(state["schedules"][0])
    dst = clrdsl.compile(PLATEAU, backend="torch", optimizer=_opt())
    dst.step()
    dst.report(5.0)
    before = (dst.state_dict(), dst.optimizer.param_groups[0]["lr"])
    with pytest.raises(ClrdslError) as err:
        dst.load_state_dict(state)
    assert _code(err) == code
    assert (dst.state_dict(), dst.optimizer.param_groups[0]["lr"]) == before


def test_a_plateau_state_into_a_schedule_without_clocks_is_refused():
    state = _plateau_sched().state_dict()
    state["schedules"][0]["expr"] = "constant(0.1)"
    dst = clrdsl.compile("constant(0.1)", backend="torch", optimizer=_opt())
    with pytest.raises(ClrdslError) as err:
        dst.load_state_dict(state)
    assert _code(err) == "E640"


def test_retarget_keeps_fitting_states_and_starts_others_afresh():
    state = _plateau_sched().state_dict()
    assert state["schedules"][0]["plateau"][0]["count"] == 1
    other = clrdsl.compile("constant(0.2) * exp(gamma=0.1, on=plateau(patience=4))", backend="torch",
                           optimizer=_opt(), retarget=True)
    other.load_state_dict(state)
    assert other.plateau_counts == {"lr": (1,)} and other.t == 3
    assert other.optimizer.param_groups[0]["lr"] == load(other._slots[0].checked, TARGET).value(3, (1,))
    two = clrdsl.compile("constant(0.2) * exp(gamma=0.1, on=plateau(patience=4)) * exp(gamma=0.5, on=plateau())",
                         backend="torch", optimizer=_opt(), retarget=True)
    two.load_state_dict(state)
    assert two.plateau_counts == {"lr": (0, 0)} and two.t == 3


def test_pickle_keeps_the_plateau_states():
    import pickle

    sched = _plateau_sched()
    copy = pickle.loads(pickle.dumps(sched))
    assert copy.state_dict() == sched.state_dict()
    assert "plateau_counts={'lr': (1,)}" in repr(copy)


def test_report_takes_tensors_and_numbers_and_refuses_the_rest():
    sched = clrdsl.compile(PLATEAU, backend="torch", optimizer=_opt())
    sched.report(torch.tensor(2.0))  # a 0-d tensor
    sched.report(torch.tensor([1.5], dtype=torch.float16))  # one element
    sched.report(np.float32(1.0))
    sched.report(1)
    assert sched.state_dict()["schedules"][0]["plateau"][0]["best"] == 1.0
    for bad in ("x", None, torch.tensor([1.0, 2.0])):
        before = sched.state_dict()
        with pytest.raises(ClrdslError) as err:
            sched.report(bad)
        assert _code(err) == "E641"
        assert sched.state_dict() == before


def test_a_report_that_would_write_a_bad_beta_changes_nothing():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = clrdsl.compile({"momentum": "constant(1.5) - constant(0.6) * exp(gamma=2, cap=4, on=plateau(patience=0))"},
                           backend="torch", optimizer=opt)
    sched.report(1.0)
    sched.report(1.0)  # one reduction: 1.5 - 1.2
    before = (sched.state_dict(), opt.param_groups[0]["betas"])
    with pytest.raises(ClrdslError) as err:
        sched.report(1.0)  # a second one would write 1.5 - 2.4 < 0
    assert _code(err) == "E604"
    assert (sched.state_dict(), opt.param_groups[0]["betas"]) == before


def test_report_without_plateau_clocks_is_an_error():
    sched = clrdsl.compile("cosine(0.1, 0, over=10)", backend="torch", optimizer=_opt())
    with pytest.raises(ClrdslError) as err:
        sched.report(1.0)
    assert _code(err) == "E645"
    with pytest.raises(ClrdslError) as err:
        sched.lightning_config(monitor="val_loss")
    assert _code(err) == "E645"
    assert sched.lightning_config(name="lr") == {"scheduler": sched, "interval": "step", "frequency": 1, "name": "lr"}
    sched.step(3.0)  # unchanged: a whole float positions the clock
    assert sched.t == 3


@pytest.mark.parametrize("arg", [0.5, 3.0, torch.tensor(2.0), np.float64(1.0)])
def test_a_metric_given_to_step_is_refused(arg):
    sched = _plateau_sched()
    before = sched.state_dict()
    with pytest.raises(ClrdslError) as err:
        sched.step(arg)
    assert _code(err) == "E647"
    assert sched.state_dict() == before
    sched.step(np.int64(9))  # an integer still positions the clock
    assert sched.t == 9 and sched.plateau_counts == {"lr": (1,)}


def test_lightning_config_of_a_plateau_schedule():
    opt = _opt()
    sched = clrdsl.compile(PLATEAU, backend="torch", optimizer=opt)
    with pytest.raises(ClrdslError) as err:
        sched.lightning_config()
    assert _code(err) == "E646"
    conf = sched.lightning_config(monitor="val_loss", name="lr")
    rep = conf.pop("scheduler")
    assert conf == {"interval": "epoch", "frequency": 1, "reduce_on_plateau": True, "monitor": "val_loss",
                    "name": "lr"}
    assert isinstance(rep, MetricReport) and isinstance(rep, torch.optim.lr_scheduler.LRScheduler)
    assert rep.optimizer is opt and rep.state_dict() == sched.state_dict()
    sched.lightning_config(monitor="val_loss")  # idempotent: still one update per optimizer step
    for m in (2.0, 2.0, 2.0):
        opt.step()  # the scheduler follows the optimizer's updates
        rep.step(torch.tensor(m))
    assert sched.t == 3 and rep.last_epoch == 3 and sched.plateau_counts == {"lr": (1,)}
    assert rep.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ClrdslError) as err:
        rep.step()
    assert _code(err) == "E647"
