"""The demo's table with more statistical power: 5 evaluation seeds, a separate tuning seed.

Opt-in (not run in CI). Same protocol as ``clrdsl demo`` (see
``clrdsl_demo/experiment.py``): the range test and the fixed-LR grid use tuning seed 10
and validation data only; seeds 11-15 are evaluated on the test set. The grid is finer
(six fractions of the range test's max instead of four).

    python benchmarks/bench_clr_demo.py                 # one worker per core
    python benchmarks/bench_clr_demo.py --workers 2 --out bench-out

Prints the table and the verdict, and writes the plots and results.json to ``--out``.

    python benchmarks/bench_clr_demo.py --rules 5       # how steady is each suggestion rule?

runs the demo's range test from tuning seeds 0-4 instead and prints, per rule, the
suggested bounds and how far the suggested max moved between seeds (max/min ratio).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=0, help="worker processes (0: one per core)")
    ap.add_argument("--seeds", type=int, default=5, help="evaluation seeds (11, 12, ...)")
    ap.add_argument("--out", default="clrdsl-bench", help="where plots and results.json go")
    ap.add_argument("--progress", action="store_true", help="show progress bars")
    ap.add_argument("--rules", type=int, default=0, metavar="N",
                    help="compare the suggestion rules over N range tests instead")
    args = ap.parse_args(argv)
    if args.rules:
        return compare_rules(args.rules)

    from clrdsl_demo import experiment, table

    cfg = replace(experiment.BENCHMARK, workers=args.workers,
                  seeds=tuple(range(11, 11 + args.seeds)))
    result = experiment.run(cfg, progress=args.progress, log=lambda s: print(s, file=sys.stderr))
    print(table.report(result, args.out))
    return 0


def compare_rules(n: int) -> int:
    import torch

    from clrdsl_demo import experiment

    torch.set_num_threads(1)
    cfg = experiment.DEFAULT
    data, val = experiment.load_data(cfg)
    rules = ("paper", "loss", "steepest", "valley")
    found: dict[str, list] = {r: [] for r in rules}
    for seed in range(n):
        rt = experiment.torch_range_test(data, val, seed, start=cfg.range_start, end=cfg.range_end,
                                         steps=cfg.range_steps)
        for r in rules:
            found[r].append(tuple(rt.suggest(r)))
    print(f"Suggested (base, max) from {n} range tests ({rt.schedule}, tuning seeds 0-{n - 1}):\n")
    print("| rule | " + " | ".join(f"seed {s}" for s in range(n)) + " | max/min of max |")
    print("|---|" + "---|" * n + "---:|")
    for r in rules:
        tops = [t for _, t in found[r]]
        cells = " | ".join(f"{b:.3g}–{t:.3g}" for b, t in found[r])
        print(f"| {r} | {cells} | {max(tops) / min(tops):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
