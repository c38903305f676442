"""Two processes (gloo, CPU) under Hugging Face accelerate with the torch backend.

accelerate wraps a prepared scheduler so that its ``step()`` follows the optimizer. How
far the clock moves per update depends on ``split_batches``:

- ``split_batches=True``: each update is one batch split across the processes; the
  scheduler steps once: the clock counts optimizer updates.
- ``split_batches=False`` (the default): each process takes a whole batch, so one
  update consumes ``num_processes`` batches of the single-process run; accelerate
  steps the scheduler ``num_processes`` times: the clock counts those batches.
- ``step_scheduler_with_optimizer=False``: accelerate passes ``step()`` through; one
  call per update counts optimizer updates whatever the batches.

For each setting both ranks must hold the same rate at every update, the clock must be
the stated count, and a run saved with ``accelerator.save_state`` after K updates and
resumed with fresh objects (``load_state``) must continue exactly.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sys

import pytest

import clrdsl

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
mp = pytest.importorskip("torch.multiprocessing")

WORLD, BATCHES, BATCH, K = 2, 12, 4, 2
EXPR = "linear(0.001, 0.05, over=4) >> cosine(0.05, 0.001, over=20)"
MODES = {"split": dict(split_batches=True), "whole": dict(split_batches=False),
         "manual": dict(split_batches=False, step_scheduler_with_optimizer=False)}


def _objects(mode, project_dir):
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration

    kw = dict(MODES[mode])
    acc = Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(split_batches=kw.pop("split_batches")),
                      project_config=ProjectConfiguration(project_dir=project_dir), **kw)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = clrdsl.compile(EXPR, backend="torch", optimizer=opt)
    g = torch.Generator().manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(BATCHES * BATCH, 4, generator=g),
                                        torch.randn(BATCHES * BATCH, 1, generator=g))
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH)
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    return acc, model, opt, loader, sched


def _train(mode, acc, model, opt, loader, sched, start, stop, log):
    for i, (x, y) in enumerate(loader):
        if i < start:
            continue
        if i == stop:
            break
        log.append([opt.param_groups[0]["lr"], sched.scheduler.t])
        opt.zero_grad()
        acc.backward(torch.nn.functional.mse_loss(model(x), y))
        opt.step()
        sched.step()


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    # a forked rank inherits accelerate's process-wide state from this pytest worker (an
    # HF Trainer test may have set it up for one process): start from a clean one
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    out = {}
    for mode in MODES:
        state = os.path.join(out_dir, mode)
        acc, model, opt, loader, sched = _objects(mode, state)
        full: list = []
        _train(mode, acc, model, opt, loader, sched, 0, K, full)
        acc.save_state(state)
        acc.wait_for_everyone()
        _train(mode, acc, model, opt, loader, sched, K, None, full)
        acc, model, opt, loader, sched = _objects(mode, state)
        acc.load_state(state)
        resumed: list = []
        _train(mode, acc, model, opt, loader, sched, K, None, resumed)
        out[mode] = {"full": full, "resumed": resumed, "batches": len(loader)}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(out, f)
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_accelerate_two_processes_both_split_batches_settings_and_resume(tmp_path):
    threaded = any(m in sys.modules for m in ("jax", "tensorflow"))
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() and not threaded else "spawn"
    mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True, start_method=method)
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    ref = clrdsl.compile(EXPR)
    for mode, per_update in (("split", 1), ("whole", WORLD), ("manual", 1)):
        r0, r1 = res[0][mode], res[1][mode]
        assert r0["full"] == r1["full"], mode  # the same rate and clock on both ranks, every update
        updates = r0["batches"]
        assert updates == (BATCHES if mode == "split" else BATCHES // WORLD), mode
        clocks = [t for _, t in r0["full"]]
        assert clocks == [per_update * u for u in range(updates)], mode
        assert [lr for lr, _ in r0["full"]] == [ref(t) for t in clocks], mode
        for r in (r0, r1):
            assert r["resumed"] == r["full"][K:], mode
