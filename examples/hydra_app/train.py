"""A Hydra app: the optimizer and a clrdsl torch scheduler come from conf/config.yaml.

    python examples/hydra_app/train.py
    python examples/hydra_app/train.py 'scheduler.expr="onecycle(0.01, total=256)"'
    python examples/hydra_app/train.py --quick           # one short epoch (for CI)

(An override holding a schedule is quoted twice: for the shell, and for Hydra, whose
override grammar would read `onecycle(...)` as a call of its own functions.)

The scheduler's `_target_` is `clrdsl.integrations.hydra.torch_scheduler`; the
expression is checked when the config is resolved (the `${clrdsl:...}` resolver), so a
typo stops the run before training starts, with the diagnostic pointing at it. Needs
`clrdsl[torch,config]`.
"""

from __future__ import annotations

import sys

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from clrdsl.integrations.omegaconf import register_resolver

register_resolver()  # ${clrdsl:...}, before Hydra resolves the config


def make_data(samples: int, features: int = 16, seed: int = 0):
    """A noisy linear regression problem (no download needed)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, features, generator=g)
    w = torch.randn(features, 1, generator=g)
    return x, x @ w + 0.1 * torch.randn(samples, 1, generator=g)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def train(cfg: DictConfig) -> None:
    spe, bs, epochs = cfg.data.steps_per_epoch, cfg.data.batch_size, cfg.train.epochs
    x, y = make_data(bs * spe)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], cfg.model.hidden), torch.nn.ReLU(),
                                torch.nn.Linear(cfg.model.hidden, 1))
    opt = instantiate(cfg.optimizer)(model.parameters())
    sched = instantiate(cfg.scheduler)(optimizer=opt)
    print(f"schedule: {cfg.scheduler.expr}")

    step = 0
    for epoch in range(epochs):
        total = 0.0
        for i in range(spe):
            xb, yb = x[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += loss.item()
        print(f"epoch {epoch + 1}/{epochs}  loss {total / spe:.4f}  lr {opt.param_groups[0]['lr']:.5f}")
    # what the next update would use: the schedule at step `step`
    print(f"done: updates={step} at_step={step} lr={opt.param_groups[0]['lr']!r} steps_per_epoch={spe}")


if __name__ == "__main__":
    if "--quick" in sys.argv:  # Hydra takes key=value overrides; translate the flag
        sys.argv.remove("--quick")
        sys.argv += ["train.epochs=1", "data.steps_per_epoch=8"]
    train()
