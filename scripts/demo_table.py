"""The README's demo table, computed from the demo's own ``results.json``.

    python scripts/demo_table.py clrdsl-demo/results.json            # print the section
    python scripts/demo_table.py docs/demo-results.json --write README.md

The section between ``<!-- demo-table:start -->`` and ``<!-- demo-table:end -->`` is the
output of this script for the results file named in it; a test checks that README.md
holds exactly that. Accuracy is the test accuracy after the last update, the mean and
the sample standard deviation over the evaluation seeds; "iterations to X%" is the first
evaluation at which the mean curve reaches fixed LR's final mean accuracy.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

START, END = "<!-- demo-table:start -->", "<!-- demo-table:end -->"
ORDER = [("fixed", "full")] + [(p, b) for b in ("full", "half")
                               for p in ("triangular", "triangular2", "exp_range", "onecycle")]


def _rows(results: dict) -> list[tuple[str, int, float, float, int, int | None]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in results["runs"]:
        groups.setdefault((run["policy"], run["budget"]), []).append(run)
    stats = {}
    for key in ORDER:
        runs = groups.get(key)
        if not runs:
            continue
        finals = [100 * r["accuracy"][-1] for r in runs]
        its = runs[0]["iterations"]
        mean_curve = [100 * statistics.fmean(r["accuracy"][i] for r in runs) for i in range(len(its))]
        sd = statistics.stdev(finals) if len(finals) > 1 else 0.0
        stats[key] = (runs[0]["iterations"][-1], statistics.fmean(finals), sd, len(runs), its, mean_curve)
    target = stats[("fixed", "full")][1]
    out = []
    for (policy, _), (n_it, mean, sd, n, its, curve) in stats.items():
        reach = next((it for it, a in zip(its, curve) if a >= target - 1e-9), None)
        out.append((policy, n_it, mean, sd, n, reach))
    return out


def section(results: dict, source: str) -> str:
    rows = _rows(results)
    fixed = rows[0]
    m = results.get("machine") or {}
    lr = results["fixed_lr"]
    head = ("policy", "iterations", "accuracy (%)", f"iterations to {fixed[2]:.1f}%")
    body = [(p + (f" (lr={lr:.3g})" if p == "fixed" else ""), f"{n:,}", f"{mean:.1f} ± {sd:.1f}",
             f"{reach:,}" if reach is not None else "—") for p, n, mean, sd, _, reach in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(4)]
    line = lambda r: "| " + " | ".join(  # noqa: E731
        v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    seeds = sorted({r["seed"] for r in results["runs"]})
    where = (f"{m.get('cpus', '?')} CPUs, {m.get('platform', 'unknown platform')}, Python {m.get('python', '?')}, "
             f"torch {m.get('torch', '?')}") if m else "machine not recorded"
    return "\n".join([
        START,
        f"Measured by `clrdsl demo` ({results['workers']} worker processes, {results['seconds']:.0f} s) on "
        f"{where}; written from `{source}` by `scripts/demo_table.py`. Accuracy: mean ± sample standard "
        f"deviation of the final test accuracy over {len(seeds)} evaluation seeds ({', '.join(map(str, seeds))}).",
        "",
        line(head), sep, *[line(r) for r in body],
        END,
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="a results.json written by `clrdsl demo`")
    ap.add_argument("--write", metavar="MARKDOWN", help="replace the marked section of this file")
    args = ap.parse_args(argv)
    text = section(json.loads(Path(args.results).read_text(encoding="utf-8")), Path(args.results).as_posix())
    if not args.write:
        print(text)
        return 0
    page = Path(args.write)
    old = page.read_text(encoding="utf-8")
    if START not in old or END not in old:
        print(f"{page}: no {START} ... {END} section", file=sys.stderr)
        return 1
    page.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: text, old, flags=re.S),
                    encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
