"""Conformance with torch.optim.lr_scheduler, value for value, in float64.

Each test writes the schedule in clrdsl on one side and runs the real torch scheduler
on the other: a one-parameter SGD optimizer is stepped together with the scheduler and
the learning rate (and momentum) is read back from it after every step. Nothing here
is a pasted reference number.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import clrdsl

torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler as L  # noqa: E402

RTOL = 1e-9


def torch_run(make, n, lr=0.1, momentum=0.9, read_momentum=False):
    """Values of ``group["lr"]`` (or ``group["momentum"]``) for steps 0..n-1.

    ``make(optimizer)`` builds the scheduler; step t's value is the one the optimizer
    uses for update t (read after the scheduler's t-th ``step()``).
    """
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum)
    sched = make(opt)
    key = "momentum" if read_momentum else "lr"
    out = np.empty(n)
    for t in range(n):
        out[t] = float(opt.param_groups[0][key])
        if not read_momentum:
            assert out[t] == sched.get_last_lr()[0]
        opt.step()
        sched.step()
    return out


def ours(expr, n, **bindings):
    return clrdsl.compile(expr, **bindings)(np.arange(n))


def assert_same(a, b, rtol=RTOL, atol=0.0):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# -- CyclicLR -----------------------------------------------------------------------------

MISSION = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"


def cyclic(mode="triangular", up=2000, down=None, gamma=1.0, base=0.001, top=0.006, momentum=False):
    def make(opt):
        return L.CyclicLR(opt, base_lr=base, max_lr=top, step_size_up=up, step_size_down=down,
                          mode=mode, gamma=gamma, cycle_momentum=momentum)
    return make


def test_mission_example_is_cycliclr_exp_range():
    n = 12_000  # three full cycles
    ref = torch_run(cyclic("exp_range", gamma=0.99994), n)
    assert_same(ours(MISSION, n), ref)
    # the prelude spelling means the same model, not merely the same numbers
    prelude = clrdsl.check("exp_range(0.001, 0.006, step=2000, gamma=0.99994)")
    assert prelude.root == clrdsl.check(MISSION).root


def test_triangular():
    n = 10_000
    assert_same(ours("triangular(0.001, 0.006, step=2000)", n), torch_run(cyclic(), n))


def test_triangular_asymmetric_step_size_down():
    n = 9_000
    ref = torch_run(cyclic(up=500, down=1500), n)
    assert_same(ours("triangular(0.001, 0.006, step=500, step_down=1500)", n), ref)
    ref = torch_run(cyclic(up=1700, down=300), n)
    assert_same(ours("triangular(0.001, 0.006, step=1700, step_down=300)", n), ref)


def test_triangular2_equals_cycle_scale_spelling():
    n = 8_000
    ref = torch_run(cyclic("triangular2", up=250), n)
    star = "triangular(0.001, 0.006, step=250) * exp(gamma=0.5, on=cycle)"
    assert_same(ours(star, n), ref)
    assert_same(ours("triangular2(0.001, 0.006, step=250)", n), ref)
    assert clrdsl.check("triangular2(0.001, 0.006, step=250)").root == clrdsl.check(star).root


def test_triangular2_asymmetric():
    n = 6_000
    ref = torch_run(cyclic("triangular2", up=100, down=300), n)
    assert_same(ours("triangular2(0.001, 0.006, step=100, step_down=300)", n), ref)


@pytest.mark.parametrize("gamma", [0.9, 0.999, 0.99994])
def test_exp_range_gamma(gamma):
    n = 5_000
    ref = torch_run(cyclic("exp_range", up=300, gamma=gamma), n)
    star = f"triangular(0.001, 0.006, step=300) * exp(gamma={gamma}, on=iterations)"
    assert_same(ours(star, n), ref)
    assert_same(ours(f"exp_range(0.001, 0.006, step=300, gamma={gamma})", n), ref)


def test_cycle_momentum_written_in_the_language():
    # torch cycles momentum inversely: max_m - (max_m - base_m) * triangle * scale.
    # In clrdsl that is `base_m + max_m - triangular(base_m, max_m, ...)`, with the same
    # scale as the rate when the amplitude is modulated.
    n = 6_000
    ref = torch_run(cyclic(up=400, momentum=True), n, read_momentum=True)
    assert_same(ours("0.8 + 0.9 - triangular(0.8, 0.9, step=400)", n), ref)
    ref = torch_run(cyclic("triangular2", up=400, momentum=True), n, read_momentum=True)
    assert_same(ours("0.8 + 0.9 - triangular2(0.8, 0.9, step=400)", n), ref)
    ref = torch_run(cyclic("exp_range", up=400, gamma=0.999, momentum=True), n, read_momentum=True)
    assert_same(ours("0.8 + 0.9 - triangular(0.8, 0.9, step=400) * exp(gamma=0.999)", n), ref)


def test_triangular2_far_out_gives_base_where_torch_overflows():
    # torch's triangular2 scale_fn is 1 / 2**(cycle - 1): past ~1024 cycles the power
    # overflows and stepping the scheduler raises. Ours gives `base`, exactly.
    p = torch.nn.Parameter(torch.zeros(1))
    sched = L.CyclicLR(torch.optim.SGD([p], lr=0.1), 0.001, 0.006, step_size_up=2,
                       mode="triangular2", cycle_momentum=False)
    with pytest.raises(OverflowError):
        sched.scale_fn(1100)
    s = clrdsl.compile("triangular2(0.001, 0.006, step=2)")
    t = np.arange(4 * 10_000, 4 * 10_000 + 50)  # cycle 10^4 onwards
    assert np.all(s(t) == 0.001)
    assert s(4 * 2000 + 2) == 0.001  # cycle 2000, at the peak of its triangle
    assert clrdsl.compile("triangular2(0.001, 0.006, step=2)", "numpy")(10**12 + 2) == 0.001


# -- OneCycleLR ---------------------------------------------------------------------------

ONECYCLE_CASES = [
    # total, pct, anneal, three_phase, div, final_div
    (1000, 0.3, "cos", False, 25.0, 1e4),   # pct*total - 1 an integer
    (1001, 0.25, "cos", False, 25.0, 1e4),  # pct*total = 250.25
    (997, 0.3, "linear", False, 10.0, 100.0),  # 299.1
    (1234, 0.45, "cos", True, 25.0, 1e4),   # three phases, 555.3
    (800, 0.3, "linear", True, 5.0, 1e3),
    (333, 0.1, "cos", False, 3.0, 7.0),
]


def _onecycle(total, pct, anneal, three, div, final_div, max_lr=0.5):
    def make(opt):
        return L.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=pct, anneal_strategy=anneal,
                            three_phase=three, div_factor=div, final_div_factor=final_div,
                            base_momentum=0.85, max_momentum=0.95)
    return make


@pytest.mark.parametrize("total,pct,anneal,three,div,final_div", ONECYCLE_CASES)
def test_onecycle_lr_and_momentum(total, pct, anneal, three, div, final_div):
    make = _onecycle(total, pct, anneal, three, div, final_div)
    three_s = "true" if three else "false"
    lr = (f"onecycle(0.5, total={total}, pct={pct}, div={div}, final_div={final_div}, "
          f"anneal={anneal}, three_phase={three_s})")
    mom = f"onecycle_momentum(total={total}, pct={pct}, anneal={anneal}, three_phase={three_s})"
    assert_same(ours(lr, total), torch_run(make, total))
    assert_same(ours(mom, total), torch_run(make, total, read_momentum=True))


def test_onecycle_total_from_binding_and_defaults():
    n = 1500
    ref = torch_run(_onecycle(n, 0.3, "cos", False, 25.0, 1e4, max_lr=0.01), n)
    assert_same(ours("onecycle(0.01)", n, total_steps=n), ref)
    assert_same(ours("onecycle(0.01, total=100%)", n, total_steps=n), ref)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_onecycle_past_the_end_holds_where_torch_raises(anneal):
    total = 100
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = L.OneCycleLR(opt, max_lr=1.0, total_steps=total, anneal_strategy=anneal)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # step() may be called `total` times; at t = total torch extrapolates the last phase
    # past its end (for linear annealing the rate even goes negative) ...
    at_total = opt.param_groups[0]["lr"]
    final = 1.0 / 25 / 1e4
    assert at_total != pytest.approx(final, rel=1e-6)
    if anneal == "linear":
        assert at_total < 0
    # ... and one more step raises.
    opt.step()
    with pytest.raises(ValueError, match="Tried to step"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched.step()
    s = clrdsl.compile(f"onecycle(1, total={total}, anneal={anneal})")
    assert_same(s(np.arange(total)), np.array(lrs))
    far = s(np.array([total - 1, total, total + 1, 10 * total, 10**12]))
    assert np.all(far == s(total - 1)) and s(total - 1) == pytest.approx(final, rel=1e-12)


# -- the other torch schedulers ----------------------------------------------------------


@pytest.mark.parametrize("t0,mult,eta_min", [(50, 1, 0.0), (7, 2, 0.001), (10, 3, 0.0), (1, 2, 0.01)])
def test_cosine_annealing_warm_restarts(t0, mult, eta_min):
    n = 10_000
    ref = torch_run(lambda o: L.CosineAnnealingWarmRestarts(o, T_0=t0, T_mult=mult, eta_min=eta_min), n)
    got = ours(f"cosine_restarts(0.1, {eta_min}, period={t0}, mult={mult})", n)
    assert_same(got, ref, atol=1e-15)
    # every restart lands exactly on the step torch restarts at
    restarts = np.flatnonzero(np.diff(ref) > 0) + 1
    assert np.all(got[restarts] == 0.1)


@pytest.mark.parametrize("start,end,total", [(0.25, 1.0, 1000), (1.0, 0.1, 2500), (0.001, 1.0, 3)])
def test_linear_lr(start, end, total):
    n = total + 500
    ref = torch_run(lambda o: L.LinearLR(o, start_factor=start, end_factor=end, total_iters=total), n)
    assert_same(ours(f"linear({0.1 * start!r}, {0.1 * end!r}, over={total})", n), ref)


@pytest.mark.parametrize("total,power", [(1000, 1.0), (2000, 2.0), (777, 0.5)])
def test_polynomial_lr(total, power):
    n = total + 300
    ref = torch_run(lambda o: L.PolynomialLR(o, total_iters=total, power=power), n)
    assert_same(ours(f"poly(0.1, 0, over={total}, power={power})", n), ref, atol=1e-15)


@pytest.mark.parametrize("t_max,eta_min", [(1000, 0.001), (3000, 0.0)])
def test_cosine_annealing_lr_up_to_t_max(t_max, eta_min):
    # torch keeps going (the cosine climbs back) after T_max; ours holds eta_min
    n = t_max + 1
    ref = torch_run(lambda o: L.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min), n)
    s = clrdsl.compile(f"cosine(0.1, {eta_min}, over={t_max})")
    assert_same(s(np.arange(n)), ref, atol=1e-15)
    assert s(t_max + 10) == s(t_max) == eta_min


@pytest.mark.parametrize("gamma", [0.999, 0.95])
def test_exponential_lr(gamma):
    n = 3_000
    ref = torch_run(lambda o: L.ExponentialLR(o, gamma=gamma), n)
    assert_same(ours(f"constant(0.1) * exp(gamma={gamma})", n), ref, rtol=1e-9, atol=1e-300)
    assert math.isfinite(clrdsl.compile(f"constant(0.1) * exp(gamma={gamma})")(10**12))
