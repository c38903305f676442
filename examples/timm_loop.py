"""A timm-style training loop (step_update after every update, step after every epoch)
with layer-wise rate decay through each parameter group's `lr_scale`.

    python examples/timm_loop.py --quick
    python examples/timm_loop.py --schedule "linear(0, 0.01, over=1ep) >> cosine(0.01, 1e-5, over=100%)"

`TimmScheduler` speaks timm's scheduler protocol, so a timm training script swaps its
scheduler for a clrdsl string. At the end the rates every group used are compared with
`clrdsl.compile(expr)` times the group's `lr_scale`; a mismatch exits 1. Needs
`clrdsl[torch]` (not timm itself).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

import clrdsl
from clrdsl.integrations.timm import TimmScheduler

DEFAULT = "linear(0, 0.01, over=1ep) >> cosine(0.01, 0.00001, over=75%)"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--schedule", default=DEFAULT)
    p.add_argument("--quick", action="store_true", help="two short epochs (for CI)")
    a = p.parse_args(argv)
    epochs, spe, bs = (2, 6, 16) if a.quick else (10, 50, 32)

    torch.manual_seed(0)
    blocks = [torch.nn.Linear(16, 32), torch.nn.Linear(32, 32), torch.nn.Linear(32, 1)]
    model = torch.nn.Sequential(blocks[0], torch.nn.ReLU(), blocks[1], torch.nn.ReLU(), blocks[2])
    decay = 0.5  # layer-wise rate decay: deeper blocks learn faster
    groups = [{"params": b.parameters(), "lr_scale": decay ** (len(blocks) - 1 - i)} for i, b in enumerate(blocks)]
    opt = torch.optim.AdamW(groups, lr=0.01)
    sched = TimmScheduler(opt, a.schedule, steps_per_epoch=spe, total_steps=epochs * spe)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(spe * bs, 16, generator=g)
    y = x @ torch.randn(16, 1, generator=g)
    seen, num_updates = [], 0
    for epoch in range(epochs):
        for i in range(spe):
            seen.append([grp["lr"] for grp in opt.param_groups])
            loss = torch.nn.functional.mse_loss(model(x[i * bs:(i + 1) * bs]), y[i * bs:(i + 1) * bs])
            opt.zero_grad()
            loss.backward()
            opt.step()
            num_updates += 1
            sched.step_update(num_updates=num_updates)
        sched.step(epoch + 1, metric=loss.item())
        print(f"epoch {epoch + 1}/{epochs}  loss {loss.item():.4f}  lr per group "
              + " ".join(f"{grp['lr']:.2e}" for grp in opt.param_groups))

    ref = clrdsl.compile(a.schedule, steps_per_epoch=spe, total_steps=epochs * spe)
    steps = np.arange(len(seen))
    want = ref(steps)[:, None] * np.array([grp["lr_scale"] for grp in opt.param_groups])[None, :]
    got = np.array(seen)
    ok = bool(np.array_equal(got, want))  # the same float64 product on both sides
    if not ok:
        bad = np.argwhere(got != want)[0]
        print(f"MISMATCH at update {bad[0]}, group {bad[1]}: used {got[tuple(bad)]!r}, expected {want[tuple(bad)]!r}")
    top = opt.param_groups[-1]
    print(f"done: updates={num_updates} at_step={num_updates} lr={top['lr']!r} steps_per_epoch={spe} "
          f"total_steps={epochs * spe} checked={'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
