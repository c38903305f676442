"""Lightning with two CPU processes (DDP over gloo) and ``LightningScheduler``.

Each rank records the rate its optimizer holds before every update; both ranks must
agree at every update, the clock must count global optimizer updates (each rank's
sharded loader gives one update per global update), ``%`` must be bound to
``estimated_stepping_batches`` of the distributed run, and a run resumed from a
checkpoint written at update K must continue exactly, on both ranks.
"""

from __future__ import annotations

import json
import multiprocessing
import sys

import numpy as np
import pytest

import clrdsl

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from clrdsl.integrations.lightning import LightningScheduler  # noqa: E402

WORLD, SAMPLES, BATCH, EPOCHS, K = 2, 64, 4, 2, 5
SPEC = {"lr": "onecycle(0.05, total=100%)", "momentum": "linear(0.95, 0.85, over=1ep) >> constant(0.85)"}


class Tiny(pl.LightningModule):
    def __init__(self, out_dir: str, tag: str):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)
        self.out_dir, self.tag = out_dir, tag
        self.seen: list = []

    def on_before_optimizer_step(self, optimizer):
        g = optimizer.param_groups[0]
        sched = self.trainer.lr_scheduler_configs[0].scheduler
        self.seen.append([self.trainer.global_step, g["lr"], g["momentum"], sched.t,
                          sched.state_dict()["schedules"][0]["bindings"]])

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        return {"optimizer": opt, "lr_scheduler": LightningScheduler(opt, SPEC)}

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        ds = torch.utils.data.TensorDataset(torch.randn(SAMPLES, 4, generator=g), torch.randn(SAMPLES, 1, generator=g))
        return torch.utils.data.DataLoader(ds, batch_size=BATCH)

    def on_train_end(self):
        with open(f"{self.out_dir}/{self.tag}-rank{self.global_rank}.json", "w") as f:
            json.dump(self.seen, f)


def _fit(tmp_path, tag, strategy, **kw):
    from lightning.pytorch.callbacks import ModelCheckpoint

    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), every_n_train_steps=K, save_top_k=-1)
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=WORLD, strategy=strategy, logger=False,
                         callbacks=[ckpt], enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Tiny(str(tmp_path), tag), **kw)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_lightning_ddp_two_processes_count_global_updates_and_resume(tmp_path):
    threaded = any(m in sys.modules for m in ("jax", "tensorflow"))
    strategy = "ddp_fork" if "fork" in multiprocessing.get_all_start_methods() and not threaded else "ddp_spawn"
    _fit(tmp_path, "full", strategy)
    (path,) = (tmp_path / "ckpt").glob(f"*step={K}.ckpt")
    _fit(tmp_path, "resumed", strategy, ckpt_path=str(path))
    full = [json.loads((tmp_path / f"full-rank{r}.json").read_text()) for r in range(WORLD)]
    resumed = [json.loads((tmp_path / f"resumed-rank{r}.json").read_text()) for r in range(WORLD)]
    assert full[0] == full[1]  # the same rate, momentum, clock and bindings on both ranks
    per_rank = SAMPLES // BATCH // WORLD  # each rank's shard: global updates per epoch
    total = per_rank * EPOCHS
    steps = np.array([row[0] for row in full[0]])
    assert steps.tolist() == list(range(total))
    assert [row[3] for row in full[0]] == steps.tolist()  # the clock is the global update count
    assert full[0][0][4] == {"total_steps": total, "steps_per_epoch": per_rank}
    np.testing.assert_array_equal([row[1] for row in full[0]], clrdsl.compile(SPEC["lr"], total_steps=total)(steps))
    np.testing.assert_array_equal([row[2] for row in full[0]],
                                  clrdsl.compile(SPEC["momentum"], steps_per_epoch=per_rank)(steps))
    for r in range(WORLD):
        assert resumed[r] == full[r][K:]
