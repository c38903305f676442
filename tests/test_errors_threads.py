"""Errors are immutable once raised; rendering is per caller and thread-safe."""

from __future__ import annotations

import threading

import pytest
from test_plugin_isolation import make_dist

import clrdsl
from clrdsl import ClrdslError, ClrdslPluginError
from clrdsl.contract import registry
from clrdsl.contract.registry import BACKENDS, FUNCTIONS, Registry
from clrdsl.diagnostics.errors import Span


def test_an_error_cannot_be_changed_once_made():
    with pytest.raises(ClrdslError) as info:
        clrdsl.check("triangular(0.001, 0.006, stp=2000)")
    err = info.value
    before = err.render()
    for attr, value in (("span", Span(0, 1)), ("message", "x"), ("diagnostics", ()), ("source", None)):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(err, attr, value)
    with pytest.raises(TypeError):
        err.diagnostics[0] = err.diagnostics[0]  # a tuple
    moved = err.replace(span=Span(0, 10))
    assert moved.span == Span(0, 10) and err.render() == before and moved is not err


def test_eight_threads_rendering_a_cached_plugin_error_at_different_columns(tmp_path, monkeypatch):
    """The broken plugin's error is cached once; every caller gets a caret under its own call."""
    root = tmp_path / "site"
    root.mkdir()
    make_dist(root, "broken-fn", "0.9", "thrown_threads", "raise RuntimeError('broken on purpose')\n",
              {FUNCTIONS: {"brk": "thrown_threads:shape"}})
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(registry, "backends", Registry(BACKENDS))
    monkeypatch.setattr(registry, "functions", Registry(FUNCTIONS))
    texts = [" " * (3 * i) + "constant(0.1) + " * (i % 3) + "brk(1)" for i in range(8)]
    barrier = threading.Barrier(8)
    results: dict[int, list[tuple[int, str]]] = {i: [] for i in range(8)}

    def worker(i: int) -> None:
        barrier.wait()
        for _ in range(40):
            try:
                clrdsl.check(texts[i])
            except ClrdslPluginError as err:
                results[i].append((err.span.start, err.render()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, got in results.items():
        assert len(got) == 40
        want = texts[i].index("brk")
        for start, text in got:
            assert start == want
            line = next(ln for ln in text.splitlines() if ln.startswith("1 | "))
            caret = text.splitlines()[text.splitlines().index(line) + 1]
            assert caret.index("^") == line.index("brk"), (i, text)
            assert "broken-fn 0.9" in text
