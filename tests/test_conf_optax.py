"""Conformance with optax schedules, run with jax in float64.

jax computes in float32 unless ``jax_enable_x64`` is set, and that flag is process-
wide; the optax side therefore runs in a subprocess with the flag on and hands its
arrays back in an .npz file. One subprocess serves the whole module.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import clrdsl

pytest.importorskip("optax")

RTOL = 1e-9

# name -> (our expression, optax expression evaluated on steps 0..N-1)
WARMUP_COSINE = [
    # (init, peak, warmup, decay_steps incl. warmup, end)
    (0.0, 1.0, 10, 110, 0.1),
    (1e-4, 3e-3, 250, 5000, 0.0),
    (0.5, 0.5, 1, 900, 0.05),
]
N = 6000

CASES = {}
for k, (init, peak, w, d, end) in enumerate(WARMUP_COSINE):
    CASES[f"warmup_cosine_{k}"] = (
        # optax's decay_steps counts the warmup too; ours counts updates after it
        f"warmup_cosine({peak}, warmup={w}, decay={d - w}, init={init}, end={end})",
        f"optax.warmup_cosine_decay_schedule({init}, {peak}, {w}, {d}, end_value={end})",
    )
CASES["join_three"] = (
    "linear(1, 2, over=10) >> linear(5, 3, over=20) >> poly(0.5, 0.1, over=30, power=2)",
    "optax.join_schedules([optax.linear_schedule(1.0, 2.0, 10), optax.linear_schedule(5.0, 3.0, 20), "
    "optax.polynomial_schedule(0.5, 0.1, power=2, transition_steps=30)], [10, 30])",
)
CASES["join_cosine_then_exp"] = (
    "cosine(0.1, 0.01, over=1000) >> constant(0.02) * exp(gamma=0.999)",
    "optax.join_schedules([optax.cosine_decay_schedule(0.1, 1000, alpha=0.1), "
    "optax.exponential_decay(0.02, transition_steps=1, decay_rate=0.999)], [1000])",
)
CASES["exponential_shape"] = (
    # our geometric ramp reaches `end` at `over` and holds; optax clamps at end_value
    "exponential(0.1, 0.001, over=2500)",
    "optax.exponential_decay(0.1, transition_steps=2500, decay_rate=0.01, end_value=0.001)",
)
CASES["wsd_as_optax_join"] = (
    # HF's warmup-stable-decay (cosine decay), built from optax pieces
    "wsd(0.3, warmup=100, stable=2000, decay=1500, min=0.003)",
    "optax.join_schedules([optax.linear_schedule(0.003, 0.3, 100), optax.constant_schedule(0.3), "
    "optax.cosine_decay_schedule(0.3, 1500, alpha=0.01)], [100, 2100])",
)
CASES["exponential_decay"] = (
    "constant(0.3) * exp(gamma=0.9995)",
    "optax.exponential_decay(0.3, transition_steps=1, decay_rate=0.9995)",
)

SCRIPT = """
import sys, numpy as np, jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, optax
cases = {cases!r}
t = jnp.arange({n}, dtype=jnp.int64)
out = {{}}
for name, src in cases.items():
    out[name] = np.asarray(eval(src)(t), dtype=np.float64)
    assert out[name].dtype == np.float64
np.savez(sys.argv[1], **out)
"""


@pytest.fixture(scope="module")
def optax_values(tmp_path_factory):
    path = tmp_path_factory.mktemp("optax") / "values.npz"
    code = textwrap.dedent(SCRIPT).format(cases={k: v[1] for k, v in CASES.items()}, n=N)
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_optax(name, optax_values):
    ref = optax_values[name]
    got = clrdsl.compile(CASES[name][0])(np.arange(N))
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=1e-300)


def test_join_boundary_belongs_to_the_new_schedule(optax_values):
    # `a >> b`: at the boundary b applies with its clock at 0, like optax.join_schedules
    ref = optax_values["join_three"]
    s = clrdsl.compile(CASES["join_three"][0])
    assert s(9) == ref[9] == pytest.approx(1.9)
    assert s(10) == ref[10] == 5.0 and s(30) == ref[30] == 0.5
    assert s(29) == pytest.approx(ref[29]) and s(29) == pytest.approx(3.1)
