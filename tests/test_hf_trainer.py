"""The real Hugging Face ``Trainer`` on a tiny model, its schedule a clrdsl string in
``TrainingArguments.lr_scheduler_kwargs`` (given on an HF command line too).

A callback records the rates the optimizer holds before every update; they must equal
the NumPy backend at the Trainer's own update count, with ``%`` bound to its
``num_training_steps`` and ``ep`` to its updates per epoch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import clrdsl

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from transformers import HfArgumentParser, TrainerCallback, TrainingArguments  # noqa: E402

from clrdsl.integrations.hf import ClrdslTrainer  # noqa: E402

N_EXAMPLES, BATCH = 24, 4  # 6 batches per epoch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)

    def forward(self, x, labels=None):
        out = self.net(x)
        return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}


def _data():
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(N_EXAMPLES, 4, generator=g), torch.randn(N_EXAMPLES, 1, generator=g)
    return [{"x": xs[i], "labels": ys[i]} for i in range(N_EXAMPLES)]


class Record(TrainerCallback):
    def __init__(self):
        self.seen: list[tuple[int, float, float]] = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kw):
        g = optimizer.param_groups[0]
        self.seen.append((state.global_step, float(g["lr"]), float(g["betas"][0])))


def _args(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=BATCH, num_train_epochs=3,
                report_to=[], use_cpu=True, save_strategy="no", logging_strategy="no", disable_tqdm=True,
                dataloader_num_workers=0, seed=0)
    return TrainingArguments(**{**base, **kw})


def _fit(args, **train_kw):
    rec = Record()
    trainer = ClrdslTrainer(model=Tiny(), args=args, train_dataset=_data(), callbacks=[rec])
    trainer.train(**train_kw)
    return trainer, rec.seen


SPEC = {"lr": "onecycle(0.05, total=100%)", "momentum": "linear(0.95, 0.85, over=1ep) >> constant(0.85)"}


def test_schedule_string_from_the_hf_command_line(tmp_path):
    parser = HfArgumentParser(TrainingArguments)
    (args,) = parser.parse_args_into_dataclasses(args=[
        "--output_dir", str(tmp_path / "out"), "--per_device_train_batch_size", str(BATCH),
        "--num_train_epochs", "3", "--report_to", "none", "--use_cpu", "true", "--save_strategy", "no",
        "--logging_strategy", "no", "--disable_tqdm", "true",
        "--lr_scheduler_kwargs", json.dumps({"clrdsl": SPEC}),
    ])
    trainer, seen = _fit(args)
    spe = N_EXAMPLES // BATCH
    total = trainer.state.max_steps
    assert total == 3 * spe
    steps = np.array([s for s, _, _ in seen])
    assert steps.tolist() == list(range(total))
    lr = clrdsl.compile(SPEC["lr"], total_steps=total, steps_per_epoch=spe)(steps)
    mom = clrdsl.compile(SPEC["momentum"], total_steps=total, steps_per_epoch=spe)(steps)
    np.testing.assert_array_equal([r for _, r, _ in seen], lr)
    np.testing.assert_array_equal([m for _, _, m in seen], mom)
    bound = trainer.lr_scheduler.state_dict()["schedules"][0]["bindings"]
    assert {k: bound.get(k) for k in ("total_steps", "steps_per_epoch")} == {"total_steps": total,
                                                                            "steps_per_epoch": spe}
    assert len(set(lr[:spe])) == spe  # the rate changes at every update, not per epoch


def test_max_steps_binds_percent_and_gradient_accumulation_counts_updates(tmp_path):
    expr = "linear(0, 0.04, over=25%) >> cosine(0.04, 0.001, over=75%)"
    args = _args(tmp_path, max_steps=8, gradient_accumulation_steps=2, lr_scheduler_kwargs={"clrdsl": expr})
    trainer, seen = _fit(args)
    steps = np.array([s for s, _, _ in seen])
    assert steps.tolist() == list(range(8))  # 8 optimizer updates of 2 micro-batches each
    np.testing.assert_array_equal([r for _, r, _ in seen], clrdsl.compile(expr, total_steps=8)(steps))


def test_resume_from_checkpoint_is_exact(tmp_path):
    kw = dict(lr_scheduler_kwargs={"clrdsl": SPEC}, save_strategy="steps", save_steps=7)
    _, full = _fit(_args(tmp_path, **kw))
    ckpt = tmp_path / "out" / "checkpoint-7"
    assert ckpt.is_dir()
    _, resumed = _fit(_args(tmp_path, **kw), resume_from_checkpoint=str(ckpt))
    assert resumed == full[7:]


def test_without_the_key_the_trainer_builds_its_own_scheduler(tmp_path):
    trainer, seen = _fit(_args(tmp_path, max_steps=4, learning_rate=0.01))
    assert type(trainer.lr_scheduler).__name__ == "LambdaLR"  # HF's linear schedule
    assert [r for _, r, _ in seen] == pytest.approx([0.01, 0.0075, 0.005, 0.0025])


def test_warmup_beside_the_string_is_an_error(tmp_path):
    args = _args(tmp_path, max_steps=4, warmup_steps=2, lr_scheduler_kwargs={"clrdsl": "constant(0.1)"})
    with pytest.raises(clrdsl.ClrdslError) as e:
        _fit(args)
    assert e.value.code == "E802" and ">>" in e.value.hint


def test_unknown_key_and_bad_string_are_clrdsl_errors(tmp_path):
    args = _args(tmp_path, max_steps=4, lr_scheduler_kwargs={"clrdsl": "constant(0.1)", "relativ": True})
    with pytest.raises(clrdsl.ClrdslError) as e:
        _fit(args)
    assert e.value.code == "E801" and "relative" in e.value.hint
    args = _args(tmp_path, max_steps=4, lr_scheduler_kwargs={"clrdsl": "onecycle(0.1, total=2 ep"})
    with pytest.raises(clrdsl.ClrdslSyntaxError):
        _fit(args)


def test_a_plateau_clock_hears_each_evaluation_like_hf_reduce_lr_on_plateau(tmp_path):
    """HF's own `reduce_lr_on_plateau` and the clrdsl spelling, fed by the same
    evaluations: the same rates at every update (halving is exact, so the runs agree bit
    for bit), and at least two reductions."""
    kw = dict(eval_strategy="epoch", num_train_epochs=8, learning_rate=0.5, per_device_eval_batch_size=BATCH)

    def fit(**more):
        rec = Record()
        trainer = ClrdslTrainer(model=Tiny(), args=_args(tmp_path, **kw, **more), train_dataset=_data(),
                                eval_dataset=_data()[:8], callbacks=[rec])
        trainer.train()
        return trainer, [r for _, r, _ in rec.seen]

    theirs = fit(lr_scheduler_type="reduce_lr_on_plateau", lr_scheduler_kwargs={"factor": 0.5, "patience": 0})[1]
    trainer, ours = fit(lr_scheduler_kwargs={"clrdsl": "constant(0.5) * exp(gamma=0.5, on=plateau(patience=0, "
                                                       "eps=1e-8))"})
    assert ours == theirs
    assert len(set(ours)) >= 3 and trainer.lr_scheduler.plateau_counts["lr"][0] >= 2


def test_a_plateau_clock_without_evaluations_is_an_error(tmp_path):
    args = _args(tmp_path, max_steps=4, lr_scheduler_kwargs={"clrdsl": "constant(0.1) * exp(gamma=0.5, on=plateau())"})
    with pytest.raises(clrdsl.ClrdslError) as e:
        _fit(args)
    assert e.value.code == "E803"
