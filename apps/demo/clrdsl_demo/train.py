"""One training run of the demo: a clrdsl expression drives SGD on MNIST-1D.

The learning rate comes from ``clrdsl.compile(expr, backend="torch", optimizer=opt)``,
stepped once per update: the product this demo shows. Test (and, for tuning runs,
validation) accuracy is measured every ``eval_every`` updates and at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BATCH = 100
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


@dataclass(frozen=True)
class Job:
    """What to train: a policy's expression for a number of updates from a seed."""

    policy: str
    expr: str
    iterations: int
    seed: int
    role: str = "eval"          # "eval" (test accuracy) or "tune" (validation accuracy)
    budget: str = "full"        # "full" or "half"
    momentum: str | None = None  # an expression for momentum (else fixed at MOMENTUM)


@dataclass
class Curve:
    job: Job
    iterations: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)   # on the test set, or validation for tuning
    seconds: float = 0.0
    prefix: bool = False    # read off the first half of a longer run of the same job

    @property
    def final(self) -> float:
        return self.accuracy[-1]


def train(job: Job, x, y, x_eval, y_eval, *, eval_every: int, batch: int = BATCH) -> Curve:
    """Train the demo CNN from ``job.seed`` for ``job.iterations`` updates; see the module doc."""
    import time

    import torch

    import clrdsl
    from .model import make_cnn

    t0 = time.perf_counter()
    torch.manual_seed(job.seed)
    model = make_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = len(y) // batch
    exprs = job.expr if job.momentum is None else {"lr": job.expr, "momentum": job.momentum}
    sched = clrdsl.compile(exprs, backend="torch", optimizer=opt, steps_per_epoch=steps_per_epoch,
                           total_steps=job.iterations)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    x_eval, y_eval = torch.as_tensor(x_eval), torch.as_tensor(y_eval)
    gen = torch.Generator().manual_seed(10_000 + job.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    curve = Curve(job)

    def evaluate(it: int) -> None:
        model.eval()
        with torch.no_grad():
            acc = (model(x_eval).argmax(1) == y_eval).float().mean().item()
        model.train()
        curve.iterations.append(it)
        curve.accuracy.append(acc)

    order = torch.randperm(len(y), generator=gen)
    for it in range(job.iterations):
        k = it % steps_per_epoch
        if k == 0 and it:
            order = torch.randperm(len(y), generator=gen)
        idx = order[k * batch:(k + 1) * batch]
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (it + 1) % eval_every == 0 or it + 1 == job.iterations:
            evaluate(it + 1)
    curve.seconds = time.perf_counter() - t0
    return curve


def lr_trace(expr: str, iterations: int, steps_per_epoch: int) -> np.ndarray:
    """The learning rate of ``expr`` at every update (NumPy backend, same values)."""
    import clrdsl

    return clrdsl.compile(expr, steps_per_epoch=steps_per_epoch, total_steps=iterations)(np.arange(iterations))
