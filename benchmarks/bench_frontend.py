"""Front-end speed: ``import clrdsl``, parsing, checking and compiling one expression.

    python benchmarks/bench_frontend.py [--runs 15]

Every figure is set beside a peer measured in the same run, and the ratio is what to
compare across machines:

* import: ``import clrdsl`` in fresh interpreters (median of ``--runs``), beside
  ``import json``, ``import lark`` (our one parsing dependency) and ``import numpy``;
  each run also confirms that no framework (torch, tensorflow, keras, jax) was imported.
* parse (warm: grammar loaded): ``clrdsl.parse`` of the mission example beside
  Python's own ``ast.parse`` of the same text (it is valid Python syntax), lark alone
  (tokens → lark tree, before our syntax tree is built), and ``json.loads`` of the
  tree's JSON form.
* check and compile (warm): parsing and checking a text, ``clrdsl.check`` of a text
  seen before (the API reuses its parse), and ``clrdsl.compile(..., "numpy")``.

Targets: import < 150 ms, warm parse < 1 ms.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import statistics
import subprocess
import sys
import timeit

MISSION = "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax")

_IMPORT_PROBE = """
import sys, time
t0 = time.perf_counter()
import {module}
dt = time.perf_counter() - t0
loaded = sorted(m for m in {frameworks!r} if m in sys.modules)
print(dt, ",".join(loaded))
"""


def import_time(module: str, runs: int) -> tuple[float, set[str]]:
    """Median seconds to import ``module`` in a fresh interpreter, and the frameworks
    any run imported along the way."""
    times, frameworks = [], set()
    code = _IMPORT_PROBE.format(module=module, frameworks=FRAMEWORKS)
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)  # warm the disk cache
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        dt, loaded = out.stdout.split(" ", 1) if " " in out.stdout else (out.stdout, "")
        times.append(float(dt))
        frameworks |= {m for m in loaded.strip().split(",") if m}
    return statistics.median(times), frameworks


def per_call(fn, repeat: int = 7) -> float:
    """Best-of-``repeat`` seconds per call (timeit's autorange picks the loop count)."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="fresh interpreters per import figure")
    args = ap.parse_args()

    rows = []

    # -- import -------------------------------------------------------------------------
    clrdsl_import, loaded = import_time("clrdsl", args.runs)
    peers = {m: import_time(m, args.runs)[0] for m in ("json", "lark", "numpy")}
    for peer, t in peers.items():
        rows.append(("import clrdsl", clrdsl_import, f"import {peer}", t, "< 150 ms" if peer == "json" else ""))

    # -- parse, check, compile (warm) ---------------------------------------------------------
    import clrdsl
    from clrdsl.language.unparse import to_json

    parse_mod = importlib.import_module("clrdsl.language.parse")
    clrdsl.parse(MISSION), clrdsl.check(MISSION), clrdsl.compile(MISSION)  # load grammar, plugins
    lark_parser = parse_mod._parser()
    tree_json = json.dumps(to_json(clrdsl.parse(MISSION)))

    t_parse = per_call(lambda: clrdsl.parse(MISSION))
    rows.append(("parse (warm)", t_parse, "ast.parse (CPython)", per_call(lambda: ast.parse(MISSION)), "< 1 ms"))
    rows.append(("parse (warm)", t_parse, "lark alone", per_call(lambda: lark_parser.parse(MISSION, start="start")), ""))
    rows.append(("parse (warm)", t_parse, "json.loads of its tree", per_call(lambda: json.loads(tree_json)), ""))
    from clrdsl.diagnostics.errors import Source
    from clrdsl.language.check import check_program

    t_full = per_call(lambda: check_program(parse_mod.parse(MISSION), Source(MISSION)))
    rows.append(("parse + check", t_full, "clrdsl.parse", t_parse, ""))
    t_check = per_call(lambda: clrdsl.check(MISSION))  # clrdsl.check reuses parses of a text it has seen
    rows.append(("check (parse reused)", t_check, "clrdsl.parse", t_parse, ""))
    t_compile = per_call(lambda: clrdsl.compile(MISSION))
    rows.append(("compile numpy", t_compile, "clrdsl.check", t_check, ""))

    # -- table ---------------------------------------------------------------------------------
    print(f"python {sys.version.split()[0]}, {args.runs} fresh interpreters per import figure\n")
    head = f"| {'measure':<22} | {'clrdsl':>10} | {'peer':<24} | {'peer time':>10} | {'ratio':>7} | {'target':<14} |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for what, ours, peer, theirs, target in rows:
        ok = ""
        if target:
            limit = 0.150 if "150" in target else 0.001
            ok = " ok" if ours < limit else " MISS"
        print(f"| {what:<22} | {_fmt(ours):>10} | {peer:<24} | {_fmt(theirs):>10} | {ours / theirs:>6.1f}x "
              f"| {(target + ok):<14} |")
    print()
    if loaded:
        print(f"FAIL: `import clrdsl` imported {', '.join(sorted(loaded))}")
        sys.exit(1)
    print(f"`import clrdsl` imported none of: {', '.join(FRAMEWORKS)} (checked in {args.runs} runs)")


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main()
