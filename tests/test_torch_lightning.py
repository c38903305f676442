"""A real Lightning ``Trainer.fit`` on CPU with the torch backend's scheduler.

The module's ``configure_optimizers`` returns ``lightning_config(sched)``; the rate the
optimizer holds in each ``training_step`` is recorded and must change within the epoch
and equal the NumPy backend at the update count.
"""

from __future__ import annotations

import numpy as np
import pytest

import clrdsl
from values import python_values

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from clrdsl_torch import lightning_config  # noqa: E402

EXPR = "onecycle(0.05, total=20)"
BATCHES, EPOCHS = 8, 3


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.seen: list[tuple[int, float, float]] = []

    def training_step(self, batch, batch_idx):
        opt = self.trainer.optimizers[0]
        g = opt.param_groups[0]
        self.seen.append((self.trainer.global_step, g["lr"], g["betas"][0]))
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=1.0)
        sched = clrdsl.compile({"lr": EXPR, "momentum": "onecycle_momentum(total=20)"}, backend="torch",
                               optimizer=opt)
        return {"optimizer": opt, "lr_scheduler": lightning_config(sched)}


def _loader():
    g = torch.Generator().manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(BATCHES * 4, 4, generator=g),
                                        torch.randn(BATCHES * 4, 1, generator=g))
    return torch.utils.data.DataLoader(ds, batch_size=4)


def _trainer(**kw):
    return pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=1, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0, **kw)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's own advice (num_workers, ...)
def test_lightning_fit_steps_the_rate_every_update():
    model = Tiny()
    _trainer().fit(model, _loader())
    steps = [s for s, _, _ in model.seen]
    assert steps == list(range(BATCHES * EPOCHS))  # one optimizer update per batch
    lrs = np.array([lr for _, lr, _ in model.seen])
    moms = np.array([m for _, _, m in model.seen])
    first_epoch = lrs[:BATCHES]
    assert len(set(first_epoch)) == BATCHES  # a new rate at every batch of the epoch
    np.testing.assert_array_equal(lrs, python_values(EXPR, steps))
    np.testing.assert_array_equal(moms, python_values("onecycle_momentum(total=20)", steps))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lightning_gradient_accumulation_counts_updates():
    model = Tiny()
    _trainer(accumulate_grad_batches=2).fit(model, _loader())
    steps = np.array([s for s, _, _ in model.seen])
    assert steps.max() == BATCHES * EPOCHS // 2 - 1  # global_step counts optimizer updates
    lrs = np.array([lr for _, lr, _ in model.seen])
    np.testing.assert_array_equal(lrs, python_values(EXPR, steps))
