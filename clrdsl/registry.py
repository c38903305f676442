"""Plugin discovery: the ``clrdsl.backends`` and ``clrdsl.functions`` entry points.

Entry points are listed once (cheaply, from installed metadata) and each is loaded
only when first used. A plugin that fails to load never breaks the others: using it
raises a :class:`ClrdslPluginError` naming the entry point, its distribution and an
install hint; listing shows it with its status.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from typing import Any

from .errors import ClrdslPluginError, Span, suggestion_hint

BACKENDS = "clrdsl.backends"
FUNCTIONS = "clrdsl.functions"

# Frameworks whose absence has a known cure: the matching extra of clrdsl.
FRAMEWORK_EXTRAS = {"torch": "torch", "keras": "keras", "tensorflow": "tensorflow", "jax": "jax",
                    "optax": "jax", "matplotlib": "plot"}
# Backends the project documents, by the extra that installs each framework.
BACKEND_EXTRAS = {"torch": "torch", "keras": "keras", "jax": "jax"}


@dataclass
class Entry:
    group: str
    name: str
    value: str  # "module:attr"
    dist: str  # distribution name
    others: list[tuple[str, str]] = field(default_factory=list)  # (dist, value) claiming the same name
    _obj: Any = None
    _error: ClrdslPluginError | None = None

    def load(self) -> Any:
        if self.others:
            claims = [f"{self.dist} ({self.value})"] + [f"{d} ({v})" for d, v in self.others]
            raise ClrdslPluginError(
                f"{_what(self.group)} `{self.name}` is claimed by more than one distribution: "
                + ", ".join(claims),
                code="E501",
                expected="one plugin per name",
                found=f"{len(claims)} plugins named `{self.name}`",
                hint="uninstall one of them",
            )
        if self._obj is None and self._error is None:
            try:
                module, _, attr = self.value.partition(":")
                obj = importlib.import_module(module)
                for part in attr.split(".") if attr else ():
                    obj = getattr(obj, part)
                self._obj = obj
            except Exception as exc:  # a broken plugin must not break the others
                self._error = _load_error(self, exc)
        if self._error is not None:
            raise self._error
        return self._obj

    @property
    def status(self) -> str:
        if self.others:
            return "conflict"
        try:
            obj = self.load()
        except ClrdslPluginError as exc:
            return "broken: " + exc.message
        missing = missing_requirements(obj)
        if missing:
            return "needs " + ", ".join(missing)
        return "ok"


def entry_points(group: str):
    """The installed entry points of ``group``. importlib.metadata is imported on
    first use, not with clrdsl (it costs a noticeable part of the import time)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def _what(group: str) -> str:
    return "backend" if group == BACKENDS else "function"


# PyTorch is the one framework whose right build depends on the machine (CPU or CUDA,
# which CUDA): no pip line is true everywhere, so the hint points at PyTorch's own.
TORCH_HINT = ("install PyTorch as its instructions say for your machine, CPU or CUDA: "
              "https://pytorch.org/get-started/locally/")


def install_hint(module: str, dist: str = "clrdsl") -> str | None:
    """How to install the missing framework ``module`` (None if clrdsl knows no cure)."""
    top = module.split(".")[0]
    if top == "torch":
        return TORCH_HINT
    if top not in FRAMEWORK_EXTRAS:
        return None
    if dist != "clrdsl":
        return f"pip install {top}  (needed by {dist})"
    hint = f'pip install "clrdsl[{FRAMEWORK_EXTRAS[top]}]"'
    if top == "keras":  # Keras 3 runs on a framework of its own choosing
        hint += "  (and a Keras backend: tensorflow, jax or torch)"
    return hint


def _install_hint(dist: str, missing: str | None) -> str:
    return install_hint(missing or "", dist) or f"pip install --force-reinstall {dist}"


def _load_error(entry: Entry, exc: Exception) -> ClrdslPluginError:
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    detail = f"{type(exc).__name__}: {exc}"
    return ClrdslPluginError(
        f"{_what(entry.group)} plugin `{entry.name}` failed to load",
        code="E502",
        expected=f"entry point `{entry.name} = {entry.value}` in group {entry.group} to import",
        found=detail,
        hint=_install_hint(entry.dist, missing),
        notes=[f"distribution: {entry.dist}"],
    )


def missing_requirements(obj: Any) -> list[str]:
    """Modules a plugin object declares in ``requires`` that are not installed."""
    return [m for m in getattr(obj, "requires", ()) if importlib.util.find_spec(m) is None]


class Registry:
    """The entry points of one group, listed lazily and loaded on demand."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._entries: dict[str, Entry] | None = None
        self._lock = threading.Lock()
        self._extra: dict[str, Any] = {}

    def entries(self) -> dict[str, Entry]:
        if self._entries is None:
            with self._lock:
                if self._entries is None:
                    self._entries = self._discover()
        return self._entries

    def _discover(self) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for ep in entry_points(group=self.group):
            dist = ep.dist.name if getattr(ep, "dist", None) is not None else "<unknown>"
            prev = found.get(ep.name)
            if prev is None:
                found[ep.name] = Entry(self.group, ep.name, ep.value, dist)
            elif prev.dist != dist and all(d != dist for d, _ in prev.others):
                prev.others.append((dist, ep.value))
        return found

    def names(self) -> list[str]:
        return sorted(set(self.entries()) | set(self._extra))

    def __contains__(self, name: str) -> bool:
        return name in self._extra or name in self.entries()

    def get(self, name: str, span: Span | None = None) -> Any:
        if name in self._extra:
            return self._extra[name]
        entry = self.entries().get(name)
        if entry is None and self.group == BACKENDS and name in BACKEND_EXTRAS:
            # a documented backend whose distribution is not installed (jax ships apart)
            raise ClrdslPluginError(
                f"the {name} backend is not installed",
                code="E503",
                span=span,
                expected=f"a `{name}` entry point in group {BACKENDS}",
                found="no such entry point; installed backends: " + ", ".join(self.names()),
                hint=install_hint(name) or f'pip install "clrdsl[{BACKEND_EXTRAS[name]}]"',
            )
        if entry is None:
            raise ClrdslPluginError(
                f"no {_what(self.group)} named `{name}`",
                code="E503",
                span=span,
                expected=f"one of the installed {_what(self.group)}s: " + ", ".join(self.names()),
                found=f"`{name}`",
                hint=suggestion_hint(name, self.names()),
            )
        return entry.load()

    def register(self, name: str, obj: Any) -> None:
        """Register an object in-process (tests, notebooks); entry points are the
        way to ship a plugin."""
        self._extra[name] = obj

    def unregister(self, name: str) -> None:
        self._extra.pop(name, None)

    def reset(self) -> None:
        """Forget the discovered entry points (after installing a plugin at run time)."""
        with self._lock:
            self._entries = None


backends = Registry(BACKENDS)
functions = Registry(FUNCTIONS)


def get_backend(name: str) -> Any:
    """The backend plugin ``name``, with its framework importable (else an install hint)."""
    obj = backends.get(name)
    missing = missing_requirements(obj)
    if missing:
        entry = backends.entries().get(name)
        dist = entry.dist if entry else "clrdsl"
        raise ClrdslPluginError(
            f"backend `{name}` needs {', '.join(missing)}, which is not installed",
            code="E504",
            expected=f"{', '.join(missing)} importable",
            found="not installed",
            hint=_install_hint(dist, missing[0]),
            notes=[f"distribution: {dist}"],
        )
    return obj
