"""Hydra ``_target_`` factories: a schedule string in a config becomes a scheduler.

    # conf/config.yaml
    optimizer:
      _target_: torch.optim.SGD
      _partial_: true            # the parameters come from code
      lr: 0.001
      momentum: 0.9
    scheduler:
      _target_: clrdsl.integrations.hydra.torch_scheduler
      _partial_: true            # the optimizer comes from code
      expr: "triangular(0.001, 0.006, step=4ep) * exp(gamma=0.99994, on=iterations)"
      steps_per_epoch: 500

    opt = hydra.utils.instantiate(cfg.optimizer)(model.parameters())
    sched = hydra.utils.instantiate(cfg.scheduler)(optimizer=opt)

``expr`` may also be a mapping (``{lr: ..., momentum: ...}``) as ``clrdsl.compile``
accepts. For any other backend use :func:`schedule` with ``backend: keras`` or
``backend: jax``. A bad expression raises the clrdsl error; when Hydra calls the target
itself (no ``_partial_``) it wraps it in ``InstantiationException``, whose cause is the
clrdsl error with its rendered diagnostic. To reject a bad string when the config is
resolved, write ``expr: ${clrdsl:'...'}`` (see :mod:`clrdsl.integrations.omegaconf`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clrdsl.api import compile as _compile


def torch_scheduler(optimizer: Any, expr: Any, *, steps_per_epoch: int | None = None,
                    total_steps: int | None = None, **options: Any):
    """A clrdsl torch ``LRScheduler`` for ``optimizer`` (``options`` go to the torch backend)."""
    return _compile(_plain(expr), backend="torch", optimizer=optimizer, steps_per_epoch=steps_per_epoch,
                    total_steps=total_steps, **_plain(options))


def schedule(expr: Any, backend: str = "numpy", *, steps_per_epoch: int | None = None,
             total_steps: int | None = None, **options: Any):
    """The native schedule of any backend: a Keras ``LearningRateSchedule``
    (``backend: keras``), an optax schedule (``backend: jax``), a NumPy function, ..."""
    return _compile(_plain(expr), backend=backend, steps_per_epoch=steps_per_epoch,
                    total_steps=total_steps, **_plain(options))


def _plain(value: Any) -> Any:
    """OmegaConf containers (Hydra's default ``_convert_: none``) as plain dicts/lists."""
    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
