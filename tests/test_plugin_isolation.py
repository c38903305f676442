"""Plugin isolation with real throwaway distributions.

Each test writes distributions (a module and its ``<name>-<version>.dist-info`` with
``METADATA`` and ``entry_points.txt``) into a temporary folder and puts that folder on
``sys.path``, so ``importlib.metadata`` discovers them exactly as it discovers installed
packages. Nothing is mocked: the registry, the checker, the API and the CLI see real
entry points. Whatever a plugin does wrong must become a ClrdslPluginError that names
the entry point, its distribution and version, at the place the plugin is used, and
never affect the other names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import clrdsl
from clrdsl import ClrdslError, ClrdslPluginError
from clrdsl.contract import registry
from clrdsl.contract.registry import BACKENDS, BUNDLES, FUNCTIONS, Registry
from clrdsl.tools.cli import main

GOOD_BACKEND = """
class Backend:
    name = "{name}"
    requires = ()
    extra = None
    def compile(self, checked, **options):
        return ("compiled", checked.expr)
backend = Backend()
"""

SHAPE = """
from clrdsl.contract.functions import Param, Shape, ParamError

def value(ops, t, a):
    return ops.float(t) * 0.0 + a

{extra}

shape = Shape(name="{name}", params=(Param("a", "number"),), value=value, {fields})
"""


def make_dist(root: Path, dist: str, version: str, module: str, code: str,
              entry_points: dict[str, dict[str, str]]) -> None:
    """A real distribution: ``module.py`` and its dist-info, discoverable on ``root``."""
    (root / f"{module}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{n} = {v}" for n, v in eps.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder of throwaway distributions on sys.path, and fresh registries over it."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(registry, "backends", Registry(BACKENDS))
    monkeypatch.setattr(registry, "functions", Registry(FUNCTIONS))
    before = set(sys.modules)
    yield root
    for m in set(sys.modules) - before:
        if m.startswith("thrown_"):
            del sys.modules[m]


def _cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _shape_dist(root, name, fields, extra="", dist=None):
    make_dist(root, dist or f"thrown-{name}", "1.2.3", f"thrown_{name}",
              SHAPE.format(name=name, fields=fields, extra=extra), {FUNCTIONS: {name: f"thrown_{name}:shape"}})


def test_sys_exit_on_import_is_a_plugin_error_and_others_work(site):
    make_dist(site, "exiting-plugin", "0.4.1", "thrown_exit", "import sys\nsys.exit(3)\n",
              {BACKENDS: {"exiter": "thrown_exit:backend"}, FUNCTIONS: {"exitfn": "thrown_exit:fn"}})
    make_dist(site, "fine-plugin", "2.0", "thrown_fine", GOOD_BACKEND.format(name="fine"),
              {BACKENDS: {"fine": "thrown_fine:backend"}})
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.compile("constant(0.1)", backend="exiter")
    text = info.value.render()
    assert info.value.code == "E502"
    assert "exiter = thrown_exit:backend" in text and "exiting-plugin 0.4.1" in text
    assert "sys.exit(3)" in text
    # an expression that never names the broken plugin is unaffected; so is another backend
    assert clrdsl.check("triangular(0.001, 0.006, step=2000)").length == float("inf")
    assert clrdsl.compile("constant(0.1)", backend="fine") == ("compiled", "constant(0.1)")
    # using the broken function plugin points at the call
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.check("constant(1) + exitfn(2)")
    assert info.value.code == "E502" and info.value.span.start == len("constant(1) + ")
    r = _cli("plugins", "--format", "json")
    assert r.exit_code == 0
    rows = {(k, row["name"]): row for k in ("backends", "functions") for row in json.loads(r.stdout)[k]}
    assert rows["backends", "exiter"]["state"] == "broken" and "SystemExit" in rows["backends", "exiter"]["status"]
    assert rows["backends", "exiter"]["version"] == "0.4.1"
    assert rows["backends", "fine"]["status"] == "ok"
    assert rows["functions", "triangular"]["status"] == "ok"


def test_sys_exit_plugin_in_a_real_process(tmp_path):
    """What a user saw: `clrdsl check` exiting 3 with no output. Now it works."""
    root = tmp_path / "site"
    root.mkdir()
    make_dist(root, "exiting-plugin", "0.4.1", "thrown_exit", "import sys\nsys.exit(3)\n",
              {FUNCTIONS: {"exitfn": "thrown_exit:fn"}, BACKENDS: {"exiter": "thrown_exit:backend"}})
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = lambda *a: subprocess.run([sys.executable, "-c", "from clrdsl.tools.cli import main; main()", *a],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=120)
    ok = run("check", "triangular(0.001, 0.006, step=2000)")
    assert ok.returncode == 0 and ok.stdout.strip() == "triangular(0.001, 0.006, step=2000)"
    bad = run("check", "exitfn(1)")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "exiting-plugin 0.4.1" in bad.stderr and "E502" in bad.stderr
    listing = run("plugins")
    assert listing.returncode == 0 and "exiter" in listing.stdout and "broken" in listing.stdout


def test_backend_contract_violations_are_reported_when_loaded(site):
    make_dist(site, "bad-backends", "1.0", "thrown_bad", """
        class NoCompile:
            name = "nocompile"
            requires = ()
        class StrRequires:
            requires = "torch"
            def compile(self, checked, **o):
                return 1
        class ReturnsNone:
            requires = ()
            def compile(self, checked, **o):
                return None
        class Raises:
            requires = ()
            def compile(self, checked, **o):
                raise KeyError("boom")
        nocompile, strreq, none, raises = NoCompile(), StrRequires(), ReturnsNone(), Raises()
    """, {BACKENDS: {"nocompile": "thrown_bad:nocompile", "strreq": "thrown_bad:strreq",
                     "none": "thrown_bad:none", "raises": "thrown_bad:raises"}})
    for name, what in (("nocompile", "without a `compile"), ("strreq", "`requires` is 'torch'")):
        with pytest.raises(ClrdslPluginError) as info:
            clrdsl.compile("constant(0.1)", backend=name)
        assert info.value.code == "E505", name
        text = info.value.render()
        assert what in text and f"{name} = thrown_bad:{name}" in text and "bad-backends 1.0" in text
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.compile("constant(0.1)", backend="none")
    assert info.value.code == "E507" and "returned None" in info.value.message
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.compile("constant(0.1)", backend="raises")
    assert info.value.code == "E507" and "KeyError: 'boom'" in info.value.render()
    assert "bad-backends" in info.value.render()
    # `clrdsl plugins` still lists everything (a non-list `requires` used to crash it)
    r = _cli("plugins")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    for name in ("nocompile", "strreq"):
        assert any(line.split()[:2] == [name, "broken:"] for line in lines), name
    assert any(line.split()[:2] == ["numpy", "ok"] for line in lines)
    assert float(clrdsl.compile("constant(0.1)")(3)) == 0.1


@pytest.mark.parametrize("fields, extra, message", [
    ("validate=bad", "def bad(a):\n    raise RuntimeError('validate exploded')", "its `validate` raised"),
    ("validate=bad", "def bad(a):\n    raise SystemExit(4)", "its `validate` raised"),
    ("length=lambda a: float('nan')", "", "invalid length"),
    ("length=lambda a: -5", "", "invalid length"),
    ("length=lambda a: 'ten'", "", "invalid length"),
    ("length=lambda a: 1 / 0", "", "its `length` raised"),
    ("base=lambda a: 'low'", "", "its `base` returned"),
])
def test_function_hooks_that_fail_are_plugin_errors_at_the_call(site, fields, extra, message):
    _shape_dist(site, "p", fields, extra)
    text = "constant(0.5, over=3) >> p(1) >> constant(2)"
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.check(text)
    err = info.value
    assert err.code == "E507" and message in err.message
    assert text[err.span.start:err.span.end] == "p"
    rendered = err.render()
    assert "p = thrown_p:shape" in rendered and "thrown-p 1.2.3" in rendered
    assert clrdsl.check("constant(0.5, over=3) >> constant(2)").length == float("inf")


@pytest.mark.parametrize("body, message", [
    ("raise ValueError('no value')", "its `value` raised"),
    ("return 'text'", "returned a str"),
    ("return [a]", "returned a list"),
])
def test_value_that_raises_or_is_not_a_number(site, body, message):
    _shape_dist(site, "q", "length=lambda a: 10", extra="")
    mod = site / "thrown_q.py"
    mod.write_text(mod.read_text().replace("    return ops.float(t) * 0.0 + a", "    " + body))
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.check("q(1)")
    assert info.value.code == "E507" and message in info.value.message
    assert "thrown-q 1.2.3" in info.value.render()


def test_non_finite_values_of_a_plugin_are_refused(site):
    _shape_dist(site, "blowup", "length=lambda a: 10", extra="")
    mod = site / "thrown_blowup.py"
    mod.write_text(mod.read_text().replace("    return ops.float(t) * 0.0 + a",
                                           "    return (ops.float(t) + 1.0) * a * 1e308"))
    with pytest.raises(ClrdslError) as info:
        clrdsl.check("blowup(1)")
    assert info.value.code == "E310"


def test_plugins_that_cannot_be_called_are_listed_as_shadowed(site):
    for name in ("onecycle", "scale", "sin"):
        _shape_dist(site, name, "length=lambda a: 10")
    r = _cli("plugins", "--format", "json")
    assert r.exit_code == 0
    funcs = [f for f in json.loads(r.stdout)["functions"] if f["distribution"].startswith("thrown-")]
    status = {f["name"]: f["status"] for f in funcs}
    assert status["onecycle"].startswith("shadowed by the prelude definition `onecycle`")
    assert "prelude.clr line" in status["onecycle"]
    assert status["scale"].startswith("shadowed by the built-in `scale(")
    assert status["sin"].startswith("shadowed inside scale() formulas")
    assert all(f["state"] == "shadowed" for f in funcs)
    text = _cli("plugins").stdout
    assert "shadowed by the prelude definition `onecycle`" in text


def test_missing_documented_backend_is_listed_with_its_install_hint(site, monkeypatch):
    real = registry.entry_points

    def without_torch(group):
        return [e for e in real(group=group) if not (group == BACKENDS and e.name == "torch")]

    monkeypatch.setattr(registry, "entry_points", without_torch)
    rows = {(p.kind, p.name): p for p in registry.plugin_report()}
    torch_row = rows["backend", "torch"]
    assert torch_row.state == "not installed" and torch_row.hint == 'pip install "clrdsl[torch]"'
    r = _cli("plugins")
    assert 'pip install "clrdsl[torch]"' in r.stdout


def test_function_plugin_of_the_wrong_type_is_a_contract_error(site):
    make_dist(site, "wrongtype", "3.1", "thrown_wrong", "shape = 42\n",
              {FUNCTIONS: {"wrong": "thrown_wrong:shape"}})
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.check("wrong(1)")
    assert info.value.code == "E505" and "a int, not a clrdsl.contract.functions.Shape" in info.value.render()
    assert "wrongtype 3.1" in info.value.render()


def test_a_hook_that_is_not_callable_is_a_contract_error(site):
    _shape_dist(site, "h", "length=10")  # a number where a function of the arguments belongs
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.check("h(1)")
    err = info.value
    assert err.code == "E505" and "its `length` is a int, not a function or None" in err.render()
    assert "thrown-h 1.2.3" in err.render()


# -- bundles: many functions, one entry point (clrdsl.function_bundles) ------------------------

BUNDLE_IMPL = """
from clrdsl.contract.functions import Param, Shape

def _level(ops, t, a):
    return ops.float(t) * 0.0 + a

def _twice(ops, t, a):
    return ops.float(t) * 0.0 + 2 * a

level = Shape(name="bund_level", params=(Param("a", "number"),), value=_level)
twice = Shape(name="bund_twice", params=(Param("a", "number"),), value=_twice)
"""


def _bundle_dist(root, dist, module, items, bundle="thrown_pack", extra_eps=None):
    """A distribution whose one bundle entry point maps ``items`` (name -> "module:attr")."""
    (root / "thrown_bundle_impl.py").write_text(textwrap.dedent(BUNDLE_IMPL), encoding="utf-8")
    make_dist(root, dist, "0.9", module, f"FUNCTIONS = {items!r}\n",
              {BUNDLES: {bundle: f"{module}:FUNCTIONS"}, **(extra_eps or {})})


def test_a_bundle_registers_its_functions_with_one_entry_point(site):
    _bundle_dist(site, "thrown-bundle", "thrown_bundle",
                 {"bund_level": "thrown_bundle_impl:level", "bund_twice": "thrown_bundle_impl:twice"})
    names = registry.functions.names()
    assert {"bund_level", "bund_twice", "triangular"} <= set(names)
    assert "thrown_bundle" in sys.modules and "thrown_bundle_impl" not in sys.modules  # listed, not loaded
    entry = registry.functions.entries()["bund_level"]
    assert (entry.bundle, entry.dist, entry.value) == ("thrown_pack", "thrown-bundle", "thrown_bundle_impl:level")
    # did-you-mean knows the bundle's names before any of them is loaded
    with pytest.raises(ClrdslError) as info:
        clrdsl.check("bund_levle(1)")
    assert info.value.code == "E102" and "`bund_level`" in info.value.hint
    assert "thrown_bundle_impl" not in sys.modules
    s = clrdsl.compile("bund_level(2) + bund_twice(3)")
    assert float(s(5)) == 2.0 + 2 * 3.0
    rows = {row["name"]: row for row in json.loads(_cli("plugins", "--format", "json").stdout)["functions"]}
    assert rows["bund_twice"]["bundle"] == "thrown_pack" and rows["bund_twice"]["status"] == "ok"
    assert rows["bund_twice"]["distribution"] == "thrown-bundle" and rows["triangular"]["bundle"] == "clrdsl_stdlib"


@pytest.mark.parametrize("manifest, code, found", [
    ("import sys\nsys.exit(2)\n", "E502", "sys.exit(2)"),
    ("FUNCTIONS = 42\n", "E505", "a int, not a mapping"),
    ("FUNCTIONS = {'bund_x': 3}\n", "E505", "`bund_x` maps to 3"),
    ("FUNCTIONS = {'not a name': 'm:a'}\n", "E505", "the key 'not a name' is not a name"),
])
def test_a_broken_bundle_is_reported_and_the_others_work(site, manifest, code, found):
    make_dist(site, "thrown-badpack", "0.2", "thrown_badpack", manifest, {BUNDLES: {"badpack": "thrown_badpack:FUNCTIONS"}})
    assert clrdsl.check("triangular(0.001, 0.006, step=2000)").length == float("inf")  # the stdlib is unaffected
    (bad,) = [b for b in registry.functions.bundles() if b.error is not None]
    assert bad.error.code == code and found in bad.error.found and "thrown-badpack 0.2" in bad.error.render()
    with pytest.raises(ClrdslError) as info:  # a name of it is unknown, and the note says why
        clrdsl.check("bund_x(1)")
    assert info.value.code == "E102"
    assert any("function bundle `badpack` (thrown-badpack) could not be read" in n
               for n in info.value.diagnostics[0].notes)
    rows = {row["name"]: row for row in json.loads(_cli("plugins", "--format", "json").stdout)["functions"]}
    assert rows["badpack"]["state"] == "broken" and rows["badpack"]["bundle"] == "badpack"
    assert rows["triangular"]["status"] == "ok"


def test_a_bundle_and_an_entry_point_of_two_distributions_claiming_one_name(site):
    _bundle_dist(site, "thrown-bundle", "thrown_bundle", {"bund_level": "thrown_bundle_impl:level"})
    _shape_dist(site, "bund_level", "", dist="thrown-rival")  # its own entry point, same name
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.check("bund_level(1)")
    err = info.value
    assert err.code == "E501"
    assert "thrown-rival (thrown_bund_level:shape)" in err.message
    assert "thrown-bundle (thrown_bundle_impl:level in bundle `thrown_pack`)" in err.message
    assert registry.functions.entries()["bund_level"].status == "conflict"


def test_an_entry_point_comes_before_its_own_distributions_bundle(site):
    # one distribution claiming a name twice: its entry point in clrdsl.functions holds
    _bundle_dist(site, "thrown-both", "thrown_bundle",
                 {"bund_level": "thrown_bundle_impl:level", "bund_twice": "thrown_bundle_impl:twice"},
                 extra_eps={FUNCTIONS: {"bund_level": "thrown_bundle_impl:twice"}})
    entry = registry.functions.entries()["bund_level"]
    assert entry.bundle is None and entry.value == "thrown_bundle_impl:twice" and not entry.others
    assert float(clrdsl.compile("bund_level(3)")(0)) == 2 * 3.0  # the entry point's object
    assert registry.functions.entries()["bund_twice"].bundle == "thrown_pack"
