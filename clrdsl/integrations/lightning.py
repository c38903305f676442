"""A clrdsl scheduler for LightningCLI: one ``class_path`` in YAML, stepped per update.

    # config.yaml (python train.py fit --config config.yaml)
    optimizer:
      class_path: torch.optim.SGD
      init_args: {lr: 0.1, momentum: 0.9}
    lr_scheduler:
      class_path: clrdsl.integrations.lightning.LightningScheduler
      init_args:
        schedule: "onecycle(0.05, total=100%)"

LightningCLI builds the scheduler with the optimizer and hands it to the Trainer with
its default ``interval: epoch``, which would move a per-update schedule once an epoch.
This scheduler therefore does not rely on the Trainer calling :meth:`step`: it follows
the optimizer itself (a ``register_step_post_hook``), so its clock is the number of
optimizer updates, with gradient accumulation, manual optimization, and one process
of a multi-process run alike (each process updates its replica once per global
update). ``step()`` calls from Lightning, whatever their interval, change nothing.

Bindings come from the Trainer that runs it: ``total_steps`` is
``trainer.estimated_stepping_batches`` (so ``%`` is a fraction of the run) and
``steps_per_epoch`` is the updates per epoch (``ceil(batches / accumulate_grad_batches)``)
for ``ep``. Either can be given in ``init_args`` instead. LightningCLI builds the
scheduler before it builds the Trainer; a schedule that needs those bindings is then
bound (and its first values written) just before the first optimizer update, when the
Trainer is running, so every update uses its own value. Until then the optimizer holds
its configured values (a bad string is still reported at once; only a missing binding
waits). Lightning saves the state in every checkpoint and ``ckpt_path=`` resumes at the
saved update exactly.
"""

from __future__ import annotations

import math
import sys
import weakref
from collections.abc import Mapping
from typing import Any, Optional

from clrdsl.api import check as _check
from clrdsl.diagnostics.errors import ClrdslError
from clrdsl_torch.scheduler import ClrdslScheduler

_MISSING_BINDING = "E306"  # a unit whose binding was not given

__all__ = ["LightningScheduler", "trainer_bindings"]


class LightningScheduler(ClrdslScheduler):
    """A :class:`~clrdsl_torch.scheduler.ClrdslScheduler` that counts the optimizer's
    updates itself and binds ``%``/``ep`` from the Lightning Trainer running it."""

    def __init__(self, optimizer: Any, schedule: Any, *, total_steps: Optional[int] = None,
                 steps_per_epoch: Optional[int] = None, relative: bool = False) -> None:
        self.optimizer = optimizer
        self._spec, self._relative = schedule, relative
        self._given = {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch}
        self._t, self._ready = 0, False
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        trainer = _running_trainer()
        if trainer is not None:
            self._bind(trainer)
        else:
            try:  # a string that needs no binding from the Trainer is ready now
                self._bind(None)
            except ClrdslError as err:
                if not all(d.code == _MISSING_BINDING for d in err.diagnostics):
                    raise
        self._hooks = (optimizer.register_step_pre_hook(_hook(self, "_before_update")),
                       optimizer.register_step_post_hook(_hook(self, "_after_update")))

    def _bind(self, trainer: Any) -> None:
        found = trainer_bindings(trainer) if trainer is not None else {}
        bindings = {k: v if v is not None else found.get(k) for k, v in self._given.items()}
        t = self._t
        ClrdslScheduler.__init__(self, self.optimizer, _checked(self._spec, bindings, "lr_scheduler.schedule"),
                                 relative=self._relative)
        if self._plateau:  # LightningCLI passes a monitored metric only to its own ReduceLROnPlateau
            from clrdsl.diagnostics.errors import ClrdslTypeError

            raise ClrdslTypeError(
                "LightningCLI's `lr_scheduler` cannot pass a monitored metric, so this plateau clock would "
                "never move", code="E646", expected="a schedule of the update count in `lr_scheduler`",
                found="`on=plateau(...)`",
                hint="build the scheduler in the module's configure_optimizers and return "
                "`sched.lightning_config(monitor=\"val_loss\")` (docs/lightning.md)",
            )
        self._ready = True
        if t:
            ClrdslScheduler.set_step(self, t)

    def _ensure(self) -> None:
        if not self._ready:
            self._bind(_running_trainer())

    def _before_update(self) -> None:
        self._ensure()

    def _after_update(self) -> None:
        ClrdslScheduler.step(self)

    def step(self, epoch: int | None = None) -> None:
        """Lightning's call (per epoch or per step): the clock already follows the
        optimizer, so nothing moves. ``step(n)`` still positions the clock at ``n``."""
        if epoch is not None:
            self.set_step(epoch)

    def set_step(self, n: int) -> None:
        self._ensure()
        super().set_step(n)

    def state_dict(self) -> dict[str, Any]:
        self._ensure()
        return super().state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any], *, retarget: bool | None = None) -> None:
        self._ensure()
        super().load_state_dict(state_dict, retarget=retarget)

    def get_last_lr(self) -> list[Any]:
        if not self._ready:
            return [g["lr"] for g in self.optimizer.param_groups]
        return super().get_last_lr()

    get_lr = get_last_lr

    def __getstate__(self) -> dict[str, Any]:
        self._ensure()
        return {**super().__getstate__(), "given": self._given, "spec": self._spec, "rel": self._relative}

    def __setstate__(self, st: dict[str, Any]) -> None:
        super().__setstate__(st)
        self._spec, self._given, self._relative, self._ready = st["spec"], st["given"], st["rel"], True
        self._hooks = (self.optimizer.register_step_pre_hook(_hook(self, "_before_update")),
                       self.optimizer.register_step_post_hook(_hook(self, "_after_update")))

    def __repr__(self) -> str:
        if not self._ready:
            return f"LightningScheduler({self._spec!r}, waiting for the Trainer's bindings)"
        return super().__repr__()


def _hook(sched: LightningScheduler, method: str):
    ref = weakref.ref(sched)

    def hook(optimizer, args, kwargs):
        s = ref()
        if s is not None:
            getattr(s, method)()

    return hook


def trainer_bindings(trainer: Any) -> dict[str, int]:
    """``total_steps`` (``estimated_stepping_batches``) and ``steps_per_epoch`` (updates
    per epoch) of a Lightning Trainer, where they are finite."""
    if trainer is None:
        return {}
    out: dict[str, int] = {}
    total = trainer.estimated_stepping_batches  # loads the training data if need be
    if total != math.inf and total is not None:
        out["total_steps"] = int(total)
    batches = trainer.num_training_batches
    if batches != math.inf and batches:
        out["steps_per_epoch"] = math.ceil(batches / trainer.accumulate_grad_batches)
    return out


def _running_trainer() -> Any:
    """The Lightning Trainer whose ``fit`` (or other entry point) is on the call stack,
    or None (LightningCLI builds the scheduler before it builds the Trainer)."""
    classes = tuple(c for c in (_cls("lightning.pytorch", "Trainer"), _cls("pytorch_lightning", "Trainer")) if c)
    if not classes:
        return None
    frame: Any = sys._getframe(1)
    while frame is not None:
        me = frame.f_locals.get("self")
        if isinstance(me, classes):
            return me
        t = frame.f_locals.get("trainer")
        if isinstance(t, classes):
            return t
        frame = frame.f_back
    return None


def _cls(module: str, name: str) -> Any:
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod is not None else None


def _checked(spec: Any, bindings: Mapping[str, Any], where: str) -> Any:
    if isinstance(spec, Mapping):
        return {k: _checked(v, bindings, f"{where}.{k}") for k, v in spec.items()}
    if isinstance(spec, str):
        return _check(spec, name=f"<{where}>", **bindings)
    return spec  # the torch backend reports what it cannot take
