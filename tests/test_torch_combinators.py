"""torch's SequentialLR and ChainedScheduler around a clrdsl scheduler are refused with
E608, and the expression the error suggests runs what the torch composition meant."""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest

import clrdsl

torch = pytest.importorskip("torch")
from torch.optim.lr_scheduler import (  # noqa: E402
    ChainedScheduler, CosineAnnealingLR, ExponentialLR, LinearLR, SequentialLR,
)

WARM, DECAY, BASE = 5, 15, 0.1


def _opt():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)


def _suggested(err) -> str:
    m = re.search(r"clrdsl\.compile\(('.*?'), backend", err.hint)
    assert m, err.hint
    return ast.literal_eval(m.group(1))


def test_sequential_lr_is_refused_with_the_equivalent_expression():
    opt = _opt()
    warm = LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=WARM)
    ours = clrdsl.compile(f"cosine({BASE}, 0, over={DECAY})", backend="torch", optimizer=opt)
    with pytest.raises(clrdsl.ClrdslError) as e:
        SequentialLR(opt, [warm, ours], milestones=[WARM])
    assert e.value.code == "E609" and "LinearLR, ClrdslScheduler" in e.value.found
    expr = _suggested(e.value)
    assert ">>" in expr
    # what the user meant, in torch alone: LinearLR warmup then cosine annealing
    ref_opt = _opt()
    ref = SequentialLR(ref_opt, [LinearLR(ref_opt, start_factor=0.01, end_factor=1.0, total_iters=WARM),
                                 CosineAnnealingLR(ref_opt, T_max=DECAY, eta_min=0.0)], milestones=[WARM])
    torch_lrs = []
    for _ in range(WARM + DECAY):
        torch_lrs.append(ref_opt.param_groups[0]["lr"])
        ref_opt.step()
        ref.step()
    # torch's cosine is recursive: close to the closed form, not bit-equal
    np.testing.assert_allclose(clrdsl.compile(expr)(np.arange(WARM + DECAY)), torch_lrs, rtol=1e-9, atol=1e-15)


def test_clrdsl_first_in_sequential_lr_is_refused_too():
    opt = _opt()
    ours = clrdsl.compile("constant(0.1)", backend="torch", optimizer=opt)
    other = ExponentialLR(opt, gamma=0.9)
    with pytest.raises(clrdsl.ClrdslError) as e:
        SequentialLR(opt, [ours, other], milestones=[3])
    assert e.value.code == "E609" and "constant(0.1) >> <ExponentialLR>" in e.value.hint


def test_chained_scheduler_is_refused_at_its_first_step():
    opt = _opt()
    ours = clrdsl.compile("cosine(0.1, 0, over=20)", backend="torch", optimizer=opt)
    chain = ChainedScheduler([ours, ExponentialLR(opt, gamma=0.9)])
    opt.step()
    with pytest.raises(clrdsl.ClrdslError) as e:
        chain.step()
    assert e.value.code == "E609" and "a * b" in e.value.expected


def test_outside_the_combinators_nothing_changes():
    opt = _opt()
    ours = clrdsl.compile("cosine(0.1, 0, over=20)", backend="torch", optimizer=opt)
    opt.step()
    ours.step()
    assert ours.t == 1
    with pytest.raises(clrdsl.ClrdslError) as e:
        ours.last_epoch = -1
    assert e.value.code == "E607"
