"""The torch session of the LR range test (see :mod:`clrdsl.tools.range_test`).

``clrdsl.range_test(model, loss_fn, loader, optimizer, ...)`` lands here for any
``torch.nn.Module``. Each update sets every parameter group's ``lr`` to the ramp's
value, runs one training step on the next batch (the loader is restarted when it
runs out) and reports the loss (and the metric) of that batch, or of ``val_data``.

Restoring is exact: the model's ``state_dict`` (parameters and buffers), the
optimizer's ``state_dict`` (state and parameter groups, ``lr`` included), every
parameter's ``.grad``, each module's train/eval flag and the global torch random
number generators (CPU, and CUDA when initialised) are snapshotted before the test
and put back afterwards, even when the test raises. So a training run after a
range test is bit for bit the run you would have had without it.

The learning rate is written into the parameter groups directly rather than through
an ``LRScheduler``: a scheduler would wrap ``optimizer.step`` and add keys to the
groups, leaving traces the restore could not remove.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from clrdsl.diagnostics.errors import ClrdslValueError
from clrdsl.tools.range_test import endless


def accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy of class scores ``output`` (N, C, ...) against labels ``target``."""
    return (output.argmax(1) == target).float().mean().item()


class TorchSession:
    def __init__(self, model, loss_fn, data, optimizer, *, ramp: str = "", metric=None, val_data=None,
                 device: Any = None) -> None:
        if loss_fn is None or data is None or optimizer is None:
            missing = [n for n, v in (("loss_fn", loss_fn), ("data", data), ("optimizer", optimizer))
                       if v is None]
            raise ClrdslValueError("a torch range test needs a loss function, data and an optimizer",
                                   code="E709", found="missing " + ", ".join(missing),
                                   hint="range_test(model, loss_fn, loader, optimizer, ...)")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ClrdslValueError("optimizer must be a torch.optim.Optimizer", code="E709",
                                   found=type(optimizer).__name__)
        self.model, self.loss_fn, self.data, self.optimizer = model, loss_fn, data, optimizer
        self.metric = accuracy if metric == "accuracy" else metric
        if self.metric is not None and not callable(self.metric):
            raise ClrdslValueError("metric must be 'accuracy' or a callable (output, target) -> float",
                                   code="E709", found=repr(metric))
        self.val_data = val_data
        if device is None:
            p = next(iter(model.parameters()), None)
            device = p.device if p is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.steps_per_epoch = len(data) if hasattr(data, "__len__") else None
        self._it = None

    # -- state -------------------------------------------------------------------------
    def __enter__(self) -> "TorchSession":
        self._model_state = copy.deepcopy(self.model.state_dict())
        self._opt_state = copy.deepcopy(self.optimizer.state_dict())
        self._grads = [None if p.grad is None else p.grad.detach().clone() for p in self.model.parameters()]
        self._modes = [m.training for m in self.model.modules()]
        self._rng = torch.get_rng_state()
        self._cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        return self

    def __exit__(self, *exc) -> None:
        self.model.load_state_dict(self._model_state)
        self.optimizer.load_state_dict(self._opt_state)
        for p, g in zip(self.model.parameters(), self._grads):
            p.grad = g
        for m, mode in zip(self.model.modules(), self._modes):
            m.training = mode
        torch.set_rng_state(self._rng)
        if self._cuda_rng is not None:
            torch.cuda.set_rng_state_all(self._cuda_rng)
        self._it = None

    # -- one update --------------------------------------------------------------------
    def _next_batch(self):
        if self._it is None:
            self._it = endless(self.data)
        return next(self._it)

    def _move(self, x):
        if isinstance(x, torch.Tensor):
            return x.to(self.device, non_blocking=True)
        if isinstance(x, (list, tuple)):
            return type(x)(self._move(v) for v in x)
        if isinstance(x, dict):
            return {k: self._move(v) for k, v in x.items()}
        return x

    def step(self, lr: float) -> tuple[float, float | None]:
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        x, y = self._move(self._next_batch())
        self.model.train()
        out = self.model(x)
        loss = self.loss_fn(out, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.val_data is not None:
            return self._evaluate()
        met = None
        if self.metric is not None:
            with torch.no_grad():
                met = float(self.metric(out.detach(), y))
        return loss.item(), met

    @torch.no_grad()
    def _evaluate(self) -> tuple[float, float | None]:
        self.model.eval()
        total, n, met = 0.0, 0, 0.0
        for x, y in self.val_data:
            x, y = self._move(x), self._move(y)
            out = self.model(x)
            k = len(y)
            total += float(self.loss_fn(out, y)) * k
            if self.metric is not None:
                met += float(self.metric(out, y)) * k
            n += k
        self.model.train()
        return total / n, (met / n if self.metric is not None else None)
