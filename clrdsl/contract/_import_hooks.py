"""Import a backend plugin right after its framework is imported, never before.

Keras finds a saved model's custom classes in its registry by name, so the Keras
backend's ``Schedule`` must be registered before ``keras.models.load_model`` runs.
Which plugin modules to import is declared by the plugins themselves, in the
``clrdsl.on_import`` entry-point group (name: the framework's top-level module; value:
the plugin module to import), read only when the framework is imported: the core names
no plugin.
Importing Keras from ``import clrdsl`` would make every user pay for it; instead
:func:`after_import` runs the registration at the moment the framework is imported
(or at once, if it already was). A finder on ``sys.meta_path`` notices the import of
the framework's top-level module, lets the real loader execute it, then imports the
plugin module. A plugin that fails to import only warns: it never breaks the
framework's import.

When the framework is first imported from inside the plugin's own package (``import
clrdsl_keras.ops`` imports Keras), a module of that package is still half-made at that
moment, and importing the plugin module then would fail on it; the hook leaves it, and
each such module of the package imports the plugin module at its own end.
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings

# framework module -> plugin modules to import once it is loaded
_PENDING: dict[str, list[str]] = {}
_lock = threading.Lock()


def after_import(framework: str, plugin: str) -> None:
    """Import ``plugin`` as soon as the top-level module ``framework`` is imported."""
    mod = sys.modules.get(framework)
    if mod is not None:
        if not getattr(getattr(mod, "__spec__", None), "_initializing", False):
            _load(plugin)
        return
    with _lock:
        _PENDING.setdefault(framework, [])
        if plugin not in _PENDING[framework]:
            _PENDING[framework].append(plugin)
        if not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())


ON_IMPORT = "clrdsl.on_import"


def after_import_declared(framework: str) -> None:
    """Import, once ``framework`` is imported, the modules that ``clrdsl.on_import``
    entry points named ``framework`` declare."""
    after_import(framework, f"entry-points:{framework}")


def _declared(framework: str) -> list[str]:
    from importlib.metadata import entry_points

    return sorted({ep.value.partition(":")[0] for ep in entry_points(group=ON_IMPORT) if ep.name == framework})


def _initializing(package: str) -> bool:
    """Whether a module of ``package`` is being imported right now (half-made)."""
    return any(getattr(getattr(m, "__spec__", None), "_initializing", False)
               for name, m in list(sys.modules.items()) if name == package or name.startswith(package + "."))


def _load(plugin: str) -> None:
    if plugin.startswith("entry-points:"):
        for module in _declared(plugin.partition(":")[2]):
            _load(module)
        return
    if _initializing(plugin.split(".")[0]):
        return  # the package imports the plugin module itself once whole (see the module docstring)
    try:
        importlib.import_module(plugin)
    except Exception as exc:  # the framework import must still succeed
        warnings.warn(f"clrdsl could not import {plugin} after its framework loaded: "
                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)


class _Finder:
    """Finds nothing itself: it wraps the loader the other finders give a framework."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _PENDING:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _Loader(spec.loader, fullname)
        return spec

    def invalidate_caches(self):
        pass


class _Loader:
    """Delegates to the real loader, then imports the plugins waiting on the module."""

    def __init__(self, loader, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        # the module sees its real loader (resources, reloads, introspection)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        with _lock:
            plugins = _PENDING.pop(self._name, [])
            if not _PENDING:
                sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
        for plugin in plugins:
            _load(plugin)

    def __getattr__(self, name):
        return getattr(self._loader, name)
