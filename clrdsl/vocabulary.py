"""One vocabulary of hyperparameter names across backends.

A mapping of schedules may name its hyperparameters in the common spelling or in any
framework's own; the torch and JAX backends translate the name to their framework's
(the Keras backend keeps a mapping's keys as written: Keras takes a schedule only for
``learning_rate``, and its ``ScheduleCallback`` takes ``lr=``/``momentum=``). The
table (also in docs/vocabulary.md):

=====================  ==========================  =====================
name written           torch                       optax (jax backend)
=====================  ==========================  =====================
lr, learning_rate      ``lr``                      ``learning_rate``
momentum               ``momentum``, else          ``momentum``
                       ``betas[0]``
beta1, b1, beta_1      ``betas[0]``                ``b1``
beta2, b2, beta_2      ``betas[1]``                ``b2``
weight_decay           ``weight_decay``            ``weight_decay``
=====================  ==========================  =====================

Any other name is passed through unchanged (``eps``, ``dampening``, ...). Two names for
the same hyperparameter in one mapping are an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clrdsl.diagnostics.errors import ClrdslTypeError

# common name -> {framework: that framework's name}
_TABLE = {
    "lr": {"torch": "lr", "optax": "learning_rate"},
    "momentum": {"torch": "momentum", "optax": "momentum"},
    "beta1": {"torch": "beta1", "optax": "b1"},
    "beta2": {"torch": "beta2", "optax": "b2"},
    "weight_decay": {"torch": "weight_decay", "optax": "weight_decay"},
}
ALIASES = {
    "lr": "lr", "learning_rate": "lr",
    "momentum": "momentum",
    "beta1": "beta1", "b1": "beta1", "beta_1": "beta1",
    "beta2": "beta2", "b2": "beta2", "beta_2": "beta2",
    "weight_decay": "weight_decay",
}
FRAMEWORKS = ("torch", "optax")


def common(name: Any) -> Any:
    """The common spelling of a hyperparameter name (unknown names unchanged)."""
    return ALIASES.get(name, name) if isinstance(name, str) else name


def native(name: Any, framework: str) -> Any:
    """``name`` in ``framework``'s spelling (unknown names unchanged)."""
    c = common(name)
    return _TABLE[c][framework] if c in _TABLE else name


def translate(mapping: Mapping[Any, Any], framework: str) -> dict[Any, Any]:
    """The mapping with its keys in ``framework``'s spelling; two keys naming one
    hyperparameter are an error (E632)."""
    out: dict[Any, Any] = {}
    seen: dict[Any, Any] = {}
    for k, v in mapping.items():
        n = native(k, framework)
        if n in out:
            raise ClrdslTypeError(
                f"`{seen[n]}` and `{k}` name the same hyperparameter", code="E632",
                expected="one schedule per hyperparameter", found=f"`{seen[n]}` and `{k}`",
                hint=f"keep one of them (in {framework} it is `{n}`)",
            )
        out[n], seen[n] = v, k
    return out
