"""The Keras backend's checks on one Keras backend, in a process of its own.

Keras reads ``KERAS_BACKEND`` once, at import, so each backend needs a fresh process:

    python tests/keras_worker.py BACKEND WORKDIR          # the checks; saves models in WORKDIR
    python tests/keras_worker.py BACKEND WORKDIR --load   # a new process: reload them, resume

Each run writes ``WORKDIR/<backend>[-load].json`` mapping a check's name to
``{"ok": bool, "detail": str}``; ``tests/test_keras_backends.py`` runs it for
tensorflow, jax and torch and fails on any check that did not pass. The reference
everywhere is the NumPy backend (float64), or the CLR callback's formulas.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import zipfile

BACKEND, WORKDIR = sys.argv[1], sys.argv[2]
LOAD = "--load" in sys.argv[3:]
os.environ["KERAS_BACKEND"] = BACKEND
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

if LOAD and BACKEND == "torch":
    import keras  # noqa: E402  (Keras first, clrdsl second: the other import order)

    import clrdsl  # noqa: E402
else:
    import keras  # noqa: E402

    import clrdsl  # noqa: E402  (clrdsl first: its hook registers the schedule when Keras loads)
from keras import ops as K  # noqa: E402

HOOK_LOADED = "clrdsl_keras" in sys.modules  # imported by clrdsl's hook when Keras loaded?
import clrdsl_keras  # noqa: E402

SPE, TOTAL = 50, 4000
BINDINGS = {"steps_per_epoch": SPE, "total_steps": TOTAL}
TOL = 4e-6  # float32 precision, relative to the schedule's own magnitude

# (expression, largest step to compare it at; None: every step, up to 2^41). Every
# shape, scale, prelude definition and operator appears. An inline formula is computed
# in float32 like everything else, so `sin(x * pi / 2)` of a large cycle index carries
# an absolute error of about x * 1e-7 (see docs/keras.md): the periodic one is compared
# on the first 2000 steps only.
CORPUS = [
    ("triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)", None),
    ("triangular(0.001, 0.006, step=7, step_down=13)", None),
    ("triangular(0.1, 1, step=2.5)", None),
    ("triangular2(0.001, 0.006, step=3ep)", None),
    ("exp_range(0.001, 0.006, step=37, gamma=0.999)", None),
    ("triangular(0.1, 1, step=20) * scale(0.5 * (1 + sin((x + 1) * pi / 2)), on=cycle)", 2000),
    ("triangular(0.1, 1, step=2**20) * scale(1 / (1 + x / 3), on=cycle)", None),
    ("triangular(0.1, 1, step=20) * (exp(gamma=0.9, on=cycle) * scale(1 / (1 + x / 100)))", None),
    ("onecycle(0.1, total=1001)", None),
    ("onecycle(1, total=10%, three_phase=true, anneal=linear)", None),
    ("onecycle(1, total=15)", None),
    ("onecycle_momentum()", None),
    ("warmup_cosine(3e-3, warmup=250, decay=5000, init=1e-4)", None),
    ("wsd(1, warmup=100, stable=30%, decay=400, min=0.1, kind=sqrt)", None),
    ("wsd(1, warmup=10, stable=20, decay=30, kind=linear)", None),
    ("cosine_restarts(0.1, min=0.001, period=300, mult=2, decay=0.5)", None),
    ("cosine_restarts(0.1, period=1ep, mult=1.5)", None),
    ("cosine_restarts(0.1, period=128)", None),
    ("linear(0, 1, over=1000) >> poly(1, 0, over=2000, power=2) >> constant(0)", None),
    ("exponential(1, 1e-3, over=3000)", None),
    ("interp(1, 0.01, over=2000, kind=exp)", None),
    ("interp(1, 0.01, over=999, kind=cos)", None),
    ("range_test(1e-7, 10, over=2500)", None),
    ("range_test(1e-3, 1, over=2500, mode=linear)", None),
    ("constant(0.3) * exp(gamma=0.9995)", None),
    ("constant(0.05)", None),
    ("0.5 * triangular(0.1, 1, step=40) + 1e-4", None),
    ("cosine(1, 0, over=1500) - linear(0, 0.5, over=3000) / 2", None),
    ("take(triangular(0.1, 1, step=30), over=95) >> cosine(1, 0.1, over=500)", None),
    ("linear(0, 1, over=33.5) >> triangular(0.2, 0.7, step=9)", None),
]

# Every standard-library function and prelude definition, for the save/load round trip.
SHAPES = [
    "triangular(0.001, 0.006, step=20)",
    "triangular(0.1, 1, step=20) * exp(gamma=0.99, on=iterations)",
    "triangular2(0.001, 0.006, step=8)",
    "exp_range(0.001, 0.006, step=8, gamma=0.99)",
    "triangular(0.1, 1, step=5) * scale(0.5 * (1 + sin((x + 1) * pi / 2)), on=cycle)",
    "constant(0.02)",
    "linear(0.1, 0.01, over=100)",
    "cosine(0.1, 0.01, over=100)",
    "exponential(0.1, 0.001, over=100)",
    "poly(0.1, 0, over=100, power=2)",
    "interp(0.1, 0.001, over=100, kind=sqrt)",
    "range_test(1e-5, 1, over=99)",
    "cosine_restarts(0.1, min=0.001, period=10, mult=2, decay=0.5)",
    "onecycle(0.1, total=120)",
    "onecycle_momentum(total=120)",
    "warmup_cosine(0.1, warmup=10, decay=90, end=0.001)",
    "wsd(0.1, warmup=10, stable=30, decay=20)",
    "onecycle(0.1)",  # a binding (total_steps) travels with the expression
]

BIG = [2**24 - 1, 2**24, 2**24 + 1, 2**25 + 3, 2**31 - 1]
HUGE = [2**40 - 1, 2**40, 2**40 + 1, 2**40 + 12345, 2**41 + 7]


def int_dtype():
    return clrdsl_keras.ops.int_dtype()


def steps_all():
    rng = np.random.default_rng(0)
    small = np.concatenate([np.arange(0, 5000), rng.integers(0, 2**31 - 1, 400), BIG])
    huge = np.concatenate([HUGE, rng.integers(2**31, 2**41, 200)])
    return np.unique(small).astype(np.int64), np.unique(huge).astype(np.int64)


def numpy_values(expr, steps):
    return clrdsl.compile(expr, **BINDINGS)(steps)


def keras_schedule(expr):
    return clrdsl.compile(expr, backend="keras", **BINDINGS)


def compare(expr, got, steps, limit=None, tol=TOL):
    """Largest error relative to the schedule's magnitude; raises past ``tol``."""
    steps = np.asarray(steps)
    keep = steps <= limit if limit is not None else np.ones(steps.shape, bool)
    if not keep.any():
        return 0.0
    got = np.asarray(got, dtype=np.float64)[keep]
    want = numpy_values(expr, steps[keep])
    scale = max(float(np.max(np.abs(want))), 1e-30)
    err = np.abs(got - want) / scale
    worst = int(np.argmax(err))
    if not err[worst] <= tol:
        raise AssertionError(f"{expr}: at step {steps[keep][worst]} got {got[worst]!r}, "
                             f"want {want[worst]!r} (error {err[worst]:.2e} of the peak)")
    return float(err[worst])


def to_tensor(steps, dtype=None):
    return K.convert_to_tensor(np.asarray(steps), dtype=dtype or int_dtype())


def numpy_of(x):
    return np.asarray(K.convert_to_numpy(x))


CHECKS: dict = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


# -- evaluation -------------------------------------------------------------------------


@check
def ops_contract():
    from clrdsl.contract.ops import missing_ops

    assert missing_ops(clrdsl_keras.KerasOps) == [], missing_ops(clrdsl_keras.KerasOps)
    return "complete"


def _traced_steps():
    """Steps a traced integer can hold on this backend (int32 on JAX without x64)."""
    small, huge = steps_all()
    return small if int_dtype() == "int32" else np.concatenate([small, huge])


@check
def conformance_eager():
    steps = _traced_steps()
    worst = 0.0
    for expr, limit in CORPUS:
        got = numpy_of(keras_schedule(expr)(to_tensor(steps)))
        assert got.dtype == np.float32 and got.shape == steps.shape, (got.dtype, got.shape)
        worst = max(worst, compare(expr, got, steps, limit))
    return f"{len(CORPUS)} expressions x {steps.size} steps ({int_dtype()} tensors), worst {worst:.1e}"


@check
def conformance_host():
    small, huge = steps_all()
    steps = np.concatenate([small, huge])
    worst = 0.0
    for expr, limit in CORPUS:
        got = numpy_of(keras_schedule(expr)(steps))
        worst = max(worst, compare(expr, got, steps, limit))
        for t in (2**24 + 1, 2**25 + 3, 2**40):  # Python ints, one at a time
            if limit is None or t <= limit:
                compare(expr, [float(numpy_of(keras_schedule(expr)(t)))], [t], limit)
    return f"{len(CORPUS)} expressions x {steps.size} steps (NumPy int64), worst {worst:.1e}"


def _compiled(fn):
    """``fn`` compiled the way this backend compiles: XLA on TF, jax.jit on JAX."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True, autograph=False)
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    raise AssertionError("no compiler for " + BACKEND)


if BACKEND in ("tensorflow", "jax"):

    @check
    def conformance_compiled():
        steps = _traced_steps()
        scheds = [keras_schedule(e) for e, _ in CORPUS]
        run = _compiled(lambda t: K.stack([s(t) for s in scheds]))
        got = numpy_of(run(to_tensor(steps)))
        worst = max(compare(e, got[i], steps, lim) for i, (e, lim) in enumerate(CORPUS))
        # one step at a time, as an optimizer calls it (a scalar traced step)
        one = _compiled(lambda t: K.stack([s(t) for s in scheds]))
        for t in BIG + ([] if int_dtype() == "int32" else HUGE):
            v = numpy_of(one(to_tensor(t)))
            for i, (e, lim) in enumerate(CORPUS):
                compare(e, [v[i]], [t], lim)
        how = "tf.function(jit_compile=True)" if BACKEND == "tensorflow" else "jax.jit"
        return f"{how}: {len(CORPUS)} expressions x {steps.size} steps, worst {worst:.1e}"


@check
def large_steps_exact():
    """The position inside a cycle comes from the integer step: exact beyond 2^24."""
    s = keras_schedule("triangular(0, 1, step=1000)")

    def exact(t):
        pos = t % 2000
        return pos / 1000 if pos <= 1000 else (2000 - pos) / 1000

    out = []
    for t in (2**24 + 1, 2**25 + 3, 2**31 - 1, 2**40, 2**40 + 777):
        if t < 2**31 or int_dtype() == "int64":
            got = float(numpy_of(s(to_tensor(t))))
            assert abs(got - exact(t)) <= 1e-7, (t, got, exact(t))
        got = float(numpy_of(s(t)))  # a Python int: exact on the host at any size
        assert abs(got - exact(t)) <= 1e-7, (t, got, exact(t))
        out.append(f"{t}: {got:.6f}")
    # the naive route (float32 step first) is off here, so the check above has teeth
    naive = float(np.float32(2**24 + 1)) % 2000
    assert abs(naive / 1000 - exact(2**24 + 1)) > 1e-4
    return ", ".join(out)


@check
def step_types():
    s = keras_schedule("linear(0, 1, over=100)")
    v = s(50)
    assert tuple(v.shape) == () and keras.backend.standardize_dtype(v.dtype) == "float32"
    assert abs(float(numpy_of(v)) - 0.5) < 1e-7
    assert float(numpy_of(s(np.int16(50)))) == np.float32(0.5)
    assert float(numpy_of(s(50.0))) == np.float32(0.5)  # an integral float is a step
    assert float(numpy_of(s(-5))) == 0.0  # before the start: step 0
    assert float(numpy_of(s(to_tensor(-5)))) == 0.0
    assert float(numpy_of(s(K.convert_to_tensor(50.7, dtype="float32")))) == np.float32(0.5)  # floored
    assert float(numpy_of(s(keras.Variable(25, dtype=int_dtype(), trainable=False)))) == np.float32(0.25)
    assert numpy_of(s(range(4))).shape == (4,)
    assert numpy_of(keras_schedule("constant(0.05)")(np.arange(3))).tolist() == [np.float32(0.05)] * 3
    assert numpy_of(keras_schedule("constant(0.05)")(to_tensor([1, 2]))).shape == (2,)
    try:
        s(50.5)
    except TypeError as exc:
        assert "integers" in str(exc)
    else:
        raise AssertionError("a fractional step was accepted")
    return "ints, NumPy ints, integral floats, float tensors (floored), variables, negatives"


@check
def past_the_end_holds():
    s = keras_schedule("onecycle(1, total=100)")
    end = float(numpy_of(s(99)))
    steps = [100, 10**6, 2**31 - 1] + ([2**40] if int_dtype() == "int64" else [])
    assert (numpy_of(s(to_tensor(steps))) == np.float32(end)).all()
    assert float(numpy_of(s(2**40))) == np.float32(end)
    return f"holds {end:.3g}"


# -- serialization ----------------------------------------------------------------------


@check
def serialize_deserialize():
    sched = keras.optimizers.schedules
    for expr in SHAPES:
        s = keras_schedule(expr)
        cfg = s.get_config()
        assert cfg == {"expr": clrdsl.check(expr, **BINDINGS).expr,
                       "bindings": clrdsl.check(expr, **BINDINGS).bindings_dict}, cfg
        json.dumps(cfg)
        d = sched.serialize(s)
        assert d["registered_name"] == "clrdsl>Schedule", d
        back = sched.deserialize(json.loads(json.dumps(d)))
        assert type(back) is clrdsl_keras.Schedule and back.get_config() == cfg
        steps = np.arange(0, 300, 7)
        np.testing.assert_array_equal(numpy_of(back(steps)), numpy_of(s(steps)))
        opt = keras.optimizers.SGD(learning_rate=s)
        opt2 = keras.optimizers.SGD.from_config(
            json.loads(json.dumps(keras.saving.serialize_keras_object(opt)))["config"])
        assert opt2._learning_rate.get_config() == cfg
    return f"{len(SHAPES)} expressions"


def probe_model(lr, jit=None, momentum=0.0, eager=False):
    """A model whose SGD step reveals the learning rate it used (see :class:`Probe`)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False,
                                                                    kernel_initializer="zeros")])
    kw = {} if jit is None else {"jit_compile": jit}
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=momentum), loss="mae",
                  run_eagerly=eager, **kw)
    return model


def probe_data(n):
    # y far below the prediction: the MAE gradient with respect to the kernel is exactly 1
    return np.ones((4 * n, 1), "float32"), np.full((4 * n, 1), -1e6, "float32")


def sync(model):
    fn = getattr(model, "jax_state_sync", None)
    if fn is not None:
        fn()


class Probe(keras.callbacks.Callback):
    """Zeroes the kernel before each batch and reads it after: with a gradient of 1,
    plain SGD leaves ``-lr`` there (with momentum, the new velocity). This is the
    rate the compiled train step really used."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def _kernel(self):
        return self.model.layers[-1].kernel

    def on_train_batch_begin(self, batch, logs=None):
        sync(self.model)
        self._kernel().assign(np.zeros((1, 1), "float32"))

    def on_train_batch_end(self, batch, logs=None):
        sync(self.model)
        self.seen.append(-float(numpy_of(self._kernel())[0, 0]))


def fit(model, n, callbacks, epochs=1):
    x, y = probe_data(n)
    model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)


JIT = {"tensorflow": True, "jax": True, "torch": None}[BACKEND]


@check
def fit_lr_per_batch():
    """``model.fit`` (jit_compile=True on TF and JAX): the rate used per batch is NumPy's."""
    out = []
    for expr, start in (("triangular2(0.001, 0.006, step=5)", 0), ("onecycle(0.01, total=30)", 0),
                        ("triangular(0.001, 0.006, step=1000)", 2**24 - 3),
                        ("triangular(0.001, 0.006, step=1000)", 2**25 + 1)):
        model = probe_model(keras_schedule(expr), jit=JIT)
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(start)
        probe = Probe()
        fit(model, 8, [probe], epochs=4)
        sync(model)
        assert int(numpy_of(model.optimizer.iterations)) == start + 32
        compare(expr, probe.seen, np.arange(start, start + 32))
        out.append(f"{expr} from {start}")
    return f"jit_compile={JIT}: " + "; ".join(out)


@check
def save_models_for_reload():
    """Save one model per standard-library shape (and one trained model) for ``--load``."""
    os.makedirs(os.path.join(WORKDIR, BACKEND), exist_ok=True)
    manifest = []
    for i, expr in enumerate(SHAPES):
        model = probe_model(keras_schedule(expr))
        model.optimizer.build(model.trainable_variables)
        k = 37 + 11 * i
        model.optimizer.iterations.assign(k)
        path = os.path.join(WORKDIR, BACKEND, f"shape{i}.keras")
        model.save(path)
        with zipfile.ZipFile(path) as z:
            cfg = z.read("config.json").decode()
        canon = clrdsl.check(expr, **BINDINGS).expr
        assert json.dumps(canon)[1:-1] in cfg, "the expression text is not in the saved config"
        manifest.append({"expr": expr, "path": path, "iterations": k})
    # a trained model, to resume
    expr = "triangular2(0.001, 0.006, step=5)"
    model = probe_model(keras_schedule(expr), jit=JIT)
    fit(model, 13, [])
    path = os.path.join(WORKDIR, BACKEND, "trained.keras")
    model.save(path)
    manifest.append({"expr": expr, "path": path, "iterations": 13, "resume": True})
    with open(os.path.join(WORKDIR, BACKEND, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return f"{len(manifest)} models"


# -- the callback -----------------------------------------------------------------------


def clr_reference(base, max_, step, n, mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                  start=0):
    """The CLR callback's formula (bckenstler/CLR ``clr()``) at cycle iterations start..start+n-1."""
    it = np.arange(start, start + n, dtype=np.float64)
    cycle = np.floor(1 + it / (2 * step))
    x = np.abs(it / step - 2 * cycle + 1)
    if scale_fn is None:
        scale_fn, scale_mode = {"triangular": (lambda c: 1.0, "cycle"),
                                "triangular2": (lambda c: 1 / (2.0 ** (c - 1)), "cycle"),
                                "exp_range": (lambda i: gamma**i, "iterations")}[mode]
    s = scale_fn(cycle) if scale_mode == "cycle" else scale_fn(it)
    return base + (max_ - base) * np.maximum(0, 1 - x) * s


def assert_f32(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    bad = np.abs(got - want) > 4e-6 * np.max(np.abs(want))
    assert not bad.any(), f"{what}: first mismatch at {np.flatnonzero(bad)[0]}: " \
                          f"{got[bad][0]!r} != {want[bad][0]!r}"


@check
def callback_matches_clr():
    n, s, b, m = 26, 4, 0.001, 0.006
    sine = lambda c: 0.5 * (1 + np.sin(c * np.pi / 2))  # noqa: E731  (the CLR README's custom policy)
    cases = {
        "triangular": (f"triangular({b}, {m}, step={s})", clr_reference(b, m, s, n)),
        "triangular2": (f"triangular2({b}, {m}, step={s})", clr_reference(b, m, s, n, "triangular2")),
        "exp_range": (f"exp_range({b}, {m}, step={s}, gamma=0.97)",
                      clr_reference(b, m, s, n, "exp_range", gamma=0.97)),
        # CLR's cycle is 1-based, ours 0-based
        "custom cycle scale": (f"triangular({b}, {m}, step={s}) * scale(0.5 * (1 + sin((x + 1) * pi / 2)), "
                               "on=cycle)", clr_reference(b, m, s, n, scale_fn=sine)),
        # the CLR README's linear range test: triangular over the whole run
        "linear range test": (f"range_test({b}, 0.1, over={n - 1}, mode=linear)",
                              clr_reference(b, 0.1, n - 1, n)),
        # the torch-lr-finder exponential ramp: start * (end/start) ** (t/(n-1))
        "exp range test": (f"range_test(1e-5, 1, over={n - 1})", 1e-5 * (1e5 ** (np.arange(n) / (n - 1)))),
    }
    model = probe_model(0.01, jit=JIT)  # one compiled model for all: the rate is a variable
    out = []
    for name, (expr, want) in cases.items():
        cb, probe = clrdsl_keras.ScheduleCallback(expr), Probe()
        fit(model, n, [cb, probe])
        h = cb.history
        assert_f32(h["lr"], want, name)
        assert_f32(probe.seen, want, name + " (rate used by the train step)")
        assert h["iterations"] == list(range(1, n + 1)), h["iterations"]
        assert len(h["loss"]) == n and all(np.isfinite(h["loss"]))
        assert cb.clock == n
        out.append(name)
    return f"jit_compile={JIT}: " + ", ".join(out)


@check
def callback_reset_and_continue():
    """CLR's README: after ``_reset`` the cycle starts over at full range (new bounds);
    the global iteration count goes on. A second ``fit`` continues the cycle."""
    model = probe_model(0.01, jit=JIT)
    cb, probe = clrdsl_keras.ScheduleCallback("triangular2(0.001, 0.006, step=3)"), Probe()
    fit(model, 10, [cb, probe])
    fit(model, 5, [cb, probe])  # carries on: cycle iterations 10..14
    first = clr_reference(0.001, 0.006, 3, 15, "triangular2")
    # CLR: _reset(new_base_lr=.002, new_max_lr=.01, new_step_size=2)
    cb.reset("triangular2(0.002, 0.01, step=2)")
    assert cb.clock == 0
    fit(model, 9, [cb, probe])
    second = clr_reference(0.002, 0.01, 2, 9, "triangular2")
    cb.reset()  # CLR: _reset() -- same bounds, cycle from 0
    fit(model, 4, [cb, probe])
    third = clr_reference(0.002, 0.01, 2, 4, "triangular2")
    want = np.concatenate([first, second, third])
    assert_f32(cb.history["lr"], want, "history")
    assert_f32(probe.seen, want, "rate used")
    assert cb.history["iterations"] == list(range(1, 29)) and cb.iterations == 28
    return "reset(expr), reset(), and a second fit continuing the cycle"


@check
def callback_momentum():
    """Momentum per batch (eager step): the velocity follows the scheduled momentum."""
    lr_expr, mom_expr = "triangular(0.01, 0.05, step=3)", "0.95 + 0.85 - triangular(0.85, 0.95, step=3)"
    eager = BACKEND != "torch"  # torch's default step is eager already
    model = probe_model(0.01, momentum=0.9, eager=eager)
    cb, probe = clrdsl_keras.ScheduleCallback(lr_expr, momentum=mom_expr), Probe()
    n = 14
    fit(model, n, [cb, probe])
    lr, mom = numpy_values(lr_expr, np.arange(n)), numpy_values(mom_expr, np.arange(n))
    assert_f32(cb.history["momentum"], mom, "momentum history")
    v, want = 0.0, []
    for k in range(n):  # Keras SGD: v = momentum * v - lr * g; w += v (the probe reads -v)
        v = np.float32(mom[k]) * np.float32(v) - np.float32(lr[k])
        want.append(-float(v))
    assert_f32(probe.seen, want, "velocity")
    return f"run_eagerly={eager}: momentum and velocity match over {n} batches"


@check
def callback_errors():
    def raises(code, fn):
        try:
            fn()
        except clrdsl.ClrdslError as exc:
            assert exc.code == code, (exc.code, str(exc))
            return str(exc)
        raise AssertionError(f"expected {code}")

    x, y = probe_data(2)
    m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adagrad(0.01), loss="mae", run_eagerly=True)
    msg = raises("E612", lambda: m.fit(x, y, verbose=0, callbacks=[
        clrdsl_keras.ScheduleCallback("constant(0.01)", momentum="constant(0.9)")]))
    assert "initial_accumulator_value" in msg and "epsilon" in msg, msg  # lists what it has
    m = probe_model(0.01, eager=True)
    raises("E612", lambda: m.fit(x, y, verbose=0, callbacks=[
        clrdsl_keras.ScheduleCallback("constant(0.01)", momentum="constant(0.9)")]))
    m = probe_model(0.01, momentum=0.9, jit=True if BACKEND == "torch" else JIT)
    if BACKEND == "torch":
        m.jit_compile = True  # compiled with torch.compile: momentum would be frozen
    raises("E613", lambda: m.fit(x, y, verbose=0, callbacks=[
        clrdsl_keras.ScheduleCallback("constant(0.01)", momentum="constant(0.9)")]))
    m = probe_model(keras_schedule("constant(0.01)"))
    raises("E611", lambda: m.fit(x, y, verbose=0,
                                 callbacks=[clrdsl_keras.ScheduleCallback("constant(0.02)")]))
    # Adam's beta_1 is its momentum
    m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mae", run_eagerly=True)
    cb = clrdsl_keras.ScheduleCallback("constant(0.01)", momentum="linear(0.9, 0.8, over=3)")
    m.fit(x, y, batch_size=4, verbose=0, callbacks=[cb])
    assert abs(m.optimizer.beta_1 - (0.9 - 0.1 / 3)) < 1e-12, m.optimizer.beta_1  # the 2nd batch's
    return "E611 (rate is a schedule), E612 (no momentum / zero momentum), E613 (compiled), Adam beta_1"


# -- the fresh process: reload -------------------------------------------------------------


def load_checks():
    CHECKS.clear()

    @check
    def registered_by_import_clrdsl():
        assert HOOK_LOADED, "clrdsl_keras was not imported when Keras was"
        obj = keras.saving.get_registered_object("clrdsl>Schedule")
        assert obj is clrdsl_keras.Schedule, obj
        return "keras first" if BACKEND == "torch" else "clrdsl first"

    @check
    def reload_every_shape():
        with open(os.path.join(WORKDIR, BACKEND, "manifest.json")) as f:
            manifest = json.load(f)
        for m in manifest:
            model = keras.models.load_model(m["path"])  # no custom_objects
            opt = model.optimizer
            assert type(opt._learning_rate) is clrdsl_keras.Schedule, type(opt._learning_rate)
            assert opt._learning_rate.get_config()["expr"] == clrdsl.check(m["expr"], **BINDINGS).expr
            k = int(numpy_of(opt.iterations))
            assert k == m["iterations"], (k, m)
            compare(m["expr"], [float(numpy_of(opt.learning_rate))], [k])
            if m.get("resume"):
                probe = Probe()
                fit(model, 12, [probe])
                compare(m["expr"], probe.seen, np.arange(k, k + 12))
                sync(model)
                assert int(numpy_of(model.optimizer.iterations)) == k + 12
        return f"{len(manifest)} models reloaded; training resumed at step {k}"


def main():
    if LOAD:
        load_checks()
    results = {}
    for name, fn in CHECKS.items():
        try:
            results[name] = {"ok": True, "detail": str(fn())}
        except Exception:
            results[name] = {"ok": False, "detail": traceback.format_exc()[-3000:]}
    name = f"{BACKEND}-load.json" if LOAD else f"{BACKEND}.json"
    with open(os.path.join(WORKDIR, name), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
