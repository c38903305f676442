"""`clrdsl compile`: generated standalone modules.

The acceptance property: for schedules drawn from the grammar generator, the module
emitted for a backend, imported in a subprocess where clrdsl cannot be imported,
gives exactly the values of the in-process compiled backend object. The native
objects of the generated modules (torch LRScheduler, Keras LearningRateSchedule)
are driven there too.
"""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import BINDINGS, SEED_EXPRS, schedule_exprs  # noqa: E402

import clrdsl
from clrdsl.contract import registry
from clrdsl.contract.functions import Param, Shape
from clrdsl.contract.ops import MathOps
from clrdsl.evaluation.emit import EmitError, Target, emit_module
from clrdsl.evaluation.scalar import scalar_function
from clrdsl.tools.cli import main

# Imports a generated module may have: its framework and the standard library.
# (keras: `jax` is imported inside a function, only when Keras runs on JAX, and
# `tensorflow` only for a TensorFlow step of unknown rank)
ALLOWED_IMPORTS = {"numpy": {"numpy", "math", "operator", "fractions"},
                   "torch": {"torch", "math", "operator", "bisect", "fractions"},
                   "keras": {"keras", "numpy", "math", "operator", "jax", "tensorflow", "fractions"}}

RUNNER = r'''
import importlib.util, json, sys


class NoClrdsl:
    """Makes `import clrdsl...` fail: generated code must not need it."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith("clrdsl"):
            raise ImportError(f"generated code imported {name}")
        return None


sys.meta_path.insert(0, NoClrdsl())
job = json.loads(open(sys.argv[1]).read())
out = {"values": [], "native": []}
for i, path in enumerate(job["modules"]):
    spec = importlib.util.spec_from_file_location(f"generated_{i}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out["values"].append([float(mod.schedule(s)) for s in job["steps"]])
    if job["backend"] == "numpy":  # vectorised: one call with all the steps
        import numpy as np

        out["native"].append([float(v) for v in mod.schedule(np.asarray(job["steps"]))])
    elif job["backend"] == "torch":  # the LRScheduler: stepped, then positioned
        import torch

        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=123.0)
        sched = mod.make_scheduler(opt)
        stepped = []
        for _ in range(4):
            stepped.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        positioned = []
        for s in job["steps"]:
            sched.set_step(s)
            positioned.append(float(opt.param_groups[0]["lr"]))
        out["native"].append({"stepped": stepped, "positioned": positioned})
    elif job["backend"] == "keras":
        import keras

        sched = mod.Schedule()
        name = keras.saving.get_registered_name(type(sched))
        again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(sched))
        out["native"].append({
            "values": [float(keras.ops.convert_to_numpy(sched(s))) for s in job["steps"]],
            "variable": float(keras.ops.convert_to_numpy(sched(keras.Variable(job["steps"][-1], dtype="int64")))),
            "registered": name, "config": sched.get_config(), "roundtrip": type(again) is type(sched),
        })
out["leaked"] = sorted(m for m in sys.modules if m.split(".")[0].startswith("clrdsl"))
print(json.dumps(out))
'''


def run_generated(tmp_path, backend: str, sources: list[str], steps: list[int]) -> dict:
    paths = []
    for i, src in enumerate(sources):
        p = tmp_path / f"gen_{backend}_{i}.py"
        p.write_text(src, encoding="utf-8")
        paths.append(str(p))
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"backend": backend, "modules": paths, "steps": steps}))
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(runner), str(job)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["leaked"] == []
    return out


def model_steps(checked, rng_steps: list[int]) -> list[int]:
    """Random steps plus each phase boundary and its neighbours."""
    from clrdsl.tools.explain import boundaries

    phases, cycles = boundaries(checked.root, 10**7)
    marks = {int(b) + d for b in phases + cycles[:6] for d in (-1, 0, 1)}
    if not math.isinf(checked.length):
        marks |= {int(checked.length) + d for d in (-1, 0, 1)}
    return sorted({s for s in set(rng_steps) | marks | {0, 1} if s >= 0})


def same(a: list[float], b: list[float]) -> bool:
    return np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), equal_nan=True)


_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]


def PROPERTY(n: int):  # noqa: N802 - reads as a decorator
    return settings(max_examples=n, deadline=None, suppress_health_check=_SLOW)
STEPS = st.lists(st.one_of(st.integers(0, 3000), st.integers(0, 10**7)), min_size=4, max_size=10)
# Each example is one subprocess (importing the framework is most of its cost), so an
# example carries a batch of expressions.
EXPRS = st.lists(schedule_exprs(units=True), min_size=8, max_size=8)


def checked_all(exprs):
    return [clrdsl.check(e, **BINDINGS) for e in exprs]


@PROPERTY(10)
@given(exprs=EXPRS, rng_steps=STEPS)
def test_numpy_module_matches_compiled_object(tmp_path_factory, exprs, rng_steps):
    tmp = tmp_path_factory.mktemp("numpy")
    checked = checked_all(exprs)
    steps = sorted(set().union(*(model_steps(c, rng_steps) for c in checked)))
    backend = registry.get_backend("numpy")
    out = run_generated(tmp, "numpy", [backend.emit(c) for c in checked], steps)
    for c, got, vec in zip(checked, out["values"], out["native"]):
        want = [float(v) for v in clrdsl.compile(c)(np.asarray(steps))]
        assert same(got, want), c.expr
        assert same(vec, want), c.expr


@PROPERTY(2)
@given(exprs=EXPRS, rng_steps=STEPS)
def test_torch_module_matches_compiled_scheduler(tmp_path_factory, exprs, rng_steps):
    torch = pytest.importorskip("torch")
    tmp = tmp_path_factory.mktemp("torch")
    checked = checked_all(exprs)
    steps = sorted(set().union(*(model_steps(c, rng_steps) for c in checked)))
    backend = registry.get_backend("torch")
    out = run_generated(tmp, "torch", [backend.emit(c) for c in checked], steps)
    for c, got, native in zip(checked, out["values"], out["native"]):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = clrdsl.compile(c, "torch", optimizer=opt)
        want = []
        for s in steps:
            sched.set_step(s)
            want.append(float(sched.get_last_lr()[0]))
        assert same(got, want), c.expr
        assert same(native["positioned"], want), c.expr
        assert same(native["stepped"], [scalar_function(c)(t) for t in range(4)]), c.expr


@PROPERTY(1)
@given(exprs=EXPRS, rng_steps=STEPS)
def test_keras_module_matches_compiled_schedule(tmp_path_factory, exprs, rng_steps):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    assert keras.backend.backend() == "tensorflow"
    tmp = tmp_path_factory.mktemp("keras")
    checked = checked_all(exprs)
    steps = sorted(set().union(*(model_steps(c, rng_steps) for c in checked)))[:40]
    backend = registry.get_backend("keras")
    out = run_generated(tmp, "keras", [backend.emit(c) for c in checked], steps)
    for c, got, native in zip(checked, out["values"], out["native"]):
        sched = clrdsl.compile(c, "keras")
        want = [float(keras.ops.convert_to_numpy(sched(s))) for s in steps]
        assert same(got, want), c.expr
        assert same(native["values"], want), c.expr
        assert same([native["variable"]], [want[-1]]), c.expr
        assert native["registered"] == f"clrdsl_generated>Schedule_{c.fingerprint}"
        assert native["config"] == {"expr": c.expr, "bindings": c.bindings_dict}
        assert native["roundtrip"]


# -- the shape of a generated module ---------------------------------------------------------


def imported_modules(source: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("backend", ["numpy", "torch", "keras"])
@pytest.mark.parametrize("expr", SEED_EXPRS[:12])
def test_generated_module_is_standalone_and_tidy(backend, expr):
    checked = clrdsl.check(expr, **BINDINGS)
    src = registry.backends.get(backend).emit(checked)
    lines = src.splitlines()
    # starts with a comment holding the canonical expression and the bindings
    assert lines[0].startswith("# Generated by `clrdsl compile --backend")
    header = "\n".join(lines[: next(i for i, line in enumerate(lines) if not line.startswith("#"))])
    assert f"#   expr:        {checked.expr.splitlines()[0]}" in header
    bound = ", ".join(f"{k}={v}" for k, v in checked.bindings) or "none"
    assert f"#   bindings:    {bound}" in header
    # imports only the framework and the standard library, never clrdsl
    mods = imported_modules(src)
    assert mods <= ALLOWED_IMPORTS[backend], mods
    assert not any(m.startswith("clrdsl") for m in mods)
    # defines the entry points, and the generated code is formatted
    tree = ast.parse(src)
    top = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"value", "schedule"} <= top
    assert {"torch": {"make_scheduler"}, "keras": {"Schedule"}, "numpy": set()}[backend] <= top
    generated = src[src.index("# -- the schedule"):]
    assert max(len(line) for line in generated.splitlines()) <= 100
    assert "\t" not in src and not any(line != line.rstrip() for line in lines)


def test_mission_numpy_module_reads_like_the_expression():
    src = registry.get_backend("numpy").emit(clrdsl.check(SEED_EXPRS[0]))
    body = src[src.index("def value(t):"):src.index("# -- NumPy entry points")]
    assert "triangular_value(ops, t, base=0.001, max=0.006, step=2000, step_down=2000)" in body
    assert "exp_scale_value(ops, t, gamma=0.99994, cap=math.inf)" in body
    assert "return 0.001 + (v - 0.001) * k" in body


def _section(src: str, title: str) -> str:
    start = src.index(f"# -- {title} ")
    return src[start:src.index("# -- ", start + 5)]


def test_sequences_are_one_function_per_phase_and_the_same_code_on_every_backend():
    checked = clrdsl.check("linear(0, 0.1, over=500) >> cosine(0.1, 0, over=9500)")
    torch_src = registry.backends.get("torch").emit(checked)
    numpy_src = registry.get_backend("numpy").emit(checked)
    assert "VALUE_STARTS = (0, 500)\nVALUE_PHASES = (value_phase_1, value_phase_2)\n" in numpy_src
    assert "return ops.piecewise(t, VALUE_STARTS, VALUE_PHASES)" in numpy_src
    assert '"""Phase 2 of 2 of `value`: steps [500, ...), its clock from 0."""' in numpy_src
    # one definition: the schedule's code is the same text for every backend
    assert _section(torch_src, "the schedule") == _section(numpy_src, "the schedule")


# -- the plugin contract: third-party functions and backends -------------------------------------

BUMP_HEIGHT = 2.0


def _ended(ops, t, over):  # the same name as a stdlib helper linear copies: this copy must be renamed
    return ops.minimum(ops.float(t) / over, 1.0)


def bump_value(ops, t, peak, over):
    p = _ended(ops, t, over)
    return peak * BUMP_HEIGHT * p * (1.0 - p)


class PlainOps(MathOps):
    """A third-party backend's ops: MathOps under another name."""

    name = "plain"


PLAIN = Target(backend="plain", framework="plain Python", ops=PlainOps, imports=(),
               entry="def schedule(step):\n    return float(value(step))\n")


@pytest.fixture
def bump():
    shape = Shape(name="bump", params=(Param("peak"), Param("over", "period")), value=bump_value,
                  length=lambda a: a["over"], base=lambda a: 0.0)
    registry.functions.register("bump", shape)
    yield shape
    registry.functions.unregister("bump")


def test_third_party_shape_and_backend(bump):
    checked = clrdsl.check("linear(0.01, 0.1, over=100) >> bump(0.1, over=400)")
    src = emit_module(checked, PLAIN)
    assert "def _ended_2(ops, t, over):" in src  # the plugin's helper, renamed
    assert "p = _ended_2(ops, t, over)" in src
    assert "BUMP_HEIGHT = 2.0" in src
    assert "class PlainOps(MathOps):" in src and "class MathOps:" in src  # its base copied too
    ns: dict = {}
    exec(compile(src, "<generated>", "exec"), ns)
    f = scalar_function(checked)
    for t in (0, 1, 99, 100, 101, 250, 499, 500, 501, 10**6):
        assert ns["schedule"](t) == f(t)


def test_a_function_that_cannot_be_copied_is_a_clrdsl_error(bump):
    shape = Shape(name="lam", params=(Param("v"),), value=lambda ops, t, v: ops.float(t) * 0 + v,
                  base=lambda a: 0.0)
    registry.functions.register("lam", shape)
    try:
        with pytest.raises(EmitError) as exc:
            registry.get_backend("numpy").emit(clrdsl.check("lam(0.1)"))
        assert exc.value.code == "E510" and "lambda" in exc.value.message
        result = CliRunner().invoke(main, ["compile", "lam(0.1)"])
        assert result.exit_code == 1
        assert "error[E510]" in result.output
    finally:
        registry.functions.unregister("lam")


class _FakeBackend:
    name = "fake"
    requires = ()
    extra = None

    def compile(self, checked, **options):
        return scalar_function(checked)

    def emit(self, checked):
        return emit_module(checked, PLAIN)


class _NoEmitBackend(_FakeBackend):
    emit = None


def test_cli_compile_goes_through_the_backend_emit(tmp_path):
    registry.backends.register("fake", _FakeBackend())
    registry.backends.register("noemit", _NoEmitBackend())
    try:
        out = tmp_path / "sched.py"
        result = CliRunner().invoke(main, ["compile", "onecycle(0.1, total=100)", "-b", "fake", "-o", str(out)])
        assert result.exit_code == 0, result.output
        ns: dict = {}
        exec(out.read_text(), ns)
        assert ns["schedule"](30) == scalar_function(clrdsl.check("onecycle(0.1, total=100)"))(30)
        result = CliRunner().invoke(main, ["compile", "onecycle(0.1, total=100)", "-b", "noemit"])
        assert result.exit_code == 2
        assert "cannot generate standalone code" in result.output
    finally:
        registry.backends.unregister("fake")
        registry.backends.unregister("noemit")


def test_emitted_torch_scheduler_is_warning_free_in_any_call_order(tmp_path):
    # Pain point: torch warns when scheduler.step() precedes optimizer.step() (AMP skips
    # do that legitimately). The generated scheduler is closed form, so order is moot.
    ref = scalar_function(clrdsl.check("onecycle(0.1, total=100)"))  # the same code, in-process
    (tmp_path / "sched_mod.py").write_text(registry.get_backend("torch").emit(clrdsl.check("onecycle(0.1, total=100)")))
    code = (
        "import sys, json; sys.modules['clrdsl'] = None\n"
        "import torch, sched_mod\n"
        "p = torch.zeros(1, requires_grad=True)\n"
        "opt = torch.optim.SGD([p], lr=1.0)\n"
        "s = sched_mod.make_scheduler(opt)\n"
        "out = [opt.param_groups[0]['lr']]\n"
        "for i in range(5):\n"
        "    s.step()\n"  # before any optimizer.step(): no warning under -W error
        "    out.append(opt.param_groups[0]['lr'])\n"
        "s.set_step(50); out.append(s.get_last_lr()[0])\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    want = [ref(t) for t in (0, 1, 2, 3, 4, 5, 50)]
    assert got == want


def test_a_long_statement_is_only_broken_inside_a_call_that_spans_it():
    # `ops.maximum(...) + (...)` is longer than a line: breaking it inside the first call
    # (whose `)` is not the statement's last) once turned the sum into a tuple
    expr = ("constant(0.1) * scale((max(sqrt(abs(sin(x) - 0.5)), (sin(x)) - (cos(x * pi / 8)))) "
            "+ ((abs(sin(x) - 0.5)) + (exp(tanh(x / 10)))), on=iterations)")
    checked = clrdsl.check(expr)
    steps = np.arange(0, 60)
    got = clrdsl.compile(checked)(steps)
    assert got.shape == steps.shape
    x = steps.astype(float)
    want = 0.1 * (np.maximum(np.sqrt(np.abs(np.sin(x) - 0.5)), np.sin(x) - np.cos(x * np.pi / 8))
                  + (np.abs(np.sin(x) - 0.5) + np.exp(np.tanh(x / 10))))
    np.testing.assert_allclose(got, want, rtol=1e-13)
