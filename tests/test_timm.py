"""``clrdsl.integrations.timm.TimmScheduler``: timm's scheduler protocol and ``lr_scale``.

Two kinds of test. The protocol tests hold on any machine: they follow timm's
documented contract (``step_update(num_updates)`` after each update, ``step(epoch)``
after each epoch, the value from the count alone, ``lr_scale`` multiplying a group's
rate). The conformance test runs timm's own ``CosineLRScheduler`` beside the adapter
in a timm-style loop. ``import timm`` imports torchvision, which may not import beside
this torch; ``timm.scheduler`` needs torch alone, so it is loaded without timm's
package ``__init__`` when the full import fails.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest

import clrdsl

torch = pytest.importorskip("torch")

from clrdsl.integrations.timm import TimmScheduler  # noqa: E402


def _opt(scales=(0.5, None), lr=0.1):
    groups = []
    for i, s in enumerate(scales):
        g = {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr}
        if s is not None:
            g["lr_scale"] = s
        groups.append(g)
    return torch.optim.SGD(groups, lr=lr, momentum=0.9)


def test_step_update_positions_the_clock_and_lr_scale_multiplies():
    expr = "cosine(0.1, 0.001, over=20)"
    opt = _opt()
    sched = TimmScheduler(opt, expr)
    ref = clrdsl.compile(expr)
    assert [g["lr"] for g in opt.param_groups] == [ref(0) * 0.5, ref(0)]
    for n in (1, 2, 7, 7, 3, 25):  # idempotent, any order, past the end holds
        sched.step_update(num_updates=n)
        assert sched.get_last_lr() == [ref(n) * 0.5, ref(n)]
    sched.step(3, metric=0.5)  # per-update schedule: the epoch call changes nothing
    assert sched.get_last_lr() == [ref(25) * 0.5, ref(25)] and sched.metric == 0.5


def test_t_in_epochs_counts_epochs():
    opt = _opt(scales=(None, 0.25))
    sched = TimmScheduler(opt, "constant(0.1, over=2) >> constant(0.025)", t_in_epochs=True)
    sched.step_update(100)
    assert sched.get_last_lr() == [0.1, 0.025]
    sched.step(2)
    assert sched.get_last_lr() == [0.025, 0.025 * 0.25]


def test_several_hyperparameters_only_lr_is_scaled():
    opt = _opt(scales=(0.5, None))
    sched = TimmScheduler(opt, {"lr": "constant(0.2)", "momentum": "linear(0.95, 0.85, over=10)"})
    sched.step_update(5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert [g["momentum"] for g in opt.param_groups] == [pytest.approx(0.9, rel=1e-15)] * 2


def test_state_dict_resumes_exactly():
    expr = "linear(0, 0.1, over=2ep) >> cosine(0.1, 0, over=100%)"
    a = TimmScheduler(_opt(), expr, steps_per_epoch=4, total_steps=40)
    a.step_update(13)
    state = a.state_dict()
    b = TimmScheduler(_opt(), expr, steps_per_epoch=4, total_steps=40)
    b.load_state_dict(state)
    assert b.t == 13 and b.get_last_lr() == a.get_last_lr()
    with pytest.raises(clrdsl.ClrdslError):  # another schedule's state is refused
        TimmScheduler(_opt(), "constant(0.1)").load_state_dict(state)


@pytest.fixture
def timm_scheduler():
    if importlib.util.find_spec("timm") is None:
        pytest.skip("timm is not installed")
    saved = {k: v for k, v in sys.modules.items() if k == "timm" or k.startswith("timm.")}
    try:
        try:
            yield importlib.import_module("timm.scheduler")
        except ImportError:  # timm's __init__ imports torchvision; timm.scheduler needs only torch
            for k in list(sys.modules):
                if k == "timm" or k.startswith("timm."):
                    del sys.modules[k]
            pkg = types.ModuleType("timm")
            pkg.__path__ = list(importlib.util.find_spec("timm").submodule_search_locations)
            sys.modules["timm"] = pkg
            yield importlib.import_module("timm.scheduler")
    finally:
        for k in list(sys.modules):
            if k == "timm" or k.startswith("timm."):
                del sys.modules[k]
        sys.modules.update(saved)


def test_matches_timm_cosine_lr_scheduler_with_lr_scale(timm_scheduler):
    steps_per_epoch, epochs, base, floor = 5, 6, 0.1, 1e-3
    total = steps_per_epoch * epochs
    ours_opt, timm_opt = _opt(lr=base), _opt(lr=base)
    ours = TimmScheduler(ours_opt, f"cosine({base}, {floor}, over=100%)", total_steps=total)
    theirs = timm_scheduler.CosineLRScheduler(timm_opt, t_initial=total, lr_min=floor, t_in_epochs=False)
    seen_ours, seen_theirs = [], []
    num_updates = 0
    for epoch in range(epochs):  # timm's train.py loop
        for _ in range(steps_per_epoch):
            seen_ours.append([g["lr"] for g in ours_opt.param_groups])
            seen_theirs.append([g["lr"] for g in timm_opt.param_groups])
            num_updates += 1
            ours.step_update(num_updates=num_updates)
            theirs.step_update(num_updates=num_updates)
        ours.step(epoch + 1, 0.0)
        theirs.step(epoch + 1, 0.0)
    # timm evaluates in Python floats, clrdsl through NumPy: a few ulps apart
    np.testing.assert_allclose(seen_ours, seen_theirs, rtol=1e-12, atol=0)
    assert seen_ours[0] == [base * 0.5, base]  # lr_scale honoured like timm
    assert len({tuple(r) for r in seen_ours}) == total


def test_plateau_schedule_takes_the_epoch_metric_as_timm_plateau_does():
    """timm's train loop passes the eval metric to ``step(epoch, metric)``; timm's
    PlateauLRScheduler feeds it to torch's ReduceLROnPlateau. The adapter reports it to
    the plateau clock: the same reductions as torch's, and ``lr_scale`` still applies."""
    rng = np.random.default_rng(11)
    metrics = [1.0, 0.9, 0.9, 0.95, 0.8, 0.8, 0.81, 0.82, 0.7] + list(rng.uniform(0.7, 0.8, 10))
    opt = _opt()
    sched = TimmScheduler(opt, "constant(0.1) * exp(gamma=0.5, on=plateau(patience=1, eps=1e-8))")
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, factor=0.5, patience=1)
    updates = 0
    for epoch, m in enumerate(metrics):
        for _ in range(4):
            updates += 1
            sched.step_update(updates, metric=None)
        sched.step(epoch + 1, m)
        ref.step(m)
        assert sched.get_last_lr()[1] == ref_opt.param_groups[0]["lr"]
        assert sched.get_last_lr()[0] == ref_opt.param_groups[0]["lr"] * 0.5  # lr_scale
    assert ref_opt.param_groups[0]["lr"] < 0.1 / 4
