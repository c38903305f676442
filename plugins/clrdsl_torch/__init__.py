"""The PyTorch backend: clrdsl expressions as a ``torch.optim.lr_scheduler.LRScheduler``.

    sched = clrdsl.compile("onecycle(0.1, total=10_000)", backend="torch", optimizer=opt)
    for batch in loader:
        ...
        opt.step()
        sched.step()

See :class:`~clrdsl_torch.scheduler.ClrdslScheduler` and ``docs/torch.md``. Importing
this package does not import torch: the scheduler module (and torch) load on first
use, so ``clrdsl plugins`` stays fast; ``import clrdsl`` never imports either.
"""

from __future__ import annotations

from typing import Any

from clrdsl.contract.backend import Backend, Emits, Evaluates, RangeTests, model_roots
from clrdsl.diagnostics.errors import ClrdslTypeError, suggestion_hint
from clrdsl.evaluation.emit import emit_module

__all__ = ["ClrdslScheduler", "FORMAT", "MetricReport", "backend", "lightning_config"]

_OPTIONS = ("optimizer", "relative", "capturable", "retarget")


class TorchBackend(Backend, Emits, Evaluates, RangeTests):
    """The ``torch`` entry of the ``clrdsl.backends`` group."""

    name = "torch"
    requires = ("torch",)
    extra = "torch"

    @property
    def target(self):
        from .emit import TARGET

        return TARGET

    def compile(self, checked: Any, **options: Any) -> "ClrdslScheduler":
        """A :class:`ClrdslScheduler` for ``optimizer=`` (required).

        ``checked`` is one checked schedule (it drives ``lr``) or a mapping: by
        hyperparameter (``{"lr": ..., "momentum": ..., "weight_decay": ...}``), by
        parameter group (``{0: ..., "head": ...}``), or both
        (``{"lr": {0: ..., 1: ...}, "momentum": ...}``). Options: ``relative``,
        ``capturable``, ``retarget`` (see :class:`ClrdslScheduler`).
        """
        unknown = [k for k in options if k not in _OPTIONS]
        if unknown:
            raise ClrdslTypeError(
                f"the torch backend has no option `{unknown[0]}`", code="E601",
                expected="options: " + ", ".join(_OPTIONS) + " (and the bindings steps_per_epoch, total_steps)",
                found=", ".join(f"`{k}`" for k in unknown), hint=suggestion_hint(unknown[0], _OPTIONS),
            )
        if options.get("optimizer") is None:
            raise ClrdslTypeError(
                "the torch backend needs the optimizer whose hyperparameters it drives",
                code="E601", expected="optimizer=<a torch.optim.Optimizer>", found="no optimizer",
                hint='clrdsl.compile(expr, backend="torch", optimizer=opt)',
            )
        from .scheduler import ClrdslScheduler

        opt = options.pop("optimizer")
        return ClrdslScheduler(opt, checked, **options)

    def compile_mapping(self, checked: Any, **options: Any) -> "ClrdslScheduler":
        """One scheduler drives every hyperparameter and group of the mapping."""
        return self.compile(checked, **options)

    def emit(self, checked: Any) -> str:
        """Standalone Python source for the schedule (no clrdsl needed to run it)."""
        return emit_module(checked, self.target)

    def values(self, checked: Any, steps: Any) -> list[float]:
        """The learning rates a scheduler positioned at each step writes into an optimizer."""
        import torch

        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = self.compile(checked, optimizer=opt)
        out = []
        for step in steps:
            sched.set_step(int(step))
            out.append(float(sched.get_last_lr()[0]))
        return out

    def handles_model(self, model: Any) -> bool:
        return "torch" in model_roots(model)

    def range_test_session(self, model: Any, loss_fn: Any, data: Any, optimizer: Any, **kw: Any):
        from .range_test import TorchSession

        return TorchSession(model, loss_fn, data, optimizer, **kw)


def lightning_config(scheduler: "ClrdslScheduler", monitor: str | None = None, **extra: Any) -> dict[str, Any]:
    """``{"scheduler": s, "interval": "step", "frequency": 1}`` for Lightning's
    ``configure_optimizers``; ``extra`` adds keys such as ``name``. A schedule with
    plateau clocks needs ``monitor=`` (see ``ClrdslScheduler.lightning_config``)."""
    return scheduler.lightning_config(monitor, **extra)


backend = TorchBackend()


def __getattr__(name: str) -> Any:
    # torch is imported with the scheduler, on first use, so that listing plugins
    # (`clrdsl plugins`) does not pay for importing torch
    if name in ("ClrdslScheduler", "FORMAT", "MetricReport"):
        from . import scheduler

        return getattr(scheduler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
