"""The demo's experiment: range test, a fixed-LR grid, then every policy over seeds.

Protocol (``Config`` holds the numbers; ``DEFAULT`` is ``clrdsl demo``, ``QUICK`` is
``--quick``, ``BENCHMARK`` is ``benchmarks/bench_clr_demo.py``):

1. MNIST-1D is generated locally (train/test split of the published dataset) and a
   separate validation set is generated from another data seed. Tuning only ever
   sees the validation set; reported accuracies are on the test set.
2. A range test on the tuning seed (exponential ramp, validation loss and accuracy
   after every update) gives ``base`` and ``max`` with the ``valley`` rule (``max``
   two thirds along the loss valley, ``base = max / 4``). The ``paper`` rule
   (``clrdsl demo --rule paper``) puts ``max`` at the edge of divergence on this
   problem, and some triangular runs then die; docs/demo.md shows both.
3. Tuning: fixed learning rates ``max * f`` for ``f`` in ``Config.grid`` are trained
   for the full budget from the tuning seed; the best final validation accuracy wins.
4. Evaluation, from each evaluation seed (never the tuning seed): fixed LR at the
   full budget; ``triangular``, ``triangular2``, ``exp_range`` and ``onecycle`` at the
   full and at half the budget. The cyclic policies use the same expression at both
   budgets (both end at the end of a cycle), so their half-budget run is exactly the
   first half of the full one (training is deterministic by seed; a test checks it)
   and is read off the full run's curve instead of being trained again. ``onecycle``
   is built for its budget, and also cycles momentum (``onecycle_momentum``), as
   1cycle prescribes.
   ``exp_range``'s gamma makes the amplitude fall to a tenth over the full budget.

Runs go to a pool of spawned worker processes (one torch thread each); the CLR runs
start while the grid is still being tuned.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .data import generate
from .train import BATCH, Curve, Job

CLR_POLICIES = ("triangular", "triangular2", "exp_range", "onecycle")


@dataclass(frozen=True)
class Config:
    seeds: tuple[int, ...] = (1, 2, 3)
    tuning_seed: int = 0
    epochs: int = 40                      # the full budget; the half budget is epochs // 2
    half_cycle_epochs: int = 5            # the paper advises 2-10 epochs per half cycle
    grid: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)   # fixed-LR candidates, as fractions of max
    range_start: float = 1e-4
    range_end: float = 10.0
    range_steps: int = 200
    rule: str = "valley"                  # see the module docstring and docs/demo.md
    num_samples: int = 5000               # 80% train, 20% test (the published split)
    val_samples: int = 1000
    data_seed: int = 42
    val_seed: int = 4242
    eval_every_epochs: int = 1
    workers: int = 0                      # 0: one per CPU core (at most one per job)

    def __post_init__(self) -> None:
        if self.epochs % (4 * self.half_cycle_epochs):
            raise ValueError("epochs must be a multiple of 4 half cycles, so that the full and the "
                             "half budget both end at the end of a cycle")
        if (self.epochs // 2) % self.eval_every_epochs:
            raise ValueError("the half budget must end on an evaluation")
        if self.tuning_seed in self.seeds:
            raise ValueError("the tuning seed must not be an evaluation seed")


DEFAULT = Config()
QUICK = Config(seeds=(1, 2), epochs=8, half_cycle_epochs=1, grid=(1.0, 0.25), range_steps=100,
               num_samples=2500, val_samples=500, eval_every_epochs=1)
BENCHMARK = Config(seeds=(11, 12, 13, 14, 15), tuning_seed=10, grid=(1.0, 0.7, 0.5, 0.35, 0.25, 0.125))


@dataclass
class DemoResult:
    config: Config
    range_test: Any                       # a clrdsl RangeTestResult
    base: float
    max: float
    steps_per_epoch: int
    fixed_lr: float
    grid: dict[float, float]              # lr -> final validation accuracy
    expressions: dict[tuple[str, str], dict[str, str]]   # (policy, budget) -> {"lr": ..., ...}
    curves: list[Curve]
    seconds: float
    workers: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "config": asdict(self.config),
            "range_test": {"schedule": self.range_test.schedule, "lr": self.range_test.lr.tolist(),
                           "smoothed_loss": self.range_test.smoothed_loss.tolist(),
                           "smoothed_accuracy": None if self.range_test.smoothed_metric is None
                           else self.range_test.smoothed_metric.tolist(),
                           "base": self.base, "max": self.max, "rule": self.config.rule},
            "steps_per_epoch": self.steps_per_epoch, "fixed_lr": self.fixed_lr,
            "grid": {repr(k): v for k, v in self.grid.items()},
            "expressions": {f"{p}@{b}": e for (p, b), e in self.expressions.items()},
            "runs": [{"policy": c.job.policy, "budget": c.job.budget, "seed": c.job.seed,
                      "iterations": c.iterations, "accuracy": c.accuracy, "seconds": c.seconds,
                      "first_half_of_full_run": c.prefix}
                     for c in self.curves if c.job.role == "eval"],
            "seconds": self.seconds, "workers": self.workers, "machine": machine(),
        }


def machine() -> dict:
    """What the numbers were measured on (the README's table states it)."""
    import platform

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "platform": platform.platform(terse=True), "processor": platform.machine(),
            "cpus": os.cpu_count()}


# -- worker side ------------------------------------------------------------------------
_DATA: dict[str, np.ndarray] = {}


def _init_worker(arrays: dict[str, np.ndarray]) -> None:
    import torch

    torch.set_num_threads(1)
    _DATA.update(arrays)


def _run(job: Job, eval_every: int) -> Curve:
    from .train import train

    x_eval, y_eval = (_DATA["x_val"], _DATA["y_val"]) if job.role == "tune" else (_DATA["x_test"], _DATA["y_test"])
    return train(job, _DATA["x"], _DATA["y"], x_eval, y_eval, eval_every=eval_every)


# -- main side --------------------------------------------------------------------------
def expressions_for(rt, cfg: Config, spe: int, fixed_lr: float | None = None) -> dict:
    """The expressions of every (policy, budget), written by the range test result."""
    n_full = cfg.epochs * spe
    gamma = float(f"{0.1 ** (1.0 / n_full):.8f}")
    out: dict[tuple[str, str], dict[str, str]] = {}
    if fixed_lr is not None:
        out[("fixed", "full")] = {"lr": f"constant({fixed_lr:.3g})"}
    for policy in CLR_POLICIES:
        for budget, epochs in (("full", cfg.epochs), ("half", cfg.epochs // 2)):
            kw: dict[str, Any] = {"rule": cfg.rule, "units": "epochs"}
            if policy == "onecycle":
                kw["epochs"] = epochs
            if policy == "exp_range":
                kw["gamma"] = gamma
            e = {"lr": rt.expression(policy, cfg.half_cycle_epochs, **kw)}
            if policy == "onecycle":
                e["momentum"] = f"onecycle_momentum(total={epochs}ep)"
            out[(policy, budget)] = e
    return out


def _workers(cfg: Config, jobs: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cfg.workers or cores, jobs))


def run(cfg: Config = DEFAULT, *, progress: bool = True, log=print) -> DemoResult:
    """Run the whole experiment; see the module docstring. ``log`` gets status lines."""
    import multiprocessing as mp

    import torch

    t0 = time.perf_counter()
    data, val = load_data(cfg)
    spe = len(data.y) // BATCH
    n_full, eval_every = cfg.epochs * spe, cfg.eval_every_epochs * spe
    arrays = {"x": data.x, "y": data.y, "x_test": data.x_test, "y_test": data.y_test,
              "x_val": val.x_test, "y_val": val.y_test}
    n_jobs = len(cfg.grid) + len(cfg.seeds) * (2 + len(CLR_POLICIES))   # fixed, 4 full, onecycle half
    workers = _workers(cfg, n_jobs)
    log(f"MNIST-1D: {len(data.y)} train, {len(data.y_test)} test, {len(val.y_test)} validation samples "
        f"(generated locally); batch {BATCH}, {spe} updates per epoch; {workers} worker processes")

    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(arrays,))
    try:
        # 2. the range test (in this process, while the workers start)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            rt = torch_range_test(data, val, cfg.tuning_seed, start=cfg.range_start, end=cfg.range_end,
                                  steps=cfg.range_steps, rule=cfg.rule, progress=progress)
        finally:
            torch.set_num_threads(threads)
        base, top = rt.suggestion
        log(rt.summary())

        # 3 + 4. tuning grid first, CLR runs alongside, fixed-LR runs once the grid is done
        exprs = expressions_for(rt, cfg, spe)
        grid_lrs = [float(f"{top * f:.3g}") for f in cfg.grid]
        pending = {}
        bar = _bar(n_jobs, progress)

        def submit(job: Job) -> None:
            pending[pool.submit(_run, job, eval_every)] = job

        for lr in grid_lrs:
            submit(Job("fixed", f"constant({lr!r})", n_full, cfg.tuning_seed, role="tune"))
        for seed in cfg.seeds:
            for budget, epochs in (("full", cfg.epochs), ("half", cfg.epochs // 2)):
                for policy in CLR_POLICIES if budget == "full" else ("onecycle",):
                    e = exprs[(policy, budget)]
                    submit(Job(policy, e["lr"], epochs * spe, seed, budget=budget, momentum=e.get("momentum")))
        curves: list[Curve] = []
        fixed_lr = None
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                pending.pop(fut)
                curves.append(fut.result())
                if bar is not None:
                    bar.update(1)
            tuned = [c for c in curves if c.job.role == "tune"]
            if fixed_lr is None and len(tuned) == len(grid_lrs):
                scores = {float(c.job.expr[len("constant("):-1]): c.final for c in tuned}
                fixed_lr = max(scores, key=lambda lr: (scores[lr], -lr))
                for seed in cfg.seeds:
                    submit(Job("fixed", f"constant({fixed_lr!r})", n_full, seed))
        if bar is not None:
            bar.close()
    finally:
        pool.shutdown(cancel_futures=True)
    curves += [_first_half(c) for c in curves
               if c.job.role == "eval" and c.job.policy in CLR_POLICIES and c.job.policy != "onecycle"]
    exprs = {("fixed", "full"): {"lr": f"constant({fixed_lr!r})"}, **exprs}
    return DemoResult(config=cfg, range_test=rt, base=base, max=top, steps_per_epoch=spe, fixed_lr=fixed_lr,
                      grid=scores, expressions=exprs, curves=curves, seconds=time.perf_counter() - t0,
                      workers=workers)


def torch_range_test(data, val, seed: int, *, progress: bool = False, **kw):
    """The demo's range test: the CNN from ``seed``, SGD (momentum 0.9), shuffled batches of
    100, loss and accuracy on the validation set after every update."""
    import torch

    import clrdsl

    from .model import make_cnn

    torch.manual_seed(seed)
    model = make_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9, weight_decay=5e-4)
    ds = torch.utils.data.TensorDataset(torch.as_tensor(data.x), torch.as_tensor(data.y))
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    val_batches = [(torch.as_tensor(val.x_test), torch.as_tensor(val.y_test))]
    return clrdsl.range_test(model, torch.nn.CrossEntropyLoss(), loader, opt, metric="accuracy",
                             val_data=val_batches, progress=progress, **kw)


def keras_range_test(data, val, seed: int, *, progress: bool = False, **kw):
    """The same range test with the Keras twin of the CNN."""
    import keras

    import clrdsl

    from .model import make_keras_cnn

    keras.utils.set_random_seed(seed)
    model = make_keras_cnn()
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, weight_decay=5e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return clrdsl.range_test(model, data=(data.x, data.y), batch_size=BATCH, metric="accuracy", seed=seed,
                             val_data=(val.x_test, val.y_test), progress=progress, **kw)


def load_data(cfg: Config = DEFAULT):
    """The train/test data and the separate validation set of a configuration."""
    return (generate(seed=cfg.data_seed, num_samples=cfg.num_samples),
            generate(seed=cfg.val_seed, num_samples=cfg.val_samples, train_split=0.0))


def _first_half(full: Curve) -> Curve:
    """The half-budget run of a cyclic policy: the first half of its full-budget run."""
    n = full.job.iterations // 2
    keep = [i for i, it in enumerate(full.iterations) if it <= n]
    return Curve(replace(full.job, iterations=n, budget="half"), [full.iterations[i] for i in keep],
                 [full.accuracy[i] for i in keep], full.seconds * n / full.job.iterations, prefix=True)


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from clrdsl.tools.progress import progress_bar

    return progress_bar(total, "training runs", "run")
