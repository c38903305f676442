"""Which optimizer values a schedule drives: hyperparameter names × parameter groups.

``resolve(spec, optimizer, relative)`` turns what the user passed to
``clrdsl.compile(..., backend="torch")`` into a list of :class:`Slot`, one per
(hyperparameter, parameter group) pair that a schedule drives:

- one expression: ``lr`` of every group;
- ``{"lr": e1, "momentum": e2, "weight_decay": e3}``: several hyperparameters, each of
  every group;
- ``{0: e1, "head": e2}``: ``lr`` per group, by index or by the group's ``name`` key;
- ``{"lr": {0: e1, 1: e2}, "momentum": e3}``: both at once.

``momentum`` drives ``momentum`` where the group has it (SGD, RMSprop) and else
``betas[0]`` (Adam, AdamW, NAdam, ...); ``beta1`` always means ``betas[0]`` and
``beta2`` ``betas[1]`` (never touched unless named). Any other numeric key of the group
(``weight_decay``, ``eps``, ...) may be named as is. Nothing is written to a key the
group lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch

from clrdsl.diagnostics.errors import ClrdslTypeError, suggestion_hint
from clrdsl.semantics.model import CheckedSchedule
from clrdsl.vocabulary import native, translate

# Group keys that are bookkeeping, not hyperparameters.
_NOT_HPARAMS = {"params", "param_names", "name", "initial_lr"}
# Keys torch optimizers accept as 0-d tensors and read without Python branching, so a
# compiled step does not recompile when their values change (capturable mode).
TENSOR_KEYS = ("lr", "betas")


@dataclass(frozen=True)
class Slot:
    """One value a schedule drives: ``param_groups[group][key]`` (or ``[key][index]``)."""

    param: str  # the name the user wrote: lr, momentum, beta1, weight_decay, ...
    group: int
    key: str  # the group's key: lr, momentum, betas, weight_decay, ...
    index: int | None  # 0 or 1 for betas[0] or betas[1], else None
    checked: CheckedSchedule
    relative: bool  # the value is the schedule times the group's initial value

    @property
    def label(self) -> str:
        where = f"{self.key}[{self.index}]" if self.index is not None else self.key
        return f"{self.param} of param group {self.group} ({where})"


def hparams(group: Mapping[str, Any]) -> list[str]:
    """The numeric hyperparameters of a parameter group (what a schedule may drive)."""
    out = []
    for k, v in group.items():
        if k in _NOT_HPARAMS:
            continue
        if k == "betas" or _is_number(v):
            out.append(k)
    return out


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, torch.Tensor):
        return v.numel() == 1 and v.is_floating_point()
    return isinstance(v, (int, float))


_BETAS = {"beta1": 0, "beta2": 1}


def group_key(param: str, group: Mapping[str, Any]) -> tuple[str, int | None] | None:
    """The group key (and index) that hyperparameter ``param`` drives, or None."""
    if param in _BETAS:
        return ("betas", _BETAS[param]) if "betas" in group else None
    if param == "momentum" and "momentum" not in group:
        return ("betas", 0) if "betas" in group else None
    if param != "betas" and param in group and param in hparams(group):
        return (param, None)
    return None


def _optimizer_hparams(optimizer: torch.optim.Optimizer) -> list[str]:
    names: list[str] = []
    for g in optimizer.param_groups:
        for k in hparams(g):
            if k not in names:
                names.append(k)
    if "betas" in names:  # the pair is driven one coefficient at a time
        names.remove("betas")
        names += [n for n in ("momentum", "beta1", "beta2") if n not in names]
    return names


def _group_names(optimizer) -> dict[str, list[int]]:
    names: dict[str, list[int]] = {}
    for i, g in enumerate(optimizer.param_groups):
        if isinstance(g.get("name"), str):
            names.setdefault(g["name"], []).append(i)
    return names


def _as_checked(v: Any, where: str) -> CheckedSchedule:
    if isinstance(v, CheckedSchedule):
        return v
    if isinstance(v, str):
        from clrdsl.api import check

        return check(v, name=f"<{where}>")
    raise ClrdslTypeError(
        f"the schedule for {where} is a {type(v).__name__}", code="E602",
        expected="an expression (a string) or a checked schedule", found=repr(v)[:80],
    )


def resolve(spec: Any, optimizer: torch.optim.Optimizer,
            relative: bool | Iterable[str] = False) -> list[Slot]:
    """The slots a schedule specification drives on ``optimizer`` (see the module doc)."""
    groups = optimizer.param_groups
    names = _group_names(optimizer)
    opt_hparams = _optimizer_hparams(optimizer)
    if not isinstance(spec, Mapping):
        per_param: dict[str, Any] = {"lr": spec}
    elif spec and _is_group_mapping(spec, names, opt_hparams):
        per_param = {"lr": spec}
    else:  # names in any backend's spelling (learning_rate, b1, beta_1, ...): clrdsl.vocabulary
        per_param = translate(spec, "torch")
        if relative not in (True, False, None):
            relative = [native(r, "torch") for r in ([relative] if isinstance(relative, str) else relative)]
    if not per_param:
        raise ClrdslTypeError("no schedule given", code="E602",
                              expected="an expression, or a mapping {hyperparameter: expression}",
                              found="an empty mapping")
    rel = _relative_set(relative, per_param)
    slots: list[Slot] = []
    for param, value in per_param.items():
        _check_hparam(param, optimizer, opt_hparams, names)
        if isinstance(value, Mapping):
            chosen = _pick_groups(value, optimizer, names, param)
        else:
            chosen = {i: value for i in range(len(groups))}
        for i in sorted(chosen):
            where = group_key(param, groups[i])
            if where is None:
                raise ClrdslTypeError(
                    f"param group {i} of {type(optimizer).__name__} has no hyperparameter `{param}`",
                    code="E602", expected="one of: " + ", ".join(_listed(groups[i])),
                    found=f"`{param}`",
                )
            checked = _as_checked(chosen[i], f"{param}.{i}" if isinstance(value, Mapping) else param)
            slots.append(Slot(param, i, where[0], where[1], checked, param in rel))
    return slots


def _listed(group) -> list[str]:
    keys = hparams(group)
    if "betas" in keys:
        keys = [k for k in keys if k != "betas"] + ["momentum (drives betas[0])", "beta1", "beta2"]
    return keys


def _is_group_mapping(spec: Mapping, names: dict[str, list[int]], opt_hparams: list[str]) -> bool:
    """A top-level mapping is per group when every key is a group index or group name
    that is not also a hyperparameter name."""
    return all(
        (isinstance(k, int) and not isinstance(k, bool)) or (k in names and k not in opt_hparams)
        for k in spec
    )


def _check_hparam(param: Any, optimizer, opt_hparams: list[str], names) -> None:
    if isinstance(param, str) and param in opt_hparams:
        return
    opt = type(optimizer).__name__
    hint = suggestion_hint(str(param), opt_hparams + list(names))
    if isinstance(param, int) or param in names:
        hint = "a mapping that mixes groups and hyperparameters is ambiguous; put the groups " \
            "under a hyperparameter: {\"lr\": {group: expression}, ...}"
    raise ClrdslTypeError(
        f"{opt} has no hyperparameter `{param}`",
        code="E602",
        expected=f"a hyperparameter {opt} has: " + ", ".join(opt_hparams),
        found=f"`{param}`",
        hint=hint,
    )


def _pick_groups(mapping: Mapping, optimizer, names: dict[str, list[int]], param: str) -> dict[int, Any]:
    n = len(optimizer.param_groups)
    chosen: dict[int, Any] = {}
    for key, value in mapping.items():
        if isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < n:
                raise ClrdslTypeError(
                    f"no param group {key} for `{param}`: the optimizer has {n} group(s)",
                    code="E603", expected=f"a group index in 0..{n - 1}" + _names_text(names),
                    found=repr(key),
                )
            indices = [key]
        elif isinstance(key, str) and key in names:
            indices = names[key]
        else:
            raise ClrdslTypeError(
                f"no param group named `{key}` for `{param}`",
                code="E603",
                expected=f"a group index in 0..{n - 1}" + _names_text(names),
                found=repr(key),
                hint=suggestion_hint(str(key), names) or
                "give a group a name by adding a \"name\" key to its dict",
            )
        for i in indices:
            if i in chosen:
                raise ClrdslTypeError(
                    f"param group {i} is given two schedules for `{param}`", code="E603",
                    expected="one schedule per group", found=f"group {i} selected again by {key!r}",
                )
            chosen[i] = value
    return chosen


def _names_text(names) -> str:
    return (" or a group name: " + ", ".join(names)) if names else ""


def _relative_set(relative, per_param) -> set[str]:
    if relative is True:
        return set(per_param)
    if relative is False or relative is None:
        return set()
    chosen = {relative} if isinstance(relative, str) else set(relative)
    for p in chosen:
        if p not in per_param:
            raise ClrdslTypeError(
                f"relative names `{p}`, which no schedule drives", code="E602",
                expected="True, False, or names among: " + ", ".join(map(str, per_param)),
                found=repr(p), hint=suggestion_hint(str(p), [str(k) for k in per_param]),
            )
    return chosen
