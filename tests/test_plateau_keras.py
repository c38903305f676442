"""Plateau clocks on Keras: the in-graph ``Schedule`` reads the reduction counts that
``PlateauCallback`` reports, on the TensorFlow, JAX and torch Keras backends.

In this process (TensorFlow, see conftest.py): value for value against the real
``keras.callbacks.ReduceLROnPlateau`` on seeded metric traces, the config that carries the
plateau state, the errors and the warning. Each Keras backend in a process of its own
(this file is also the worker: ``python tests/test_plateau_keras.py BACKEND OUT.json``):
the rate each batch of a compiled ``model.fit`` really used (read back from the weights)
against the NumPy backend's replay of the same reports, ``model.save`` / ``load_model``
resuming mid-plateau bit for bit, and warmup-then-plateau on a validation loss.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings

WORKER = __name__ == "__main__"
if WORKER:
    os.environ["KERAS_BACKEND"] = sys.argv[1]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import clrdsl  # noqa: E402
from clrdsl.evaluation.numerics import FLOAT32_BOUND  # noqa: E402

if WORKER:
    import keras  # noqa: E402
else:
    import pytest

    keras = pytest.importorskip("keras")

import clrdsl_keras  # noqa: E402

BACKEND = keras.backend.backend()
JIT = {"tensorflow": True, "jax": True, "torch": None}[BACKEND]  # as tests/keras_worker.py


def now(x) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(x)))


def sync(model) -> None:
    fn = getattr(model, "jax_state_sync", None)
    if fn is not None:
        fn()


def keras_form(lr, factor, patience, cooldown, min_delta, mode, min_lr):
    """The expression that is Keras's ``ReduceLROnPlateau(factor, patience, mode, min_delta,
    cooldown, min_lr)`` on an optimizer whose learning rate starts at ``lr``."""
    clock = (f"plateau(patience={max(patience - 1, 0)}, cooldown={max(cooldown - 1, 0)}, "
             f"threshold={min_delta!r}, threshold_mode=abs, mode={mode})")
    return f"max(constant({lr!r}) * exp(gamma={factor!r}, on={clock}), {min_lr!r})"


class Score(keras.callbacks.Callback):
    """Writes ``logs["score"] = trace[epoch]`` at each epoch end (listed before the
    PlateauCallback, which reads it), and keeps the (step, score) reports and each
    epoch's learning rate afterwards."""

    def __init__(self, trace):
        super().__init__()
        self.trace = trace
        self.reports: list[tuple[int, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        sync(self.model)
        logs["score"] = float(self.trace[epoch])
        self.reports.append((int(now(self.model.optimizer.iterations)), float(self.trace[epoch])))


class After(keras.callbacks.Callback):
    """Listed after the PlateauCallback: the rate the next update will use, per epoch,
    and the reports of a logged metric (``monitor``) at the optimizer's step."""

    def __init__(self, monitor=None):
        super().__init__()
        self.monitor = monitor
        self.lrs: list[float] = []
        self.reports: list[tuple[int, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        sync(self.model)
        self.lrs.append(now(self.model.optimizer.learning_rate))
        if self.monitor:
            self.reports.append((int(now(self.model.optimizer.iterations)), float(logs[self.monitor])))


class Probe(keras.callbacks.Callback):
    """Zeroes the kernel before each batch and reads it after: with a gradient of exactly
    1, plain SGD leaves ``-lr`` there, the rate the compiled step really used."""

    def __init__(self):
        super().__init__()
        self.seen: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        sync(self.model)
        self.model.layers[-1].kernel.assign(np.zeros((1, 1), "float32"))

    def on_train_batch_end(self, batch, logs=None):
        sync(self.model)
        self.seen.append(-float(np.asarray(keras.ops.convert_to_numpy(self.model.layers[-1].kernel.value))[0, 0]))


def bound_check(got, want, what=""):
    """``got`` within FLOAT32_BOUND of the peak of ``want`` (float32 against float64)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = float(np.max(np.abs(want)))
    err = np.abs(got - want) / scale
    assert np.all(err <= FLOAT32_BOUND), f"{what}: worst error {err.max():.3g} of the peak at {int(np.argmax(err))}"
    return float(err.max())


# -- the per-backend checks ------------------------------------------------------------------

WARM = "linear(0.01, 0.1, over=6) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=1, cooldown=1))"
TRACE = [5, 4, 4, 4, 3, 3, 3, 3, 3, 3, 2, 2]


def check_fit_reads_counts():
    """A compiled fit (XLA on TF, jax.jit, torch): the rate each batch used, from the weights,
    is the NumPy backend's value at that step with the counts the reports gave."""
    s = clrdsl.compile(WARM, backend="keras")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=s), loss="mae",
                  **({} if JIT is None else {"jit_compile": JIT}))
    x, y = np.ones((8, 1), "float32"), np.full((8, 1), -1e6, "float32")  # gradient exactly 1
    probe, score = Probe(), Score(TRACE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "nothing reports" warning with the callback
        model.fit(x, y, batch_size=4, epochs=len(TRACE), shuffle=False, verbose=0,
                  callbacks=[probe, score, clrdsl_keras.PlateauCallback("score")])
    steps = np.arange(len(probe.seen))
    want = clrdsl.compile(WARM)(steps, metrics=score.reports)
    _, counts = clrdsl.compile(WARM).replay(score.reports)
    assert s.counts == counts[-1] and counts[-1][0] >= 2, (s.counts, counts[-1])
    assert len(set(np.round(want[6:], 9))) >= 3, "the trace must reduce at least twice after the warmup"
    err = bound_check(probe.seen, want, "per batch")
    return f"jit_compile={JIT}: {len(steps)} batches, counts {s.counts}, worst {err:.2g} of the peak"


def _model(lr, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9), loss="mse",
                  **({} if JIT is None else {"jit_compile": JIT}))
    return model


def _data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(48, 4)).astype("float32")
    return x, (x @ rng.normal(size=(4, 1)) + rng.normal(size=(48, 1))).astype("float32")


RESUME = "constant(0.05) * exp(gamma=0.5, on=plateau(patience=2, cooldown=1))"
RESUME_TRACE = [3.0, 2.0, 2.5, 2.0, 2.0, 2.0, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]
E1 = 5


def check_resume_bit_exact(workdir):
    """Train E1 epochs, save, load_model, train on: every epoch's rate and the final weights
    equal an uninterrupted run's bit for bit (same backend, same path)."""
    x, y = _data()
    epochs = len(RESUME_TRACE)

    def run(model, start, stop):
        after = After()
        model.fit(x, y, batch_size=16, epochs=stop, initial_epoch=start, shuffle=False, verbose=0,
                  callbacks=[Score(RESUME_TRACE), clrdsl_keras.PlateauCallback("score"), after])
        return after.lrs

    whole = _model(clrdsl.compile(RESUME, backend="keras"))
    lrs_whole = run(whole, 0, epochs)

    first = _model(clrdsl.compile(RESUME, backend="keras"))
    lrs = run(first, 0, E1)
    state = first.optimizer._learning_rate.state_dict()
    assert state[0]["bad"] > 0 or state[0]["cooldown"] > 0, f"not saved mid-plateau: {state}"
    path = os.path.join(workdir, f"plateau-{BACKEND}.keras")
    first.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Keras warns when it skips optimizer variables
        loaded = keras.models.load_model(path)
    assert loaded.optimizer._learning_rate.state_dict() == state
    lrs += run(loaded, E1, epochs)

    assert lrs == lrs_whole, f"rates differ:\n{lrs}\n{lrs_whole}"
    assert len(set(lrs_whole[E1:])) >= 2, "the trace must reduce after the resume"
    for a, b in zip(whole.get_weights(), loaded.get_weights()):
        assert np.array_equal(a, b), "the weights differ"
    assert int(now(whole.optimizer.iterations)) == int(now(loaded.optimizer.iterations))
    return f"saved at epoch {E1} with state {state}; {epochs} epoch rates {sorted(set(lrs))} equal bit for bit"


WARMUP = "linear(0.01, 0.1, over=12) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=2))"


def check_warmup_then_plateau_fit():
    """A real fit with validation data, monitor val_loss: the rate after each epoch is the
    NumPy backend's replay of the same (step, val_loss) reports; reports in the warmup are
    ignored; Keras's own ReduceLROnPlateau cannot drive a schedule at all (TypeError)."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(24, 4)).astype("float32"), rng.normal(size=(24, 1)).astype("float32")
    xv, yv = rng.normal(size=(24, 4)).astype("float32"), rng.normal(size=(24, 1)).astype("float32")
    s = clrdsl.compile(WARMUP, backend="keras")
    model = _model(s)
    after = After("val_loss")
    model.fit(x, y, validation_data=(xv, yv), batch_size=8, epochs=16, shuffle=False, verbose=0,
              callbacks=[clrdsl_keras.PlateauCallback("val_loss"), after])
    steps = [t for t, _ in after.reports]
    want = clrdsl.compile(WARMUP)(np.asarray(steps), metrics=after.reports)
    err = bound_check(after.lrs, want, "per epoch")
    _, counts = clrdsl.compile(WARMUP).replay(after.reports)
    assert counts[-1][0] >= 1 and s.counts == counts[-1], (s.counts, counts[-1])
    assert counts[4] == (0,), "reports at steps below 12 (the warmup) must be ignored"

    keras_cb = keras.callbacks.ReduceLROnPlateau("val_loss", patience=0)
    model = _model(clrdsl.compile("warmup_cosine(0.1, warmup=6, decay=60)", backend="keras"))
    try:
        model.fit(x, y, validation_data=(x, y * 0 + 1e6), batch_size=8, epochs=3, verbose=0, callbacks=[keras_cb])
    except TypeError as e:
        refused = str(e).split(".")[0]
    else:
        raise AssertionError("Keras's ReduceLROnPlateau set the rate of a schedule")
    return f"counts {s.counts}, worst {err:.2g} of the peak; ReduceLROnPlateau: TypeError {refused!r}"


def check_jax_needs_the_callback():
    """JAX only: the io_callback is what makes the count live. A plain read of the schedule's
    variable in the jitted step is frozen at trace time (Keras's JAX trainer threads only
    the model's and optimizer's variables): this shows why (informational)."""
    if BACKEND != "jax":
        return "not jax"
    s = clrdsl.compile(WARM, backend="keras")
    s._counts_tensor = lambda step: s._counts.value
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=s), loss="mae", jit_compile=True)
    probe = Probe()
    model.fit(np.ones((8, 1), "float32"), np.full((8, 1), -1e6, "float32"), batch_size=4, epochs=len(TRACE),
              shuffle=False, verbose=0, callbacks=[probe, Score(TRACE), clrdsl_keras.PlateauCallback("score")])
    frozen = max(probe.seen[6:]) == min(probe.seen[6:])
    return f"counts {s.counts}; a plain variable read {'stays frozen' if frozen else 'is live'} under jax.jit"


CHECKS = {"fit_reads_counts": check_fit_reads_counts, "resume_bit_exact": check_resume_bit_exact,
          "warmup_then_plateau_fit": check_warmup_then_plateau_fit,
          "jax_needs_the_callback": check_jax_needs_the_callback}


def worker(out_path):
    results = {}
    for name, fn in CHECKS.items():
        try:
            args = (os.path.dirname(out_path),) if name == "resume_bit_exact" else ()
            results[name] = {"ok": True, "detail": fn(*args)}
        except Exception:
            results[name] = {"ok": False, "detail": traceback.format_exc()[-3000:]}
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)


if WORKER:
    worker(sys.argv[2])
    sys.exit(0)


# -- each Keras backend, in a process of its own ---------------------------------------------

import importlib.util  # noqa: E402
import subprocess  # noqa: E402

FRAMEWORK = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_plateau_on_each_keras_backend(backend, tmp_path):
    if importlib.util.find_spec(FRAMEWORK[backend]) is None:
        pytest.skip(f"{FRAMEWORK[backend]} is not installed")
    out = tmp_path / f"{backend}.json"
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, __file__, backend, str(out)], capture_output=True, text=True,
                          timeout=600, env=env)
    if not out.exists():
        pytest.fail(f"the {backend} worker died (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    results = json.loads(out.read_text())
    bad = [f"--- {k}\n{r['detail']}" for k, r in results.items() if not r["ok"]]
    assert set(results) == set(CHECKS) and not bad, "\n".join(bad)
    if backend == "jax":  # the reason for the io_callback still holds
        assert "stays frozen" in results["jax_needs_the_callback"]["detail"]


# -- value for value against keras.callbacks.ReduceLROnPlateau -------------------------------


def _optimizer_model(lr):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def _configs():
    rng = np.random.default_rng(20240601)
    out = []
    for i in range(48):
        min_lr = float(rng.choice([0.0, 2.5e-4, 3.3e-3]))
        # without a floor, a factor of 0.1 would take Keras's float32 rate below the normal
        # floats within the trace; the floors are off the grid lr * factor**k, where Keras's
        # iterated float32 product and our closed form would round to either side of it
        factors = [0.5, 0.3, 0.8] + ([0.1] if min_lr else [])
        out.append(dict(factor=float(rng.choice(factors)), patience=int(rng.choice([0, 1, 2, 3, 5])),
                        cooldown=int(rng.choice([0, 0, 1, 2, 3])), min_delta=float(rng.choice([0.0, 0.125, 0.5])),
                        mode=str(rng.choice(["min", "max"])), min_lr=min_lr, seed=i))
    return out


def _trace(seed, mode, n=80):
    """A metric that improves in steps with plateaus and noise. Even seeds: multiples of
    1/16 (exact in float32, where Keras compares); odd: continuous float64 values."""
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.random(n) < 0.3) * 0.5
    noise = rng.integers(0, 6, n) / 16 if seed % 2 == 0 else rng.random(n) * 0.4
    v = 20.0 - drift + noise
    return v if mode == "min" else -v


def _id(c):
    return "p{patience}-c{cooldown}-d{min_delta}-{mode}-m{min_lr}-f{factor}".format(**c)


@pytest.mark.parametrize("cfg", _configs(), ids=_id)
def test_matches_keras_reduce_lr_on_plateau(cfg):
    lr0 = 0.1
    trace = _trace(cfg["seed"], cfg["mode"])
    theirs = _optimizer_model(lr0)
    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=cfg["factor"], patience=cfg["patience"],
                                           mode=cfg["mode"], min_delta=cfg["min_delta"], cooldown=cfg["cooldown"],
                                           min_lr=cfg["min_lr"])
    cb.set_model(theirs)
    cb.on_train_begin()
    expr = keras_form(lr0, cfg["factor"], cfg["patience"], cfg["cooldown"], cfg["min_delta"], cfg["mode"],
                      cfg["min_lr"])
    ours_model = _optimizer_model(clrdsl.compile(expr, backend="keras"))
    ours = clrdsl_keras.PlateauCallback("val_loss")
    ours.set_model(ours_model)
    ours.on_train_begin()
    got, want = [now(ours_model.optimizer.learning_rate)], [now(theirs.optimizer.learning_rate)]
    for epoch, v in enumerate(trace.tolist()):
        cb.on_epoch_end(epoch, logs={"val_loss": v})
        ours_model.optimizer.iterations.assign((epoch + 1) * 7)
        ours.on_epoch_end(epoch, logs={"val_loss": v})
        want.append(now(theirs.optimizer.learning_rate))
        got.append(now(ours_model.optimizer.learning_rate))
    bound_check(got, want, expr)
    changed, keras_changed = np.flatnonzero(np.diff(got)), np.flatnonzero(np.diff(want))
    assert changed.tolist() == keras_changed.tolist(), f"{expr}: the reduction epochs differ"


def test_the_conformance_traces_reduce_and_reach_the_floor():
    """The traces above are not vacuous: most configurations reduce several times, and
    some reach min_lr."""
    reductions, floors = [], 0
    for cfg in _configs():
        expr = keras_form(0.1, cfg["factor"], cfg["patience"], cfg["cooldown"], cfg["min_delta"], cfg["mode"],
                          cfg["min_lr"])
        trace = _trace(cfg["seed"], cfg["mode"])
        vals = clrdsl.compile(expr)(np.arange(len(trace) + 1), metrics=list(enumerate(trace.tolist(), start=1)))
        reductions.append(int(np.sum(np.diff(vals) != 0)))
        floors += cfg["min_lr"] > 0 and vals[-1] == cfg["min_lr"]
    assert sum(r >= 3 for r in reductions) >= 30 and floors >= 5, (reductions, floors)


# -- the schedule object ---------------------------------------------------------------------

EXPR = "constant(0.1) * exp(gamma=0.5, on=plateau(patience=1))"


def test_the_schedule_replays_reports_like_numpy():
    expr = "linear(0.01, 0.1, over=10) >> max(constant(0.1) * exp(gamma=0.3, on=plateau(patience=0)), 1e-3)"
    reports = [(s, 1.0) for s in range(0, 60, 5)]
    steps = np.arange(70)
    s = clrdsl.compile(expr, backend="keras")
    want = clrdsl.compile(expr)(steps, metrics=reports)
    bound_check(now_array(s(steps, metrics=reports)), want, expr)
    assert clrdsl_keras.backend.values(s.checked, steps, metrics=reports) == pytest.approx(
        now_array(s(steps, metrics=reports)).tolist(), rel=0, abs=0)
    bound_check(now_array(s(steps)), clrdsl.compile(expr)(steps), "no reports")  # counts 0


def now_array(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def test_report_moves_the_value_from_its_step_on():
    s = clrdsl.compile(EXPR, backend="keras")
    assert s.counts == (0,) and now(s(100)) == pytest.approx(0.1)
    assert not s.report(1.0, step=10) and not s.report(1.0, step=20)
    assert s.report(1.0, step=30) and s.counts == (1,)
    assert now(s(30)) == pytest.approx(0.05) and now(s(np.int64(5))) == pytest.approx(0.05)
    s.reset()
    assert s.counts == (0,) and now(s(30)) == pytest.approx(0.1)


def test_config_carries_the_plateau_state():
    s = clrdsl.compile(EXPR, backend="keras")
    for t in (1, 2, 3, 4):
        s.report(1.0, step=t)
    config = s.get_config()
    assert config["plateau"] == s.state_dict() == [{"best": 1.0, "bad": 1, "cooldown": 0, "count": 1}]
    back = keras.optimizers.schedules.deserialize(json.loads(json.dumps(keras.optimizers.schedules.serialize(s))))
    assert back.state_dict() == s.state_dict() and back.counts == (1,) and now(back(0)) == now(s(0))
    fresh = clrdsl_keras.Schedule(EXPR)
    assert json.loads(json.dumps(fresh.get_config()))["plateau"][0]["best"] == float("inf")  # JSON holds inf
    # a config without `plateau` (written before any report was possible) still loads, at counts 0
    old = clrdsl_keras.Schedule.from_config({"expr": EXPR, "bindings": {}})
    assert old.counts == (0,)
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(s)).state_dict() == copy.deepcopy(s).state_dict() == s.state_dict()
    # schedules without plateau clocks keep their config exactly
    assert clrdsl_keras.Schedule("constant(0.1)").get_config() == {"expr": "constant(0.1)", "bindings": {}}


@pytest.mark.parametrize("config, code", [
    ({"expr": EXPR, "bindings": {}, "plateau": "no"}, "E614"),
    ({"expr": EXPR, "bindings": {}, "plateau": [{"best": 1.0}]}, "E614"),
    ({"expr": EXPR, "bindings": {}, "plateau": []}, "E640"),
    ({"expr": "constant(0.1)", "bindings": {}, "plateau": []}, "E614"),
])
def test_bad_plateau_configs_are_refused(config, code):
    with pytest.raises(clrdsl.ClrdslError) as e:
        clrdsl_keras.Schedule.from_config(config)
    assert e.value.code == code


def test_errors():
    with pytest.raises(clrdsl.ClrdslError) as e:  # report() with no step before any optimizer used it
        clrdsl.compile(EXPR, backend="keras").report(1.0)
    assert e.value.code == "E651"
    with pytest.raises(clrdsl.ClrdslError) as e:
        clrdsl.compile("constant(0.1)", backend="keras").report(1.0, step=0)
    assert e.value.code == "E643"
    with pytest.raises(clrdsl.ClrdslError) as e:  # the host-float callback has no step to report at
        clrdsl_keras.ScheduleCallback(EXPR)
    assert e.value.code == "E644"
    for lr in (0.1, clrdsl.compile("constant(0.1)", backend="keras")):
        cb = clrdsl_keras.PlateauCallback()
        with pytest.raises(clrdsl.ClrdslError) as e:
            cb.set_model(_optimizer_model(lr))
        assert e.value.code == "E650"


def test_a_report_defaults_to_the_optimizers_step():
    s = clrdsl.compile("linear(0, 0.1, over=10) >> constant(0.1) * exp(gamma=0.5, on=plateau(patience=0))",
                       backend="keras")
    model = _optimizer_model(s)
    model.optimizer.iterations.assign(5)
    with pytest.warns(UserWarning, match="nothing reports a metric"):  # nothing attached yet
        now(model.optimizer.learning_rate)  # the optimizer calls the schedule with its counter
    s.report(1.0)  # step 5: in the warmup, ignored
    model.optimizer.iterations.assign(12)
    s.report(1.0)
    s.report(1.0)
    assert s.counts == (1,) and s.state_dict()[0]["best"] == 1.0


def test_without_a_callback_it_warns_once_and_never_reduces():
    s = clrdsl.compile(EXPR, backend="keras")
    model = _optimizer_model(s)
    x, y = np.ones((8, 1), "float32"), np.ones((8, 1), "float32")
    with pytest.warns(UserWarning, match="nothing reports a metric"):
        model.fit(x, y, epochs=2, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(x, y, epochs=1, verbose=0)  # once per schedule
        s2 = clrdsl.compile(EXPR, backend="keras")
        model2 = _optimizer_model(s2)
        model2.fit(x, y, epochs=1, verbose=0, callbacks=[clrdsl_keras.PlateauCallback("loss")])
        clrdsl.compile(EXPR, backend="keras")(np.arange(5))  # calling it yourself never warns
    assert s.counts == (0,)


def test_a_missing_monitor_key_warns():
    model = _optimizer_model(clrdsl.compile(EXPR, backend="keras"))
    with pytest.warns(UserWarning, match="`val_loss` is not in the epoch logs"):
        model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=1, verbose=0,
                  callbacks=[clrdsl_keras.PlateauCallback("val_loss")])


def _both(trace, patience=1):
    """The rates after each report: Keras's ReduceLROnPlateau and the mapped expression."""
    theirs = _optimizer_model(0.1)
    cb = keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=patience, mode="min", min_delta=0.0)
    cb.set_model(theirs)
    cb.on_train_begin()
    s = clrdsl.compile(keras_form(0.1, 0.5, patience, 0, 0.0, "min", 0.0), backend="keras")
    got, want = [], []
    for epoch, v in enumerate(trace):
        cb.on_epoch_end(epoch, logs={"val_loss": v})
        s.report(v, step=epoch + 1)
        want.append(now(theirs.optimizer.learning_rate))
        got.append(now(s(epoch + 1)))
    return got, want


def test_the_two_known_differences_from_keras():
    """docs/keras.md names them: Keras takes its first report as the best even when it is
    NaN (the rule here never finds a NaN better), and Keras compares in float32."""
    got, want = _both([float("nan"), 1.0, 1.0])
    f = [float(np.float32(v)) for v in (0.1, 0.05)]
    assert want[:2] == [f[0], f[1]] and got[:2] == [f[1], f[1]]  # Keras: the NaN is the best
    got, want = _both([1.0, 1.0 - 1e-9, 1.0 - 2e-9])  # equal in float32, better in float64
    assert want[1] < want[0] and got[1] == got[0]
