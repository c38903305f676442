"""The Hugging Face Trainer with its schedule as a string in TrainingArguments.

    python examples/hf_trainer.py --quick
    python examples/hf_trainer.py --output_dir /tmp/run --num_train_epochs 3 \
        --lr_scheduler_kwargs '{"clrdsl": {"lr": "linear(0, 0.02, over=10%) >> cosine(0.02, 0, over=90%)"}}'

The only clrdsl line is the Trainer class (`ClrdslTrainer` instead of `Trainer`); the
schedule comes from the HF command line (`--lr_scheduler_kwargs`), with `%` bound to
the Trainer's own number of updates and `ep` to its updates per epoch. At the end the
rates the optimizer used are compared with `clrdsl.compile(expr)`; a mismatch exits 1.
Needs `clrdsl[torch]`, transformers and accelerate.
"""

from __future__ import annotations

import json
import sys
import tempfile

import numpy as np
import torch
from transformers import HfArgumentParser, TrainerCallback, TrainingArguments

import clrdsl
from clrdsl.integrations.hf import ClrdslTrainer as Trainer  # the one changed line

DEFAULT = {"clrdsl": {"lr": "linear(0, 0.02, over=10%) >> cosine(0.02, 0.0002, over=90%)",
                      "momentum": "linear(0.95, 0.85, over=1ep) >> constant(0.85)"}}


class Regressor(torch.nn.Module):
    def __init__(self, features: int = 16):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(features, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def forward(self, x, labels=None):
        out = self.net(x)
        return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}


def make_data(samples: int, features: int = 16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(samples, features, generator=g)
    y = x @ torch.randn(features, 1, generator=g) + 0.1 * torch.randn(samples, 1, generator=g)
    return [{"x": x[i], "labels": y[i]} for i in range(samples)]


class Record(TrainerCallback):
    """The rate and momentum (betas[0] of AdamW) each update used."""

    def __init__(self):
        self.seen: list[tuple[int, float, float]] = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kw):
        g = optimizer.param_groups[0]
        self.seen.append((state.global_step, float(g["lr"]), float(g["betas"][0])))


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    argv = [a for a in argv if a != "--quick"]
    tmp = tempfile.TemporaryDirectory()
    defaults = ["--output_dir", tmp.name, "--per_device_train_batch_size", "8", "--report_to", "none",
                "--use_cpu", "true", "--save_strategy", "no", "--logging_strategy", "no",
                "--disable_tqdm", "true", "--num_train_epochs", "1" if quick else "3"]
    if "--lr_scheduler_kwargs" not in argv:
        defaults += ["--lr_scheduler_kwargs", json.dumps(DEFAULT)]
    (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(args=defaults + argv)

    rec = Record()
    torch.manual_seed(0)
    trainer = Trainer(model=Regressor(), args=args, train_dataset=make_data(64 if quick else 512), callbacks=[rec])
    trainer.train()

    spec = args.lr_scheduler_kwargs["clrdsl"]
    spec = spec if isinstance(spec, dict) else {"lr": spec}
    total, spe = trainer.state.max_steps, trainer.lr_scheduler.state_dict()["schedules"][0]["bindings"].get(
        "steps_per_epoch")
    steps = np.array([s for s, _, _ in rec.seen])
    ok = True
    for name, column in (("lr", 1), ("momentum", 2)):
        if name not in spec:
            continue
        want = clrdsl.compile(spec[name], total_steps=total, steps_per_epoch=spe)(steps)
        got = np.array([row[column] for row in rec.seen])
        if not np.array_equal(got, want):
            bad = int(np.flatnonzero(got != want)[0])
            print(f"MISMATCH {name} at update {steps[bad]}: the Trainer used {got[bad]!r}, "
                  f"clrdsl.compile gives {want[bad]!r}")
            ok = False
    last = rec.seen[-1]
    print(f"updates {len(rec.seen)}  first lr {rec.seen[0][1]:.6f}  last lr {last[1]:.6f}")
    print(f"done: updates={len(rec.seen)} at_step={last[0]} lr={last[1]!r} momentum={last[2]!r} "
          f"steps_per_epoch={spe} total_steps={total} checked={'ok' if ok else 'MISMATCH'}")
    tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
