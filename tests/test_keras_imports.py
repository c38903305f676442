"""The Keras backend's registration survives every import order: after importing
clrdsl, the plugin's modules and Keras in any order, ``keras.models.load_model`` finds
the saved ``Schedule`` with no ``custom_objects`` and nothing warns (a module of the
plugin that imports Keras first used to meet itself half-made in clrdsl's import hook).
Each order runs in a fresh interpreter, with warnings as errors."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("keras")

ENV = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow"), "TF_CPP_MIN_LOG_LEVEL": "3"}
EXPR = "triangular2(0.001, 0.006, step=40)"

# every order of clrdsl, a plugin module that imports Keras, and Keras; and the other
# modules that import Keras first
ORDERS = [list(p) for p in itertools.permutations(["clrdsl", "clrdsl_keras.ops", "keras"])] + [
    ["clrdsl_keras.callback", "clrdsl"],
    ["clrdsl_keras.range_test", "clrdsl"],
]


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", textwrap.dedent(code)], cwd=cwd,
                          env=ENV, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("keras_model")
    out = _python(f"""
        import json, numpy as np, clrdsl, keras
        lr = clrdsl.compile({EXPR!r}, backend="keras")
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
        model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, batch_size=4, verbose=0)
        model.save("m.keras")
        print(json.dumps(float(keras.ops.convert_to_numpy(lr(70)))))
    """, d)
    assert out.returncode == 0, out.stderr[-3000:]
    return d, json.loads(out.stdout.strip().splitlines()[-1])


def test_every_import_order_then_load_model(saved):
    d, value = saved

    def run(order):
        return order, _python(f"""
            import json
            import {", ".join(order)}
            import keras
            m = keras.models.load_model("m.keras")
            s = m.optimizer._learning_rate  # the schedule itself (learning_rate is its current value)
            print(json.dumps([type(s).__module__, type(s).__name__, s.expr,
                              float(keras.ops.convert_to_numpy(s(70)))]))
        """, d)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, ORDERS))
    for order, out in results:
        assert out.returncode == 0, (order, out.stderr[-3000:])
        assert "partially initialized" not in out.stderr, order
        mod, name, expr, v = json.loads(out.stdout.strip().splitlines()[-1])
        assert (mod, name, expr) == ("clrdsl_keras.schedule", "Schedule", EXPR), order
        assert v == pytest.approx(value, rel=1e-6), order  # the same Keras computation as when saved
