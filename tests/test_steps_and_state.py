"""Steps a backend cannot represent are refused (never wrapped), and state loads are atomic."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import clrdsl
from clrdsl import ClrdslError, ClrdslTypeError, ClrdslValueError
from clrdsl.evaluation.steps import INT32_LIMIT, StepError, check_host

EXPR = "triangular(0.001, 0.006, step=2000)"
TOO_BIG = [2**63, np.uint64(2**63 + 3000), 1e19, [0, 1, 2**70], np.array([5, 2**63 + 1], dtype=np.uint64),
           np.array([0.0, 9.3e18])]


@pytest.mark.parametrize("step", TOO_BIG, ids=repr)
def test_numpy_refuses_steps_int64_cannot_hold(step):
    s = clrdsl.compile(EXPR)
    with pytest.raises(StepError) as info:
        s(step)
    err = info.value
    assert err.code == "E630" and "numpy backend" in err.message and "2**63" in err.expected
    assert isinstance(err, OverflowError) and isinstance(err, ClrdslValueError)


def test_numpy_non_integer_steps_and_the_largest_step():
    s = clrdsl.compile(EXPR)
    for bad in (2.5, math.nan, math.inf, np.array([1.0, 1.5])):
        with pytest.raises(ClrdslTypeError) as info:
            s(bad)
        assert info.value.code == "E631"
    top = 2**63 - 1
    assert s(top) == s(np.array([top], dtype=np.int64))[0]
    assert s(np.uint64(top)) == s(top)
    assert s(-5) == s(0)  # before the start: the value at step 0 (documented)


def test_generated_numpy_module_does_not_wrap_either(tmp_path):
    from clrdsl_numpy.emit import emit

    ns: dict = {}
    exec(compile(emit(clrdsl.check(EXPR)), "gen.py", "exec"), ns)  # noqa: S102 - our own generated code
    with pytest.raises(OverflowError):
        ns["schedule"](np.uint64(2**63 + 3000))
    with pytest.raises(OverflowError):
        ns["schedule"](1e19)
    assert ns["schedule"](1000) == clrdsl.compile(EXPR)(1000)


def test_check_host_accepts_what_fits():
    assert check_host(np.array([1, 2], dtype=np.uint64)).dtype == np.int64
    assert check_host(2**31, limit=2**32).item() == 2**31
    with pytest.raises(StepError):
        check_host(2**31, limit=INT32_LIMIT, backend="jax")


def test_jax_without_x64_refuses_steps_past_int32():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    if jax.config.read("jax_enable_x64"):
        pytest.skip("x64 enabled")
    s = clrdsl.compile(EXPR, backend="jax")
    for step in (2**31, np.array([0, 1, 10**12]), 3e9, jnp.asarray(3e9), np.uint64(2**63 + 3000)):
        with pytest.raises(StepError) as info:
            s(step)
        assert "jax_enable_x64" in info.value.hint
    got = np.asarray(s(np.array([0, 1, 2**31 - 1])))
    assert got[-1] == pytest.approx(float(clrdsl.compile(EXPR)(2**31 - 1)), rel=1e-6)


def test_keras_refuses_steps_it_cannot_count():
    keras = pytest.importorskip("keras")
    s = clrdsl.compile(EXPR, backend="keras")
    for step in (2**63, np.uint64(2**63 + 3000), 1e19, keras.ops.convert_to_tensor(np.uint64(2**63 + 3000))):
        with pytest.raises(StepError):
            s(step)
    assert float(s(2000)) == pytest.approx(0.006)


# -- torch: set_step and load_state_dict accept the same range, atomically --------------------


torch = pytest.importorskip("torch")


def _sched(expr="linear(0.1, 0.2, over=10)", **kw):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5, momentum=0.9)
    return clrdsl.compile(expr, backend="torch", optimizer=opt, **kw), opt


def _broken_states(good):
    def edit(f):
        st = copy.deepcopy(good)
        f(st)
        return st

    e0 = lambda f: edit(lambda st: f(st["schedules"][0]))  # noqa: E731
    return {
        "no param": e0(lambda e: e.pop("param")),
        "no expr": e0(lambda e: e.pop("expr")),
        "no group": e0(lambda e: e.pop("group")),
        "no bindings": e0(lambda e: e.pop("bindings")),
        "entry is None": edit(lambda st: st["schedules"].__setitem__(0, None)),
        "bindings a list": e0(lambda e: e.__setitem__("bindings", [1, 2])),
        "unknown binding": e0(lambda e: e.__setitem__("bindings", {"epochs": 3})),
        "t = 2**70": edit(lambda st: st.__setitem__("t", 2**70)),
        "t = 2**62": edit(lambda st: st.__setitem__("t", 2**62)),
        "t negative": edit(lambda st: st.__setitem__("t", -1)),
        "t a float": edit(lambda st: st.__setitem__("t", 3.5)),
        "schedules a dict": edit(lambda st: st.__setitem__("schedules", {})),
        "group a string": e0(lambda e: e.__setitem__("group", "0")),
        "initial NaN": e0(lambda e: e.__setitem__("initial", math.nan)),
        "duplicate entry": edit(lambda st: st["schedules"].append(dict(st["schedules"][0]))),
    }


def test_load_state_dict_refuses_a_broken_state_and_changes_nothing():
    s, opt = _sched()
    s.set_step(4)
    good = s.state_dict()
    s.set_step(7)
    before = (s.t, opt.param_groups[0]["lr"], s.get_last_lr(), s.state_dict())
    for name, state in _broken_states(good).items():
        with pytest.raises(ClrdslValueError) as info:
            s.load_state_dict(state)
        err = info.value
        assert err.code == "E606", name
        assert err.expected and err.found, name
        assert (s.t, opt.param_groups[0]["lr"], s.get_last_lr(), s.state_dict()) == before, name
    s.load_state_dict(good)  # the checkpoint written before still loads
    assert s.t == 4 and opt.param_groups[0]["lr"] == pytest.approx(0.14)


def test_set_step_and_load_state_dict_accept_the_same_range():
    s, _ = _sched()
    good = s.state_dict()
    for t in (0, 1, 2**62 - 1):
        s.set_step(t)
        s.load_state_dict(dict(good, t=t))
        assert s.t == t
    for t in (-1, 2**62, 2**70):
        with pytest.raises(ClrdslError):
            s.set_step(t)
        with pytest.raises(ClrdslError):
            s.load_state_dict(dict(good, t=t))


def test_a_failing_load_leaves_the_scheduler_working():
    # a state whose step is out of range: refused before anything changes; the scheduler works on
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    s = clrdsl.compile({"lr": "constant(0.1)", "beta1": "linear(0.9, 0.95, over=10) >> constant(0.9)"},
                       backend="torch", optimizer=opt)
    s.set_step(3)
    lr = s.get_last_lr()
    state = s.state_dict()
    state["t"] = 2**70
    with pytest.raises(ClrdslValueError):
        s.load_state_dict(state)
    assert s.get_last_lr() == lr and s.t == 3
    s.step()
    assert s.t == 4


def _spike(ops, t):
    return ops.where(t == 5, float("inf"), ops.float(t) * 0.0 + 0.1)


def test_torch_never_writes_a_non_finite_value():
    """A plugin shape whose declared range lies (inf at step 5 only): the checker samples
    and trusts the declaration, the scheduler still refuses to write inf."""
    from clrdsl.contract import registry
    from clrdsl.contract.functions import Shape

    registry.functions.register("spike", Shape("spike", (), _spike, range=lambda a: (0.1, 0.1)))
    try:
        s, opt = _sched("spike()")
        s.set_step(4)
        lr = opt.param_groups[0]["lr"]
        with pytest.raises(ClrdslValueError) as info:
            s.set_step(5)
        assert info.value.code == "E608" and "step 5" in info.value.message
        assert opt.param_groups[0]["lr"] == lr and s.t == 4
        s.set_step(6)
        assert opt.param_groups[0]["lr"] == 0.1
        s.set_step(4)
        with pytest.raises(ClrdslValueError) as info:  # step() refuses it too
            s.step()
        assert info.value.code == "E608" and opt.param_groups[0]["lr"] == lr and s.t == 4
        s.set_step(6)
        s.step()
        assert opt.param_groups[0]["lr"] == s.get_last_lr()[0] == 0.1 and s.t == 7
    finally:
        registry.functions.unregister("spike")


# -- Keras from_config -----------------------------------------------------------------


def test_keras_from_config_validates_the_whole_config():
    pytest.importorskip("keras")
    from clrdsl_keras import Schedule

    good = Schedule("onecycle(0.1, total=100%)", total_steps=1000).get_config()
    assert Schedule.from_config(good).get_config() == good
    bad = [
        {"bindings": {}},
        {"expr": 3, "bindings": {}},
        {"expr": "constant(0.1)", "bindings": {"epochs": 3}},
        {"expr": "constant(0.1)", "bindings": [1]},
        {"expr": "constant(0.1)", "bindings": {"total_steps": -4}},
        {"expr": "constant(0.1)", "extra": 1},
        "constant(0.1)",
    ]
    for config in bad:
        with pytest.raises(ClrdslValueError) as info:
            Schedule.from_config(config)
        assert info.value.code == "E614" and info.value.expected and info.value.found, config


def test_a_load_that_fails_while_writing_restores_the_scheduler():
    # beta1 rises past 1 only after ~333,000 updates: the construction-time scan (2**17
    # updates) passes, a checkpoint at t = 500,000 cannot be applied
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    s = clrdsl.compile({"lr": "cosine(0.1, 0.01, over=1000)", "beta1": "triangular(0.9, 1.2, step=1000000)"},
                       backend="torch", optimizer=opt)
    s.set_step(30)
    before = (s.t, s.get_last_lr(), opt.param_groups[0]["lr"], tuple(opt.param_groups[0]["betas"]))
    state = s.state_dict()
    state["t"] = 500_000
    with pytest.raises(ClrdslValueError) as info:
        s.load_state_dict(state)
    assert info.value.code == "E604"
    assert (s.t, s.get_last_lr(), opt.param_groups[0]["lr"], tuple(opt.param_groups[0]["betas"])) == before
    s.step()
    assert s.t == 31


def test_keras_float_tensors_are_floored_but_bounded():
    keras = pytest.importorskip("keras")
    s = clrdsl.compile("linear(0, 1, over=100)", backend="keras")
    assert float(keras.ops.convert_to_numpy(s(keras.ops.convert_to_tensor(50.7, dtype="float32")))) == \
        pytest.approx(0.5)
    with pytest.raises(StepError):
        s(keras.ops.convert_to_tensor(1e19, dtype="float32"))
    with pytest.raises(ClrdslTypeError):
        s(keras.ops.convert_to_tensor(float("nan"), dtype="float32"))
