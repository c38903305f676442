"""End-to-end smoke checks of the public API (detailed suites live beside this file)."""

import subprocess
import sys

import numpy as np
import pytest

import clrdsl

MISSION = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"


def test_mission_example_round_trips_and_compiles():
    tree = clrdsl.parse("triangular(0.001,0.006,step=2000) * exp(gamma=0.99994, on=iterations)")
    assert clrdsl.unparse(tree) == MISSION
    s = clrdsl.compile(MISSION)
    t = np.arange(10_000)
    v = s(t)
    assert v.dtype == np.float64 and v.shape == t.shape
    assert s(0) == pytest.approx(0.001) and s(4000) == pytest.approx(0.001)
    assert s(2000) == pytest.approx(0.001 + 0.005 * 0.99994**2000)


def test_import_is_framework_free():
    code = "import sys, clrdsl; clrdsl.compile('triangular(0.1, 1, step=2)')(3); " \
           "print(sorted(m for m in ('torch','tensorflow','keras','jax') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
