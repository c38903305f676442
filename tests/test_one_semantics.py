"""One semantics (DESIGN §4): every value comes from one generated code.

Over thousands of random schedules drawn from the standard library and the operators
(``tests/strategies.py``), at random steps, every phase boundary and its neighbours,
and far steps:

- within a backend, a step's value is bit-identical however it is obtained: a scalar
  call, an array, the in-process object, its emitted module (executed from its text),
  after a jump (steps in any order) or a resume (``state_dict`` into a fresh scheduler);
- float64 backends (NumPy's ufuncs against the C library's ``math``) agree within
  :data:`clrdsl.evaluation.numerics.FLOAT64_BOUND` of the peak; float32 backends (Keras, JAX without
  x64) within :data:`clrdsl.evaluation.numerics.FLOAT32_BOUND` of it.

``CLRDSL_PROPERTY_EXAMPLES`` scales the number of schedules (2,000 by default for the
float64 backends; a tenth of it for the in-graph ones, whose eager ops cost milliseconds
each).
"""

from __future__ import annotations

import math
import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import BINDINGS, schedule_exprs

import clrdsl
from clrdsl.contract import registry
from clrdsl.evaluation.numerics import FLOAT32_BOUND, FLOAT32_INLINE_BOUND, FLOAT64_BOUND, INLINE_STEPS
from clrdsl.evaluation.scalar import scalar_function
from clrdsl.tools.explain import boundaries

N = int(os.environ.get("CLRDSL_PROPERTY_EXAMPLES", "2000"))
FAR = (10**6, 10**9 + 7, 10**12, 2**53 + 11)
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def steps_of(checked, seed: int) -> np.ndarray:
    """Random steps, each phase or cycle boundary with its neighbours, the end, far steps."""
    rng = random.Random(seed)
    phases, cycles = boundaries(checked.root, 10**7)
    marks = {int(b) + d for b in phases + cycles[:8] for d in (-1, 0, 1)}
    if not math.isinf(checked.length):
        marks |= {int(checked.length) + d for d in (-1, 0, 1)}
    marks |= {rng.randrange(0, 5000) for _ in range(12)} | {0, 1, *FAR}
    return np.array(sorted(m for m in marks if m >= 0), dtype=np.int64)


def emitted(checked, backend: str) -> dict:
    """The standalone module of ``backend``, executed from its text (it imports only
    its framework: tests/test_cli_emit.py runs such modules with clrdsl unimportable)."""
    ns: dict = {"__name__": f"emitted_{backend}"}
    exec(compile(registry.get_backend(backend).emit(checked), f"<emitted {backend}>", "exec"), ns)
    return ns


def peak(values: np.ndarray) -> float:
    return float(np.max(np.abs(values))) or 1.0


def float32_steps_and_bound(expr: str, t: np.ndarray) -> tuple[np.ndarray, float]:
    """The steps and bound a float32 backend is held to (clrdsl.evaluation.numerics): an inline
    formula of the clock is compared below INLINE_STEPS, within its own bound."""
    if "scale(" in expr:
        return t[t < INLINE_STEPS], FLOAT32_INLINE_BOUND
    return t, FLOAT32_BOUND


@settings(max_examples=N, suppress_health_check=SLOW)
@given(expr=schedule_exprs(units=True, max_leaves=5), seed=st.integers(0, 2**32 - 1))
def test_float64_backends_one_meaning(expr, seed):
    checked = clrdsl.check(expr, **BINDINGS)
    t = steps_of(checked, seed)
    numpy_obj = clrdsl.compile(checked)
    arr = numpy_obj(t)
    assert arr.dtype == np.float64 and np.all(np.isfinite(arr)), expr
    # NumPy: a scalar call is the array's element; any order (a jump) gives the same values
    assert [numpy_obj(int(s)) for s in t] == arr.tolist(), expr
    perm = np.random.default_rng(seed).permutation(len(t))
    np.testing.assert_array_equal(numpy_obj(t[perm]), arr[perm])
    np.testing.assert_array_equal(emitted(checked, "numpy")["schedule"](t), arr)
    # Python floats (torch, the Keras callback): in-process == emitted, exactly
    py = scalar_function(checked)
    values = [py(int(s)) for s in t]
    torch_module = emitted(checked, "torch")["schedule"]
    assert [torch_module(int(s)) for s in t] == values, expr
    # across float64 paths: the documented bound
    diff = np.max(np.abs(np.array(values) - arr))
    assert diff <= FLOAT64_BOUND * peak(arr), (expr, diff / peak(arr))


def test_python_float_extrema_are_the_builtins_exactly():
    """MathOps' minimum, maximum and clip (plain functions, faster than the builtins'
    varargs calls) return the very object min/max return: NaN, signed zeros and ints."""
    from clrdsl.contract.ops import MathOps

    vals = [0, 1, -1, 3, 2**53 + 1, 0.0, -0.0, 1.5, -2.5, 3.0, math.inf, -math.inf, math.nan]
    for a in vals:
        for b in vals:
            assert MathOps.minimum(a, b) is min(a, b) and MathOps.maximum(a, b) is max(a, b), (a, b)
            for c in vals:
                assert MathOps.clip(a, b, c) is min(max(a, b), c), (a, b, c)


@settings(max_examples=max(N // 10, 20), suppress_health_check=SLOW)
@given(expr=schedule_exprs(units=True, max_leaves=4), seed=st.integers(0, 2**32 - 1),
       cut=st.floats(0, 1))
def test_torch_scheduler_stepped_jumped_resumed(expr, seed, cut):
    torch = pytest.importorskip("torch")
    checked = clrdsl.check(expr, **BINDINGS)
    py = scalar_function(checked)

    def scheduler():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        return clrdsl.compile(checked, backend="torch", optimizer=opt)

    s = scheduler()
    n = 60
    stepped = []
    for _ in range(n):
        stepped.append(s.get_last_lr()[0])
        assert s.optimizer.param_groups[0]["lr"] == stepped[-1]
        s.step()
    assert stepped == [py(i) for i in range(n)], expr
    k = int(cut * n)
    s.set_step(k)
    state = s.state_dict()
    resumed = scheduler()
    resumed.load_state_dict(state)
    for i in range(k, n):
        assert resumed.get_last_lr()[0] == stepped[i], (expr, i)
        resumed.step()
    for step in steps_of(checked, seed).tolist()[::-1]:  # jumps, backwards
        s.set_step(step)
        assert s.get_last_lr()[0] == py(step), (expr, step)


@pytest.fixture(scope="module")
def keras_tf():
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    assert keras.backend.backend() == "tensorflow"
    return keras


@settings(max_examples=max(N // 10, 20), suppress_health_check=SLOW + [HealthCheck.function_scoped_fixture])
@given(expr=schedule_exprs(units=True, max_leaves=4), seed=st.integers(0, 2**32 - 1))
def test_keras_in_process_equals_emitted_and_float32_bound(keras_tf, expr, seed):
    keras = keras_tf
    checked = clrdsl.check(expr, **BINDINGS)
    t = steps_of(checked, seed)
    obj = clrdsl.compile(checked, backend="keras")
    got = keras.ops.convert_to_numpy(obj(t)).astype(np.float64)
    module = emitted(checked, "keras")
    np.testing.assert_array_equal(module["schedule"](t).astype(np.float64), got)
    one = int(t[len(t) // 2])
    assert float(keras.ops.convert_to_numpy(obj(one))) == float(module["schedule"](one))
    t32, bound = float32_steps_and_bound(expr, t)
    got32 = keras.ops.convert_to_numpy(obj(t32)).astype(np.float64)
    want = clrdsl.compile(checked)(t32)
    diff = np.max(np.abs(got32 - want))
    assert diff <= bound * peak(want), (expr, diff / peak(want))


@settings(max_examples=max(N // 10, 20), suppress_health_check=SLOW)
@given(expr=schedule_exprs(units=True, max_leaves=4), seed=st.integers(0, 2**32 - 1))
def test_jax_in_process_equals_emitted_and_float32_bound(expr, seed):
    pytest.importorskip("jax")
    checked = clrdsl.check(expr, **BINDINGS)
    t = steps_of(checked, seed)
    t = t[t < 2**31]  # int32 steps without x64 (far steps are refused: tests/test_jax.py)
    obj = clrdsl.compile(checked, backend="jax")
    got = np.asarray(obj(t), dtype=np.float64)
    module = emitted(checked, "jax")
    np.testing.assert_array_equal(np.asarray(module["schedule"](t), dtype=np.float64), got)
    t32, bound = float32_steps_and_bound(expr, t)
    got32 = np.asarray(obj(t32), dtype=np.float64)
    want = clrdsl.compile(checked)(t32)
    diff = np.max(np.abs(got32 - want))
    assert diff <= bound * peak(want), (expr, diff / peak(want))
