"""Plugin discovery with fake entry points: broken, missing and conflicting plugins.

Each test builds fresh :class:`clrdsl.contract.registry.Registry` objects over entry points it
constructs (pointing at small modules written to a temporary directory), so nothing
installed is touched. A broken plugin must never break the others.
"""

from __future__ import annotations

import json
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

import clrdsl
from clrdsl import ClrdslPluginError
from clrdsl.contract import registry
from clrdsl.contract.registry import BACKENDS, BUNDLES, FUNCTIONS, Registry
from clrdsl.tools.cli import main

_real_entry_points = registry.entry_points


class FakeDist:
    def __init__(self, name: str) -> None:
        self.name = name
        self.metadata = {"Name": name}


def ep(name: str, value: str, group: str, dist: str) -> EntryPoint:
    """A real EntryPoint that reports the distribution ``dist``."""
    point = EntryPoint(name=name, value=value, group=group)
    try:
        return point._for(FakeDist(dist))  # how importlib.metadata attaches the distribution
    except AttributeError:  # pragma: no cover - a future importlib without _for
        object.__setattr__(point, "dist", FakeDist(dist))
        return point


MODULES = {
    "fakeplug_ok": """
        class Backend:
            name = "fast"
            requires = ()
            extra = None
            def compile(self, checked, **options):
                return ("compiled", checked.expr, options)
        backend = Backend()
        other = Backend()
    """,
    "fakeplug_broken": """
        raise RuntimeError("this plugin is broken on purpose")
    """,
    "fakeplug_missing_dep": """
        import clrdsl_no_such_framework_xyz
    """,
    "fakeplug_needs": """
        class Backend:
            name = "needy"
            requires = ("clrdsl_no_such_framework_xyz",)
            extra = None
            def compile(self, checked, **options):
                raise AssertionError("never reached")
        backend = Backend()
    """,
    "fakeplug_fn": """
        from clrdsl.contract.functions import Param, ScaleFn

        def _half(ops, x, k):
            return ops.power(0.5, ops.float(x) * k)

        halving = ScaleFn(name="halving", params=(Param("k", "positive", 1.0),), value=_half)
    """,
}


@pytest.fixture
def plugdir(tmp_path, monkeypatch):
    for name, code in MODULES.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


@pytest.fixture
def fake_entry_points(monkeypatch, plugdir):
    """Install extra fake entry points next to the real ones; returns the list to fill."""
    extra: list[EntryPoint] = []

    def entry_points(group):
        return list(_real_entry_points(group=group)) + [e for e in extra if e.group == group]

    monkeypatch.setattr(registry, "entry_points", entry_points)
    return extra


@pytest.fixture
def fresh(monkeypatch, fake_entry_points):
    """Fresh process-wide registries (so the API and the CLI see the fake entry points)."""
    monkeypatch.setattr(registry, "backends", Registry(BACKENDS))
    monkeypatch.setattr(registry, "functions", Registry(FUNCTIONS))
    return fake_entry_points


def test_discovery_is_lazy(fake_entry_points):
    fake_entry_points.append(ep("fast", "fakeplug_ok:backend", BACKENDS, "fast-dist"))
    reg = Registry(BACKENDS)
    assert "fast" in reg.names() and "numpy" in reg.names()
    assert "fakeplug_ok" not in sys.modules  # listed, not imported
    assert reg.get("fast").name == "fast"
    assert "fakeplug_ok" in sys.modules
    assert reg.entries()["fast"].dist == "fast-dist"


def test_broken_plugin_names_entry_point_and_distribution_and_others_still_work(fresh):
    fresh.append(ep("broken", "fakeplug_broken:backend", BACKENDS, "broken-dist"))
    fresh.append(ep("fast", "fakeplug_ok:backend", BACKENDS, "fast-dist"))
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.compile("constant(0.1)", backend="broken")
    err = info.value
    assert err.code == "E502" and isinstance(err, ImportError)
    text = err.render()
    assert "backend plugin `broken` failed to load" in text
    assert "broken = fakeplug_broken:backend" in text and "clrdsl.backends" in text
    assert "distribution: broken-dist" in text
    assert "RuntimeError: this plugin is broken on purpose" in text
    assert "pip install --force-reinstall broken-dist" in text
    # the failure is remembered, not retried on every use; each caller gets its own copy
    sys.modules.pop("fakeplug_broken", None)
    with pytest.raises(ClrdslPluginError) as again:
        registry.get_backend("broken")
    assert again.value is not err and again.value.render() == text
    assert "fakeplug_broken" not in sys.modules  # not imported again
    # the other plugins are unaffected
    assert clrdsl.compile("constant(0.1)", backend="fast", flag=1) == ("compiled", "constant(0.1)", {"flag": 1})
    assert float(clrdsl.compile("constant(0.1)")(5)) == 0.1


def test_plugin_with_a_missing_module_of_its_own(fresh):
    fresh.append(ep("lost", "fakeplug_missing_dep:backend", BACKENDS, "lost-dist"))
    with pytest.raises(ClrdslPluginError) as info:
        registry.get_backend("lost")
    text = info.value.render()
    assert "ModuleNotFoundError" in text and "clrdsl_no_such_framework_xyz" in text
    assert "pip install --force-reinstall lost-dist" in text


def test_our_backend_with_its_framework_missing_points_at_pytorchs_instructions(fresh, monkeypatch):
    # Simulate an environment without torch: a None entry in sys.modules makes both
    # `import torch` and importlib.util.find_spec("torch") fail as if it were absent.
    monkeypatch.setitem(sys.modules, "torch", None)
    for mod in [m for m in sys.modules if m == "clrdsl_torch" or m.startswith("clrdsl_torch.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.compile("constant(0.1)", backend="torch")
    err = info.value
    # no pip line installs the right torch everywhere (CPU or which CUDA): PyTorch's own page
    assert err.hint == registry.TORCH_HINT and "pytorch.org/get-started" in err.hint
    assert "distribution: clrdsl" in err.render()
    # numpy still works
    assert float(clrdsl.compile("constant(0.1)")(0)) == 0.1


def test_declared_requirement_missing(fresh):
    fresh.append(ep("needy", "fakeplug_needs:backend", BACKENDS, "needy-dist"))
    with pytest.raises(ClrdslPluginError) as info:
        registry.get_backend("needy")
    err = info.value
    assert err.code == "E504"
    assert "clrdsl_no_such_framework_xyz" in err.message
    assert "needy-dist" in err.hint
    assert registry.backends.entries()["needy"].status == "needs clrdsl_no_such_framework_xyz"


def test_two_distributions_claiming_one_name(fresh):
    fresh.append(ep("fast", "fakeplug_ok:backend", BACKENDS, "fast-dist"))
    fresh.append(ep("fast", "fakeplug_ok:other", BACKENDS, "rival-dist"))
    with pytest.raises(ClrdslPluginError) as info:
        registry.get_backend("fast")
    err = info.value
    assert err.code == "E501"
    assert "fast-dist (fakeplug_ok:backend)" in err.message
    assert "rival-dist (fakeplug_ok:other)" in err.message
    assert registry.backends.entries()["fast"].status == "conflict"
    # the same distribution listed twice (an editable install seen twice) is no conflict
    reg_eps = [ep("solo", "fakeplug_ok:backend", BACKENDS, "solo-dist")] * 2
    fresh.extend(reg_eps)
    assert Registry(BACKENDS).get("solo").name == "fast"


def test_unknown_backend_did_you_mean_and_installed_list(fresh):
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.compile("constant(0.1)", backend="pytorch")
    err = info.value
    assert err.code == "E503"
    assert err.message == "no backend named `pytorch`"
    assert err.hint == "did you mean `torch`?"
    for name in ("numpy", "torch", "keras"):
        assert name in err.expected
    with pytest.raises(ClrdslPluginError) as info:
        registry.get_backend("nmupy")
    assert "`numpy`" in info.value.hint


def test_broken_function_plugin_in_an_expression_points_at_the_call(fresh):
    fresh.append(ep("wobble_fake", "fakeplug_broken:sine", FUNCTIONS, "waves-dist"))
    text = "triangular(0.001, 0.006, step=2000) * wobble_fake(period=4)"
    with pytest.raises(ClrdslPluginError) as info:
        clrdsl.check(text)
    err = info.value
    assert text[err.span.start:err.span.end] == "wobble_fake"
    assert "distribution: waves-dist" in err.render()
    # the rest of the standard library is unaffected
    assert clrdsl.check("triangular(0.001, 0.006, step=2000)").length == float("inf")


def test_function_plugin_loaded_from_an_entry_point(fresh):
    fresh.append(ep("halving", "fakeplug_fn:halving", FUNCTIONS, "halving-dist"))
    s = clrdsl.compile("triangular(0, 1, step=1) * halving(k=1, on=cycle)")
    assert [float(s(t)) for t in (1, 3, 5)] == [1.0, 0.5, 0.25]


def test_in_process_registration(fresh):
    from fakeplug_ok import backend

    registry.backends.register("inproc", backend)
    try:
        assert clrdsl.compile("constant(1)", backend="inproc")[0] == "compiled"
        assert "inproc" in registry.backends.names()
    finally:
        registry.backends.unregister("inproc")
    assert "inproc" not in registry.backends


def test_reset_rediscovers(fake_entry_points):
    reg = Registry(BACKENDS)
    assert "late" not in reg
    fake_entry_points.append(ep("late", "fakeplug_ok:backend", BACKENDS, "late-dist"))
    assert "late" not in reg  # cached listing
    reg.reset()
    assert "late" in reg


def _cli(*args):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, list(args), catch_exceptions=False)


def _with_broken_plugins(fresh, monkeypatch):
    # `clrdsl plugins` loads every backend to report its status; leave out the real
    # heavy ones (torch, keras) so this test does not spend its time importing them
    def entry_points(group):
        real = [e for e in _real_entry_points(group=group) if group != BACKENDS or e.name == "numpy"]
        return real + [e for e in fresh if e.group == group]

    monkeypatch.setattr(registry, "entry_points", entry_points)
    fresh.append(ep("broken", "fakeplug_broken:backend", BACKENDS, "broken-dist"))
    fresh.append(ep("needy", "fakeplug_needs:backend", BACKENDS, "needy-dist"))
    fresh.append(ep("fast", "fakeplug_ok:backend", BACKENDS, "fast-dist"))
    fresh.append(ep("fast", "fakeplug_ok:other", BACKENDS, "rival-dist"))
    fresh.append(ep("wobble_fake", "fakeplug_broken:sine", FUNCTIONS, "waves-dist"))
    fresh.append(ep("halving", "fakeplug_fn:halving", FUNCTIONS, "halving-dist"))


def test_plugins_command_text_shows_broken_ones(fresh, monkeypatch):
    _with_broken_plugins(fresh, monkeypatch)
    r = _cli("plugins")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()

    def row(name):
        return next(line for line in lines if line.strip().startswith(name + " "))

    assert "broken: " in row("broken") and "broken-dist" in row("broken")
    assert "needs clrdsl_no_such_framework_xyz" in row("needy")
    assert "conflict" in row("fast")
    assert "ok" in row("numpy")
    # functions: the broken one is listed with its status, the good one with its signature
    i = next(i for i, line in enumerate(lines) if line.strip() == "wobble_fake")
    assert "waves-dist" in lines[i + 1] and "broken" in lines[i + 1]
    assert any(line.strip().startswith("halving(k: positive = 1") for line in lines)


def test_plugins_command_json_shows_broken_ones(fresh, monkeypatch):
    _with_broken_plugins(fresh, monkeypatch)
    r = _cli("plugins", "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    backends = {b["name"]: b for b in data["backends"]}
    assert backends["broken"]["status"].startswith("broken: ")
    assert backends["broken"]["distribution"] == "broken-dist"
    assert backends["broken"]["entry_point"] == "fakeplug_broken:backend"
    assert backends["fast"]["status"] == "conflict"
    assert backends["numpy"]["status"] == "ok"
    functions = {f["name"]: f for f in data["functions"]}
    assert functions["wobble_fake"]["status"].startswith("broken: ")
    assert functions["halving"]["kind"] == "scale" and functions["halving"]["distribution"] == "halving-dist"
    assert functions["triangular2"]["distribution"] == "clrdsl (prelude)"


def test_fake_plugin_names_stay_clear_of_real_plugins():
    # The fakes above must not share a name with a plugin a user installs next to clrdsl
    # (the example package, examples/clrdsl-plugin-example, adds sine_wave and sawtooth):
    # a shared name is a real conflict, and these tests would then see `conflict` instead
    # of the status they are about.
    import re
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "clrdsl-plugin-example" / "pyproject.toml"
    text = example.read_text(encoding="utf-8")
    section = text.split('[project.entry-points."clrdsl.functions"]')[1].split("[")[0]
    example_names = set(re.findall(r"^(\w+)\s*=", section, re.M))
    assert example_names == {"sine_wave", "sawtooth"}
    fakes = set(re.findall(r'ep\("(\w+)"', Path(__file__).read_text(encoding="utf-8")))
    assert fakes and not fakes & example_names
    installed = {e.name for g in (BACKENDS, FUNCTIONS) for e in _real_entry_points(group=g)}
    installed |= set(Registry(FUNCTIONS).names())  # with the functions of the installed bundles
    assert "triangular" in installed and not fakes & installed, fakes & installed


# -- the standard library: one bundle ------------------------------------------------------------


def test_the_standard_library_is_one_bundle_entry_point():
    assert [(e.name, e.value) for e in _real_entry_points(group=BUNDLES)] == [("clrdsl_stdlib", "clrdsl_stdlib:FUNCTIONS")]
    assert not [e for e in _real_entry_points(group=FUNCTIONS) if e.value.startswith("clrdsl_stdlib")]
    entries = Registry(FUNCTIONS).entries()
    assert {n for n, e in entries.items() if e.bundle == "clrdsl_stdlib"} >= {"triangular", "exp", "linear", "poly"}


def test_the_bundle_maps_every_shape_and_scale_of_the_standard_library():
    """Each Shape/ScaleFn defined in clrdsl_stdlib is in FUNCTIONS under its own name, and
    each reference there names it: a new shape cannot be forgotten in the mapping."""
    import importlib
    import pkgutil

    import clrdsl_stdlib
    from clrdsl.contract.functions import ScaleFn, Shape

    defined = {}
    for info in pkgutil.iter_modules(clrdsl_stdlib.__path__):
        module = importlib.import_module(f"clrdsl_stdlib.{info.name}")
        for attr, obj in vars(module).items():
            if isinstance(obj, (Shape, ScaleFn)):  # (a module importing another's: both references)
                defined.setdefault(obj.name, set()).add(f"{module.__name__}:{attr}")
    assert set(clrdsl_stdlib.FUNCTIONS) == set(defined)
    for name, ref in clrdsl_stdlib.FUNCTIONS.items():
        assert ref in defined[name], (name, ref)
        assert registry._resolve(ref).name == name


def test_adding_a_shape_to_the_bundle_needs_no_packaging_change(fresh, monkeypatch):
    """A new line in clrdsl_stdlib.FUNCTIONS is a new function of the language: the
    installed metadata (one bundle entry point) is the same."""
    import clrdsl_stdlib

    before = [(e.name, e.value) for g in (FUNCTIONS, BUNDLES) for e in _real_entry_points(group=g)]
    monkeypatch.setitem(clrdsl_stdlib.FUNCTIONS, "halving", "fakeplug_fn:halving")
    assert "fakeplug_fn" not in sys.modules
    assert "halving" in registry.functions.names() and "fakeplug_fn" not in sys.modules  # listed, not loaded
    entry = registry.functions.entries()["halving"]
    assert (entry.bundle, entry.dist) == ("clrdsl_stdlib", "clrdsl")
    s = clrdsl.compile("triangular(0, 1, step=1) * halving(k=1, on=cycle)")
    assert [float(s(t)) for t in (1, 3, 5)] == [1.0, 0.5, 0.25]
    assert [(e.name, e.value) for g in (FUNCTIONS, BUNDLES) for e in _real_entry_points(group=g)] == before


def test_listing_the_functions_imports_only_the_bundles_mapping(tmp_path):
    import subprocess

    code = ("import sys, clrdsl\n"
            "assert not [m for m in sys.modules if m.startswith('clrdsl_stdlib')], 'import clrdsl imported it'\n"
            "from clrdsl.contract import registry\n"
            "names = registry.functions.names()\n"
            "try:\n"
            "    clrdsl.check('triangulr(0.1, 0.2, step=3)')\n"
            "except clrdsl.ClrdslError as e:\n"
            "    assert 'triangular' in e.hint\n"
            "print('triangular' in names, sorted(m for m in sys.modules if m.startswith('clrdsl_stdlib')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True ['clrdsl_stdlib']"
