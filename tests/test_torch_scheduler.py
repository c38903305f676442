"""The torch backend's scheduler: clock, state, hyperparameters, groups, errors.

Values are read back from the optimizer's param groups (what the optimizer really
uses) and compared exactly with the generated Python-float code the scheduler runs
(:mod:`clrdsl.evaluation.scalar`), within the documented float64 bound with the NumPy backend, or
with torch's own schedulers run in the same test.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import warnings

import numpy as np
import pytest

import clrdsl
from clrdsl.evaluation.scalar import scalar_function

torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler as L  # noqa: E402

from clrdsl.evaluation.numerics import FLOAT64_BOUND  # noqa: E402
from clrdsl_torch import ClrdslScheduler, lightning_config  # noqa: E402


def params(n=1, dtype=torch.float64):
    return [torch.nn.Parameter(torch.zeros(2, dtype=dtype)) for _ in range(n)]


def sgd(n_groups=1, **kw):
    kw.setdefault("lr", 0.1)
    return torch.optim.SGD([{"params": [p]} for p in params(n_groups)], **kw)


def run(sched, opt, n, read):
    """``read(opt)`` after construction and after each of n-1 steps (values of steps 0..n-1)."""
    out = []
    for _ in range(n):
        out.append(read(opt))
        opt.step()
        sched.step()
    return np.array(out)


def lr_of(i=0):
    return lambda opt: float(opt.param_groups[i]["lr"])


def mom_of(i=0):
    def read(opt):
        g = opt.param_groups[i]
        return float(g["momentum"] if "momentum" in g else g["betas"][0])
    return read


def numpy_values(expr, n, **bindings):
    """The values of steps 0..n-1 from the code the torch backend runs (Python floats)."""
    f = scalar_function(clrdsl.check(expr, **bindings))
    return np.array([f(t) for t in range(n)])


# -- the object and its clock -----------------------------------------------------------


def test_is_an_lr_scheduler_holding_t0_values_at_construction():
    opt = sgd()
    s = clrdsl.compile("linear(0.5, 1.5, over=10)", backend="torch", optimizer=opt)
    assert isinstance(s, L.LRScheduler) and isinstance(s, ClrdslScheduler)
    assert opt.param_groups[0]["lr"] == 0.5 and s.get_last_lr() == [0.5]
    assert s.t == s.last_epoch == 0 and s.optimizer is opt
    s.step()
    assert s.t == 1 and opt.param_groups[0]["lr"] == pytest.approx(0.6) and s.get_last_lr() == [0.6]


def test_values_equal_generated_code_and_numpy_within_the_float64_bound():
    expr = "triangular(0.001, 0.006, step=200) * exp(gamma=0.9994, on=iterations)"
    opt = sgd()
    s = clrdsl.compile(expr, backend="torch", optimizer=opt)
    got = run(s, opt, 5000, lr_of())
    np.testing.assert_array_equal(got, numpy_values(expr, 5000))  # the same code: exact
    want = clrdsl.compile(expr)(np.arange(5000))  # NumPy's ufuncs: within the documented bound
    assert np.max(np.abs(got - want)) <= FLOAT64_BOUND * np.max(np.abs(want))


def test_set_step_is_idempotent_order_independent_and_warning_free():
    expr = "onecycle(0.1, total=300)"
    ref = numpy_values(expr, 400)
    opt = sgd(momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = clrdsl.compile(expr, backend="torch", optimizer=opt)
        s.step()  # before any optimizer.step(): torch would warn here, we do not
        s.step()
        for n in [250, 17, 17, 399, 0, 123, 123, 123]:
            s.set_step(n)
            assert opt.param_groups[0]["lr"] == ref[n] == s.get_last_lr()[0]
        s.set_step(5)
        opt.step()
        s.step()
        assert s.t == 6 and opt.param_groups[0]["lr"] == ref[6]
        s.last_epoch = 42  # torch's name for the same clock
        assert opt.param_groups[0]["lr"] == ref[42]
        s.step(7)  # step(n) positions too
        assert s.t == 7 and opt.param_groups[0]["lr"] == ref[7]


def test_gradient_accumulation_by_update_count():
    expr = "cosine(0.1, 0.0, over=20)"
    ref = numpy_values(expr, 21)
    opt = sgd()
    s = clrdsl.compile(expr, backend="torch", optimizer=opt)
    accum, seen = 4, []
    for micro in range(80):
        s.set_step(micro // accum)  # the clock is optimizer updates
        seen.append(opt.param_groups[0]["lr"])
        if (micro + 1) % accum == 0:
            opt.step()
    assert seen == list(np.repeat(ref[:20], accum))


def test_a_step_writes_what_a_jump_writes_whatever_the_groups_hold():
    """step() has a short path for one expression written into float entries; a group
    holding something else (a tensor, an int) takes the general path, and every value
    is still the generated code's, bit for bit, in the optimizer and in get_last_lr()."""
    expr = "triangular2(0.001, 0.006, step=5)"
    ref = numpy_values(expr, 40)
    opt = sgd(3, momentum=0.9)
    s = clrdsl.compile(expr, backend="torch", optimizer=opt)
    held = torch.tensor(0.5, dtype=torch.float64)
    for t in range(1, 40):
        if t == 10:
            opt.param_groups[1]["lr"] = held  # filled in place from now on
        if t == 20:
            opt.param_groups[2]["lr"] = 1  # an int: replaced by the float
        if t == 30:
            opt.add_param_group({"params": params(), "lr": 0.7})  # not driven: reported as it is
        s.step()
        assert s.t == s.last_epoch == t
        assert [float(g["lr"]) for g in opt.param_groups[:3]] == [ref[t]] * 3
        assert s.get_last_lr()[:3] == [ref[t]] * 3 and s.get_last_lr()[3:] == ([0.7] if t >= 30 else [])
        assert opt.param_groups[1]["lr"] is held if t >= 10 else type(opt.param_groups[1]["lr"]) is float
        assert opt.param_groups[0]["momentum"] == 0.9
    s.set_step(7)
    assert s.get_last_lr()[:3] == [ref[7]] * 3


def test_bad_steps_are_clear_errors():
    s = clrdsl.compile("constant(0.1)", backend="torch", optimizer=sgd())
    with pytest.raises(clrdsl.ClrdslValueError) as e:
        s.set_step(-1)
    assert e.value.code == "E607"
    with pytest.raises(clrdsl.ClrdslTypeError):
        s.set_step(2.5)
    with pytest.raises(clrdsl.ClrdslTypeError):
        s.set_step(True)
    s.set_step(np.int64(3))
    s.set_step(4.0)
    assert s.t == 4


def test_groups_added_later_are_reported_untouched():
    opt = sgd()
    s = clrdsl.compile("linear(0.1, 0.2, over=4)", backend="torch", optimizer=opt)
    opt.add_param_group({"params": params(), "lr": 0.7})
    s.step()
    assert s.get_last_lr() == [pytest.approx(0.125), 0.7] and opt.param_groups[1]["lr"] == 0.7


def test_far_past_the_end_holds_and_triangular2_reaches_base():
    opt = sgd()
    s = clrdsl.compile("onecycle(1.0, total=50)", backend="torch", optimizer=opt)
    last = numpy_values("onecycle(1.0, total=50)", 50)[-1]
    for _ in range(5000):  # 100x past the end: holds, never raises
        s.step()
    assert opt.param_groups[0]["lr"] == last
    s.set_step(10**15)
    assert opt.param_groups[0]["lr"] == last

    opt = sgd()
    s = clrdsl.compile("triangular2(0.001, 0.006, step=1)", backend="torch", optimizer=opt)
    for _ in range(2 * 10_000):  # 10^4 cycles of 2 updates, stepped one by one
        s.step()
    lrs = []
    for _ in range(4):  # cycle 10^4: its start and its peak
        lrs.append(opt.param_groups[0]["lr"])
        s.step()
    assert lrs == [0.001] * 4


# -- state ------------------------------------------------------------------------------


def test_state_dict_is_plain_data_and_restores_exactly():
    expr = "warmup_cosine(0.1, warmup=10, decay=90)"
    opt = sgd()
    s = clrdsl.compile({"lr": expr, "weight_decay": "linear(0, 0.01, over=100)"}, backend="torch",
                       optimizer=opt)
    for _ in range(37):
        s.step()
    st = s.state_dict()
    assert json.loads(json.dumps(st)) == st  # plain data
    assert st["t"] == 37
    assert {e["param"]: e["expr"] for e in st["schedules"]} == {
        "lr": clrdsl.check(expr).expr, "weight_decay": "linear(0, 0.01, over=100)"}
    buf = io.BytesIO()
    torch.save(st, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)  # no pickled code needed to read it
    opt2 = sgd()
    s2 = clrdsl.compile({"lr": expr, "weight_decay": "linear(0, 0.01, over=100)"}, backend="torch",
                        optimizer=opt2)
    assert "initial_lr" not in opt2.param_groups[0]
    s2.load_state_dict(loaded)
    assert s2.t == 37 and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert opt2.param_groups[0]["weight_decay"] == opt.param_groups[0]["weight_decay"]
    for _ in range(5):
        s.step()
        s2.step()
    assert s2.get_last_lr() == s.get_last_lr()


def test_scheduler_pickles_and_deepcopies():
    opt = sgd(momentum=0.9)
    s = clrdsl.compile({"lr": "triangular2(0.001, 0.006, step=5)", "momentum": "0.95 - linear(0, 0.1, over=9)"},
                       backend="torch", optimizer=opt)
    for _ in range(7):
        s.step()
    for other in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert other.t == 7 and other.get_last_lr() == s.get_last_lr()
        other.step()
        s2 = copy.deepcopy(s)
        s2.step()
        assert other.get_last_lr() == s2.get_last_lr()
        assert other.optimizer.param_groups[0]["momentum"] == s2.optimizer.param_groups[0]["momentum"]


def test_loading_another_expression_is_an_error_unless_retargeted():
    opt = sgd()
    s = clrdsl.compile("onecycle(0.1, total=100)", backend="torch", optimizer=opt)
    for _ in range(30):
        s.step()
    st = s.state_dict()
    opt2 = sgd()
    longer = clrdsl.compile("onecycle(0.1, total=200)", backend="torch", optimizer=opt2)
    with pytest.raises(clrdsl.ClrdslValueError) as e:
        longer.load_state_dict(st)
    assert e.value.code == "E605"
    text = str(e.value)
    assert "onecycle(0.1, total=100)" in text and "onecycle(0.1, total=200)" in text and "retarget=True" in text
    assert longer.t == 0  # nothing changed
    longer.load_state_dict(st, retarget=True)
    assert longer.t == 30 and opt2.param_groups[0]["lr"] == numpy_values("onecycle(0.1, total=200)", 31)[30]
    # the same opt-in at construction (for trainers that call load_state_dict(state) themselves)
    again = clrdsl.compile("onecycle(0.1, total=200)", backend="torch", optimizer=sgd(), retarget=True)
    again.load_state_dict(st)
    assert again.t == 30
    # bindings are part of the schedule
    a = clrdsl.compile("onecycle(0.1)", backend="torch", optimizer=sgd(), total_steps=100)
    b = clrdsl.compile("onecycle(0.1)", backend="torch", optimizer=sgd(), total_steps=120)
    with pytest.raises(clrdsl.ClrdslValueError, match="total_steps=100"):
        b.load_state_dict(a.state_dict())


def test_loading_a_foreign_state_is_a_clear_error():
    opt = sgd()
    s = clrdsl.compile("constant(0.1)", backend="torch", optimizer=opt)
    torch_state = L.StepLR(sgd(), step_size=3).state_dict()
    with pytest.raises(clrdsl.ClrdslValueError) as e:
        s.load_state_dict(torch_state)
    assert e.value.code == "E606" and "set_step" in str(e.value)


# -- several hyperparameters ------------------------------------------------------------


def test_lr_momentum_weight_decay_on_sgd():
    opt = sgd(momentum=0.9, weight_decay=1e-4)
    spec = {"lr": "onecycle(0.1, total=500)", "momentum": "onecycle_momentum(total=500)",
            "weight_decay": "cosine(1e-4, 0, over=500)"}
    s = clrdsl.compile(spec, backend="torch", optimizer=opt)
    got = run(s, opt, 600, lambda o: [o.param_groups[0][k] for k in spec])
    for j, expr in enumerate(spec.values()):
        np.testing.assert_array_equal(got[:, j], numpy_values(expr, 600))


def test_momentum_drives_adam_beta1_and_leaves_beta2():
    for cls in (torch.optim.Adam, torch.optim.AdamW, torch.optim.NAdam):
        opt = cls(params(), lr=1e-3, betas=(0.9, 0.98))
        s = clrdsl.compile({"lr": "onecycle(1e-3, total=100)", "momentum": "onecycle_momentum(total=100)"},
                           backend="torch", optimizer=opt)
        got = run(s, opt, 120, mom_of())
        np.testing.assert_array_equal(got, numpy_values("onecycle_momentum(total=100)", 120))
        assert opt.param_groups[0]["betas"][1] == 0.98
        assert isinstance(opt.param_groups[0]["betas"], tuple)
        beta1 = clrdsl.compile({"beta1": "linear(0.8, 0.9, over=10)"}, backend="torch", optimizer=opt)
        assert opt.param_groups[0]["betas"] == (0.8, 0.98)
        beta1.set_step(10)
        assert opt.param_groups[0]["betas"] == (0.9, 0.98)
    # beta2 moves only when named; the pair itself is not a target
    opt = torch.optim.Adam(params(), lr=1e-3, betas=(0.9, 0.98))
    clrdsl.compile({"beta2": "linear(0.99, 0.999, over=10)"}, backend="torch", optimizer=opt)
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)
    with pytest.raises(clrdsl.ClrdslTypeError, match="no hyperparameter `betas`"):
        clrdsl.compile({"betas": "constant(0.9)"}, backend="torch", optimizer=opt)


def test_missing_hyperparameter_lists_what_the_optimizer_has():
    opt = torch.optim.Adagrad(params(), lr=0.1)
    with pytest.raises(clrdsl.ClrdslTypeError) as e:
        clrdsl.compile({"lr": "constant(0.1)", "momentum": "constant(0.9)"}, backend="torch", optimizer=opt)
    assert e.value.code == "E602"
    assert "Adagrad has no hyperparameter `momentum`" in str(e.value)
    for name in ("lr", "lr_decay", "weight_decay", "eps"):
        assert name in e.value.expected
    with pytest.raises(clrdsl.ClrdslTypeError, match="did you mean `weight_decay`"):
        clrdsl.compile({"weight_decy": "constant(0.1)"}, backend="torch", optimizer=sgd())
    # nothing is written to a key the group lacks
    opt = torch.optim.Adam(params(), lr=0.1)
    clrdsl.compile({"momentum": "constant(0.5)"}, backend="torch", optimizer=opt)
    assert "momentum" not in opt.param_groups[0]


def test_beta1_outside_unit_interval_is_rejected():
    opt = torch.optim.Adam(params(), lr=0.1)
    with pytest.raises(clrdsl.ClrdslValueError) as e:  # caught at construction, before training
        clrdsl.compile({"momentum": "linear(0.9, 1.05, over=1000)"}, backend="torch", optimizer=opt)
    assert e.value.code == "E604" and "betas[0]" in str(e.value)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    # beyond the construction-time look-ahead, the write itself refuses
    s = clrdsl.compile({"momentum": "constant(0.9, over=300_000) >> constant(1.2)"}, backend="torch",
                       optimizer=opt)
    s.set_step(299_999)
    with pytest.raises(clrdsl.ClrdslValueError, match="1.2 at step 300000"):
        s.set_step(300_000)
    assert s.t == 299_999 and opt.param_groups[0]["betas"] == (0.9, 0.999)  # nothing moved


def test_backend_options_are_checked():
    with pytest.raises(clrdsl.ClrdslTypeError, match="optimizer"):
        clrdsl.compile("constant(0.1)", backend="torch")
    with pytest.raises(clrdsl.ClrdslTypeError) as e:
        clrdsl.compile("constant(0.1)", backend="torch", optimizer=sgd(), capturabel=True)
    assert "did you mean `capturable`" in str(e.value)
    with pytest.raises(clrdsl.ClrdslTypeError, match="Optimizer"):
        clrdsl.compile("constant(0.1)", backend="torch", optimizer="sgd")


# -- parameter groups -------------------------------------------------------------------


def test_per_group_by_index_and_by_name():
    ps = params(3)
    opt = torch.optim.SGD([{"params": [ps[0]], "name": "backbone"}, {"params": [ps[1]], "name": "head"},
                           {"params": [ps[2]], "lr": 0.5}], lr=0.1, momentum=0.9)
    spec = {"lr": {"backbone": "onecycle(0.01, total=2000)", 1: "onecycle(0.1, total=2000)"},
            "momentum": {"head": "onecycle_momentum(total=2000)"}}
    s = clrdsl.compile(spec, backend="torch", optimizer=opt)
    out = {k: [] for k in ("lr0", "lr1", "lr2", "m0", "m1")}
    for _ in range(2500):
        g = opt.param_groups
        for k, v in (("lr0", g[0]["lr"]), ("lr1", g[1]["lr"]), ("lr2", g[2]["lr"]),
                     ("m0", g[0]["momentum"]), ("m1", g[1]["momentum"])):
            out[k].append(v)
        opt.step()
        s.step()
    np.testing.assert_array_equal(out["lr0"], numpy_values("onecycle(0.01, total=2000)", 2500))
    np.testing.assert_array_equal(out["lr1"], numpy_values("onecycle(0.1, total=2000)", 2500))
    np.testing.assert_array_equal(out["m1"], numpy_values("onecycle_momentum(total=2000)", 2500))
    assert set(out["lr2"]) == {0.5} and set(out["m0"]) == {0.9}  # groups not named are untouched
    assert s.get_last_lr()[2] == 0.5


def test_group_mapping_at_top_level_drives_lr():
    opt = sgd(2)
    s = clrdsl.compile({0: "constant(0.1)", 1: "constant(0.2)"}, backend="torch", optimizer=opt)
    assert s.get_last_lr() == [0.1, 0.2]


def test_unknown_group_is_a_clear_error():
    opt = torch.optim.SGD([{"params": params(), "name": "head"}], lr=0.1)
    with pytest.raises(clrdsl.ClrdslTypeError) as e:
        clrdsl.compile({"lr": {"haed": "constant(0.1)"}}, backend="torch", optimizer=opt)
    assert e.value.code == "E603" and "did you mean `head`" in str(e.value)
    with pytest.raises(clrdsl.ClrdslTypeError, match="0..0"):
        clrdsl.compile({"lr": {3: "constant(0.1)"}}, backend="torch", optimizer=opt)
    with pytest.raises(clrdsl.ClrdslTypeError, match="two schedules"):
        clrdsl.compile({"lr": {0: "constant(0.1)", "head": "constant(0.2)"}}, backend="torch", optimizer=opt)


def test_relative_mode_multiplies_each_groups_initial_value():
    ps = params(2)
    opt = torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.01}], lr=1.0)
    expr = "warmup_cosine(1, warmup=100, decay=900)"
    s = clrdsl.compile(expr, backend="torch", optimizer=opt, relative=True)
    f = numpy_values(expr, 1200)
    np.testing.assert_array_equal(run(s, opt, 1200, lr_of(0)), 0.1 * f)
    s.set_step(0)
    np.testing.assert_array_equal(run(s, opt, 1200, lr_of(1)), 0.01 * f)
    # the initial values travel in the state: resuming does not depend on the group's current lr
    st = s.state_dict()
    assert [e["initial"] for e in st["schedules"]] == [0.1, 0.01]
    opt2 = torch.optim.SGD([{"params": [ps[0]], "lr": 0.5}, {"params": [ps[1]], "lr": 0.5}], lr=1.0)
    s2 = clrdsl.compile(expr, backend="torch", optimizer=opt2, relative=True)
    s2.load_state_dict(st)
    assert s2.get_last_lr() == s.get_last_lr()
    # agrees with torch's LambdaLR given the same multiplier
    opt3 = torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.01}], lr=1.0)
    lam = L.LambdaLR(opt3, lambda t: float(f[t]))
    np.testing.assert_allclose(run(lam, opt3, 1000, lr_of(1)), 0.01 * f[:1000], rtol=1e-15)


# -- conformance with torch's own schedulers, through the optimizer -------------------


def _pair(n_groups, opt_cls=torch.optim.SGD, **kw):
    return opt_cls([{"params": [p]} for p in params(n_groups)], **kw), \
        opt_cls([{"params": [p]} for p in params(n_groups)], **kw)


@pytest.mark.parametrize("three_phase,anneal", [(False, "cos"), (True, "linear")])
def test_onecycle_matches_torch_per_group_lr_and_momentum(three_phase, anneal):
    n, maxes = 3000, (0.05, 0.4)
    ref_opt, opt = _pair(2, lr=0.1, momentum=0.9)
    ref = L.OneCycleLR(ref_opt, max_lr=list(maxes), total_steps=n, anneal_strategy=anneal,
                       three_phase=three_phase)
    tp = "true" if three_phase else "false"
    spec = {"lr": {i: f"onecycle({m}, total={n}, anneal={anneal}, three_phase={tp})" for i, m in enumerate(maxes)},
            "momentum": f"onecycle_momentum(total={n}, anneal={anneal}, three_phase={tp})"}
    s = clrdsl.compile(spec, backend="torch", optimizer=opt)

    def read(o):
        return [g[k] for g in o.param_groups for k in ("lr", "momentum")]

    got, want = run(s, opt, n, read), run(ref, ref_opt, n, read)
    np.testing.assert_allclose(got[:, 0::2], want[:, 0::2], rtol=1e-9)  # lr of each group
    np.testing.assert_allclose(got[:, 1::2], want[:, 1::2], rtol=1e-12)  # momentum of each group
    assert not np.array_equal(got[:, 0], got[:, 2])


def test_onecycle_matches_torch_on_adam_betas():
    n = 2000
    ref_opt, opt = _pair(1, torch.optim.Adam, lr=0.1, betas=(0.9, 0.99))
    ref = L.OneCycleLR(ref_opt, max_lr=0.3, total_steps=n)
    s = clrdsl.compile({"lr": f"onecycle(0.3, total={n})", "momentum": f"onecycle_momentum(total={n})"},
                       backend="torch", optimizer=opt)
    got = run(s, opt, n, lambda o: o.param_groups[0]["betas"])
    want = run(ref, ref_opt, n, lambda o: o.param_groups[0]["betas"])
    np.testing.assert_allclose(got[:, 0], want[:, 0], rtol=1e-12)
    assert set(got[:, 1]) == {0.99}


@pytest.mark.parametrize("t0,mult", [(100, 1), (30, 2)])
def test_warm_restarts_match_torch(t0, mult):
    n = 4000
    ref_opt, opt = _pair(1, lr=0.1)
    ref = L.CosineAnnealingWarmRestarts(ref_opt, T_0=t0, T_mult=mult, eta_min=0.001)
    s = clrdsl.compile(f"cosine_restarts(0.1, 0.001, period={t0}, mult={mult})", backend="torch", optimizer=opt)
    np.testing.assert_allclose(run(s, opt, n, lr_of()), run(ref, ref_opt, n, lr_of()), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("mode,expr,momentum", [
    ("triangular", "triangular(0.001, 0.006, step=250)", "0.8 + 0.9 - triangular(0.8, 0.9, step=250)"),
    ("exp_range", "exp_range(0.001, 0.006, step=250, gamma=0.999)",
     "0.8 + 0.9 - triangular(0.8, 0.9, step=250) * exp(gamma=0.999)"),
])
def test_cyclic_matches_torch_lr_and_momentum(mode, expr, momentum):
    n = 3000
    ref_opt, opt = _pair(1, lr=0.1, momentum=0.9)
    ref = L.CyclicLR(ref_opt, 0.001, 0.006, step_size_up=250, mode=mode, gamma=0.999,
                     base_momentum=0.8, max_momentum=0.9)
    s = clrdsl.compile({"lr": expr, "momentum": momentum}, backend="torch", optimizer=opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own step-order warnings, not ours
        want_lr, want_m = run(ref, ref_opt, n, lambda o: (o.param_groups[0]["lr"], o.param_groups[0]["momentum"])).T
    got_lr, got_m = run(s, opt, n, lambda o: (o.param_groups[0]["lr"], o.param_groups[0]["momentum"])).T
    np.testing.assert_allclose(got_lr, want_lr, rtol=1e-9)
    np.testing.assert_allclose(got_m, want_m, rtol=1e-12)


# -- capturable and integration helpers -------------------------------------------------


def test_capturable_keeps_tensors_and_updates_them_in_place():
    opt = torch.optim.Adam(params(dtype=torch.float32), lr=0.1, betas=(0.9, 0.999))
    s = clrdsl.compile({"lr": "triangular(0.01, 0.1, step=3)", "momentum": "0.9 - triangular(0, 0.05, step=3)"},
                       backend="torch", optimizer=opt, capturable=True)
    g = opt.param_groups[0]
    lr, (b1, b2) = g["lr"], g["betas"]
    assert all(isinstance(x, torch.Tensor) and x.dim() == 0 for x in (lr, b1, b2))
    assert lr.dtype == torch.float32 and b2.item() == pytest.approx(0.999)
    ref = numpy_values("triangular(0.01, 0.1, step=3)", 10)
    for t in range(10):
        assert g["lr"] is lr and g["betas"][0] is b1  # same objects, new values
        assert lr.item() == pytest.approx(ref[t], rel=1e-7)
        assert s.get_last_lr()[0] == ref[t]  # exact float64 values
        opt.step()
        s.step()
    # after an optimizer.load_state_dict replaces the groups' values, they stay tensors
    opt.load_state_dict(opt.state_dict())
    s.set_step(2)
    assert isinstance(opt.param_groups[0]["lr"], torch.Tensor)
    assert opt.param_groups[0]["lr"].item() == pytest.approx(ref[2], rel=1e-7)


def test_lightning_config_steps_every_update():
    s = clrdsl.compile("constant(0.1)", backend="torch", optimizer=sgd())
    assert lightning_config(s) == {"scheduler": s, "interval": "step", "frequency": 1}
    assert s.lightning_config(name="lr")["name"] == "lr"
