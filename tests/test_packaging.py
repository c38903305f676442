"""The distributions a stranger installs: built here from this tree, then read back.

clrdsl ships every backend in one wheel (NumPy, torch, Keras, JAX; each extra installs a
framework), typed (``py.typed``), with its licence and no path of the machine that built
it. The demo is an application of its own (``apps/demo``, distribution ``clrdsl-demo``)
that adds its commands through the ``clrdsl.commands`` entry-point group.
"""

from __future__ import annotations

import email
import importlib.metadata as md
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import clrdsl

ROOT = Path(__file__).resolve().parents[1]
CORE_PACKAGES = {"clrdsl", "clrdsl_stdlib", "clrdsl_numpy", "clrdsl_torch", "clrdsl_keras", "clrdsl_jax"}


def _build(src: Path, out: Path) -> tuple[Path, Path]:
    """sdist, then the wheel built from that sdist (what an index serves and installs)."""
    if importlib.util.find_spec("build") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("building needs `build` and `setuptools` (the dev extra)")
    tree = out / "tree"
    # a copy of the tracked files only, as a fresh clone has them (no egg-info, no venv)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", str(src.relative_to(ROOT))], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (tree / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tree / f)
    dist = out / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "-o", str(dist),
                           str(tree / src.relative_to(ROOT))], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    return _build(ROOT, tmp_path_factory.mktemp("core"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return _build(ROOT / "apps" / "demo", tmp_path_factory.mktemp("demo"))


def _metadata(wheel: Path) -> tuple[email.message.Message, zipfile.ZipFile]:
    z = zipfile.ZipFile(wheel)
    (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_string(z.read(meta).decode()), z


def test_core_wheel_metadata_is_portable_licensed_and_classified(core):
    sdist, wheel = core
    meta, z = _metadata(wheel)
    text = str(meta)
    assert "file:" not in text and str(ROOT) not in text  # installs on any machine
    assert meta["Name"] == "clrdsl" and meta["Version"] == clrdsl.__version__
    assert meta["License-Expression"] == "Apache-2.0" and meta["License-File"] == "LICENSE"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in z.namelist())
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Homepage", "Documentation", "Changelog"}
    assert "learning rate" in meta["Keywords"]
    jax_reqs = sorted(r for r in meta.get_all("Requires-Dist") if 'extra == "jax"' in r)
    assert [r.split(";")[0].split(">=")[0].strip() for r in jax_reqs] == ["jax", "optax"]
    assert not any("clrdsl-demo" in r or "clrdsl-jax" in r for r in meta.get_all("Requires-Dist"))
    # the sdist carries the licence and what the wheel is built from
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"LICENSE", "pyproject.toml", "grammar/clrdsl.lark", "plugins/clrdsl_jax_dist/clrdsl_jax/__init__.py",
            "clrdsl/py.typed"} <= names


def test_core_wheel_holds_the_backends_typed_and_no_demo(core):
    _, wheel = core
    _, z = _metadata(wheel)
    names = z.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == CORE_PACKAGES
    assert {f"{p}/py.typed" for p in CORE_PACKAGES} <= set(names)
    assert "clrdsl/integrations/hydra.py" in names and "clrdsl/_grammar/clrdsl.lark" in names
    (eps,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = z.read(eps).decode()
    backends = text.split("[clrdsl.backends]")[1].split("[")[0]
    assert {line.split("=")[0].strip() for line in backends.strip().splitlines()} == {"numpy", "torch", "keras", "jax"}
    # the standard library: one bundle entry point, no entry point per function
    bundles = text.split("[clrdsl.function_bundles]")[1].split("[")[0]
    assert bundles.strip().splitlines() == ["clrdsl_stdlib = clrdsl_stdlib:FUNCTIONS"]
    assert "[clrdsl.functions]" not in text
    assert "clrdsl.commands" not in text  # the demo's commands come with the demo


def test_demo_app_is_its_own_distribution_adding_commands(demo):
    sdist, wheel = demo
    meta, z = _metadata(wheel)
    assert meta["Name"] == "clrdsl-demo" and "file:" not in str(meta)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in z.namelist())
    assert {n.split("/")[0] for n in z.namelist() if not n.split("/")[0].endswith(".dist-info")} == {"clrdsl_demo"}
    assert any(r.startswith("clrdsl[") for r in meta.get_all("Requires-Dist"))
    (eps,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = z.read(eps).decode()
    assert "[clrdsl.commands]" in text
    assert "demo = clrdsl_demo.cli:demo" in text and "range-test = clrdsl_demo.cli:range_test_cmd" in text


def test_twine_accepts_every_distribution(core, demo):
    if importlib.util.find_spec("twine") is None:
        pytest.skip("twine is not installed (the dev extra)")
    out = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, core + demo)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("PASSED") == 4


def test_one_version_source():
    # the version lives in clrdsl/__init__.py; pyproject.toml reads it from there
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and 'version = {attr = "clrdsl.__version__"}' in text
    assert not re.search(r'^version\s*=\s*"', text, re.M)
    assert md.version("clrdsl") == clrdsl.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {clrdsl.__version__}" in changelog


def test_nothing_in_clrdsl_imports_the_demo():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "clrdsl").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+clrdsl_demo\b", p.read_text(), re.M)]
    assert offenders == []
    # a built-in command never imports the demo; --help lists the demo's commands from
    # its module, which imports no framework
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from clrdsl.tools.cli import main
        r = CliRunner().invoke(main, ["check", "onecycle(0.1, total=100)"])
        print(r.exit_code, "clrdsl_demo" in sys.modules)
        r = CliRunner().invoke(main, ["--help"])
        print(r.exit_code, "range-test" in r.output, any(m in sys.modules for m in ("torch", "matplotlib", "tqdm")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["0", "False", "0", "True" if _demo_installed() else "False", "False"], out.stderr


def _demo_installed() -> bool:
    try:
        md.distribution("clrdsl-demo")
    except md.PackageNotFoundError:
        return False
    return True


# -- without a framework ----------------------------------------------------------------


def _site_without(tmp_path: Path, dists: list[str]) -> Path:
    """A site directory linking every entry of this environment's site-packages except
    the files of ``dists``: the environment as it is after ``pip uninstall``."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    hidden = set()
    for name in dists:
        try:
            files = md.distribution(name).files or []
        except md.PackageNotFoundError:
            continue
        for f in files:
            top = Path(f).parts[0]
            if top != "..":
                hidden.add(top)
    site = tmp_path / "site"
    site.mkdir()
    for entry in purelib.iterdir():
        if entry.name not in hidden:
            os.symlink(entry, site / entry.name)
    return site


def test_without_jax_the_others_work_and_jax_gives_the_extra(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed here")
    site = _site_without(tmp_path, ["jax", "jaxlib", "optax"])
    code = textwrap.dedent("""
        import importlib.util, json, clrdsl
        from clrdsl.contract import registry
        assert importlib.util.find_spec("jax") is None
        result = {"numpy": clrdsl.compile("onecycle(1, total=10)")(3)}
        try:
            clrdsl.compile("onecycle(1, total=10)", backend="jax")
        except clrdsl.ClrdslPluginError as exc:
            result.update(code=exc.code, hint=exc.hint)
        print(json.dumps(result))
    """)
    boot = f"import site; site.addsitedir({str(site)!r})\n"
    out = subprocess.run([sys.executable, "-S", "-c", boot + code], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["numpy"] == pytest.approx(0.95048463)
    assert result["code"] in ("E502", "E504") and result["hint"] == 'pip install "clrdsl[jax]"'
