"""Build hook: clrdsl's extras, with the plugin distributions kept in this repository.

Some backends ship as distributions of their own, kept under ``plugins/`` (``clrdsl-jax``).
The ``jax`` extra must install that distribution from this repository when clrdsl is
built from a source tree (``pip install -e ".[jax]"`` in a clone, CI) and from the
package index otherwise. PEP 508 has no relative direct references, so the extras are
computed here, at build time: ``[tool.clrdsl.optional-dependencies]`` in pyproject.toml
lists them, and a requirement on a distribution named in ``[tool.clrdsl.local-plugins]``
becomes ``name @ file:///absolute/path/to/its/folder`` when that folder exists next to
this file. An sdist leaves ``plugins/`` out, so wheels built from it keep plain names.
``CLRDSL_PLUGINS_FROM_INDEX=1`` forces plain names (release builds straight from a tree).

Everything else about the build is declared in pyproject.toml.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: tomli, a build requirement there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extras(root: Path = ROOT, from_index: bool | None = None) -> dict[str, list[str]]:
    """The extras of the distribution whose pyproject.toml is in ``root``."""
    if from_index is None:
        from_index = os.environ.get("CLRDSL_PLUGINS_FROM_INDEX", "") not in ("", "0")
    conf = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["clrdsl"]
    local = {_normalize(name): root / folder for name, folder in conf.get("local-plugins", {}).items()}
    out = {}
    for extra, reqs in conf["optional-dependencies"].items():
        out[extra] = []
        for req in reqs:
            m = _NAME.match(req)
            folder = local.get(_normalize(m.group(1))) if m else None
            if folder is not None and not from_index and (folder / "pyproject.toml").is_file():
                marker = req.split(";", 1)[1] if ";" in req else ""
                req = f"{m.group(1)} @ {folder.as_uri()}" + (f" ; {marker.strip()}" if marker else "")
            out[extra].append(req)
    return out


if __name__ == "__main__":
    from setuptools import setup

    setup(extras_require=extras())
