"""Compiled schedules in notebooks (IPython's real display formatter) and ``python -m clrdsl``."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

import clrdsl

EXPR = "triangular(0.001, 0.006, step=4ep)"


def _bundle(obj):
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return data


def test_a_compiled_schedule_displays_as_a_plot():
    pytest.importorskip("IPython")
    pytest.importorskip("matplotlib")
    data = _bundle(clrdsl.compile(EXPR, steps_per_epoch=50))
    png = data["image/png"]
    png = base64.b64decode(png) if isinstance(png, str) else png  # IPython may hand it over base64-encoded
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert "data:image/png;base64," in data["text/html"] and "step=4ep" in data["text/html"]
    assert "steps_per_epoch=50" in data["text/html"]
    assert data["text/plain"].startswith("NumpySchedule('triangular(")


def test_without_matplotlib_the_display_is_text():
    pytest.importorskip("IPython")
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"  # as if matplotlib were not installed
        "import clrdsl\n"
        "from IPython.core.formatters import DisplayFormatter\n"
        f"data, _ = DisplayFormatter().format(clrdsl.compile({EXPR!r}, steps_per_epoch=50))\n"
        "assert 'image/png' not in data, sorted(data)\n"
        "assert '<pre>' in data['text/html'] and 'data:image' not in data['text/html']\n"
        "print(data['text/plain'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("NumpySchedule('triangular(")
    assert "length: unbounded" in out.stdout
    assert any("\u2800" <= ch <= "\u28ff" for ch in out.stdout)  # the braille plot


def test_python_dash_m_clrdsl_runs_the_cli():
    ok = subprocess.run([sys.executable, "-m", "clrdsl", "check", "onecycle(0.1, total=1_000)"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout == "onecycle(0.1, total=1000)\n"
    bad = subprocess.run([sys.executable, "-m", "clrdsl", "check", "onecycle(0.1, totl=1000)"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "error[" in bad.stderr and "total" in bad.stderr
    usage = subprocess.run([sys.executable, "-m", "clrdsl", "--help"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 0 and usage.stdout.startswith("Usage: clrdsl ")
