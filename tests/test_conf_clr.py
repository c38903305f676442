"""Conformance with the CLR Keras callback (bckenstler/CLR), the LR range test, and HF WSD.

The CLR callback is not a package; its published ``clr()`` formula is a few lines and is
written out below as the callback states it, with its 1-based cycle count:

    cycle = floor(1 + it / (2 * step_size))
    x = |it / step_size - 2 * cycle + 1|
    lr = base + (max - base) * max(0, 1 - x) * scale_fn(cycle or it)

Our cycle clock is 0-based, so a custom ``scale_fn(cycle)`` ports as a scale of
``x + 1`` on ``on=cycle``.
"""

from __future__ import annotations

import numpy as np
import pytest

import clrdsl

RTOL = 1e-9


def clr_callback(base, top, step_size, scale_fn, scale_mode, n):
    it = np.arange(n, dtype=np.float64)
    cycle = np.floor(1 + it / (2 * step_size))
    x = np.abs(it / step_size - 2 * cycle + 1)
    arg = cycle if scale_mode == "cycle" else it
    return base + (top - base) * np.maximum(0, 1 - x) * scale_fn(arg)


def ours(expr, n):
    return clrdsl.compile(expr)(np.arange(n))


N = 20_000


def test_clr_triangular():
    ref = clr_callback(0.001, 0.006, 2000, lambda x: np.ones_like(x), "cycle", N)
    np.testing.assert_allclose(ours("triangular(0.001, 0.006, step=2000)", N), ref, rtol=RTOL)


def test_clr_triangular2():
    ref = clr_callback(0.001, 0.006, 700, lambda x: 1 / (2.0 ** (x - 1)), "cycle", N)
    np.testing.assert_allclose(ours("triangular2(0.001, 0.006, step=700)", N), ref, rtol=RTOL)
    np.testing.assert_allclose(ours("triangular(0.001, 0.006, step=700) * exp(gamma=0.5, on=cycle)", N),
                               ref, rtol=RTOL)


def test_clr_exp_range():
    ref = clr_callback(0.001, 0.006, 2000, lambda x: 0.99994**x, "iterations", N)
    mission = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
    np.testing.assert_allclose(ours(mission, N), ref, rtol=RTOL)


def test_clr_custom_cycle_policy():
    # README: clr_fn = lambda x: 0.5*(1+np.sin(x*np.pi/2.)), scale_mode='cycle' (x 1-based)
    ref = clr_callback(0.001, 0.006, 500, lambda x: 0.5 * (1 + np.sin(x * np.pi / 2.0)), "cycle", N)
    expr = "triangular(0.001, 0.006, step=500) * scale(0.5 * (1 + sin((x + 1) * pi / 2)), on=cycle)"
    got = ours(expr, N)
    np.testing.assert_allclose(got, ref, rtol=RTOL)
    # the 0-based spelling is a different (shifted) policy: it must not pass by accident
    shifted = ours("triangular(0.001, 0.006, step=500) * scale(0.5 * (1 + sin(x * pi / 2)), on=cycle)", N)
    assert not np.allclose(shifted, ref, rtol=1e-3)


def test_clr_custom_iterations_policy():
    # README: clr_fn = lambda x: 1/(5**(x*0.0001)), scale_mode='iterations'
    ref = clr_callback(0.001, 0.006, 2000, lambda x: 1 / (5 ** (x * 0.0001)), "iterations", N)
    got = ours("triangular(0.001, 0.006, step=2000) * scale(1 / 5 ** (x * 0.0001))", N)
    np.testing.assert_allclose(got, ref, rtol=RTOL)
    got = ours("triangular(0.001, 0.006, step=2000) * exp(gamma=5 ** -0.0001)", N)
    np.testing.assert_allclose(got, ref, rtol=RTOL)


# -- the LR range test ----------------------------------------------------------------------


def test_range_test_torch_lr_finder_formula():
    # torch-lr-finder ExponentialLR / LinearLR: r = t / (num_iter - 1)
    num_iter, start, end = 100, 1e-7, 10.0
    t = np.arange(num_iter + 20)
    r = np.minimum(t, num_iter - 1) / (num_iter - 1)
    got = clrdsl.compile(f"range_test({start}, {end}, over={num_iter - 1})")(t)
    np.testing.assert_allclose(got, start * (end / start) ** r, rtol=RTOL)
    got = clrdsl.compile(f"range_test({start}, {end}, over={num_iter - 1}, mode=linear)")(t)
    np.testing.assert_allclose(got, start + r * (end - start), rtol=RTOL)


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_range_test_lightning(mode):
    # Lightning's finder schedulers hold the first step at the base rate, then use
    # r = (t + 1) / num_iter: a one-step constant followed by a ramp that starts at r = 2/n.
    torch = pytest.importorskip("torch")
    finder = pytest.importorskip("lightning.pytorch.tuner.lr_finder")
    num_iter, start, end = 100, 1e-6, 1.0
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=start)
    cls = finder._ExponentialLR if mode == "exp" else finder._LinearLR
    sched = cls(opt, end_lr=end, num_iter=num_iter)
    ref = []
    for _ in range(num_iter - 1):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    second = start * (end / start) ** (2 / num_iter) if mode == "exp" else start + 2 / num_iter * (end - start)
    expr = f"constant({start}, over=1) >> range_test({second!r}, {end}, over={num_iter - 2}, mode={mode})"
    np.testing.assert_allclose(ours(expr, num_iter - 1), ref, rtol=RTOL)


# -- HF warmup-stable-decay -------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [0.0, 0.1])
def test_wsd_matches_transformers(ratio):
    pytest.importorskip("transformers")  # not a project dependency: skipped when absent
    torch = pytest.importorskip("torch")
    from transformers.optimization import get_wsd_schedule

    warm, stable, decay = 50, 300, 150
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = get_wsd_schedule(opt, num_warmup_steps=warm, num_stable_steps=stable,
                             num_decay_steps=decay, min_lr_ratio=ratio)
    n = warm + stable + decay + 50
    ref = []
    for _ in range(n):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expr = f"wsd(0.1, warmup={warm}, stable={stable}, decay={decay}, min={0.1 * ratio!r})"
    np.testing.assert_allclose(ours(expr, n), ref, rtol=RTOL, atol=1e-15)
