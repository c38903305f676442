"""The real LightningCLI, configured by a YAML file written here, with
``clrdsl.integrations.lightning.LightningScheduler`` as its ``lr_scheduler``.

The module records the rate and momentum the optimizer holds before every
update; they must equal the NumPy backend at Lightning's update count, with
``%`` bound to ``trainer.estimated_stepping_batches`` and ``ep`` to updates per epoch.
"""

from __future__ import annotations

import numpy as np
import pytest

import clrdsl

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")
yaml = pytest.importorskip("yaml")
pytest.importorskip("jsonargparse")

from lightning.pytorch.cli import LightningCLI  # noqa: E402

BATCHES, EPOCHS = 8, 3
SPEC = {"lr": "onecycle(0.05, total=100%)", "momentum": "linear(0.95, 0.85, over=1ep) >> constant(0.85)"}


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)
        self.seen: list[tuple[int, float, float]] = []

    def on_before_optimizer_step(self, optimizer):
        # the rate and momentum this update uses
        g = optimizer.param_groups[0]
        self.seen.append((self.trainer.global_step, g["lr"], g["momentum"]))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        ds = torch.utils.data.TensorDataset(torch.randn(BATCHES * 4, 4, generator=g),
                                            torch.randn(BATCHES * 4, 1, generator=g))
        return torch.utils.data.DataLoader(ds, batch_size=4)


def _config(tmp_path, schedule, **trainer):
    cfg = {
        "trainer": {"max_epochs": EPOCHS, "accelerator": "cpu", "devices": 1, "logger": False,
                    "enable_checkpointing": False, "enable_progress_bar": False,
                    "enable_model_summary": False, **trainer},
        "optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1, "momentum": 0.9}},
        "lr_scheduler": {"class_path": "clrdsl.integrations.lightning.LightningScheduler",
                         "init_args": {"schedule": schedule}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _cli(args):
    return LightningCLI(Tiny, args=args, save_config_callback=None)


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's advice (num_workers, ...)


def test_lightning_cli_yaml_steps_every_update_and_binds_percent_and_epochs(tmp_path):
    cli = _cli(["fit", "--config", str(_config(tmp_path, SPEC))])
    seen = cli.model.seen
    total = BATCHES * EPOCHS
    steps = np.array([s for s, _, _ in seen])
    assert steps.tolist() == list(range(total))
    np.testing.assert_array_equal([r for _, r, _ in seen], clrdsl.compile(SPEC["lr"], total_steps=total)(steps))
    mom = clrdsl.compile(SPEC["momentum"], steps_per_epoch=BATCHES)(steps)
    np.testing.assert_array_equal([m for _, _, m in seen], mom)
    assert len({r for _, r, _ in seen[:BATCHES]}) == BATCHES  # a new rate every update, not every epoch


def test_lightning_cli_gradient_accumulation(tmp_path):
    cli = _cli(["fit", "--config", str(_config(tmp_path, SPEC, accumulate_grad_batches=2))])
    seen = cli.model.seen
    steps = np.array([s for s, _, _ in seen])
    total = BATCHES * EPOCHS // 2
    assert steps.tolist() == list(range(total))
    np.testing.assert_array_equal([r for _, r, _ in seen], clrdsl.compile(SPEC["lr"], total_steps=total)(steps))
    mom = clrdsl.compile(SPEC["momentum"], steps_per_epoch=BATCHES // 2)(steps)
    np.testing.assert_array_equal([m for _, _, m in seen], mom)


def test_lightning_cli_resume_from_checkpoint_is_exact(tmp_path):
    ckpt = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"dirpath": str(tmp_path / "ckpt"), "every_n_train_steps": 10, "save_top_k": -1}}
    cfg = _config(tmp_path, SPEC, enable_checkpointing=True, callbacks=[ckpt])
    full = _cli(["fit", "--config", str(cfg)]).model.seen
    (path,) = (tmp_path / "ckpt").glob("*step=10.ckpt")
    resumed = _cli(["fit", "--config", str(cfg), "--ckpt_path", str(path)]).model.seen
    assert [s for s, _, _ in resumed][0] == 10
    assert resumed == full[10:]


def test_explicit_bindings_and_a_bad_string(tmp_path):
    cfg = _config(tmp_path, "cosine(0.1, 0, over=2ep)")
    data = yaml.safe_load(cfg.read_text())
    data["lr_scheduler"]["init_args"]["steps_per_epoch"] = 5
    cfg.write_text(yaml.safe_dump(data))
    seen = _cli(["fit", "--config", str(cfg)]).model.seen
    steps = np.array([s for s, _, _ in seen])
    np.testing.assert_array_equal([r for _, r, _ in seen], clrdsl.compile("cosine(0.1, 0, over=10)")(steps))
    with pytest.raises(clrdsl.ClrdslError) as e:
        _cli(["fit", "--config", str(_config(tmp_path, "onecycle(0.05, totl=100%)"))])
    assert "lr_scheduler.schedule" in str(e.value) and "total" in str(e.value)
