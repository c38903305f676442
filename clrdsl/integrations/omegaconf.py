"""An OmegaConf resolver that checks a schedule string when the config is resolved.

    from clrdsl.integrations.omegaconf import register_resolver
    register_resolver()          # once, before the config is resolved

    # config.yaml
    optim:
      lr: ${clrdsl:'triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)'}
      # units that need bindings take them as a dict (quote the whole value in YAML):
      lr2: "${clrdsl:'triangular2(0.001, 0.006, step=4ep)', {steps_per_epoch: ${data.steps_per_epoch}}}"
    scheduler:
      # ... or from a `steps_per_epoch` / `total_steps` key beside the value (or in an
      # enclosing mapping, the nearest first): written once, read by the resolver, by
      # `clrdsl check -f`, and by the factory the config instantiates
      expr: ${clrdsl:'triangular(0.001, 0.006, step=4ep)'}
      steps_per_epoch: ${data.steps_per_epoch}

Resolving ``optim.lr`` gives the expression's canonical text, or raises OmegaConf's
``InterpolationResolutionError`` whose message is the clrdsl diagnostic: the source
named after the config key, a caret under the bad span, expected/found and a hint.
The value stays a string (configs hold data); compile it where it is used, with the
same bindings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clrdsl.api import check

RESOLVER = "clrdsl"
BINDINGS = ("steps_per_epoch", "total_steps")


def check_schedule(expr: Any, bindings: Mapping[str, Any] | None = None, _node_: Any = None,
                   _parent_: Any = None) -> str:
    """The resolver: check ``expr`` (with optional bindings, else those found beside it
    in the config) and return its canonical text."""
    if not isinstance(expr, str):
        raise TypeError(f"${{{RESOLVER}:...}} takes a schedule string, got {type(expr).__name__} {expr!r}")
    given = dict(bindings or {})
    unknown = sorted(set(given) - set(BINDINGS))
    if unknown:
        raise TypeError(f"${{{RESOLVER}:...}}: unknown binding {', '.join(unknown)} "
                        f"(the bindings are {', '.join(BINDINGS)})")
    for name, value in _bindings_beside(_parent_).items():
        given.setdefault(name, value)
    key = _node_._get_full_key(None) if _node_ is not None else ""
    return check(expr, name=f"<{key}>" if key else "<config>", **given).expr


def _bindings_beside(parent: Any) -> dict[str, int]:
    """``steps_per_epoch`` / ``total_steps`` in the mapping holding the value or in an
    enclosing one (the nearest first), where they are whole numbers."""
    found: dict[str, int] = {}
    node = parent
    while node is not None:
        keys = node.keys() if hasattr(node, "keys") else ()
        for name in BINDINGS:
            if name not in found and name in keys:
                value = node[name]
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    found[name] = value
        node = node._get_parent() if hasattr(node, "_get_parent") else None
    return found


def register_resolver(name: str = RESOLVER) -> None:
    """Register ``${name:...}`` with OmegaConf (idempotent)."""
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver(name, check_schedule, replace=True, use_cache=False)
