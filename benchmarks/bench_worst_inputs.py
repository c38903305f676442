"""The 64 KiB worst cases of the front end: how long clrdsl takes to answer them.

    python benchmarks/bench_worst_inputs.py [--runs 5]

Each input is set beside Python's own ``ast.parse`` of the same text (a C parser; both
refuse or accept each input), measured in the same run; the ratio is what to compare
across machines. Target: every refused case answered within 1 s, with an error and a
span. The legal 64 KiB input (parsed and checked in full) is shown for comparison.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import time

CASES = {
    "sum with unmatched )": "1+" * 32767 + ")",
    "call with 32,000 arguments": "f(" + ",".join(["1"] * 32000) + ")",
    "64 KiB sum": "+".join(["1"] * 32768),
    "64 KiB of unary minus": "-" * 65000 + "1",
    "64 KiB balanced sequence (legal)": None,  # built below
}


def _balanced() -> str:
    items = ["linear(0, 0.1, over=5)"] * 1400
    while len(items) > 1:
        items = [f"({items[i]} >> {items[i + 1]})" if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]


def _time(fn, runs: int) -> float:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            fn()
        except (Exception, RecursionError):  # noqa: BLE001 - refusing is an answer
            pass
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    import clrdsl

    clrdsl.parse("1")  # grammar loaded
    CASES["64 KiB balanced sequence (legal)"] = _balanced()
    worst = 0.0
    print(f"{'case':<36} {'clrdsl':>9} {'ast.parse':>10} {'ratio':>7}")
    for name, text in CASES.items():
        ours = _time(lambda: clrdsl.check(text), args.runs)
        peer = _time(lambda: ast.parse(text), args.runs)
        if "legal" not in name:
            worst = max(worst, ours)
        print(f"{name:<36} {ours * 1e3:8.1f}ms {peer * 1e3:9.1f}ms {ours / peer:7.1f}")
    print(f"worst refused case: {worst:.3f} s (target < 1 s)")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
