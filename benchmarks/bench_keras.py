"""In-graph cost of a clrdsl Keras schedule against Keras's own CosineDecay with warmup.

Both schedules give the same values (linear warmup, then a cosine to alpha * target):

    warmup_cosine(1e-3, warmup=1000, decay=9000, end=1e-4)
    keras.optimizers.schedules.CosineDecay(0.0, 9000, alpha=0.1, warmup_target=1e-3,
                                           warmup_steps=1000)

An optimizer calls its schedule once per update with a scalar step, inside the
compiled train step. So each row runs a compiled loop of N such calls (a
``tf.while_loop`` in a ``tf.function``, with and without XLA; a ``lax.fori_loop``
under ``jax.jit``) that sums the rates, and reports the time per call with the cost
of an empty loop subtracted. The ratio ours / Keras is the figure of merit (target
<= 1.5x). Each Keras backend runs in its own process (``KERAS_BACKEND``).

    python benchmarks/bench_keras.py            # tensorflow and jax
    python benchmarks/bench_keras.py --n 200000 --backends tensorflow
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

EXPR = "warmup_cosine(1e-3, warmup=1000, decay=9000, end=1e-4)"


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


def measure(backend: str, n: int, repeats: int) -> list[dict]:
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import clrdsl

    ours = clrdsl.compile(EXPR, backend="keras")
    theirs = keras.optimizers.schedules.CosineDecay(0.0, 9000, alpha=0.1, warmup_target=1e-3,
                                                    warmup_steps=1000)
    value = keras.ops.convert_to_numpy
    diff = max(abs(float(value(ours(t))) - float(value(theirs(t))))  # Keras takes scalars only
               for t in (0, 1, 500, 999, 1000, 1001, 5000, 9999, 10000, 12000))
    assert diff < 1e-8, f"the two schedules differ by {diff}"
    rows = []
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

            rows.append(_row(f"tf.function{' + XLA' if jit else ''}", n, repeats,
                             loop(ours), loop(theirs), loop(None)))
    elif backend == "jax":
        import jax

        def loop(sched):
            def body(i, acc):
                return acc + (sched(i) if sched else i.astype("float32") * 0.0)

            run = jax.jit(lambda: jax.lax.fori_loop(0, n, body, jax.numpy.float32(0.0)))
            return lambda: run().block_until_ready()

        rows.append(_row("jax.jit", n, repeats, loop(ours), loop(theirs), loop(None)))
    else:
        raise SystemExit(f"no compiled loop for backend {backend!r}")
    return rows


def _row(mode, n, repeats, ours, theirs, empty):
    t_ours, t_theirs, t_empty = _interleaved([ours, theirs, empty], repeats)
    net_ours, net_theirs = max(t_ours - t_empty, 1e-12), max(t_theirs - t_empty, 1e-12)
    return {"mode": mode, "ours_ns": 1e9 * net_ours / n, "keras_ns": 1e9 * net_theirs / n,
            "ratio": net_ours / net_theirs, "gross_ratio": t_ours / t_theirs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="schedule calls per loop")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--backends", default="tensorflow,jax")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.n, args.repeats)))
        return
    rows = []
    for backend in args.backends.split(","):
        out = subprocess.run([sys.executable, __file__, "--worker", backend, "--n", str(args.n),
                              "--repeats", str(args.repeats)], capture_output=True, text=True)
        if out.returncode:
            print(f"{backend}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        rows += [dict(r, backend=backend) for r in json.loads(out.stdout.strip().splitlines()[-1])]
    print(f"schedule: {EXPR}  vs  keras CosineDecay(warmup_target, warmup_steps); "
          f"{args.n} scalar calls in a compiled loop, empty loop subtracted\n")
    print(f"{'backend':<11} {'mode':<19} {'clrdsl ns/call':>15} {'keras ns/call':>14} "
          f"{'ratio':>6} {'gross':>6}")
    for r in rows:
        print(f"{r['backend']:<11} {r['mode']:<19} {r['ours_ns']:>15.1f} {r['keras_ns']:>14.1f} "
              f"{r['ratio']:>5.2f}x {r['gross_ratio']:>5.2f}x")
    print("\ntarget: ratio <= 1.5x")


if __name__ == "__main__":
    main()
