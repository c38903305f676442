"""A training loop under Hugging Face accelerate with a clrdsl torch scheduler.

    python examples/accelerate_loop.py --quick                     # one process
    torchrun --nproc_per_node 2 examples/accelerate_loop.py --quick   # two CPU processes (gloo)
    python examples/accelerate_loop.py --quick --split-batches

accelerate steps a prepared scheduler for you, and how far per optimizer update
depends on `split_batches` (docs/accelerate.md): once with `--split-batches`, and
`num_processes` times without (each process took a whole batch, so the clock counts the
batches a single-process run would have taken). Either way the clock ends at the
single-process run's batch count, which the script binds as `total_steps`. At the
end each rate used is compared with `clrdsl.compile(expr)` at the clock it was used at;
a mismatch exits 1. Needs `clrdsl[torch]` and accelerate.
"""

from __future__ import annotations

import argparse
import sys

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration

import clrdsl

DEFAULT = "linear(0.001, 0.02, over=10%) >> cosine(0.02, 0.0002, over=90%)"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--schedule", default=DEFAULT)
    p.add_argument("--split-batches", action="store_true")
    p.add_argument("--quick", action="store_true", help="one short epoch (for CI)")
    a = p.parse_args(argv)
    epochs, batches, bs = (1, 16, 8) if a.quick else (5, 100, 32)

    acc = Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(split_batches=a.split_batches))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batches * bs, 16, generator=g)
    y = x @ torch.randn(16, 1, generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=bs)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    # the run in the clock's unit, before prepare() shards the loader: with split_batches
    # an update is one of these batches; without, each process takes one per update and
    # accelerate advances the clock by num_processes. Either way the clock ends here.
    total = epochs * len(loader)
    sched = clrdsl.compile(a.schedule, backend="torch", optimizer=opt, total_steps=total)
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    per_update = 1 if a.split_batches else acc.num_processes

    seen = []
    for epoch in range(epochs):
        for xb, yb in loader:
            seen.append((sched.scheduler.t, opt.param_groups[0]["lr"]))
            opt.zero_grad()
            acc.backward(torch.nn.functional.mse_loss(model(xb), yb))
            opt.step()
            sched.step()
    ref = clrdsl.compile(a.schedule, total_steps=total)
    clocks_ok = [t for t, _ in seen] == [per_update * u for u in range(len(seen))]
    rates_ok = all(lr == ref(t) for t, lr in seen)
    ok = clocks_ok and rates_ok
    if not ok:
        print(f"MISMATCH: clock counts as stated: {clocks_ok}; rates equal clrdsl.compile: {rates_ok}")
    if acc.is_main_process:
        t, lr = seen[-1]
        print(f"processes {acc.num_processes}  split_batches {a.split_batches}  updates {len(seen)}  "
              f"clock {t}")
        print(f"done: updates={len(seen)} at_step={t} lr={lr!r} total_steps={total} "
              f"checked={'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
