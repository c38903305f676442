"""Regenerate the figures in docs/images/ with the `clrdsl plot` command.

    python scripts/make_doc_plots.py            # all figures
    python scripts/make_doc_plots.py onecycle   # the ones whose name contains "onecycle"

Each figure is made by the command line exactly as printed, so a reader can run the
same command. Needs the `plot` extra (matplotlib).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"

FIGURES = {
    "clr_triangular.png": ["triangular(0.001, 0.006, step=2000)", "--steps", "16000",
                           "--title", "CLR triangular"],
    "clr_triangular2.png": ["triangular2(0.001, 0.006, step=2000)", "--steps", "16000",
                            "--title", "CLR triangular2: the amplitude halves every cycle"],
    "clr_exp_range.png": ["triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)",
                          "--steps", "16000", "--title", "CLR exp_range: the amplitude shrinks by gamma per step"],
    "onecycle.png": ["onecycle(0.1, total=10_000)", "onecycle(0.1, total=10_000, three_phase=true)",
                     "--title", "1cycle (torch OneCycleLR conventions), two and three phases"],
    "warmup_cosine.png": ["warmup_cosine(0.1, warmup=1ep, decay=19ep, end=1e-4)", "--steps-per-epoch", "500",
                          "--title", "linear warmup, then cosine decay"],
}


def main(argv: list[str]) -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    for name, args in FIGURES.items():
        if argv and not any(a in name for a in argv):
            continue
        out = IMAGES / name
        cmd = [sys.executable, "-m", "clrdsl.tools.cli", "plot", *args, "-o", str(out)]
        print("clrdsl plot " + " ".join(f'"{a}"' if " " in a else a for a in args) + f" -o docs/images/{name}")
        subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
