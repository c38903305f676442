"""NumPy backend speed, as ratios against hand-written code measured in the same run.

    python benchmarks/bench_numpy.py [--steps 10000000] [--repeat 5]

Rows:

- evaluation of the mission example over 10^7 steps, against the same formula written
  by hand in NumPy (target: <= 1.25x);
- evaluation of a sequence (``warmup_cosine``) against a hand-written ``np.where``;
- one step through the Python-float code (``clrdsl.evaluation.scalar``, what the torch backend steps
  with) against the formula written by hand with ``math``;
- a sequence of n phases over 10^6 steps against one phase, for n = 10, 100, 1,000 (each
  phase runs on its own steps only; target: 1,000 phases <= 3x one phase), and the same
  1,000 phases over the steps shuffled (no target: steps out of order are sorted first);
- check + compile of the mission example, warm (target: < 1 ms), against one evaluation
  of a single step (to put the figure in proportion).

Each timing is the best of ``--repeat`` runs. Results are checked for agreement before
timing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

import clrdsl
from clrdsl.evaluation.scalar import scalar_function

MISSION = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
WARMUP_COSINE = "warmup_cosine(0.1, warmup=1000, decay=99000, end=0.001)"


def hand_mission(t):
    pos = np.mod(t, 4000).astype(np.float64)
    tri = np.where(pos <= 2000, pos / 2000, (4000 - pos) / 2000)
    return 0.001 + 0.005 * tri * np.power(0.99994, t.astype(np.float64))


def hand_warmup_cosine(t):
    tf = t.astype(np.float64)
    warm = 0.1 * np.minimum(tf, 1000) / 1000
    p = np.clip(tf - 1000, 0, 99000) / 99000
    cos = 0.001 + (0.1 - 0.001) / 2 * (1 + np.cos(np.pi * p))
    return np.where(t < 1000, warm, cos)


def hand_mission_scalar(t):
    pos = t % 4000
    tri = pos / 2000 if pos <= 2000 else (4000 - pos) / 2000
    return 0.001 + 0.005 * tri * math.pow(0.99994, t)


def timed(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def best_pair(ours, peer, repeat, number=1):
    """Best-of-``repeat`` times of two functions, run alternately so that a change in
    the machine's load affects both alike."""
    a, b = [], []
    for _ in range(repeat):
        a.append(timed(ours, number))
        b.append(timed(peer, number))
    return min(a), min(b)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10**7)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    t = np.arange(args.steps, dtype=np.int64)
    mission = clrdsl.compile(MISSION)
    warm = clrdsl.compile(WARMUP_COSINE)
    scalar = scalar_function(clrdsl.check(MISSION))
    np.testing.assert_allclose(mission(t[:100_000]), hand_mission(t[:100_000]), rtol=1e-12)
    np.testing.assert_allclose(warm(t[:200_000]), hand_warmup_cosine(t[:200_000]), rtol=1e-12, atol=1e-15)
    for s in (0, 1999, 2000, 4001, 123_457):
        assert math.isclose(scalar(s), hand_mission_scalar(s), rel_tol=1e-12)

    rows = []

    def row(what, times, peer_name, target=None):
        ours, peer = times
        rows.append((what, ours, peer, peer_name, ours / peer, target))

    n = f"{args.steps:.0e}".replace("e+0", "e")
    row(f"mission example, {n} steps", best_pair(lambda: mission(t), lambda: hand_mission(t), args.repeat),
        "hand-written NumPy", 1.25)
    row(f"warmup_cosine (a sequence), {n} steps",
        best_pair(lambda: warm(t), lambda: hand_warmup_cosine(t), args.repeat), "hand-written np.where")
    steps = range(0, 20_000, 7)
    per_step = best_pair(lambda: [scalar(s) for s in steps], lambda: [hand_mission_scalar(s) for s in steps],
                         args.repeat)
    row("mission example, one step (Python floats)", [x / len(steps) for x in per_step], "hand-written math")
    phases_ratio = None
    t6 = np.arange(10**6, dtype=np.int64)
    one = clrdsl.compile(f"linear(0.1, 0.05, over={10**6})")
    for n in (10, 100, 1000):
        seq = clrdsl.compile(" >> ".join(f"linear({0.1 + i % 7 * 0.01}, 0.05, over={10**6 // n})"
                                         for i in range(n)))
        times = best_pair(lambda: seq(t6), lambda: one(t6), args.repeat)
        row(f"{n:,} phases, 1e6 steps", times, "one phase, 1e6 steps", 3.0 if n == 1000 else None)
        phases_ratio = times[0] / times[1]
    # steps out of order take the other path (a stable sort groups each phase's steps)
    shuffled = np.random.default_rng(0).permutation(t6)
    times = best_pair(lambda: seq(shuffled), lambda: one(shuffled), args.repeat)
    row("1,000 phases, 1e6 shuffled steps", times, "one phase, the same steps")
    clrdsl.compile(MISSION)  # warm: grammar, prelude, entry points loaded
    times = best_pair(lambda: clrdsl.compile(MISSION), lambda: mission(1234), args.repeat, number=200)
    compile_time = times[0]
    row("check + compile of the mission example (warm)", times, "one NumPy call on one step")

    print(f"clrdsl NumPy benchmark  (python {sys.version.split()[0]}, numpy {np.__version__})\n")
    header = f"{'what':<48} {'ours':>11} {'peer':>11}  {'peer is':<28} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for what, ours, peer, peer_name, ratio, target in rows:
        tgt = f"<= {target:g}x" if target else ""
        print(f"{what:<48} {_fmt(ours):>11} {_fmt(peer):>11}  {peer_name:<28} {ratio:>6.2f}x  {tgt}")
    print(f"\ncheck + compile, warm: {compile_time * 1e3:.3f} ms (target < 1 ms)")
    print(f"1,000 phases / one phase over 1e6 steps: {phases_ratio:.2f}x (target <= 3x)")
    ok = rows[0][4] <= 1.25 and compile_time < 1e-3 and phases_ratio <= 3.0
    print("targets met" if ok else "TARGETS MISSED")
    return 0


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} us"


if __name__ == "__main__":
    sys.exit(main())
