"""The JAX backend ships as its own distribution, installed by clrdsl's `jax`/`all`
extras from this repository and found through its entry point; without it the other
backends keep working and `backend="jax"` answers with the install hint.

Nothing is installed or uninstalled here: the test environment is whatever
``pip install -e ".[all]"`` made (CI), and the "uninstalled" case runs in a
subprocess whose site directory lists every installed distribution but clrdsl-jax.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import pytest

from clrdsl import registry

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "clrdsl_jax_dist"


def _setup_module():
    spec = importlib.util.spec_from_file_location("clrdsl_setup_py", ROOT / "setup.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # defines extras(); setup() runs only as __main__
    return mod


def _jax_dist():
    try:
        return md.distribution("clrdsl-jax")
    except md.PackageNotFoundError:
        pytest.skip("clrdsl-jax is not installed (pip install -e '.[jax]')")


# -- the distribution and its discovery ---------------------------------------------------


def test_jax_backend_is_its_own_distribution():
    dist = _jax_dist()
    eps = {ep.name: ep.value for ep in dist.entry_points if ep.group == "clrdsl.backends"}
    assert eps == {"jax": "clrdsl_jax:backend"}
    assert "jax" not in {ep.name for ep in md.distribution("clrdsl").entry_points if ep.group == "clrdsl.backends"}
    entry = registry.backends.entries()["jax"]
    assert entry.dist == "clrdsl-jax" and entry.status == "ok"
    assert registry.get_backend("jax").name == "jax"


def test_installed_from_this_repository_by_the_extra():
    # clrdsl's metadata (built by setup.py from this tree) points its `jax` extra at
    # plugins/clrdsl_jax_dist, and the installed clrdsl-jax came from that folder.
    reqs = [r for r in md.requires("clrdsl") or [] if r.startswith("clrdsl-jax")]
    assert reqs == [f'clrdsl-jax @ {PLUGIN.as_uri()} ; extra == "jax"']
    assert any(r.startswith("clrdsl[") and "jax" in r and 'extra == "all"' in r for r in md.requires("clrdsl"))
    direct = json.loads(_jax_dist().read_text("direct_url.json") or "{}")
    assert direct.get("url") == PLUGIN.as_uri()


def test_extras_use_the_folder_in_a_source_tree_and_names_otherwise(tmp_path):
    setup = _setup_module()
    here = setup.extras(ROOT, from_index=False)
    assert here["jax"] == [f"clrdsl-jax @ {PLUGIN.as_uri()}"]
    assert "jax" in here["all"][0]
    assert setup.extras(ROOT, from_index=True)["jax"] == ["clrdsl-jax>=0.1"]
    # an sdist carries no plugins/ folder: the requirement stays a plain name
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert setup.extras(tmp_path, from_index=False)["jax"] == ["clrdsl-jax>=0.1"]
    assert setup.extras(tmp_path)["torch"] == here["torch"]


def test_plugin_folder_name_is_not_cached_by_pip():
    # pip keeps the wheel built from a local folder in its cache when the folder's name
    # looks like `name-version` (its egg-info pattern), and reinstalls it, stale, after
    # the code changed; a name without a hyphen is rebuilt on every install.
    for folder in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["clrdsl"]["local-plugins"].values():
        assert not re.search(r"([a-z0-9_.]+)-([a-z0-9_.!+-]+)", Path(folder).name, re.I), folder
        assert (ROOT / folder / "pyproject.toml").is_file()


def test_pip_reads_the_file_url_from_a_source_tree(tmp_path):
    # what pip does on `pip install -e ".[jax]"`: build the metadata (isolated, with the
    # declared build requirements) from a copy of the tree, and report it
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in this environment")
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("clrdsl", "grammar", "plugins"):
        shutil.copytree(ROOT / name, tree / name, ignore=ignore)
    report = tmp_path / "report.json"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
                          "--quiet", "--report", str(report), "-e", str(tree)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    requires = json.loads(report.read_text())["install"][0]["metadata"]["requires_dist"]
    assert f'clrdsl-jax @ {(tree / "plugins" / "clrdsl_jax_dist").as_uri()} ; extra == "jax"' in requires


# -- without the distribution ------------------------------------------------------------


def _site_without(tmp_path: Path, dists: list[str]) -> Path:
    """A site directory linking every entry of this environment's site-packages except
    the files of ``dists``: the environment as it is after ``pip uninstall``."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    hidden = set()
    for name in dists:
        for f in md.distribution(name).files or []:
            top = Path(f).parts[0]
            if top != "..":
                hidden.add(top)
    site = tmp_path / "site"
    site.mkdir()
    for entry in purelib.iterdir():
        if entry.name not in hidden:
            os.symlink(entry, site / entry.name)
    return site


def _run_in(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    boot = f"import site; site.addsitedir({str(site)!r})\n"
    return subprocess.run([sys.executable, "-S", "-c", boot + textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_without_the_plugin_others_work_and_jax_gives_the_hint(tmp_path):
    _jax_dist()
    site = _site_without(tmp_path, ["clrdsl-jax"])
    out = _run_in(site, """
        import importlib.metadata as md, importlib.util, json, clrdsl
        from clrdsl import registry
        assert importlib.util.find_spec("clrdsl_jax") is None
        assert "jax" not in registry.backends.names()
        result = {"numpy": clrdsl.compile("onecycle(1, total=10)")(3)}
        try:
            clrdsl.compile("onecycle(1, total=10)", backend="jax")
        except clrdsl.ClrdslPluginError as exc:
            result.update(code=exc.code, hint=exc.hint, text=str(exc))
        result["backends"] = registry.backends.names()
        print(json.dumps(result))
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["numpy"] == pytest.approx(0.95048463)
    assert result["code"] == "E503" and result["hint"] == 'pip install "clrdsl[jax]"'
    assert "the jax backend is not installed" in result["text"]
    assert "numpy" in result["backends"] and "jax" not in result["backends"]
