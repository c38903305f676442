"""Reading schedule strings out of config files (YAML, TOML, JSON or plain text).

- **Safe and bounded.** YAML is read with PyYAML's safe loader (no ``!!python`` tags),
  TOML with ``tomllib`` (``tomli`` below Python 3.11), JSON with :mod:`json`. A file
  larger than :data:`MAX_BYTES`, nested deeper than :data:`MAX_DEPTH` or expanding
  (YAML aliases) to more than :data:`MAX_NODES` values is refused.
- **Errors are clrdsl diagnostics.** A file that does not parse is a
  :class:`ConfigError` (``E901``) pointing at the file, line and column with a caret; a
  limit is ``E902``; an interpolation that cannot be resolved ``E903``. The CLI prints
  them and exits 1. A missing or unreadable file stays an ``OSError`` (exit 2), a key
  that is not there a ``KeyError`` naming the keys that are (exit 2).
- **Through OmegaConf when it is installed**, so ``${...}`` interpolations resolve and
  ``${clrdsl:...}`` values (:mod:`clrdsl.integrations.omegaconf`) are checked as the
  config is read. Only what is read is resolved: the key's subtree and the binding keys
  of its enclosing mappings (an interpolation elsewhere, such as a ``${hydra:...}`` or
  ``${oc.env:...}`` that means something only at run time, is left alone). Without
  OmegaConf the strings are read as written.
- **A key may name a mapping**: every schedule string under it is read, each named by
  its dotted key path (:func:`read_config_entries`).
- **Bindings are read beside the schedule**: a ``steps_per_epoch`` or ``total_steps``
  key holding a whole number in the mapping that holds the schedule string, or in one
  of its enclosing mappings (the nearest wins), binds ``ep`` / ``%`` for that string
  (unless given on the command line), so a config that states them once is checked as
  it will run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from clrdsl.diagnostics.errors import ClrdslValueError, Source, Span

MAX_BYTES = 4 * 2**20
MAX_DEPTH = 64
MAX_NODES = 200_000
BINDINGS = ("steps_per_epoch", "total_steps")
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}


class ConfigError(ClrdslValueError):
    """A config file that does not parse, breaks a limit, or cannot be resolved."""


@dataclass(frozen=True)
class Entry:
    """One schedule string read from a config."""

    text: str
    name: str  # ``path:key.path`` (what diagnostics call the source)
    key: str  # the dotted key path inside the config
    bindings: dict[str, int] = field(default_factory=dict)  # found beside the schedule


def read_config_value(path: str, key: str | None) -> tuple[str, str]:
    """The one string at dotted ``key`` in a config file, and a name for diagnostics.

    Without ``key`` the file must hold the expression itself (plain text) or be a
    config whose top level is that string.
    """
    entries = read_config_entries(path, key, allow_mapping=False)
    return entries[0].text, entries[0].name


def bindings_near(path: str, key: str | None) -> dict[str, int]:
    """The bindings found beside the string at ``key`` (see the module doc)."""
    return read_config_entries(path, key, allow_mapping=False)[0].bindings


def read_config_entries(path: str, key: str | None, *, allow_mapping: bool = True) -> list[Entry]:
    """Every schedule string at ``key`` (one string, or all strings under a mapping or
    list, in document order), each with its key path and the bindings found beside it."""
    ext = os.path.splitext(path)[1].lower()
    raw = _read(path)
    fmt = FORMATS.get(ext)
    if fmt is None:
        if key:
            raise ValueError(f"{path}: --key needs a YAML, TOML or JSON file (found `{ext or 'no extension'}`)")
        return [Entry(raw, path, "")]
    data = _parse(raw, path, fmt)
    _measure(data, path)
    root = _omegaconf_root(data)
    node, parents = (data if root is None else root), []
    walked: list[str] = []
    for part in key.split(".") if key else []:
        walked.append(part)
        parents.append(node)
        node = _child(node, part, walked, path)
    node = _plain(node, path, key)
    prefix = key or ""
    chain = [_bindings_of(p, path) for p in parents]
    if isinstance(node, str):
        return [Entry(node, f"{path}:{key}" if key else path, prefix, _near(chain))]
    if allow_mapping and isinstance(node, (dict, list)):
        out: list[Entry] = []
        _collect(node, prefix, [*chain, node], path, out)
        if out:
            return out
        raise ValueError(f"{path}{':' + key if key else ''} holds no schedule strings")
    what = "a mapping" if isinstance(node, dict) else type(node).__name__
    raise ValueError(f"{path}{':' + key if key else ''} is not a string (found {what}); "
                     "point --key at the schedule expression")


def _child(node: Any, part: str, walked: list[str], path: str) -> Any:
    """``node[part]`` of a plain container or an OmegaConf one (resolving only that value)."""
    keys = list(node.keys()) if hasattr(node, "keys") else None
    if keys is not None and part in keys:
        return _guard(lambda: node[part], path, ".".join(walked))
    if keys is None and (isinstance(node, (list, tuple)) or type(node).__name__ == "ListConfig"):
        if part.isdigit() and int(part) < len(node):
            return _guard(lambda: node[int(part)], path, ".".join(walked))
    have = ", ".join(map(str, keys)) if keys is not None else type(node).__name__
    raise KeyError(f"{path}: no key `{'.'.join(walked)}` (available here: {have})")


def _plain(node: Any, path: str, key: str | None) -> Any:
    """An OmegaConf container as plain data, resolving only this subtree."""
    if type(node).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return _guard(lambda: OmegaConf.to_container(node, resolve=True), path, key or "")
    return node


def _bindings_of(node: Any, path: str) -> dict[str, Any]:
    """The binding keys of one enclosing mapping (resolved one by one)."""
    if not hasattr(node, "keys"):
        return {}
    return {b: _guard(lambda b=b: node[b], path, b) for b in BINDINGS if b in node.keys()}


def _omegaconf_root(data: Any) -> Any:
    """The config as an OmegaConf container when it has interpolations and OmegaConf is
    installed (values then resolve as they are read), else None."""
    if not isinstance(data, (dict, list)) or not _has_interpolation(data):
        return None
    try:
        from omegaconf import OmegaConf
    except ImportError:
        return None
    from clrdsl.integrations.omegaconf import register_resolver

    if not OmegaConf.has_resolver("clrdsl"):
        register_resolver()
    # Hydra's own keys mean something only inside a Hydra run
    return OmegaConf.create(_without_hydra(data))


def _guard(get: Any, path: str, key: str) -> Any:
    """Run an OmegaConf read; its errors become the clrdsl diagnostic inside, or E903."""
    from clrdsl.diagnostics.errors import ClrdslError

    try:
        return get()
    except (KeyError, IndexError):
        raise
    except ClrdslError:
        raise
    except Exception as exc:
        if not type(exc).__module__.startswith("omegaconf"):
            raise
        inner = _cause(exc, ClrdslError)
        if inner is not None:
            raise inner from None
        full = getattr(exc, "full_key", None) or key
        raise ConfigError(f"{path}: the interpolation at `{full}` cannot be resolved" if full else
                          f"{path}: an interpolation cannot be resolved", code="E903",
                          expected="interpolations that resolve (${other.key}, ${clrdsl:'...'})",
                          found=str(exc).split("\n")[0][:200]) from None


def _collect(node: Any, prefix: str, parents: list[Any], path: str, out: list[Entry]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in items:
        sub = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, str):
            if isinstance(node, dict) and k in BINDINGS:
                continue
            out.append(Entry(v, f"{path}:{sub}", sub, _near(parents)))
        elif isinstance(v, (dict, list)):
            _collect(v, sub, [*parents, v], path, out)


def _near(chain: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for node in reversed(chain):
        if isinstance(node, dict):
            for b in BINDINGS:
                v = node.get(b)
                if b not in found and isinstance(v, int) and not isinstance(v, bool) and v > 0:
                    found[b] = v
    return found


def _read(path: str) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_BYTES // 2**20} MiB", code="E902",
                          expected=f"a config of at most {MAX_BYTES} bytes", found="a larger file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text", code="E901", expected="a UTF-8 text file",
                          found=f"byte 0x{raw[exc.start]:02x} at offset {exc.start}") from None


def _at(raw: str, path: str, line: int, col: int, message: str, what: str) -> ConfigError:
    """A parse error with a caret at 1-based ``line``, ``col``."""
    lines = raw.split("\n")
    line = max(1, min(line, len(lines)))
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + max(0, col - 1)
    offset = min(offset, len(raw))
    return ConfigError(f"{path} is not valid {what}: {message}", code="E901", span=Span(offset, offset + 1),
                       source=Source(raw, path), expected=f"valid {what}", found=message)


def _parse(raw: str, path: str, fmt: str) -> Any:
    try:
        if fmt == "yaml":
            try:
                import yaml
            except ImportError:  # pragma: no cover
                raise ValueError('reading YAML needs PyYAML: pip install "clrdsl[config]"') from None
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
                msg = " ".join(x for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
                if mark is None:
                    raise _at(raw, path, 1, 1, msg or str(exc), "YAML") from None
                raise _at(raw, path, mark.line + 1, mark.column + 1, msg or str(exc), "YAML") from None
        if fmt == "toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10: the tomli backport (a dependency there)
                import tomli as tomllib  # type: ignore[no-redef]
            try:
                return tomllib.loads(raw)
            except tomllib.TOMLDecodeError as exc:
                m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
                if m:
                    line, col = int(m.group(1)), int(m.group(2))
                elif "end of document" in str(exc):
                    line, col = raw.count("\n") + 1, len(raw) - (raw.rfind("\n") + 1) + 1
                else:
                    line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
                msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc)) or str(exc)
                raise _at(raw, path, line, col, msg, "TOML") from None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _at(raw, path, exc.lineno, exc.colno, exc.msg, "JSON") from None
    except RecursionError:
        raise _limit(path, f"nesting deeper than the parser allows (the limit is {MAX_DEPTH})") from None


def _limit(path: str, found: str) -> ConfigError:
    return ConfigError(f"{path} is too deeply nested or too large", code="E902",
                       expected=f"at most {MAX_DEPTH} levels of nesting and {MAX_NODES} values", found=found)


def _measure(data: Any, path: str) -> None:
    """Refuse configs nested deeper than MAX_DEPTH or expanding to more than MAX_NODES
    values (YAML aliases share nodes; resolving a config copies them)."""
    count = 0
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _limit(path, f"more than {MAX_NODES} values (aliases counted as expanded)")
        if depth > MAX_DEPTH:
            raise _limit(path, f"nesting deeper than {MAX_DEPTH}")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _has_interpolation(node: Any) -> bool:
    if isinstance(node, str):
        return "${" in node
    if isinstance(node, dict):
        return any(_has_interpolation(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_interpolation(v) for v in node)
    return False


def _without_hydra(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k not in ("hydra", "defaults")}
    return data


def _cause(exc: BaseException | None, kind: type) -> Any:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
