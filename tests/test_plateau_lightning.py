"""Plateau clocks in a real Lightning ``Trainer.fit`` (CPU): ``lightning_config(monitor=...)``.

A tiny model logs a validation metric from a fixed per-epoch trace with plateaus. The
same module is fitted once with the clrdsl scheduler and once with torch's
``ReduceLROnPlateau`` under Lightning's ``monitor``; the rate the optimizer holds at each
training step must change at the same steps (exactly) and agree within
:data:`clrdsl.evaluation.numerics.FLOAT64_BOUND` of the peak. Resuming from a Lightning checkpoint
continues bit for bit.
"""

from __future__ import annotations

import pytest

import clrdsl
from clrdsl.evaluation.numerics import FLOAT64_BOUND

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

BATCHES, EPOCHS = 4, 12
# the validation metric of each epoch: plateaus of several lengths, a tie, an improvement
VAL = [1.0, 1.0, 1.0, 0.9, 0.9, 0.95, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.7, 0.7, 0.7, 0.7]
PLATEAU = "constant(0.1) * exp(gamma=0.5, on=plateau(patience=1, eps=1e-8))"
WARMUP = "linear(0.01, 0.1, over=8) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=1, eps=1e-8))"


class Tiny(pl.LightningModule):
    def __init__(self, make):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.make = make
        self.seen: list[tuple[int, float]] = []
        self.reported: list[tuple[int, float]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append((self.trainer.global_step, float(self.trainer.optimizers[0].param_groups[0]["lr"])))
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        self.log("val_metric", VAL[self.current_epoch])

    def on_train_epoch_end(self):  # after validation, before Lightning steps plateau schedulers
        self.reported.append((self.trainer.global_step, self.trainer.callback_metrics["val_metric"].item()))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        return {"optimizer": opt, "lr_scheduler": self.make(opt)}


def ours(expr):
    return lambda opt: clrdsl.compile(expr, backend="torch", optimizer=opt).lightning_config(monitor="val_metric")


def theirs(opt):
    return {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1),
            "monitor": "val_metric"}


def _loader():
    g = torch.Generator().manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(BATCHES * 4, 4, generator=g),
                                        torch.randn(BATCHES * 4, 1, generator=g))
    return torch.utils.data.DataLoader(ds, batch_size=4)


def _fit(make, epochs=EPOCHS, ckpt_path=None, save=None, **kw):
    model = Tiny(make)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **kw)
    trainer.fit(model, _loader(), _loader(), ckpt_path=ckpt_path)
    if save is not None:
        trainer.save_checkpoint(save)
    return model, trainer


def _changes(lrs):
    return [i for i in range(1, len(lrs)) if lrs[i] != lrs[i - 1]]


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's advice (num_workers, ...)


def test_reductions_happen_where_torch_reduce_lr_on_plateau_reduces():
    a, trainer = _fit(ours(PLATEAU))
    b, _ = _fit(theirs)
    assert [s for s, _ in a.seen] == list(range(BATCHES * EPOCHS))
    ours_lr, theirs_lr = [lr for _, lr in a.seen], [lr for _, lr in b.seen]
    assert _changes(ours_lr) == _changes(theirs_lr)
    assert len(_changes(ours_lr)) >= 3  # the plateaus of VAL make torch reduce
    assert all(abs(x - y) <= FLOAT64_BOUND * 0.1 for x, y in zip(ours_lr, theirs_lr))
    assert a.reported == b.reported  # both were given the same logged metrics
    sched = trainer.lr_scheduler_configs[0].scheduler.scheduler
    assert sched.t == BATCHES * EPOCHS  # one update per batch, counted from the optimizer
    assert sched.plateau_counts == {"lr": (len(_changes(ours_lr)),)}


def test_warmup_then_plateau_in_lightning():
    a, _ = _fit(ours(WARMUP))
    lrs = [lr for _, lr in a.seen]
    assert len(set(lrs[:8])) == 8  # the warmup moves at every update
    # reports come at steps 4, 8, ...: the plateau phase (and its clock) starts at step 8
    def torch_from(start):  # a torch ReduceLROnPlateau given the reports from step `start` on
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        rop = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        out = {}
        for s, m in a.reported:
            if s >= start:
                rop.step(m)
                out[s] = opt.param_groups[0]["lr"]
        return out

    expected = torch_from(8)
    for s, lr in a.seen:
        if s >= 8:
            assert abs(lr - expected[max(k for k in expected if k <= s)]) <= FLOAT64_BOUND * 0.1
    assert len(set(lrs[8:])) >= 3
    # the report at step 4 (in the warmup) was ignored: taking it would reduce earlier
    assert torch_from(4)[12] != expected[12]


def test_resume_from_a_lightning_checkpoint_is_bit_for_bit(tmp_path):
    full, _ = _fit(ours(PLATEAU), epochs=10)
    first, trainer = _fit(ours(PLATEAU), epochs=5, save=tmp_path / "five.ckpt")
    ckpt = torch.load(tmp_path / "five.ckpt", weights_only=False)
    saved = ckpt["lr_schedulers"][0]
    assert saved == trainer.lr_scheduler_configs[0].scheduler.scheduler.state_dict()
    assert saved["t"] == 5 * BATCHES and saved["schedules"][0]["plateau"][0]["count"] >= 1
    rest, _ = _fit(ours(PLATEAU), epochs=10, ckpt_path=tmp_path / "five.ckpt")
    assert first.seen + rest.seen == full.seen


def test_gradient_accumulation_counts_optimizer_updates():
    a, trainer = _fit(ours(PLATEAU), epochs=3, accumulate_grad_batches=2)
    assert trainer.lr_scheduler_configs[0].scheduler.scheduler.t == 3 * BATCHES // 2
    assert max(s for s, _ in a.seen) == 3 * BATCHES // 2 - 1


def test_lightning_cli_scheduler_refuses_a_plateau_clock_it_could_not_feed():
    """LightningCLI's `lr_scheduler` gets no monitored metric: a plateau clock there would
    never move, so it is refused with the way that works."""
    import torch

    from clrdsl.diagnostics.errors import ClrdslError
    from clrdsl.integrations.lightning import LightningScheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ClrdslError) as e:
        LightningScheduler(opt, "constant(0.1) * exp(gamma=0.5, on=plateau(patience=2))")
    assert e.value.code == "E646" and "lightning_config(monitor=" in e.value.diagnostics[0].hint
    LightningScheduler(opt, "constant(0.1) * exp(gamma=0.5)")  # the update count alone is fine
