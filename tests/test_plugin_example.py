"""The third-party plugin example (examples/clrdsl-plugin-example) works once installed.

The package is pip-installed (offline: no index, no build isolation, no dependencies)
into a temporary ``--target`` directory, from a copy so the source tree stays clean.
Subprocesses with that directory on ``PYTHONPATH`` then see its entry points, exactly
as after a real ``pip install``: the new functions work inside expressions, with the
values of their formulas (and of torch's ``CyclicLR`` with the same custom policy),
and ``clrdsl plugins`` lists them with their distribution.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "clrdsl-plugin-example"
DIST = "clrdsl-sine"


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    import importlib.util

    if importlib.util.find_spec("setuptools") is None:  # an offline build needs it installed
        pytest.skip("setuptools is not installed (pip install setuptools, or clrdsl[dev])")
    work = tmp_path_factory.mktemp("plugin")
    src = work / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(work / "site"), str(src)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        pytest.fail(f"pip install of the example failed:\n{out.stdout}\n{out.stderr}")
    return work / "site"


def run_py(target: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target)] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_installed_layout(target):
    assert (target / "clrdsl_sine" / "__init__.py").exists()
    (info,) = target.glob("clrdsl_sine-*.dist-info")
    eps = (info / "entry_points.txt").read_text()
    assert "[clrdsl.functions]" in eps and "sine_wave = clrdsl_sine:sine_wave" in eps


def test_plugin_functions_in_expressions_match_their_formulas(target):
    code = """
        import json, math
        import numpy as np
        import clrdsl

        t = np.arange(0, 400)
        out = {}

        # sine_wave on the cycle clock with CLR's triangle: the CLR callback's formula,
        # cycle = floor(1 + t / (2 step)) counted from 1, scale 0.5 * (1 + sin(cycle * pi / 2))
        s = clrdsl.compile("triangular(0.001, 0.006, step=7) * sine_wave(on=cycle)")
        cycle = np.floor(1 + t / 14)
        x = np.abs(t / 7 - 2 * cycle + 1)
        ref = 0.001 + (0.006 - 0.001) * np.maximum(0, 1 - x) * 0.5 * (1 + np.sin(cycle * np.pi / 2))
        out["sine_cycle"] = float(np.max(np.abs(s(t) - ref)))
        out["sine_scalar"] = max(abs(float(s(int(i))) - ref[i]) for i in range(0, 400, 13))

        # sine_wave on the iteration clock with its parameters
        s = clrdsl.compile("triangular(0.1, 0.2, step=5) * sine_wave(period=50, phase=0, on=iterations)")
        pos = np.mod(t, 10)
        tri = 0.1 + 0.1 * np.where(pos <= 5, pos / 5, (10 - pos) / 5)
        ref = 0.1 + (tri - 0.1) * 0.5 * (1 + np.sin(2 * np.pi * t / 50))
        out["sine_iter"] = float(np.max(np.abs(s(t) - ref)))

        # sawtooth: a cyclic shape, with a base and cycles a scale can use
        s = clrdsl.compile("sawtooth(0.01, 0.1, period=30) * exp(gamma=0.5, on=cycle)")
        ref = 0.01 + (0.1 - 0.01) * np.mod(t, 30) / 30 * 0.5 ** np.floor(t / 30)
        out["sawtooth"] = float(np.max(np.abs(s(t) - ref)))

        # errors from the plugin's validation carry a span into the expression
        try:
            clrdsl.check("sawtooth(0.1, 0.01, period=30)")
        except clrdsl.ClrdslError as err:
            out["error"] = [err.code, err.span.start, err.span.end]
        print(json.dumps(out))
    """
    r = run_py(target, code)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("sine_cycle", "sine_scalar", "sine_iter", "sawtooth"):
        assert out[key] < 1e-15, (key, out[key])
    assert out["error"] == ["E303", 14, 18]  # under `0.01`, the argument `high`


def test_plugin_matches_torch_cycliclr_with_the_same_custom_policy(target):
    pytest.importorskip("torch")
    code = """
        import json, math
        import torch
        import clrdsl

        def model_opt():
            p = torch.nn.Parameter(torch.zeros(1))
            return torch.optim.SGD([p], lr=0.001)

        ref_opt = model_opt()
        ref = torch.optim.lr_scheduler.CyclicLR(
            ref_opt, base_lr=0.001, max_lr=0.006, step_size_up=7, cycle_momentum=False,
            scale_fn=lambda x: 0.5 * (1 + math.sin(x * math.pi / 2)), scale_mode="cycle")
        opt = model_opt()
        ours = clrdsl.compile("triangular(0.001, 0.006, step=7) * sine_wave(on=cycle)",
                              backend="torch", optimizer=opt)
        worst = 0.0
        for _ in range(300):
            worst = max(worst, abs(ref_opt.param_groups[0]["lr"] - opt.param_groups[0]["lr"]))
            ref_opt.step(); opt.step(); ref.step(); ours.step()
        print(json.dumps({"worst": worst}))
    """
    r = run_py(target, code)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["worst"] < 1e-15


# `clrdsl plugins` reports every backend's status, which imports each backend's
# framework; this subprocess blocks torch and TensorFlow (their backends then show as
# needing them) so the listing takes a moment instead of many seconds.
_PLUGINS = """
    import sys
    for name in ("torch", "tensorflow", "keras", "jax"):
        sys.modules[name] = None
    from clrdsl.tools.cli import main
    main(sys.argv[1:])
"""


def test_clrdsl_plugins_lists_the_plugin_with_its_distribution(target):
    r = run_py(target, _PLUGINS, "plugins", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    functions = {f["name"]: f for f in data["functions"]}
    sine, saw = functions["sine_wave"], functions["sawtooth"]
    assert sine["distribution"] == DIST and saw["distribution"] == DIST
    assert sine["entry_point"] == "clrdsl_sine:sine_wave"
    assert sine["status"] == "ok" and sine["kind"] == "scale"
    assert sine["signature"] == "sine_wave(period: positive = 4, phase: number = 1, on: iterations|cycle|plateau(...) = cycle)"
    assert saw["kind"] == "shape" and saw["signature"] == "sawtooth(low: number, high: number, period: period)"
    assert functions["triangular"]["distribution"] == "clrdsl"
    # blocked frameworks show up as a status, never as a crash
    backends = {b["name"]: b for b in data["backends"]}
    assert backends["numpy"]["status"] == "ok"
    assert backends["torch"]["status"] != "ok"

    r = run_py(target, _PLUGINS, "plugins")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    i = lines.index("  sine_wave(period: positive = 4, phase: number = 1, on: iterations|cycle|plateau(...) = cycle)")
    assert lines[i + 1].split() == ["scale", "·", DIST, "·", "ok"]


def test_without_the_plugin_the_name_is_unknown():
    """Control: the functions come from the installed package, not from clrdsl itself."""
    import importlib.util

    import clrdsl

    if importlib.util.find_spec("clrdsl_sine") is not None:
        pytest.skip("the example plugin is installed in this environment")

    with pytest.raises(clrdsl.ClrdslNameError) as info:
        clrdsl.check("triangular(0.001, 0.006, step=7) * sine_wave(on=cycle)")
    assert info.value.code == "E102"
