"""Warmup, then reduce on plateau, in a plain PyTorch loop.

    python examples/plateau_warmup.py                     # examples/configs/plateau.yaml
    python examples/plateau_warmup.py --config my.yaml --quick

The schedule (configs/plateau.yaml) is one string with a plateau clock. The loop
calls `sched.step()` after each optimizer update, as with any torch scheduler, and
`sched.report(val_loss)` once an epoch: the clock counts the reductions, and the rate
is the schedule's value at (update, reductions). Reports during the warmup are ignored
(the clock belongs to the phase after it). At the end the run is checked against the
NumPy backend replaying the same reports. Needs `clrdsl[torch]` and PyYAML.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

import clrdsl

HERE = Path(__file__).resolve().parent


def make_data(samples: int, features: int = 16, seed: int = 0):
    """A noisy linear regression problem (no download needed): train and validation halves."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * samples, features, generator=g)
    w = torch.randn(features, 1, generator=g)
    y = x @ w + 0.5 * torch.randn(2 * samples, 1, generator=g)
    return (x[:samples], y[:samples]), (x[samples:], y[samples:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "plateau.yaml")
    parser.add_argument("--quick", action="store_true", help="a few short epochs (for CI)")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file (the default is {parser.get_default('config')})")

    cfg = yaml.safe_load(args.config.read_text())
    train = cfg["train"]
    epochs = 14 if args.quick else train["epochs"]
    spe, bs = train["steps_per_epoch"], train["batch_size"]
    (x, y), (vx, vy) = make_data(bs * spe)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)  # lr: the scheduler sets it
    sched = clrdsl.compile(cfg["schedule"], backend="torch", optimizer=opt, steps_per_epoch=spe)

    loss_fn = torch.nn.MSELoss()
    step, reports, lrs = 0, [], []
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for i in range(spe):
            idx = perm[i * bs:(i + 1) * bs]
            lrs.append(opt.param_groups[0]["lr"])
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        with torch.no_grad():
            val = loss_fn(model(vx), vy).item()
        sched.report(val)  # one evaluation: the plateau clock may count a reduction
        reports.append((step, val))
        print(f"epoch {epoch + 1}/{epochs}  val_loss {val:.4f}  lr {opt.param_groups[0]['lr']:.5f}  "
              f"reductions {sched.plateau_counts['lr'][0]}")

    # the same run, replayed by the NumPy backend from the reports alone
    replay = clrdsl.compile(cfg["schedule"], steps_per_epoch=spe)(np.arange(step), metrics=reports)
    assert lrs == replay.tolist(), "the torch scheduler and the NumPy replay disagree"
    lr = opt.param_groups[0]["lr"]
    print(f"done: updates={step} at_step={step} lr={lr!r} reductions={sched.plateau_counts['lr'][0]} "
          f"steps_per_epoch={spe}")


if __name__ == "__main__":
    main()
