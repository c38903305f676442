"""A clrdsl schedule with timm's scheduler protocol, for timm training scripts.

    from clrdsl.integrations.timm import TimmScheduler

    lr_scheduler = TimmScheduler(optimizer, "linear(0, 1e-3, over=5ep) >> cosine(1e-3, 1e-5, over=95%)",
                                 steps_per_epoch=len(loader), total_steps=epochs * len(loader))
    ...
    lr_scheduler.step_update(num_updates=num_updates)   # after every optimizer update
    lr_scheduler.step(epoch + 1, metric)                # after every epoch

timm's loop calls ``step_update(num_updates)`` with the count of updates done so far
and ``step(epoch)`` with the count of epochs done; its schedulers act on one of them
(``t_in_epochs``). This adapter's clock is clrdsl's: optimizer updates. With the
default ``t_in_epochs=False`` ``step_update(n)`` positions the clock at update ``n``
and ``step(epoch)`` changes nothing; with ``t_in_epochs=True`` the expression counts
epochs instead: ``step(epoch)`` positions it and ``step_update`` changes nothing.
Both are idempotent: the value comes from the count alone.

Like timm's schedulers, the learning rate of a parameter group that has an
``lr_scale`` key (timm's layer-wise decay) is the schedule's value times that scale.
Other hyperparameters (``{"lr": ..., "momentum": ..., "weight_decay": ...}``, as
``clrdsl.compile`` takes them) are written unscaled. ``state_dict`` /
``load_state_dict`` are the torch backend's (plain data: the expressions and the count).
"""

from __future__ import annotations

from typing import Any, Mapping

from clrdsl.api import compile as _compile

__all__ = ["TimmScheduler"]


class TimmScheduler:
    """timm's ``Scheduler`` protocol over a clrdsl torch scheduler."""

    def __init__(self, optimizer: Any, schedule: Any, *, t_in_epochs: bool = False,
                 steps_per_epoch: int | None = None, total_steps: int | None = None, **options: Any) -> None:
        self.optimizer = optimizer
        self.t_in_epochs = bool(t_in_epochs)
        self.metric: float | None = None
        self._inner = _compile(schedule, backend="torch", optimizer=optimizer, steps_per_epoch=steps_per_epoch,
                               total_steps=total_steps, **options)
        # the groups whose learning rate the schedule writes (only those get lr_scale)
        self._lr_groups = sorted({e["group"] for e in self._inner.state_dict()["schedules"]
                                  if self._inner.optimizer.param_groups[e["group"]]["lr"] is not None
                                  and e["param"] in ("lr", "learning_rate")})
        self._scale_lr()

    @property
    def scheduler(self) -> Any:
        """The torch backend's ``ClrdslScheduler`` doing the work."""
        return self._inner

    @property
    def t(self) -> int:
        """The count the values were last written for."""
        return self._inner.t

    def step(self, epoch: int, metric: float | None = None) -> None:
        """timm's end-of-epoch call (``epoch`` = epochs done). A schedule with plateau
        clocks takes ``metric`` as a report, as timm's ``PlateauLRScheduler`` does."""
        self.metric = metric
        if self.t_in_epochs:
            self._set(epoch)
        if metric is not None and self._inner.plateau_counts:
            self._inner.report(metric)
            self._scale_lr()

    def step_update(self, num_updates: int, metric: float | None = None) -> None:
        """timm's after-update call (``num_updates`` = optimizer updates done)."""
        self.metric = metric
        if not self.t_in_epochs:
            self._set(num_updates)

    def _set(self, n: int) -> None:
        self._inner.set_step(n)
        self._scale_lr()

    def _scale_lr(self) -> None:
        lrs = self._inner.get_last_lr()
        for i in self._lr_groups:
            g = self.optimizer.param_groups[i]
            if "lr_scale" in g:
                g["lr"] = lrs[i] * g["lr_scale"]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group as written (``lr_scale`` applied)."""
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {**self._inner.state_dict(), "t_in_epochs": self.t_in_epochs}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        state.pop("t_in_epochs", None)
        self._inner.load_state_dict(state)
        self._scale_lr()

    def __repr__(self) -> str:
        return f"TimmScheduler({self._inner!r}, t_in_epochs={self.t_in_epochs})"
