"""A PyTorch training loop whose learning-rate and momentum schedules come from a config.

    python examples/torch_loop.py                          # examples/configs/torch.yaml
    python examples/torch_loop.py --config my.yaml --quick

The config holds each schedule as a string (see configs/torch.yaml). One call turns
them into a single torch LRScheduler that drives `lr` and `momentum`; `scheduler.step()`
after each optimizer update, as with any torch scheduler. Needs `clrdsl[torch]` and
PyYAML.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml

import clrdsl

HERE = Path(__file__).resolve().parent


def make_data(samples: int, features: int = 16, seed: int = 0):
    """A noisy linear regression problem (no download needed)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, features, generator=g)
    w = torch.randn(features, 1, generator=g)
    y = x @ w + 0.1 * torch.randn(samples, 1, generator=g)
    return x, y


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "torch.yaml")
    parser.add_argument("--quick", action="store_true", help="one short epoch (for CI)")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file (the default is {parser.get_default('config')})")

    cfg = yaml.safe_load(args.config.read_text())
    train = cfg["train"]
    epochs = 1 if args.quick else train["epochs"]
    spe = 8 if args.quick else train["steps_per_epoch"]
    bs = train["batch_size"]
    x, y = make_data(bs * spe)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    # lr and momentum here are placeholders: the scheduler sets both from step 0 on
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.0,
                          weight_decay=cfg["optimizer"]["weight_decay"])
    sched = clrdsl.compile(cfg["schedule"], backend="torch", optimizer=opt,
                           steps_per_epoch=spe, total_steps=epochs * spe)

    loss_fn = torch.nn.MSELoss()
    step = 0
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        total = 0.0
        for i in range(spe):
            idx = perm[i * bs:(i + 1) * bs]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += loss.item()
        group = opt.param_groups[0]
        print(f"epoch {epoch + 1}/{epochs}  loss {total / spe:.4f}  "
              f"lr {group['lr']:.5f}  momentum {group['momentum']:.3f}")
    # what the next update would use: the schedules at step `step`
    group = opt.param_groups[0]
    print(f"done: updates={step} at_step={step} lr={group['lr']!r} momentum={group['momentum']!r} "
          f"steps_per_epoch={spe} total_steps={epochs * spe}")


if __name__ == "__main__":
    main()
