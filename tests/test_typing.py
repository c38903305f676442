"""A user's type checker sees clrdsl's types: the wheel carries ``py.typed`` and
``clrdsl.compile`` is overloaded on the backend name, so a misspelled method of the
compiled object is an error before anything runs.

The check runs as a user's would: mypy over a user script, in an environment where the
built clrdsl wheel is installed as a regular package (site-packages, where mypy reads
only packages marked ``py.typed``), with this environment's frameworks beside it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

USER_SCRIPT = '''\
import clrdsl
import torch

opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
sched = clrdsl.compile("onecycle(0.1, total=1000)", backend="torch", optimizer=opt)
sched.set_step(3)
sched.set_stepp(3)
lr = clrdsl.compile("triangular(0.001, 0.006, step=2000)")
reveal_type(sched)
reveal_type(lr)
value: float = lr(2000)
'''


@pytest.fixture(scope="module")
def user_env(tmp_path_factory):
    for mod in ("mypy", "setuptools", "torch"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not installed (the dev and torch extras)")
    tmp = tmp_path_factory.mktemp("typing")
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(ROOT)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("clrdsl-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    # this environment's frameworks (torch, numpy) after the installed wheel
    (site / "zz_frameworks.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_the_wheel_is_typed_and_a_misspelled_method_is_flagged(user_env, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(USER_SCRIPT)
    out = subprocess.run([sys.executable, "-m", "mypy", "--python-executable", str(user_env), "--no-incremental",
                          "--follow-imports=silent", "--no-error-summary", str(script)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=900)
    lines = out.stdout.splitlines()
    errors = [x for x in lines if ": error:" in x]
    notes = [x for x in lines if "Revealed type" in x]
    assert out.returncode == 1, out.stdout + out.stderr
    # the one error: the misspelling on line 7; the right name on line 6 passes
    assert len(errors) == 1 and "train.py:7:" in errors[0], out.stdout
    assert '"ClrdslScheduler" has no attribute "set_stepp"' in errors[0]
    assert "missing library stubs or py.typed marker" not in out.stdout
    assert "clrdsl_torch.scheduler.ClrdslScheduler" in notes[0]
    assert "clrdsl_numpy.NumpySchedule" in notes[1]
