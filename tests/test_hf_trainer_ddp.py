"""The HF Trainer in two CPU processes (gloo) with a clrdsl string in
``lr_scheduler_kwargs``: the Trainer steps its scheduler once per optimizer update in
each process, so both ranks hold the same rate at every update, ``%`` is a fraction of
the global updates, and the rates equal ``clrdsl.compile``."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sys

import pytest

import clrdsl

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")
mp = pytest.importorskip("torch.multiprocessing")

WORLD, N_EXAMPLES, BATCH, EPOCHS = 2, 32, 4, 2
EXPR = "linear(0, 0.04, over=25%) >> cosine(0.04, 0.001, over=75%)"


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)  # not the state a forked parent set up
    GradientState._reset_state()
    from transformers import TrainerCallback, TrainingArguments

    from clrdsl.integrations.hf import ClrdslTrainer

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Linear(4, 1)

        def forward(self, x, labels=None):
            out = self.net(x)
            return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}

    class Record(TrainerCallback):
        def __init__(self):
            self.seen = []

        def on_pre_optimizer_step(self, args, state, control, optimizer=None, lr_scheduler=None, **kw):
            self.seen.append([state.global_step, float(optimizer.param_groups[0]["lr"]), lr_scheduler.t])

    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(N_EXAMPLES, 4, generator=g), torch.randn(N_EXAMPLES, 1, generator=g)
    data = [{"x": xs[i], "labels": ys[i]} for i in range(N_EXAMPLES)]
    args = TrainingArguments(output_dir=os.path.join(out_dir, "out"), per_device_train_batch_size=BATCH,
                             num_train_epochs=EPOCHS, report_to=[], use_cpu=True, ddp_backend="gloo",
                             save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=0,
                             lr_scheduler_kwargs={"clrdsl": EXPR})
    rec = Record()
    trainer = ClrdslTrainer(model=Tiny(), args=args, train_dataset=data, callbacks=[rec])
    trainer.train()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"seen": rec.seen, "max_steps": trainer.state.max_steps,
                   "world": trainer.args.world_size}, f)
    # The Trainer leaves its gloo group open. Left to the interpreter's exit, its threads
    # are now and then torn down unjoined ("terminate called without an active
    # exception", SIGABRT): close it once both ranks are done.
    import torch.distributed as dist

    dist.barrier()
    dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hf_trainer_two_processes(tmp_path):
    threaded = any(m in sys.modules for m in ("jax", "tensorflow"))
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() and not threaded else "spawn"
    mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True, start_method=method)
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    assert res[0]["world"] == WORLD
    assert res[0]["seen"] == res[1]["seen"]  # the same rate and clock on both ranks, every update
    total = res[0]["max_steps"]
    assert total == N_EXAMPLES // (BATCH * WORLD) * EPOCHS  # global updates: each rank takes its shard
    seen = res[0]["seen"]
    assert [s for s, _, _ in seen] == list(range(total)) and [t for _, _, t in seen] == list(range(total))
    ref = clrdsl.compile(EXPR, total_steps=total)
    assert [lr for _, lr, _ in seen] == [ref(t) for t in range(total)]
