"""``capturable=True``: a ``torch.compile``d optimizer step never recompiles for a new rate.

The compiled function is the optimizer step of a tiny model (backend ``aot_eager`` on
CPU). Recompiles are counted from torch's own recompile log (``TORCH_LOGS=recompiles``)
and from a compile counter. The same loop with a float learning rate is run as the
control: there every new rate is a guard failure and a recompile.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import clrdsl
from values import python_values

torch = pytest.importorskip("torch")
dynamo = pytest.importorskip("torch._dynamo")
from torch._dynamo.testing import CompileCounterWithBackend  # noqa: E402

CHANGES = 100


class RecompileLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        msg = record.getMessage()
        if "Recompiling function" in msg:
            self.messages.append(msg)


@pytest.fixture
def recompile_log():
    dynamo.reset()
    torch._logging.set_logs(recompiles=True)
    handler = RecompileLog()
    logger = logging.getLogger("torch._dynamo")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        torch._logging.set_logs()
        dynamo.reset()


def train(opt_cls, capturable, **opt_kw):
    """CHANGES updates with a compiled optimizer step and the rate changing every update."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = opt_cls(model.parameters(), lr=0.1, **opt_kw)
    spec = {"lr": "triangular(0.01, 0.1, step=7) * exp(gamma=0.99)"}
    if "betas" in opt.param_groups[0]:
        spec["momentum"] = "0.95 - triangular(0, 0.1, step=7)"
    sched = clrdsl.compile(spec, backend="torch", optimizer=opt, capturable=capturable)
    counter = CompileCounterWithBackend("aot_eager")

    @torch.compile(backend=counter)
    def opt_step():
        opt.step()

    x, y = torch.randn(8, 4), torch.randn(8, 1)
    lrs = []
    for _ in range(CHANGES + 1):
        lrs.append(sched.get_last_lr()[0])
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt_step()
        sched.step()
    return counter.frame_count, lrs, [p.detach().clone() for p in model.parameters()]


def eager(opt_cls, **opt_kw):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = opt_cls(model.parameters(), lr=0.1, **opt_kw)
    spec = {"lr": "triangular(0.01, 0.1, step=7) * exp(gamma=0.99)"}
    if "betas" in opt.param_groups[0]:
        spec["momentum"] = "0.95 - triangular(0, 0.1, step=7)"
    sched = clrdsl.compile(spec, backend="torch", optimizer=opt)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    for _ in range(CHANGES + 1):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("opt_cls", [torch.optim.SGD, torch.optim.Adam])
def test_capturable_compiled_step_never_recompiles(opt_cls, recompile_log):
    frames, lrs, weights = train(opt_cls, capturable=True)
    assert len(set(lrs)) > CHANGES * 0.9  # the rate really changed at (almost) every update
    assert recompile_log.messages == []
    assert frames == 1
    # and the compiled step used the changing rates: same weights as the eager loop
    for a, b in zip(weights, eager(opt_cls)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_float_lr_recompiles_as_the_control(recompile_log):
    frames, lrs, _ = train(torch.optim.SGD, capturable=False)
    assert len(set(lrs)) > CHANGES * 0.9
    # each new float rate fails a guard: torch recompiles until its recompile limit
    assert len(recompile_log.messages) >= 5
    assert any("['lr']" in m for m in recompile_log.messages)
    assert frames >= 5
    print(f"\nfloat lr: {len(recompile_log.messages)} recompiles logged over {CHANGES} rate changes; "
          f"capturable: 0 (see test_capturable_compiled_step_never_recompiles)")
    np.testing.assert_array_equal(lrs[:3], python_values("triangular(0.01, 0.1, step=7) * exp(gamma=0.99)", np.arange(3)))
