"""Plateau clocks on JAX/optax: the transformation that takes the metric as ``value=``.

Held against the real ``optax.contrib.reduce_on_plateau`` (its state report for report,
exactly; its step within the float32 bound), against the host tracker of
``clrdsl.evaluation.plateau`` (one rule, in float64 under x64: exactly), and against itself
(resuming from a saved state is bit-exact).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
pytest.importorskip("optax.contrib")
pytest.importorskip("clrdsl_jax")

import jax.numpy as jnp  # noqa: E402

import clrdsl  # noqa: E402
from clrdsl.diagnostics.errors import ClrdslError  # noqa: E402
from clrdsl.evaluation.numerics import FLOAT32_BOUND  # noqa: E402
from clrdsl.evaluation.plateau import Tracker  # noqa: E402
from clrdsl_jax import JaxPlateauSchedule, JaxSchedule, ScaleByPlateauState  # noqa: E402


def _x64():
    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # pragma: no cover - older jax
        from jax.experimental import enable_x64 as enable
    return enable(True)


def _jax(expr):
    return clrdsl.compile(expr, backend="jax")


PARAMS = {"w": jnp.zeros(3), "b": jnp.zeros(())}
ONES = jax.tree.map(jnp.ones_like, PARAMS)


# -- the API -----------------------------------------------------------------------------


def test_compile_gives_the_plateau_object_and_refuses_a_step():
    s = _jax("constant(0.1) * exp(gamma=0.5, on=plateau(patience=3))")
    assert isinstance(s, JaxPlateauSchedule)
    with pytest.raises(ClrdslError) as e:
        s(10)
    assert e.value.code == "E655" and "transform()" in str(e.value)
    # optax calling it as a learning-rate schedule fails the same way, at trace time
    opt = optax.sgd(learning_rate=s)
    with pytest.raises(ClrdslError, match="E655"):
        opt.update(ONES, opt.init(PARAMS))
    # a mapping compiles each entry on its own
    d = clrdsl.compile({"learning_rate": "constant(0.1) * exp(gamma=0.5, on=plateau())", "b1": "constant(0.9)"},
                       backend="jax")
    assert isinstance(d["learning_rate"], JaxPlateauSchedule) and isinstance(d["b1"], JaxSchedule)


def test_schedules_without_plateau_clocks_are_unchanged():
    s = _jax("warmup_cosine(3e-3, warmup=10, decay=100)")
    assert type(s) is JaxSchedule and float(s(10)) == pytest.approx(3e-3)


def test_update_needs_value_and_a_number():
    tx = _jax("constant(0.1) * exp(gamma=0.5, on=plateau())").transform()
    state = tx.init(PARAMS)
    with pytest.raises(ClrdslError, match="E656"):
        tx.update(ONES, state)
    with pytest.raises(ClrdslError, match="E641"):
        tx.update(ONES, state, value=jnp.ones(3))
    with pytest.raises(ClrdslError, match="E657"):
        _jax("constant(0.1) * exp(gamma=0.5, on=plateau())").transform(accumulation_size=0)


def test_state_is_a_pytree_of_arrays_and_jit_works():
    s = _jax("constant(0.1) * exp(gamma=0.5, on=plateau(patience=0))")
    tx = s.transform()
    state = tx.init(PARAMS)
    assert isinstance(state, ScaleByPlateauState)
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))
    update = jax.jit(tx.update)
    u, state = update(ONES, state, value=1.0)
    u, state = update(ONES, state, value=2.0)  # patience 0: one bad report reduces
    assert s.counts(state) == (1,) and int(state.t) == 2
    np.testing.assert_array_equal(u["w"], np.float32(-0.05))  # the update that reported uses the new count
    assert s.states(state)[0].best == 1.0


def test_value_none_is_an_update_without_a_report():
    s = _jax("constant(0.1) * exp(gamma=0.5, on=plateau(patience=0))")
    tx = s.transform()
    update = jax.jit(tx.update)
    state = tx.init(PARAMS)
    _, state = update(ONES, state, value=1.0)
    before = s.find_state(state)
    for _ in range(3):
        u, state = update(ONES, state, value=None)
    assert int(state.t) == 4
    assert jax.tree.map(lambda a, b: bool(a == b), before.clocks, state.clocks) == jax.tree.map(
        lambda a: True, before.clocks)
    np.testing.assert_array_equal(u["w"], np.float32(-0.1))


def test_pickles_as_its_expression():
    s = _jax("linear(0.01, 0.1, over=10) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=3))")
    r = pickle.loads(pickle.dumps(s))
    assert isinstance(r, JaxPlateauSchedule) and r.expr == s.expr


def test_backend_values_read_every_clock_at_zero():
    from clrdsl.contract.registry import get_backend

    expr = "linear(0.01, 0.1, over=10) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=3))"
    checked = clrdsl.check(expr)
    got = get_backend("jax").values(checked, range(20))
    want = clrdsl.compile(expr)(np.arange(20))
    np.testing.assert_allclose(got, want, rtol=0, atol=FLOAT32_BOUND * 0.1)


# -- one rule: the in-graph clocks against the host tracker -------------------------------

MULTI = [
    # two clocks in two phases (windows), eps, mode max, abs threshold, cooldown
    "take(constant(0.1) * exp(gamma=0.5, on=plateau(patience=2, eps=0.01)), over=100) >> "
    "constant(0.05) * exp(gamma=0.7, on=plateau(patience=1, mode=max, threshold=0.5, threshold_mode=abs, cooldown=2))",
    # two clocks in one phase: eps of the first depends on the count of the second
    "constant(0.1) * exp(gamma=0.5, on=plateau(patience=2, eps=0.004)) * "
    "exp(gamma=0.9, on=plateau(patience=4, cooldown=1, threshold=0.01))",
]


@pytest.mark.parametrize("expr", MULTI)
def test_in_graph_rule_equals_the_host_tracker(expr):
    # float64 on both sides (x64, float64 params): the same rule gives the same states
    with _x64():
        s = _jax(expr)
        tx = s.transform()
        params = {"w": jnp.zeros(2, jnp.float64)}
        state = tx.init(params)
        update = jax.jit(tx.update)
        tracker = Tracker(s.checked.root, value=lambda t, k: float(s.value(t, k)))
        rng = np.random.default_rng(7)
        trace = np.round(np.cumsum(rng.normal(0, 1, 250)), 1)  # repeated values: ties
        changed = 0
        for t, v in enumerate(trace):
            report = t % 5 != 3  # some updates report nothing
            _, state = update(params, state, value=float(v) if report else None)
            if report:
                changed += tracker.report(t, float(v))
            assert s.states(state) == tracker.states, t
        assert changed >= 3 and sum(s.counts(state)) >= 3


# -- conformance with optax.contrib.reduce_on_plateau -------------------------------------

# (lr, factor, optax patience, rtol, atol, cooldown, min_scale, accumulation_size)
OPTAX_CASES = {
    "rtol_patience1": (0.1, 0.8, 1, 1e-2, 0.0, 0, 0.0, 1),
    "rtol_patience1_cooldown3": (0.1, 0.5, 1, 1e-2, 0.0, 3, 0.0, 1),
    "rtol_patience3_cooldown2": (0.1, 0.5, 3, 1e-3, 0.0, 2, 0.0, 1),
    "atol_patience2": (0.05, 0.5, 2, 0.0, 0.005, 0, 0.0, 1),
    "atol_cooldown1_min_scale": (0.1, 0.5, 2, 0.0, 0.002, 1, 0.01, 1),
    "factor_0.1_min_scale": (0.3, 0.1, 5, 1e-4, 0.0, 2, 1e-4, 1),
    "factor_0.7_patience4": (0.01, 0.7, 4, 5e-3, 0.0, 3, 0.0, 1),
    "accumulation_3": (0.1, 0.5, 2, 1e-2, 0.0, 1, 0.0, 3),
}


def _ours_expr(lr, factor, patience, rtol, atol, cooldown, min_scale):
    # optax patience p = plateau(patience=p - 1); rtol-only: rel, atol-only: abs
    thr, mode = (rtol, "rel") if atol == 0 else (atol, "abs")
    core = (f"constant({lr}) * exp(gamma={factor}, on=plateau(patience={patience - 1}, "
            f"cooldown={cooldown}, threshold={thr}, threshold_mode={mode}))")
    return f"max({core}, {lr} * {min_scale})" if min_scale else core


def _run_against_optax(case, seed, n=200):
    lr, factor, patience, rtol, atol, cooldown, min_scale, acc = case
    s = _jax(_ours_expr(lr, factor, patience, rtol, atol, cooldown, min_scale))
    ours = s.transform(accumulation_size=acc)
    ref = optax.chain(optax.sgd(lr), optax.contrib.reduce_on_plateau(
        factor=factor, patience=patience, rtol=rtol, atol=atol, cooldown=cooldown,
        accumulation_size=acc, min_scale=min_scale))
    bare = optax.contrib.reduce_on_plateau(  # without the floor: its scale falls at each reduction
        factor=factor, patience=patience, rtol=rtol, atol=atol, cooldown=cooldown, accumulation_size=acc)
    uo, ur, ub = jax.jit(ours.update), jax.jit(ref.update), jax.jit(bare.update)
    so, sr, sb = ours.init(PARAMS), ref.init(PARAMS), bare.init(PARAMS)
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    trace = 0.2 + np.exp(-i / 40) + 0.01 * rng.normal(size=n)  # a noisy loss, falling, then flat
    out = {"steps": [], "ref": [], "ours_events": [], "ref_events": [], "ties": 0, "host_differs": 0}
    host = Tracker(s.checked.root)  # the same rule comparing in float64
    for i in range(n):
        v = jnp.float32(trace[i])
        best = sr[1].best_value
        if acc == 1 and bool(jnp.isfinite(best)) and rng.random() < 0.2:
            limit = (1 - rtol) * best - atol  # optax's own threshold, in its dtype
            v = limit if rng.random() < 0.5 else jnp.nextafter(limit, -jnp.inf)
            out["ties"] += 1
        a, so_new = uo(ONES, so, value=v)
        b, sr = ur(ONES, sr, value=v)
        _, sb_new = ub(ONES, sb, value=v)
        mine, theirs = so_new.clocks[0], sr[1]
        if acc == 1:
            host.report(i, float(v))
            out["host_differs"] += host.states[0].best != float(theirs.best_value)
        # the state, report for report: exactly
        assert float(mine.best) == float(theirs.best_value), i
        assert int(mine.bad) == int(theirs.plateau_count), i
        assert int(mine.cooldown) == int(theirs.cooldown_count), i
        assert float(mine.avg) == float(theirs.avg_value) and int(mine.seen) == int(theirs.count), i
        # the reductions: at the same updates
        out["ours_events"].append(int(mine.count) > int(so.clocks[0].count))
        out["ref_events"].append(float(sb_new.scale) < float(sb.scale))
        out["steps"].append(np.asarray(a["w"]))
        out["ref"].append(np.asarray(b["w"]))
        so, sb = so_new, sb_new
    assert float(sb.scale) > 0  # the unfloored scale never underflowed: every reduction showed
    out["ours"] = np.asarray(out.pop("steps"))
    out["ref"] = np.asarray(out["ref"])
    out["counts"] = s.counts(so)
    return out


@pytest.mark.parametrize("name", list(OPTAX_CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_optax_reduce_on_plateau(name, seed):
    case = OPTAX_CASES[name]
    out = _run_against_optax(case, seed)
    assert out["ours_events"] == out["ref_events"]
    assert 2 <= sum(out["ours_events"]) == out["counts"][0]
    if case[-1] == 1:
        assert out["ties"] > 20
    lr = case[0]
    np.testing.assert_allclose(out["ours"], out["ref"], rtol=0, atol=FLOAT32_BOUND * lr)
    if case[1] == 0.5 and not case[6]:  # powers of 1/2 are exact on both sides
        np.testing.assert_array_equal(out["ours"], out["ref"])


@pytest.mark.parametrize("name", ["rtol_patience1_cooldown3", "atol_cooldown1_min_scale"])
def test_ties_compare_in_optax_dtype(name):
    # values at optax's float32 threshold: the same rule comparing in float64 (the host
    # tracker) parts from optax on them; the in-graph clock compares in the metric's dtype
    out = _run_against_optax(OPTAX_CASES[name], 0)
    assert out["host_differs"] > 0 and out["ours_events"] == out["ref_events"]


def test_matches_optax_under_x64_with_float64_params():
    lr, factor, patience, rtol, cooldown = 0.1, 0.5, 2, 1e-3, 1
    with _x64():
        params = {"w": jnp.zeros(2, jnp.float64)}
        ones = jax.tree.map(jnp.ones_like, params)
        s = _jax(_ours_expr(lr, factor, patience, rtol, 0.0, cooldown, 0.0))
        ours, ref = s.transform(), optax.chain(optax.sgd(lr), optax.contrib.reduce_on_plateau(
            factor=factor, patience=patience, rtol=rtol, cooldown=cooldown))
        so, sr = ours.init(params), ref.init(params)
        uo, ur = jax.jit(ours.update), jax.jit(ref.update)
        assert so.clocks[0].best.dtype == sr[1].best_value.dtype == jnp.float64
        rng = np.random.default_rng(3)
        for v in np.cumsum(rng.normal(-0.01, 0.1, 200)):
            a, so = uo(ones, so, value=v)
            b, sr = ur(ones, sr, value=v)
            assert float(so.clocks[0].best) == float(sr[1].best_value)
            np.testing.assert_array_equal(a["w"], b["w"])
        assert s.counts(so)[0] >= 2


# -- in a training loop ---------------------------------------------------------------------

W = 50
WARMUP = f"linear(0.01, 0.1, over={W}) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=3))"


def _problem(seed=0, n=300, batch=16):
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=3).astype(np.float32)
    x = rng.normal(size=(n, batch, 3)).astype(np.float32)
    y = (x @ w_true + 0.5 * rng.normal(size=(n, batch))).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y)


def _loss(params, x, y):
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def _train(tx):
    def step(carry, batch):
        params, state = carry
        loss, grads = jax.value_and_grad(_loss)(params, *batch)
        updates, state = tx.update(grads, state, params, value=loss)  # the minibatch loss reports
        return (optax.apply_updates(params, updates), state), (loss, state[-1].clocks[0].count)

    return jax.jit(lambda params, state, x, y: jax.lax.scan(step, (params, state), (x, y)))


def test_warmup_then_plateau_in_a_jitted_loop():
    s = _jax(WARMUP)
    tx = optax.chain(optax.scale_by_adam(), s.transform())
    x, y = _problem()
    state0 = tx.init(PARAMS)
    (params, state), (losses, counts) = _train(tx)(PARAMS, state0, x, y)
    counts = np.asarray(counts)
    # reports during warmup are ignored: after W updates that all reported, the clock is as new
    (_, warm), _ = _train(tx)(PARAMS, state0, x[:W], y[:W])
    assert int(warm[1].t) == W and s.states(warm) == s.states(state0)
    assert counts[:W].max() == 0 and counts[-1] >= 2
    # the same run on the host: the NumPy backend replays the reported losses
    reports = [(t, float(v)) for t, v in enumerate(np.asarray(losses))]
    steps, rows = clrdsl.compile(WARMUP).replay(reports)
    np.testing.assert_array_equal(counts, [r[0] for r in rows[1:]])


def test_resume_from_a_saved_state_is_bit_exact():
    s = _jax(WARMUP)
    tx = optax.chain(optax.scale_by_adam(), s.transform())
    x, y = _problem(seed=1, n=240)
    train = _train(tx)
    (p_one, s_one), (l_one, _) = train(PARAMS, tx.init(PARAMS), x, y)
    (p_half, s_half), (l_a, _) = train(PARAMS, tx.init(PARAMS), x[:120], y[:120])
    saved = jax.tree.map(np.asarray, (p_half, s_half))  # what a checkpoint holds
    p_back, s_back = jax.tree.map(jnp.asarray, saved)
    (p_two, s_two), (l_b, _) = train(p_back, s_back, x[120:], y[120:])
    assert s.counts(s_one)[0] >= 1
    np.testing.assert_array_equal(np.concatenate([l_a, l_b]), l_one)
    for a, b in zip(jax.tree.leaves((p_one, s_one)), jax.tree.leaves((p_two, s_two))):
        np.testing.assert_array_equal(a, b)


def test_optimizer_helper_is_the_optimizer_with_the_schedule_as_learning_rate():
    # without reports the counts stay 0: adamw(learning_rate=value(t, 0)) step for step, bit for bit
    s = _jax(WARMUP)
    ours = s.optimizer(optax.adamw, weight_decay=1e-2)
    ref = optax.adamw(learning_rate=lambda c: s.value(c, (0,)), weight_decay=1e-2)
    x, y = _problem(seed=2, n=80)
    po = pr = PARAMS
    so, sr = ours.init(po), ref.init(pr)
    for i in range(80):
        g = jax.grad(_loss)(po, x[i], y[i])
        uo, so = ours.update(g, so, po, value=None)
        ur, sr = ref.update(g, sr, pr)
        po, pr = optax.apply_updates(po, uo), optax.apply_updates(pr, ur)
    for a, b in zip(jax.tree.leaves(po), jax.tree.leaves(pr)):
        np.testing.assert_array_equal(a, b)
