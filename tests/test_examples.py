"""The runnable examples, in quick mode, each in its own process.

Each run reads a copy of its config in which the schedule was changed, so the test
also shows that the schedule comes from the config; the values the example reports at
the end are compared with the NumPy backend for that expression.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import clrdsl

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(args: list[str], cwd: Path, env: dict | None = None) -> dict[str, str]:
    out = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, f"stdout:\n{out.stdout[-2000:]}\nstderr:\n{out.stderr[-4000:]}"
    done = [line for line in out.stdout.splitlines() if line.startswith("done: ")]
    assert done, out.stdout
    return dict(re.findall(r"(\w+)=(\S+)", done[-1]))


def reference(expr: str, report: dict[str, str]) -> float:
    bindings = {k: int(report[k]) for k in ("steps_per_epoch", "total_steps") if k in report}
    return clrdsl.compile(expr, **bindings)(int(report["at_step"]))


def test_torch_loop(tmp_path):
    pytest.importorskip("torch")
    yaml = pytest.importorskip("yaml")
    cfg = yaml.safe_load((EXAMPLES / "configs" / "torch.yaml").read_text())
    cfg["schedule"] = {"lr": "triangular(0.002, 0.02, step=3)", "momentum": "linear(0.95, 0.85, over=50%)"}
    (tmp_path / "torch.yaml").write_text(yaml.safe_dump(cfg))
    rep = run([str(EXAMPLES / "torch_loop.py"), "--quick", "--config", str(tmp_path / "torch.yaml")], tmp_path)
    assert int(rep["updates"]) > 0
    for name in ("lr", "momentum"):
        assert float(rep[name]) == pytest.approx(reference(cfg["schedule"][name], rep), rel=1e-12)


def test_keras_fit(tmp_path):
    pytest.importorskip("keras")
    text = (EXAMPLES / "configs" / "keras.toml").read_text()
    expr = "triangular2(0.001, 0.01, step=3) * exp(gamma=0.99, on=iterations)"
    text, n = re.subn(r'^lr = ".*"$', f'lr = "{expr}"', text, flags=re.M)
    assert n == 1
    (tmp_path / "keras.toml").write_text(text)
    rep = run([str(EXAMPLES / "keras_fit.py"), "--quick", "--config", str(tmp_path / "keras.toml")], tmp_path,
              env={"KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")})
    assert int(rep["updates"]) > 0
    assert float(rep["lr"]) == pytest.approx(reference(expr, rep), rel=1e-6)


def test_jax_optax(tmp_path):
    pytest.importorskip("clrdsl_jax")
    yaml = pytest.importorskip("yaml")
    cfg = yaml.safe_load((EXAMPLES / "configs" / "jax.yaml").read_text())
    cfg["schedule"] = {"learning_rate": "warmup_cosine(0.02, warmup=5, decay=50%)",
                       "momentum": "0.9 - constant(0.05, over=10)"}
    (tmp_path / "jax.yaml").write_text(yaml.safe_dump(cfg))
    rep = run([str(EXAMPLES / "jax_optax.py"), "--quick", "--config", str(tmp_path / "jax.yaml")], tmp_path)
    assert int(rep["updates"]) > 0
    assert float(rep["lr"]) == pytest.approx(reference(cfg["schedule"]["learning_rate"], rep), rel=1e-6, abs=1e-9)
    assert float(rep["momentum"]) == pytest.approx(reference(cfg["schedule"]["momentum"], rep), rel=1e-6)


def test_hydra_app(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("hydra")
    expr = "triangular2(0.002, 0.02, step=3)"
    rep = run([str(EXAMPLES / "hydra_app" / "train.py"), "--quick", f'scheduler.expr="{expr}"'], tmp_path)
    assert float(rep["lr"]) == pytest.approx(reference(expr, rep), rel=1e-12)
    assert not any(tmp_path.iterdir())  # no outputs/ or .hydra/ left behind


# -- the integrations: each example checks the rates it used itself (exit 1 on a mismatch) --------


def _checked(rep):
    assert rep["checked"] == "ok", rep
    assert int(rep["updates"]) > 0


def test_hf_trainer(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    expr = "linear(0, 0.03, over=25%) >> cosine(0.03, 0, over=75%)"
    rep = run([str(EXAMPLES / "hf_trainer.py"), "--quick", "--lr_scheduler_kwargs", f'{{"clrdsl": "{expr}"}}'],
              tmp_path)
    _checked(rep)
    assert float(rep["lr"]) == reference(expr, rep)


def test_lightning_cli(tmp_path):
    pytest.importorskip("lightning")
    pytest.importorskip("jsonargparse")
    expr = "onecycle(0.05, total=100%)"
    rep = run([str(EXAMPLES / "lightning_cli" / "train.py"), "--quick", "--lr_scheduler.init_args.schedule", expr],
              tmp_path)
    _checked(rep)
    assert int(rep["total_steps"]) == int(rep["updates"])  # 100% is the Trainer's estimated stepping batches
    assert float(rep["lr"]) == reference(expr, rep)


def test_timm_loop(tmp_path):
    pytest.importorskip("torch")
    expr = "linear(0, 0.02, over=1ep) >> exponential(0.02, 0.0002, over=100% - 1ep)"
    rep = run([str(EXAMPLES / "timm_loop.py"), "--quick", "--schedule", expr], tmp_path)
    _checked(rep)
    assert float(rep["lr"]) == reference(expr, rep)  # the last group has lr_scale 1


@pytest.mark.parametrize("split", [False, True])
def test_accelerate_loop(tmp_path, split):
    pytest.importorskip("accelerate")
    expr = "cosine(0.02, 0.001, over=100%)"
    rep = run([str(EXAMPLES / "accelerate_loop.py"), "--quick", "--schedule", expr]
              + (["--split-batches"] if split else []), tmp_path)
    _checked(rep)
    assert float(rep["lr"]) == reference(expr, rep)


def test_plateau_warmup(tmp_path):
    """Warmup then reduce on plateau: the example checks its own run against the NumPy
    replay of its reports; here the schedule comes from an edited config and the final
    rate is the schedule's value at the reductions the run reports."""
    import yaml

    cfg = yaml.safe_load((EXAMPLES / "configs" / "plateau.yaml").read_text())
    cfg["schedule"] = "linear(0.001, 0.02, over=2ep) >> constant(0.02) * exp(gamma=0.25, on=plateau(patience=0))"
    (tmp_path / "plateau.yaml").write_text(yaml.safe_dump(cfg))
    rep = run([str(EXAMPLES / "plateau_warmup.py"), "--quick", "--config", str(tmp_path / "plateau.yaml")], tmp_path)
    k = int(rep["reductions"])
    assert k >= 1
    assert float(rep["lr"]) == 0.02 * 0.25 ** k
