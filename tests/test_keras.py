"""The Keras backend in this process (TensorFlow, see conftest.py): the API, the exact
clock arithmetic of its ``ops``, and the import hook that registers it with Keras.
The per-backend suite (TensorFlow, JAX, torch in their own processes) is
test_keras_backends.py."""

from __future__ import annotations

import importlib
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import clrdsl
from clrdsl.contract import _import_hooks

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import clrdsl_keras  # noqa: E402
from clrdsl_keras.ops import KerasOps, Step, to_step  # noqa: E402


def value(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


# -- the backend and the schedule object ---------------------------------------------


def test_compile_gives_a_registered_learning_rate_schedule():
    s = clrdsl.compile("onecycle(1)", backend="keras", total_steps=10)
    assert isinstance(s, keras.optimizers.schedules.LearningRateSchedule)
    assert isinstance(s, clrdsl_keras.Schedule)
    assert s.expr == "onecycle(1)" and s.bindings == {"total_steps": 10} and s.length == 10
    assert repr(s) == "Schedule('onecycle(1)', total_steps=10)"
    want = clrdsl.compile("onecycle(1, total=10)")(np.arange(12))
    np.testing.assert_allclose(value(s(np.arange(12))), want, rtol=1e-6)
    assert keras.saving.get_registered_object("clrdsl>Schedule") is clrdsl_keras.Schedule
    assert clrdsl_keras.custom_objects() == {"clrdsl>Schedule": clrdsl_keras.Schedule}


def test_config_is_the_canonical_text_and_its_bindings():
    s = clrdsl_keras.Schedule("triangular2( 0.001,0.006 , step=4ep )", steps_per_epoch=50)
    assert s.get_config() == {"expr": "triangular2(0.001, 0.006, step=4ep)",
                              "bindings": {"steps_per_epoch": 50}}
    back = clrdsl_keras.Schedule.from_config(s.get_config())
    assert back.checked == s.checked
    d = keras.optimizers.schedules.serialize(s)
    assert d["registered_name"] == "clrdsl>Schedule"
    assert keras.optimizers.schedules.deserialize(d).get_config() == s.get_config()


def test_pickle_and_deepcopy_go_through_the_text():
    import copy
    import pickle

    s = clrdsl_keras.Schedule("onecycle(1)", total_steps=20)
    for back in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert type(back) is clrdsl_keras.Schedule and back.get_config() == s.get_config()
        assert float(value(back(5))) == float(value(s(5)))


def test_mapping_compiles_to_a_dict_of_schedules_and_options_are_refused():
    out = clrdsl.compile({"lr": "onecycle(0.1)", "momentum": "onecycle_momentum()"}, backend="keras",
                         total_steps=100)
    assert set(out) == {"lr", "momentum"} and all(isinstance(v, clrdsl_keras.Schedule) for v in out.values())
    with pytest.raises(TypeError, match="no options"):
        clrdsl.compile("constant(1)", backend="keras", dtype="float64")


def test_bad_expressions_are_clrdsl_errors_with_spans():
    with pytest.raises(clrdsl.ClrdslError) as exc:
        clrdsl_keras.Schedule("triangular(0.1, 1, stpe=4)")
    assert exc.value.span is not None and "stpe" in str(exc.value)
    with pytest.raises(clrdsl.ClrdslError, match="steps_per_epoch"):
        clrdsl_keras.Schedule("linear(0, 1, over=2ep)")


def test_emit_is_delegated():
    src = clrdsl_keras.backend.emit(clrdsl.check("triangular(0.1, 1, step=4)"))
    assert isinstance(src, str) and "triangular" in src


def test_callback_needs_an_expression_and_reset_rebinds():
    with pytest.raises(TypeError):
        clrdsl_keras.ScheduleCallback()
    cb = clrdsl_keras.ScheduleCallback("linear(0, 1, over=2ep)", steps_per_epoch=10)
    assert cb.lr_at(10) == pytest.approx(0.5)
    cb.clock = 7
    cb.reset(steps_per_epoch=20)  # same expression, new binding, clock back to 0
    assert cb.clock == 0 and cb.lr_at(10) == pytest.approx(0.25)
    cb.reset("constant(0.3)", momentum="constant(0.9)")
    assert cb.lr_at(5) == 0.3 and cb.momentum_at(5) == 0.9


def _tiny_model(lr):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def test_saved_model_reloads_with_explicit_custom_objects(tmp_path):
    model = _tiny_model(clrdsl_keras.Schedule("triangular2(0.001, 0.006, step=3)"))
    model.fit(np.ones((8, 1)), np.zeros((8, 1)), batch_size=2, verbose=0)
    model.save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras", custom_objects=clrdsl_keras.custom_objects())
    assert back.optimizer._learning_rate.get_config() == model.optimizer._learning_rate.get_config()
    assert int(value(back.optimizer.iterations)) == 4
    assert float(value(back.optimizer.learning_rate)) == pytest.approx(
        clrdsl.compile("triangular2(0.001, 0.006, step=3)")(4), rel=1e-6)


def test_callback_warns_when_batches_are_grouped():
    model = _tiny_model(0.01)
    model.compile(optimizer=model.optimizer, loss="mse", steps_per_execution=2)
    cb = clrdsl_keras.ScheduleCallback("constant(0.01)")
    with pytest.warns(UserWarning, match="steps_per_execution"):
        model.fit(np.ones((8, 1)), np.zeros((8, 1)), batch_size=2, verbose=0, callbacks=[cb])


# -- the ops: exact clock arithmetic -------------------------------------------------


def test_ops_contract():
    from clrdsl.contract.ops import missing_ops

    assert missing_ops(KerasOps) == []


def _steps(values, on_host):
    arr = np.asarray(values, dtype=np.int64)
    return to_step(arr if on_host else tf.constant(arr))


def _exact(step_values, c):
    return [Fraction(int(v)) - Fraction(c) for v in step_values]


consts = st.one_of(st.integers(-10**6, 10**6), st.integers(-4000, 4000).map(lambda k: k / 4),
                   st.sampled_from([0.5, 33.5, 2.9, 0.3, 1e-3]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 2**41), min_size=1, max_size=6), consts, consts, st.booleans())
@example([34, 2**40, 0], 0.5, 33.5, False)  # a boundary between two steps, hit exactly
@example([34, 2**40, 0], 0.5, 33.5, True)
@example([2**40 + 3], 2**40 + 0.25, 2.75, False)
def test_clock_arithmetic_is_exact(vals, c, d, on_host):
    """``t - c``, comparisons, ``minimum``/``maximum``, and whole ``mod``/``//`` agree with
    exact rational arithmetic, on host integers and on int64 tensors, at any size."""
    t = _steps(vals, on_host)
    clock = t - c  # e.g. the clock of a phase starting at c
    want = _exact(vals, c)
    assert isinstance(clock, Step)
    got_lt = np.broadcast_to(value(clock < d) if not isinstance(clock < d, np.bool_) else clock < d,
                             len(vals))
    assert list(got_lt) == [w < Fraction(d) for w in want]
    got_eq = clock == d
    got_eq = np.broadcast_to(got_eq if isinstance(got_eq, np.bool_) else value(got_eq), len(vals))
    assert list(got_eq) == [w == Fraction(d) for w in want]
    got_le = clock <= d
    got_le = np.broadcast_to(got_le if isinstance(got_le, np.bool_) else value(got_le), len(vals))
    assert list(got_le) == [w <= Fraction(d) for w in want]
    clamped = KerasOps.minimum(KerasOps.maximum(clock, 0), 1000.5)
    exact = [min(max(w, Fraction(0)), Fraction(1000.5)) for w in want]
    np.testing.assert_allclose(np.broadcast_to(value(KerasOps.float(clamped)), len(vals)),
                               [float(x) for x in exact], rtol=1e-7, atol=1e-4)
    pos = KerasOps.mod(KerasOps.maximum(clock, 0), 1987)  # a position inside a cycle
    exact_pos = [max(w, Fraction(0)) % 1987 for w in want]
    np.testing.assert_allclose(np.broadcast_to(value(KerasOps.float(pos)), len(vals)),
                               [float(x) for x in exact_pos], rtol=1e-6, atol=1e-4)
    cyc = KerasOps.floordiv(t, 1987)
    np.testing.assert_array_equal(np.broadcast_to(cyc.v if cyc.on_host else value(cyc.v), len(vals)),
                                  [v // 1987 for v in vals])


def test_static_bounds_spare_operations():
    t = to_step(tf.constant(5, tf.int64))  # >= 0
    assert KerasOps.maximum(t, 0) is t  # already >= 0: no operation
    clamped = KerasOps.minimum(t, 100)
    assert clamped.hi == 100 and KerasOps.minimum(clamped, 200) is clamped
    assert (clamped < 101) is np.True_  # decided when building the graph
    assert KerasOps.mod(clamped, 101) is clamped  # already inside its period


def test_power_of_an_inexact_base_keeps_float32_precision():
    # 0.99994 is not a float32; through a float32 base gamma**10000 would be off by 6e-4
    got = float(value(KerasOps.power(0.99994, KerasOps.float(to_step(10_000)))))
    assert got == pytest.approx(0.99994**10_000, rel=2e-6)
    assert float(value(KerasOps.power(0.5, KerasOps.float(to_step(3))))) == 0.125  # exact base


def test_steps_are_clamped_and_non_integers_refused():
    s = clrdsl_keras.Schedule("linear(0, 1, over=100)")
    assert float(value(s(-3))) == 0.0
    assert float(value(s(np.uint8(50)))) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="integers"):
        s(0.5)
    with pytest.raises(TypeError, match="integers"):
        s("7")


# -- registration on import ----------------------------------------------------------


@pytest.fixture
def fake_framework(tmp_path, monkeypatch):
    """A fresh 'framework' module and a 'plugin' that records being imported."""
    n = len(_import_hooks._PENDING) + id(tmp_path) % 10**6
    fw, plugin, broken = f"fakefw{n}", f"fakeplugin{n}", f"brokenplugin{n}"
    (tmp_path / f"{fw}.py").write_text("LOADED = True\n")
    (tmp_path / f"{plugin}.py").write_text(f"import {fw}\nassert {fw}.LOADED\nSEEN = True\n")
    (tmp_path / f"{broken}.py").write_text("raise RuntimeError('plugin is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield fw, plugin, broken
    for m in (fw, plugin, broken):
        sys.modules.pop(m, None)


def test_plugin_is_imported_when_its_framework_is(fake_framework):
    fw, plugin, _ = fake_framework
    _import_hooks.after_import(fw, plugin)
    assert plugin not in sys.modules  # nothing imported up front
    mod = importlib.import_module(fw)
    assert sys.modules[plugin].SEEN
    assert type(mod.__loader__).__name__ != "_Loader"  # the module sees its real loader
    assert not any(isinstance(f, _import_hooks._Finder) for f in sys.meta_path) or _import_hooks._PENDING


def test_framework_already_imported_means_at_once(fake_framework):
    fw, plugin, _ = fake_framework
    importlib.import_module(fw)
    _import_hooks.after_import(fw, plugin)
    assert sys.modules[plugin].SEEN


# (That `import clrdsl` alone registers the Keras schedule, before or after `import keras`,
# is checked in fresh processes by test_keras_backends.py: registered_by_import_clrdsl.)


def test_broken_plugin_only_warns(fake_framework):
    fw, _, broken = fake_framework
    _import_hooks.after_import(fw, broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod = importlib.import_module(fw)
    assert mod.LOADED
    assert any("plugin is broken" in str(w.message) for w in caught)
