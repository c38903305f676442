"""In-graph cost of a clrdsl Keras schedule against Keras's own CosineDecay.

Each pair gives the same values (checked before timing): one phase, then two (a linear
warmup, then a cosine to alpha * target):

    cosine(1e-3, 1e-4, over=9000)
    keras.optimizers.schedules.CosineDecay(1e-3, 9000, alpha=0.1)

    warmup_cosine(1e-3, warmup=1000, decay=9000, end=1e-4)
    keras.optimizers.schedules.CosineDecay(0.0, 9000, alpha=0.1, warmup_target=1e-3,
                                           warmup_steps=1000)

An optimizer calls its schedule once per update with a scalar step, inside the
compiled train step. So each row runs a compiled loop of N such calls (a
``tf.while_loop`` in a ``tf.function``, with and without XLA; a ``lax.fori_loop``
under ``jax.jit``) that sums the rates, and reports the time per call with the cost
of an empty loop (timed in the same run) subtracted. The net ratio ours / Keras is the
figure of merit: PASS at <= 1.0x, else MISS. Each loop runs at growing sizes N, so the
cost per call shows how it scales. Each Keras backend runs in its own process
(``KERAS_BACKEND``).

    python benchmarks/bench_keras.py            # tensorflow and jax
    python benchmarks/bench_keras.py --n 2000,20000 --backends tensorflow
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TARGET = 1.0
# (clrdsl expression, keyword arguments of Keras's CosineDecay): 1 phase, then 2
PAIRS = [
    ("cosine(1e-3, 1e-4, over=9000)", dict(initial_learning_rate=1e-3, decay_steps=9000, alpha=0.1)),
    ("warmup_cosine(1e-3, warmup=1000, decay=9000, end=1e-4)",
     dict(initial_learning_rate=0.0, decay_steps=9000, alpha=0.1, warmup_target=1e-3, warmup_steps=1000)),
]


def _interleaved(fns, repeats):
    """Best time of each function, running them in turn so that load from other
    processes hits all of them alike."""
    for fn in fns:
        fn()  # compile / warm up
    best = [float("inf")] * len(fns)
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            t0 = time.perf_counter()
            fns[i]()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def measure(backend: str, sizes: list[int], repeats: int) -> list[dict]:
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import clrdsl

    rows = []
    for expr, kwargs in PAIRS:
        ours = clrdsl.compile(expr, backend="keras")
        theirs = keras.optimizers.schedules.CosineDecay(**kwargs)
        value = keras.ops.convert_to_numpy
        diff = max(abs(float(value(ours(t))) - float(value(theirs(t))))  # Keras takes scalars only
                   for t in (0, 1, 500, 999, 1000, 1001, 5000, 9999, 10000, 12000))
        assert diff < 1e-8, f"{expr}: the two schedules differ by {diff}"
        for n in sizes:
            for mode, loop in _loops(backend, n):
                rows.append(dict(_row(n, repeats, loop(ours), loop(theirs), loop(None)), mode=mode, expr=expr, n=n))
    return rows


def _loops(backend, n):
    if backend == "tensorflow":
        import tensorflow as tf

        for jit in (False, True):
            def loop(sched, jit=jit):
                @tf.function(jit_compile=jit, autograph=False)
                def run():
                    def body(i, acc):
                        return i + 1, acc + (sched(i) if sched else tf.cast(i, tf.float32) * 0.0)

                    return tf.while_loop(lambda i, acc: i < n, body,
                                         (tf.constant(0, tf.int64), tf.constant(0.0)))[1]

                return lambda: run().numpy()

            yield f"tf.function{' + XLA' if jit else ''}", loop
    elif backend == "jax":
        import jax

        def loop(sched):
            def body(i, acc):
                return acc + (sched(i) if sched else i.astype("float32") * 0.0)

            run = jax.jit(lambda: jax.lax.fori_loop(0, n, body, jax.numpy.float32(0.0)))
            return lambda: run().block_until_ready()

        yield "jax.jit", loop
    else:
        raise SystemExit(f"no compiled loop for backend {backend!r}")


def _row(n, repeats, ours, theirs, empty):
    t_ours, t_theirs, t_empty = _interleaved([ours, theirs, empty], repeats)
    net_ours, net_theirs = max(t_ours - t_empty, 1e-12), max(t_theirs - t_empty, 1e-12)
    return {"ours_ns": 1e9 * t_ours / n, "keras_ns": 1e9 * t_theirs / n, "empty_ns": 1e9 * t_empty / n,
            "ratio": net_ours / net_theirs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="2000,20000", help="schedule calls per loop (comma-separated sizes)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--backends", default="tensorflow,jax")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(x) for x in args.n.split(",")]
    if args.worker:
        print(json.dumps(measure(args.worker, sizes, args.repeats)))
        return
    rows = []
    for backend in args.backends.split(","):
        out = subprocess.run([sys.executable, __file__, "--worker", backend, "--n", args.n,
                              "--repeats", str(args.repeats)], capture_output=True, text=True)
        if out.returncode:
            print(f"{backend}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        rows += [dict(r, backend=backend) for r in json.loads(out.stdout.strip().splitlines()[-1])]
    print(f"clrdsl vs keras CosineDecay: N scalar calls in a compiled loop, best of {args.repeats} "
          "(interleaved); ns per call; net = the empty loop subtracted\n")
    print(f"{'expression':<56} {'backend':<11} {'mode':<18} {'N':>6} {'clrdsl':>8} {'keras':>8} {'empty':>8} "
          f"{'net':>6}")
    misses = 0
    for r in rows:
        verdict = "PASS" if r["ratio"] <= TARGET else "MISS"
        misses += verdict == "MISS"
        print(f"{r['expr']:<56} {r['backend']:<11} {r['mode']:<18} {r['n']:>6} {r['ours_ns']:>8.1f} "
              f"{r['keras_ns']:>8.1f} {r['empty_ns']:>8.1f} {r['ratio']:>5.2f}x {verdict}")
    print(f"\ntarget: net ratio <= {TARGET:.1f}x; {misses} row(s) missed it")


if __name__ == "__main__":
    main()
