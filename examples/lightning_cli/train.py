"""LightningCLI with the schedule in its YAML config (config.yaml beside this file).

    python examples/lightning_cli/train.py fit --config examples/lightning_cli/config.yaml
    python examples/lightning_cli/train.py --quick      # one short epoch (for CI)

Nothing in this script knows about clrdsl: the config names
`clrdsl.integrations.lightning.LightningScheduler` as the `lr_scheduler` class. At the
end the rates the optimizer used are compared with `clrdsl.compile(expr)` under the
Trainer's own bindings; a mismatch exits 1. Needs `clrdsl[torch]`, lightning and
jsonargparse (`lightning[pytorch-extra]`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.cli import LightningCLI

HERE = Path(__file__).resolve().parent


class Regressor(pl.LightningModule):
    def __init__(self, samples: int = 512, batch_size: int = 16):
        super().__init__()
        self.samples, self.batch_size = samples, batch_size
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
        self.seen: list[tuple[int, float, float]] = []

    def on_before_optimizer_step(self, optimizer):
        g = optimizer.param_groups[0]
        self.seen.append((self.trainer.global_step, g["lr"], g["momentum"]))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(self.samples, 16, generator=g)
        y = x @ torch.randn(16, 1, generator=g)
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=self.batch_size)


def verify(cli: LightningCLI) -> bool:
    """The rates used, against clrdsl.compile with the scheduler's bindings."""
    import clrdsl

    sched = cli.trainer.lr_scheduler_configs[0].scheduler
    seen = cli.model.seen
    steps = np.array([s for s, _, _ in seen])
    ok = True
    for entry in sched.state_dict()["schedules"]:
        if entry["group"] != 0:
            continue
        col = {"lr": 1, "momentum": 2}[entry["param"]]
        want = clrdsl.compile(entry["expr"], **entry["bindings"])(steps)
        got = np.array([row[col] for row in seen])
        if not np.array_equal(got, want):
            print(f"MISMATCH {entry['param']}: first differing update {steps[np.flatnonzero(got != want)[0]]}")
            ok = False
    b = sched.state_dict()["schedules"][0]["bindings"]
    print(f"done: updates={len(seen)} at_step={seen[-1][0]} lr={seen[-1][1]!r} momentum={seen[-1][2]!r} "
          f"steps_per_epoch={b.get('steps_per_epoch')} total_steps={b.get('total_steps')} "
          f"checked={'ok' if ok else 'MISMATCH'}")
    return ok


def main(argv: list[str]) -> int:
    if "--quick" in argv:
        argv = [a for a in argv if a != "--quick"]
        if not argv or argv[0] != "fit":
            argv = ["fit", "--config", str(HERE / "config.yaml"), *argv]
        argv += ["--trainer.max_epochs", "2", "--model.samples", "128"]
    cli = LightningCLI(Regressor, args=argv, save_config_callback=None)
    return 0 if verify(cli) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
