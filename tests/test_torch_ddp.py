"""Two processes (gloo, CPU) under DistributedDataParallel with the torch backend.

Each rank trains on its own shard with the same scheduler. The test checks that every
update used the same rate and momentum on both ranks, then that a run checkpointed at
update K (rank 0 writes, both ranks read) and resumed with fresh objects matches the
uninterrupted run exactly, on both ranks.
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
dist = pytest.importorskip("torch.distributed")
mp = pytest.importorskip("torch.multiprocessing")

N, K, WORLD = 24, 9, 2
SPEC = {"lr": "onecycle(0.05, total=20)", "momentum": "onecycle_momentum(total=20)"}


def _objects():
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.manual_seed(0)  # the same initial weights on every rank
    model = DDP(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = clrdsl.compile(SPEC, backend="torch", optimizer=opt)
    return model, opt, sched


def _train(rank, model, opt, sched, start, stop, log):
    for t in range(start, stop):
        g = torch.Generator().manual_seed(100 * t + rank)  # this rank's shard of update t
        x, y = torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)
        log.append([opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"], sched.t])
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()


def _weights(model):
    return [p.detach().flatten().tolist() for p in model.parameters()]


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        ckpt = os.path.join(out_dir, "ckpt.pt")
        model, opt, sched = _objects()
        full: list = []
        _train(rank, model, opt, sched, 0, K, full)
        if rank == 0:
            torch.save({"model": model.module.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict()}, ckpt)
        dist.barrier()
        _train(rank, model, opt, sched, K, N, full)
        # every rank saw the same rates: gather them all
        logs: list = [None] * WORLD
        dist.all_gather_object(logs, full)
        full_weights = _weights(model)

        model, opt, sched = _objects()  # resume: fresh objects, then the checkpoint
        ck = torch.load(ckpt, weights_only=True)
        model.module.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        resumed: list = []
        _train(rank, model, opt, sched, K, N, resumed)
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"logs": logs, "full": full, "resumed": resumed, "full_weights": full_weights,
                       "resumed_weights": _weights(model)}, f)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_ranks_same_lr_and_exact_resume(tmp_path):
    # fork where the platform has it and it is safe: the ranks inherit the loaded modules
    # instead of importing torch again. Not once a multithreaded runtime is loaded in this
    # worker (JAX, TensorFlow from other tests): a fork can then deadlock, so spawn.
    threaded = any(m in sys.modules for m in ("jax", "tensorflow"))
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() and not threaded else "spawn"
    mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True,
                       start_method=method)
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    logs = res[0]["logs"]
    assert logs[0] == logs[1]  # identical rate, momentum and clock on both ranks, every update
    lrs = [row[0] for row in logs[0]]
    ref = clrdsl.compile(SPEC["lr"])(list(range(N)))
    assert lrs == list(ref)
    for r in range(WORLD):
        assert res[r]["resumed"] == res[r]["full"][K:]
        assert res[r]["resumed_weights"] == res[r]["full_weights"]
    assert res[0]["full_weights"] == res[1]["full_weights"]  # DDP kept the replicas in sync
