"""Standalone PyTorch code for ``clrdsl compile --backend torch``.

The generated code evaluates the schedule one step at a time in float64 with a copy of
:class:`clrdsl.contract.ops.MathOps`; :class:`~clrdsl_torch.scheduler.ClrdslScheduler` runs this
very code in-process. The module defines ``schedule(step)`` and
``make_scheduler(optimizer)``: an ``LRScheduler`` that sets every parameter group's
learning rate to ``schedule(t)`` after ``t`` updates.
"""

from __future__ import annotations

from clrdsl.contract.ops import MathOps
from clrdsl.evaluation.emit import Target, emit_module
from clrdsl.evaluation.scalar import ENTRY

WRAPPER = '''
class Scheduler(LRScheduler):
    """Sets the learning rate of every parameter group to schedule(t), where t counts
    optimizer updates: call `step()` after each `optimizer.step()`. The value depends
    on t alone, so resuming is `set_step(t)` (or restoring `state_dict()`)."""

    def get_lr(self):
        lr = schedule(self.last_epoch)
        return [lr for _ in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return self.get_lr()

    def step(self, epoch=None):
        """Advance one optimizer update (or position the schedule at `epoch` updates).

        The value depends on t alone, so call order is irrelevant and no step-order
        warning is issued (an AMP-skipped optimizer step is not a mistake here)."""
        self.set_step(self.last_epoch + 1 if epoch is None else epoch)

    def set_step(self, t):
        """Position the schedule after `t` updates and write its learning rate."""
        self.last_epoch = int(t)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def make_scheduler(optimizer, last_epoch=-1):
    """An LRScheduler driving `optimizer`'s learning rate (last_epoch=-1: start at step 0)."""
    return Scheduler(optimizer, last_epoch=last_epoch)
'''

USAGE = '''
Usage:
    from this_module import make_scheduler, schedule
    scheduler = make_scheduler(optimizer)    # the learning rate is schedule(0)
    for batch in loader:
        ...
        optimizer.step()
        scheduler.step()                     # now schedule(1), schedule(2), ...
'''

TARGET = Target(
    backend="torch",
    framework="PyTorch",
    ops=MathOps,
    imports=("import torch", "from torch.optim.lr_scheduler import LRScheduler"),
    entry=ENTRY,
    wrapper=WRAPPER,
    usage=USAGE,
)


def emit(checked) -> str:
    """The standalone PyTorch module for a checked schedule."""
    return emit_module(checked, TARGET)
