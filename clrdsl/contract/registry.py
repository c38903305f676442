"""Plugin discovery: the ``clrdsl.backends`` and ``clrdsl.functions`` entry points, and
the ``clrdsl.function_bundles`` of functions registered by one entry point.

Entry points are listed once (cheaply, from installed metadata) and each is loaded
only when first used. A plugin that fails to load never breaks the others: using it
raises a :class:`ClrdslPluginError` naming the entry point, its distribution and an
install hint; listing shows it with its status.

A *bundle* registers many functions with one entry point (how the standard library is
registered): the entry point in ``clrdsl.function_bundles`` names a mapping from each
function's name in the language to a ``"module:attr"`` reference (imported when that
name is first used, like an entry point's value) or to the ``Shape``/``ScaleFn``
itself. The mapping is read when the functions are first listed, so its module should
hold the mapping only (importing it must stay cheap). A name claimed by two
distributions, by entry points or bundles in any combination, is a conflict (``E501``);
within one distribution the first claim holds, and its entry points in
``clrdsl.functions`` come before its bundles. A bundle that fails to load is reported
like a broken plugin (``clrdsl plugins``, and a note on an unknown function).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from typing import Any

from clrdsl.diagnostics.errors import ClrdslError, ClrdslPluginError, Span, suggestion_hint

BACKENDS = "clrdsl.backends"
FUNCTIONS = "clrdsl.functions"
BUNDLES = "clrdsl.function_bundles"  # one entry point: a mapping name -> "module:attr" or Shape/ScaleFn

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
    version: str = ""  # distribution version ("" when unknown)
    others: list[tuple[str, str]] = field(default_factory=list)  # (dist, value) claiming the same name
    bundle: str | None = None  # the bundle (its entry point in BUNDLES) that registers this name
    given: Any = None  # the object itself, when the bundle maps the name to it (not a reference)
    _obj: Any = None
    _error: ClrdslPluginError | None = None

    def load(self) -> Any:
        if self.others:
            claims = [f"{self.dist} ({self.claim})"] + [f"{d} ({v})" for d, v in self.others]
            raise ClrdslPluginError(
                f"{_what(self.group)} `{self.name}` is claimed by more than one distribution: "
                + ", ".join(claims),
                code="E501",
                expected="one plugin per name",
                found=f"{len(claims)} plugins named `{self.name}`",
                hint="uninstall one of them",
            )
        if self._obj is None and self._error is None:
            with _LOAD_LOCK:
                if self._obj is None and self._error is None:
                    self._load_once()
        if self._error is not None:
            raise self._error.copy()  # a fresh error per caller: the cached one is never re-pointed
        return self._obj

    def _load_once(self) -> None:
        try:
            if self.given is not None:
                obj = self.given
            else:
                obj = _resolve(self.value)
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a broken plugin (even sys.exit) must not break the others
            self._error = _load_error(self, exc)
            return
        problem = contract_problem(self.group, obj)
        if problem is not None:
            self._error = contract_error(self, problem)
            return
        self._obj = obj

    @property
    def claim(self) -> str:
        """``module:attr``, with the bundle it comes from."""
        return self.value + (f" in bundle `{self.bundle}`" if self.bundle else "")

    @property
    def where(self) -> str:
        """The entry point and its group, or the bundle's item and the bundle's group."""
        if self.bundle:
            return f"`{self.name} = {self.value}` of bundle `{self.bundle}` (group {BUNDLES})"
        return f"entry point `{self.name} = {self.value}` in group {self.group}"

    @property
    def label(self) -> str:
        """``name = module:attr`` from ``dist version``, for diagnostics."""
        return f"`{self.name} = {self.value}`" + (f" in bundle `{self.bundle}`" if self.bundle else "") + \
            f" (distribution {self.dist_label})"

    @property
    def dist_label(self) -> str:
        return f"{self.dist} {self.version}".strip()

    @property
    def status(self) -> str:
        """One line: ``ok``, ``broken: …``, ``conflict``, ``needs …`` or ``shadowed by …``."""
        return plugin_status(self).text


@dataclass(frozen=True)
class PluginStatus:
    """What ``clrdsl plugins`` shows for one plugin (see :func:`plugin_report`)."""

    kind: str  # backend | function
    name: str
    distribution: str
    version: str
    entry_point: str  # module:attr ("" when not installed)
    state: str  # ok | broken | conflict | needs | shadowed | not installed
    reason: str = ""  # why, for every state but ok
    hint: str = ""  # what to do about it
    obj: Any = field(default=None, compare=False, repr=False)  # the loaded object when usable
    bundle: str = ""  # the bundle that registers it ("" for its own entry point)

    @property
    def text(self) -> str:
        if self.state == "ok":
            return "ok"
        if self.state == "conflict":
            return "conflict"
        if self.state == "shadowed":
            return self.reason
        if self.state == "needs":
            return "needs " + self.reason
        return f"{self.state}: {self.reason}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "distribution": self.distribution,
                "version": self.version, "entry_point": self.entry_point, "bundle": self.bundle or None,
                "state": self.state, "status": self.text, "reason": self.reason, "hint": self.hint}


def _shadowed_by(name: str) -> str | None:
    """Why a function plugin named ``name`` cannot be called, or None."""
    from clrdsl.language.check import prelude
    from clrdsl.semantics.model import MATH_FUNCTIONS

    if name in ("scale", "take"):
        return f"shadowed by the built-in `{name}(...)` of the language"
    pre = prelude()
    if name in pre:
        span = getattr(pre[name].node, "span", None)
        line = ""
        if span is not None and span.source is not None:  # the span knows it is the prelude's
            line = f" ({span.source.name} line {span.source.line_col(span.start)[0]})"
        return f"shadowed by the prelude definition `{name}`{line}"
    if name in MATH_FUNCTIONS:
        return f"shadowed inside scale() formulas by the math function `{name}`"
    return None


def plugin_status(entry: Entry) -> PluginStatus:
    """The status of one discovered entry point; loads it (a failure is reported, never raised)."""
    kind = _what(entry.group)
    base = dict(kind=kind, name=entry.name, distribution=entry.dist, version=entry.version,
                entry_point=entry.value, bundle=entry.bundle or "")
    if entry.others:
        claims = ", ".join([entry.dist] + [d for d, _ in entry.others])
        return PluginStatus(**base, state="conflict", reason=f"claimed by {claims}",
                            hint="uninstall all but one of them")
    try:
        obj = entry.load()
    except ClrdslPluginError as exc:
        return PluginStatus(**base, state="broken", reason=exc.message + (f" ({exc.found})" if exc.found else ""),
                            hint=exc.hint or "")
    missing = missing_requirements(obj)
    if missing:
        return PluginStatus(**base, state="needs", reason=", ".join(missing),
                            hint=_install_hint(entry.dist, missing[0]), obj=obj)
    if entry.group == FUNCTIONS:
        why = _shadowed_by(entry.name)
        if why is not None:
            return PluginStatus(**base, state="shadowed", reason=why,
                                hint=f"the plugin must be renamed by its authors ({entry.dist})", obj=obj)
    return PluginStatus(**base, state="ok", obj=obj)


def plugin_report() -> list[PluginStatus]:
    """Every backend and function plugin with its status, sorted by kind and name: the
    installed entry points (loaded now; a broken one is reported, never raised), the
    in-process registrations, and the documented backends that are not installed (with
    the command that installs each)."""
    out: list[PluginStatus] = []
    for reg in (backends, functions):
        for name, entry in sorted(reg.entries().items()):
            out.append(plugin_status(entry))
        for b in reg.bundles():  # a bundle that did not load: its names are unknown
            if b.error is not None:
                out.append(PluginStatus(_what(reg.group), b.name, b.dist, b.version, b.value, "broken",
                                        reason=b.error.message + (f" ({b.error.found})" if b.error.found else ""),
                                        hint=b.error.hint or "", bundle=b.name))
        for name, obj in sorted(reg._extra.items()):
            out.append(PluginStatus(_what(reg.group), name, "(registered in-process)", "", "", "ok", obj=obj))
    present = {p.name for p in out if p.kind == "backend"}
    for name, extra in sorted(BACKEND_EXTRAS.items()):
        if name not in present:
            out.append(PluginStatus("backend", name, "clrdsl" if name != "jax" else "clrdsl-jax", "", "",
                                    "not installed", reason=f"no `{name}` entry point in {BACKENDS}",
                                    hint=f'pip install "clrdsl[{extra}]"'))
    return sorted(out, key=lambda p: (p.kind != "backend", p.name))


def entry_points(group: str):
    """The installed entry points of ``group``. importlib.metadata is imported on
    first use, not with clrdsl (it costs a noticeable part of the import time)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def _dist_of(ep) -> tuple[str, str]:
    """The distribution name and version of an entry point ("<unknown>", "" when absent)."""
    d = getattr(ep, "dist", None)
    if d is None:
        return "<unknown>", ""
    try:
        name = d.name
    except Exception:  # noqa: BLE001 - broken metadata
        name = "<unknown>"
    try:
        version = str(getattr(d, "version", "") or "")
    except Exception:  # noqa: BLE001
        version = ""
    return str(name), version


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


_LOAD_LOCK = threading.RLock()  # one import of a plugin at a time (imports are not re-entrant-safe)


def _load_error(entry: Entry, exc: BaseException) -> ClrdslPluginError:
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    if isinstance(exc, SystemExit):
        detail = f"SystemExit: the module called sys.exit({exc.code!r}) on import"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return ClrdslPluginError(
        f"{_what(entry.group)} plugin `{entry.name}` failed to load",
        code="E502",
        expected=f"{entry.where} to import",
        found=_clip(detail),
        hint=_install_hint(entry.dist, missing),
        notes=[f"distribution: {entry.dist_label}"],
    )


def _resolve(value: str) -> Any:
    """The object a ``module:attr`` reference names (imports the module)."""
    module, _, attr = value.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def _read_bundle(name: str, value: str, dist: str, version: str) -> Bundle:
    """Import a bundle's mapping and check its shape (never raises: a broken bundle keeps
    its error, and its names stay unknown)."""
    from collections.abc import Mapping

    from clrdsl.contract.functions import ScaleFn, Shape

    bundle = Bundle(name, value, dist, version)

    def broken(code: str, what: str, found: str, hint: str) -> Bundle:
        bundle.error = ClrdslPluginError(
            f"function bundle `{name}` {what}", code=code,
            expected=f"entry point `{name} = {value}` in group {BUNDLES}: a mapping of function names "
            "to \"module:attr\" references or Shape/ScaleFn objects",
            found=_clip(found), hint=hint, notes=[f"distribution: {f'{dist} {version}'.strip()}"])
        return bundle

    try:  # the caller holds _LOAD_LOCK
        obj = _resolve(value)
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a broken bundle must not break the others
        missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
        if isinstance(exc, SystemExit):
            detail = f"SystemExit: the module called sys.exit({exc.code!r}) on import"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return broken("E502", "failed to load", detail, _install_hint(dist, missing))
    fix = f"report it to the authors of {dist}, or uninstall it: pip uninstall {dist}"
    try:
        if not isinstance(obj, Mapping):
            return broken("E505", "does not follow the plugin contract", f"a {_type_name(obj)}, not a mapping", fix)
        items = dict(obj.items())
    except Exception as exc:  # noqa: BLE001 - a mapping whose methods raise
        return broken("E505", "does not follow the plugin contract",
                      f"reading it raised {type(exc).__name__}: {exc}", fix)
    for key, item in items.items():
        if not isinstance(key, str) or not key.isidentifier():
            return broken("E505", "does not follow the plugin contract",
                          f"the key {key!r} is not a name (an identifier)", fix)
        if not (isinstance(item, str) and ":" in item) and not isinstance(item, (Shape, ScaleFn)):
            return broken("E505", "does not follow the plugin contract",
                          f"`{key}` maps to {_clip(repr(item), 80)}, neither a \"module:attr\" reference "
                          "nor a Shape/ScaleFn", fix)
    bundle.items = items
    return bundle


def _clip(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _type_name(v: Any) -> str:
    return type(v).__name__


def _function_problem(obj: Any) -> str | None:
    from clrdsl.contract.functions import Param, ScaleFn, Shape

    if not isinstance(obj, (Shape, ScaleFn)):
        return f"a {_type_name(obj)}, not a clrdsl.contract.functions.Shape or ScaleFn"
    if not isinstance(obj.name, str) or not obj.name.isidentifier():
        return f"its `name` is {obj.name!r}, not an identifier"
    if not isinstance(obj.params, tuple) or not all(isinstance(p, Param) for p in obj.params):
        return "its `params` is not a tuple of clrdsl.contract.functions.Param"
    names = [p.name for p in obj.params]
    if len(set(names)) != len(names):
        return "its `params` repeat a name"
    if not callable(obj.value):
        return f"its `value` is a {_type_name(obj.value)}, not a function"
    hooks = ("validate",) + (("length", "base", "cycle", "period") if isinstance(obj, Shape) else ())
    for hook in hooks + ("range",):
        h = getattr(obj, hook, None)
        if h is not None and not callable(h):
            return f"its `{hook}` is a {_type_name(h)}, not a function or None"
    return None


def _backend_problem(obj: Any) -> str | None:
    if not callable(getattr(obj, "compile", None)):
        return f"a {_type_name(obj)} without a `compile(checked, **options)` method"
    req = getattr(obj, "requires", ())
    if not isinstance(req, (tuple, list)) or not all(isinstance(m, str) for m in req):
        return f"its `requires` is {_clip(repr(req), 80)}, not a tuple of module names"
    emit = getattr(obj, "emit", None)
    if emit is not None and not callable(emit):
        return f"its `emit` is a {_type_name(emit)}, not a function"
    return None


def contract_problem(group: str, obj: Any) -> str | None:
    """What is wrong with a loaded plugin object against its group's contract (None: nothing)."""
    try:
        return _function_problem(obj) if group == FUNCTIONS else _backend_problem(obj)
    except Exception as exc:  # noqa: BLE001 - an object whose attributes raise
        return f"reading its attributes raised {type(exc).__name__}: {_clip(str(exc), 120)}"


def contract_error(entry: "Entry", problem: str) -> ClrdslPluginError:
    want = ("a clrdsl.contract.functions.Shape or ScaleFn" if entry.group == FUNCTIONS
            else "an object with `compile(checked, **options)` and `requires` (a tuple of module names)")
    return ClrdslPluginError(
        f"{_what(entry.group)} plugin `{entry.name}` does not follow the plugin contract",
        code="E505",
        expected=want,
        found=f"`{entry.name} = {entry.value}`" + (f" of bundle `{entry.bundle}`" if entry.bundle else "")
        + f" is {problem}",
        hint=f"report it to the authors of {entry.dist}, or uninstall it: pip uninstall {entry.dist}",
        notes=[f"distribution: {entry.dist_label}"],
    )


def plugin_failure(name: str, group: str, what: str, exc: BaseException | None = None,
                   found: str | None = None, span: Span | None = None) -> ClrdslPluginError:
    """A plugin's hook (``validate``, ``length``, ``compile``...) raised or returned nonsense:
    an error naming the entry point and its distribution."""
    reg = functions if group == FUNCTIONS else backends
    entry = reg.entries().get(name) if name not in reg._extra else None
    where = entry.label if entry else f"`{name}` (registered in-process)"
    dist = entry.dist if entry else None
    if exc is not None:
        found = _clip(f"{type(exc).__name__}: {exc}")
    return ClrdslPluginError(
        f"{_what(group)} plugin `{name}`: {what}",
        code="E507",
        span=span,
        expected=f"the {_what(group)} plugin contract (see `clrdsl plugins`)",
        found=found,
        hint=(f"report it to the authors of {dist}, or uninstall it: pip uninstall {dist}" if dist
              else "fix the plugin object passed to register()"),
        notes=[f"entry point: {where}"],
    )


def missing_requirements(obj: Any) -> list[str]:
    """Modules a plugin object declares in ``requires`` that are not installed."""
    req = getattr(obj, "requires", ())
    if not isinstance(req, (tuple, list)):
        return []  # a contract error, reported when the plugin is loaded
    out = []
    for m in req:
        try:
            if importlib.util.find_spec(m) is None:
                out.append(m)
        except (ImportError, ValueError, TypeError):
            out.append(str(m))
    return out


@dataclass
class Bundle:
    """One entry point of :data:`BUNDLES`: a mapping of many functions, read when the
    functions are first listed; ``error`` says why it could not be read."""

    name: str
    value: str  # "module:attr" of the mapping
    dist: str
    version: str = ""
    items: dict[str, Any] = field(default_factory=dict)  # name -> "module:attr" or the object
    error: ClrdslPluginError | None = None


class Registry:
    """The entry points of one group, listed lazily and loaded on demand (for
    ``clrdsl.functions``, with the functions of the bundles in :data:`BUNDLES`)."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.bundle_group = BUNDLES if group == FUNCTIONS else None
        self._entries: dict[str, Entry] | None = None
        self._bundles: list[Bundle] = []
        self._lock = threading.RLock()  # re-entrant: a bundle's module may use the registry as it loads
        self._extra: dict[str, Any] = {}

    def entries(self) -> dict[str, Entry]:
        if self._entries is None:
            # reading bundles imports their modules: under the plugins' import lock, taken
            # before this registry's (the order Entry.load takes them in), so no deadlock
            import contextlib

            with _LOAD_LOCK if self.bundle_group else contextlib.nullcontext(), self._lock:
                if self._entries is None:
                    self._entries = self._discover()
        return self._entries

    def _discover(self) -> dict[str, Entry]:
        found: dict[str, Entry] = {}

        def claim(entry: Entry) -> None:
            prev = found.get(entry.name)
            if prev is None:
                found[entry.name] = entry
            elif prev.dist != entry.dist and all(d != entry.dist for d, _ in prev.others):
                prev.others.append((entry.dist, entry.claim))
            # the same distribution again (listed twice, or its bundle after its own entry
            # point): the first claim holds

        for ep in entry_points(group=self.group):
            dist, version = _dist_of(ep)
            claim(Entry(self.group, ep.name, ep.value, dist, version))
        bundles: list[Bundle] = []
        for ep in entry_points(group=self.bundle_group) if self.bundle_group else ():
            dist, version = _dist_of(ep)
            if any(b.name == ep.name and b.dist == dist for b in bundles):
                continue  # one distribution seen twice (an editable install)
            bundle = _read_bundle(ep.name, ep.value, dist, version)
            bundles.append(bundle)
            for name, item in bundle.items.items():
                ref = item if isinstance(item, str) else f"{ep.value}[{name!r}]"
                claim(Entry(self.group, name, ref, dist, version, bundle=ep.name,
                            given=None if isinstance(item, str) else item))
        self._bundles = bundles
        return found

    def bundles(self) -> list[Bundle]:
        """The bundles read for this group (each with its error, if it could not be read)."""
        self.entries()
        return list(self._bundles)

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
            self._bundles = []


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
            notes=[f"distribution: {entry.dist_label if entry else dist}"],
        )
    return obj


# Distributions of this project: their backends' own exceptions (a TypeError for an
# unknown option) pass through; a third-party backend's become ClrdslPluginErrors.
OWN_DISTRIBUTIONS = frozenset({"clrdsl", "clrdsl-jax", "clrdsl_jax"})


def compile_with(name: str, backend: Any, checked: Any, *, via: Any = None, **options: Any) -> Any:
    """``backend.compile(checked, **options)`` (or ``via(checked, **options)``, e.g. its
    ``compile_mapping``), held to the contract: a third-party backend that raises
    (anything, SystemExit included) or returns None gives a ClrdslPluginError naming its
    entry point and distribution."""
    entry = backends.entries().get(name) if name not in backends._extra else None
    ours = entry is None or entry.dist in OWN_DISTRIBUTIONS
    try:
        obj = (via or backend.compile)(checked, **options)
    except (ClrdslError, KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001
        if ours and not isinstance(exc, SystemExit):
            raise
        raise plugin_failure(name, BACKENDS, "its `compile` raised", exc) from None
    if obj is None:
        raise plugin_failure(name, BACKENDS, "its `compile` returned None", found="None")
    return obj
