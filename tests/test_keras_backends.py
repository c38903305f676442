"""The Keras backend on each Keras backend (TensorFlow, JAX, torch), one process each.

``tests/keras_worker.py`` does the work (Keras reads ``KERAS_BACKEND`` at import, so a
backend needs a process of its own): conformance with NumPy on thousands of steps and
at 2^24 + 1, 2^25 + 3 and 2^40 (eager, compiled with XLA or ``jax.jit``, and from
host integers), ``model.fit`` with the rate actually used per batch read back from
the weights, serialization, the callback against the CLR callback's formulas, and a
save in one process and ``load_model`` in a fresh one that only did ``import clrdsl``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("keras_worker.py")

MAIN_CHECKS = {"ops_contract", "conformance_eager", "conformance_host", "large_steps_exact",
               "step_types", "past_the_end_holds", "serialize_deserialize", "fit_lr_per_batch",
               "save_models_for_reload", "callback_matches_clr", "callback_reset_and_continue",
               "callback_momentum", "callback_errors"}
COMPILED = {"tensorflow": {"conformance_compiled"}, "jax": {"conformance_compiled"}, "torch": set()}
LOAD_CHECKS = {"registered_by_import_clrdsl", "reload_every_shape"}
FRAMEWORK = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def _run(backend: str, workdir: Path, *extra: str) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, str(WORKER), backend, str(workdir), *extra],
                          capture_output=True, text=True, timeout=600, env=env)
    out = workdir / (f"{backend}-load.json" if extra else f"{backend}.json")
    if not out.exists():
        pytest.fail(f"the {backend} worker died (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def _failures(results: dict, expected: set) -> list[str]:
    missing = sorted(expected - set(results))
    bad = [f"--- {name}\n{r['detail']}" for name, r in results.items() if not r["ok"]]
    return ([f"checks that did not run: {', '.join(missing)}"] if missing else []) + bad


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_keras_backend(backend, tmp_path):
    if importlib.util.find_spec(FRAMEWORK[backend]) is None:
        pytest.skip(f"{FRAMEWORK[backend]} is not installed")
    main = _run(backend, tmp_path)
    problems = _failures(main, MAIN_CHECKS | COMPILED[backend])
    if main.get("save_models_for_reload", {}).get("ok"):
        problems += _failures(_run(backend, tmp_path, "--load"), LOAD_CHECKS)
    assert not problems, f"{backend}:\n" + "\n".join(problems)
