"""Every row of the porting guide (docs/porting.md) against its real peer, on every backend.

The rows live in tests/porting_rows.py; the guide's table is generated from them and
checked here, so a row cannot drift. Each row draws random parameters (seeded), writes
the clrdsl spelling, and compares it with the peer library running in this process at
dense steps from 0 (past the peer's end where the row says the values agree there) and
at far steps where the peer is a closed form. Tolerances are relative to the peak of the
compared values: float64 peers (torch, HF, the CLR formula) 1e-9 or the row's bound;
float32 peers (Keras, optax) their own rounding; the float32 backends (Keras, JAX) at
most FLOAT32 more. ``CLRDSL_PORTING_DRAWS`` sets the draws per row (2 by default).
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest

import clrdsl

from porting_rows import BEGIN, DOC, doc_table, render, rows

DRAWS = int(os.environ.get("CLRDSL_PORTING_DRAWS", "2"))
FLOAT32 = 2e-5  # float32 backends, relative to the peak
ROWS = rows()
TESTED = [r for r in ROWS if r.draw is not None]


def _id(r):
    return f"{r.peer}:{r.name}".replace(" ", "_")


def test_the_guide_table_is_the_test_table():
    text = DOC.read_text()
    assert BEGIN in text
    assert doc_table(text) == render(ROWS), "docs/porting.md is stale: run `python tests/porting_rows.py`"


def test_every_peer_scheduler_has_a_row():
    import keras
    import optax
    from torch.optim import lr_scheduler as L
    from transformers import SchedulerType

    names = {(r.peer, r.name.split(" ")[0]) for r in ROWS}
    torch_names = {n for n in dir(L) if isinstance(getattr(L, n), type) and issubclass(getattr(L, n), L.LRScheduler)
                   and n not in ("LRScheduler", "_LRScheduler")} | {"ReduceLROnPlateau"}
    assert {("torch", n) for n in torch_names} <= names, torch_names
    keras_names = {n for n in dir(keras.optimizers.schedules) if n[0].isupper() and n != "LearningRateSchedule"}
    assert {("Keras", n) for n in keras_names} <= names
    optax_names = {n for n in dir(optax.schedules) if not n.startswith("_") and n.endswith("_schedule") or n in ("exponential_decay",
                                                                                    "join_schedules")}
    optax_names -= {"inject_hyperparams", "inject_stateful_hyperparams"}
    assert {("optax", n) for n in optax_names} <= names, optax_names - {n for p, n in names}
    assert {("HF transformers", s.value) for s in SchedulerType} <= names


def _case(row, k):
    seed = zlib.crc32(f"{_id(row)}:{k}".encode())
    return row.draw(np.random.default_rng(seed))


def _steps(case):
    return np.unique(np.concatenate([np.arange(case.dense), np.asarray(case.far, dtype=np.int64)])).astype(np.int64)


def _compare(got, want, tol, what):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert np.all(np.isfinite(got)), f"{what}: not finite at {np.flatnonzero(~np.isfinite(got))[:5]}"
    # a peer's NaN (optax polynomial_schedule's float32 `1 - t/n` can go below 0 under a
    # fractional power) is the peer's: compare where it is finite
    keep = np.isfinite(want)
    got, want = got[keep], want[keep]
    peak = float(np.max(np.abs(want))) or 1.0
    bad = np.flatnonzero(~(np.abs(got - want) <= tol * peak))
    assert bad.size == 0, (f"{what}: {bad.size} steps differ beyond {tol:g} x peak {peak:g}; first at "
                           f"index {bad[0]}: ours {got[bad[0]]!r}, peer {want[bad[0]]!r}")


@pytest.mark.parametrize("row", TESTED, ids=_id)
def test_row_matches_peer_on_numpy_and_torch(row):
    torch = pytest.importorskip("torch")
    for k in range(DRAWS):
        case = _case(row, k)
        steps = _steps(case)
        want = case.peer(steps)
        if case.metrics is not None:  # a peer that follows a metric: replay the same run
            got = clrdsl.compile(case.expr, **case.bindings)(steps, metrics=case.metrics)
            _compare(got, want, case.tol, f"numpy {case.expr}")
            _torch_reports(torch, case, steps, want)
            continue
        got = clrdsl.compile(case.expr, **case.bindings)(steps)
        _compare(got, want, case.tol, f"numpy {case.expr}")
        # the torch backend: a scheduler positioned at each step (a sample of the steps)
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = clrdsl.compile(case.expr, "torch", optimizer=opt, **case.bindings)
        some = steps[:: max(1, len(steps) // 40)]
        vals = []
        for s in some:
            sched.set_step(int(s))
            vals.append(float(sched.get_last_lr()[0]))
        _compare(vals, case.peer(some), case.tol, f"torch {case.expr}")


def _torch_reports(torch, case, steps, want):
    """The torch scheduler on the run: stepped once per update, each report fed at its step."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = clrdsl.compile(case.expr, "torch", optimizer=opt, **case.bindings)
    reports = {}
    for t, v in case.metrics:
        reports.setdefault(t, []).append(v)
    got = []
    for t in range(int(steps.max()) + 1):
        for v in reports.get(t, ()):
            sched.report(v)
        got.append(float(sched.get_last_lr()[0]))
        sched.step()
    _compare(np.asarray(got)[steps], want, case.tol, f"torch {case.expr}")


def _metric_row_in_graph(case):
    """A peer that follows a metric, on the in-graph backends: the Keras schedule replaying
    the run's reports, and the optax transformation fed them as ``value=`` (``None`` at
    the updates without a report), its step for a unit gradient being the rate."""
    import jax
    import jax.numpy as jnp

    steps = _steps(case)
    want = case.peer(steps)
    tol = max(case.tol, FLOAT32)
    ks = clrdsl.compile(case.expr, "keras", **case.bindings)
    _compare(np.asarray(ks(steps, metrics=case.metrics)), want, tol, f"keras {case.expr}")
    tx = clrdsl.compile(case.expr, "jax", **case.bindings).transform()
    params = jnp.zeros(1)
    state = tx.init(params)
    with_value = jax.jit(lambda st, v: tx.update(jnp.ones(1), st, params, value=v))
    without = jax.jit(lambda st: tx.update(jnp.ones(1), st, params, value=None))
    reports = dict(case.metrics)
    got = []
    for t in range(int(steps.max()) + 1):
        updates, state = with_value(state, reports[t]) if t in reports else without(state)
        got.append(-float(updates[0]))
    _compare(np.asarray(got)[steps], want, tol, f"jax {case.expr}")


@pytest.mark.parametrize("row", TESTED, ids=_id)
def test_row_matches_peer_on_keras_and_jax(row):
    tf = pytest.importorskip("tensorflow")
    jnp = pytest.importorskip("jax.numpy")
    if _case(row, 0).metrics is not None:
        for k in range(DRAWS):
            _metric_row_in_graph(_case(row, k))
        return
    for k in range(DRAWS):
        case = _case(row, k)
        steps = _steps(case)
        want = case.peer(steps)
        tol = max(case.tol, FLOAT32)
        ks = clrdsl.compile(case.expr, "keras", **case.bindings)
        _compare(ks(tf.constant(steps, tf.int64)).numpy(), want, tol, f"keras {case.expr}")
        js = clrdsl.compile(case.expr, "jax", **case.bindings)
        fit = steps[steps < 2**31 - 1]  # JAX counts steps in int32 unless x64 is on
        _compare(np.asarray(js(jnp.asarray(fit))), case.peer(fit), tol, f"jax {case.expr}")
