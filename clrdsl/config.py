"""Reading a schedule string out of a config file (YAML, TOML, JSON or plain text)."""

from __future__ import annotations

import json
import os
import sys


def read_config_value(path: str, key: str | None) -> tuple[str, str]:
    """The string at dotted ``key`` in a config file, and a name for diagnostics.

    Without ``key`` the file must hold the expression itself (plain text) or be a
    config whose top level is that string.
    """
    ext = os.path.splitext(path)[1].lower()
    with open(path, encoding="utf-8") as fh:
        raw = fh.read()
    if ext in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:  # pragma: no cover
            raise ValueError('reading YAML needs PyYAML: pip install "clrdsl[config]"') from None
        data = yaml.safe_load(raw)
    elif ext == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        data = tomllib.loads(raw)
    elif ext == ".json":
        data = json.loads(raw)
    else:
        data = raw
    if key:
        node = data
        walked = []
        for part in key.split("."):
            walked.append(part)
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                have = ", ".join(map(str, node)) if isinstance(node, dict) else type(node).__name__
                raise KeyError(f"{path}: no key `{'.'.join(walked)}` (available here: {have})")
        data = node
    if not isinstance(data, str):
        raise ValueError(f"{path}{':' + key if key else ''} is not a string (found {type(data).__name__}); "
                         "point --key at the schedule expression")
    return data, f"{path}:{key}" if key else path
