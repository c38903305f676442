"""The demo's report: a table in the form of the CLR paper's Table 1, a verdict, plots.

Rows are (policy, budget). For each: the updates it trained for, the final test
accuracy over the evaluation seeds (mean ± sample standard deviation), and the first
update at which the *mean* accuracy curve (measured every epoch) reached the fixed-LR
policy's mean final accuracy ("—" when it never did).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Smith 2017 (arXiv 1506.01186), Table 1, CIFAR-10: policy, iterations, accuracy (%).
PAPER_ROWS = (
    ("fixed", 70_000, 81.4),
    ("triangular2", 25_000, 81.4),
    ("decay", 25_000, 78.5),
    ("exp", 70_000, 79.1),
    ("exp_range", 42_000, 82.2),
)


@dataclass(frozen=True)
class Row:
    policy: str
    budget: str
    iterations: int
    mean: float
    sd: float
    n: int
    reach: int | None          # first update where the mean curve reached the fixed-LR final mean
    curve_x: np.ndarray
    curve_mean: np.ndarray
    curve_sd: np.ndarray
    prefix: bool = False       # the first half of the full-budget runs (cyclic policies)


def rows(result) -> list[Row]:
    """Aggregate the evaluation runs of a DemoResult, fixed LR first."""
    groups: dict[tuple[str, str], list] = {}
    for c in result.curves:
        if c.job.role == "eval":
            groups.setdefault((c.job.policy, c.job.budget), []).append(c)
    order = [("fixed", "full")] + [(p, b) for b in ("full", "half")
                                   for p in ("triangular", "triangular2", "exp_range", "onecycle")]
    stats = {}
    for key in order:
        cs = groups.get(key)
        if not cs:
            continue
        acc = np.array([c.accuracy for c in cs]) * 100.0
        finals = acc[:, -1]
        sd = float(np.std(finals, ddof=1)) if len(finals) > 1 else 0.0
        stats[key] = (cs[0].job.iterations, float(finals.mean()), sd, len(cs), np.array(cs[0].iterations),
                      acc.mean(0), acc.std(0), all(c.prefix for c in cs))
    target = stats[("fixed", "full")][1]
    out = []
    for key, (n_it, mean, sd, n, x, cm, csd, prefix) in stats.items():
        hit = np.flatnonzero(cm >= target - 1e-9)
        out.append(Row(key[0], key[1], n_it, mean, sd, n, int(x[hit[0]]) if len(hit) else None, x, cm, csd,
                       prefix))
    return out


def format_table(result, table_rows: list[Row] | None = None) -> str:
    rs = table_rows or rows(result)
    fixed = rs[0]
    cfg = result.config
    lines = [
        f"MNIST-1D, 1-D CNN, SGD (momentum 0.9, weight decay 5e-4), batch 100; {fixed.n} seeds; "
        f"test accuracy after the last update.",
        f"Range test bounds ({cfg.rule} rule): base = {result.base:.3g}, max = {result.max:.3g}; "
        f"fixed LR = {result.fixed_lr:.3g} (best of {len(result.grid)} on validation data).",
        "",
    ]
    head = ("policy", "iterations", "accuracy (%)", f"iterations to {fixed.mean:.1f}%")
    body = []
    for r in rs:
        name = r.policy + (f" (lr={result.fixed_lr:.3g})" if r.policy == "fixed" else "")
        body.append((name, f"{r.iterations:,}", f"{r.mean:.1f} ± {r.sd:.1f}",
                     f"{r.reach:,}" if r.reach is not None else "—"))
    lines += _grid(head, body)
    lines += ["", "For context only (not comparable: CIFAR-10, another network, 50,000 images),",
              "the CLR paper's Table 1 (Smith 2017):", ""]
    lines += _grid(("policy", "iterations", "accuracy (%)"),
                   [(p, f"{n:,}", f"{a:.1f}") for p, n, a in PAPER_ROWS])
    return "\n".join(lines)


def _grid(head, body) -> list[str]:
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    fmt = lambda r: "| " + " | ".join(  # noqa: E731
        str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return [fmt(head), sep, *[fmt(r) for r in body]]


def verdict(result, table_rows: list[Row] | None = None) -> str:
    """Plain sentences: did CLR beat fixed LR in this run, and how fast did it get there."""
    rs = table_rows or rows(result)
    fixed, clr = rs[0], rs[1:]
    lines, beat = [], False
    for budget in ("full", "half"):
        cands = [r for r in clr if r.budget == budget]
        if not cands:
            continue
        best = max(cands, key=lambda r: r.mean)
        diff = best.mean - fixed.mean
        se = float(np.sqrt(best.sd ** 2 / best.n + fixed.sd ** 2 / fixed.n))
        clear = se > 0 and abs(diff) > 2 * se
        if clear and diff > 0:
            how, beat = "beat", True
        elif clear:
            how = "fell short of"
        else:
            how = "matched (within seed noise)"
        where = f"at {'the full' if budget == 'full' else 'half the'} budget ({best.iterations:,} updates)"
        lines.append(f"- {where}, the best CLR policy, {best.policy}, {how} fixed LR at {fixed.iterations:,}: "
                     f"{best.mean:.1f}% vs {fixed.mean:.1f}% ({diff:+.1f} points; twice the standard error "
                     f"of the difference is {2 * se:.1f}).")
    fast = [r for r in clr if r.reach is not None]
    if fast:
        r = min(fast, key=lambda r: r.reach)
        own = (f"; fixed LR itself first reached it after {fixed.reach:,}"
               + (", sooner" if fixed.reach < r.reach else "")) if fixed.reach is not None else ""
        lines.append(f"- first to reach fixed LR's final {fixed.mean:.1f}%: {r.policy} ({r.budget} budget) after "
                     f"{r.reach:,} updates, {fixed.iterations / r.reach:.1f}x fewer than fixed LR's "
                     f"{fixed.iterations:,}{own}.")
    else:
        lines.append(f"- no CLR policy reached fixed LR's final {fixed.mean:.1f}% (mean over seeds).")
    head = "In this run CLR beat fixed LR." if beat else "In this run CLR did not clearly beat fixed LR."
    return "\n".join([head, *lines])


def plot_accuracy(result, path, table_rows: list[Row] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rs = table_rows or rows(result)
    # left: the whole run from the first update, on 0-100%; right: the same curves, same
    # units, zoomed on the second half where the policies separate
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(10.5, 4.4), gridspec_kw={"width_ratios": [1, 1]})
    colors = {"fixed": "k", "triangular": "C0", "triangular2": "C1", "exp_range": "C2", "onecycle": "C3"}
    n = max(float(r.curve_x[-1]) for r in rs if not r.prefix)
    for a in (ax, zoom):
        for r in rs:
            if r.prefix:
                continue  # the same curve as the full run, up to its end
            style = "-" if r.budget == "full" else ":"
            label = f"{r.policy}" + (" (half budget)" if r.budget == "half" else "")
            a.plot(r.curve_x, r.curve_mean, style, color=colors.get(r.policy, "C4"), label=label, lw=1.4)
            if r.budget == "full":
                a.fill_between(r.curve_x, r.curve_mean - r.curve_sd, r.curve_mean + r.curve_sd,
                               color=colors.get(r.policy, "C4"), alpha=0.12, lw=0)
        a.axhline(rs[0].mean, color="k", lw=0.7, ls="--")
        a.set_xlabel("iteration (optimizer update)")
        a.grid(alpha=0.3)
    ax.set_xlim(0, n)
    ax.set_ylim(0, 100)
    ax.set_ylabel("test accuracy (%), mean over seeds")
    ax.set_title("the whole run", fontsize=9)
    half = [float(np.min(r.curve_mean[r.curve_x >= n / 2])) for r in rs if not r.prefix and np.any(r.curve_x >= n / 2)]
    zoom.set_xlim(n / 2, n)
    zoom.set_ylim(max(0.0, min(half) - 2), min(100.0, max(r.mean for r in rs) + 2))
    zoom.set_title("the second half, zoomed (same units)", fontsize=9)
    zoom.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.suptitle("MNIST-1D: test accuracy by policy (band: ±1 sd over seeds); a cyclic policy's half budget "
                 "is the first half of its curve; dotted: onecycle built for half the budget", fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_lr(result, path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    import clrdsl

    n = result.config.epochs * result.steps_per_epoch
    t = np.arange(n)
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    colors = {"fixed": "k", "triangular": "C0", "triangular2": "C1", "exp_range": "C2", "onecycle": "C3"}
    for (policy, budget), e in result.expressions.items():
        if budget != "full":
            continue
        s = clrdsl.compile(e["lr"], steps_per_epoch=result.steps_per_epoch, total_steps=n)
        ax.plot(t, s(t), color=colors.get(policy, "C4"), lw=1.2, label=e["lr"])
    ax.set_xlabel("iteration (optimizer update)")
    ax.set_ylabel("learning rate")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.set_title("The schedules (full budget), as written in clrdsl", fontsize=10)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def report(result, out_dir) -> str:
    """Write the plots and ``results.json`` into ``out_dir``; return the printed report."""
    import json
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rs = rows(result)
    files = {"accuracy": out / "accuracy.png", "lr": out / "lr.png", "range_test": out / "range_test.png",
             "json": out / "results.json"}
    plot_accuracy(result, files["accuracy"], rs)
    plot_lr(result, files["lr"])
    import matplotlib.pyplot as plt

    plt.close(result.range_test.plot(files["range_test"]))
    files["json"].write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")
    cfg = result.config
    text = [
        "What this measures: the final test accuracy of the same small network trained with each",
        f"learning-rate policy from {len(cfg.seeds)} seeds, and how many updates each needs to reach",
        "the accuracy that a tuned fixed learning rate ends with. Bounds come from the range test,",
        "the fixed rate from a grid scored on separate validation data (never the test set).",
        "",
        format_table(result, rs),
        "",
        verdict(result, rs),
        "",
        "Schedules (clrdsl expressions; `ep` = "
        f"{result.steps_per_epoch} updates):",
    ]
    for (policy, budget), e in result.expressions.items():
        extra = "".join(f", {k}: {v}" for k, v in e.items() if k != "lr")
        text.append(f"  {policy:<12} {budget:<5} {e['lr']}{extra}")
    n_eval = sum(1 for c in result.curves if c.job.role == "eval")
    n_read = sum(1 for c in result.curves if c.prefix)
    text += ["", f"{n_eval} evaluation runs ({n_read} of them read off the first half of a full run) + "
             f"{len(result.grid)} tuning runs on {result.workers} processes in {result.seconds:.0f} s.",
             "Wrote: " + ", ".join(str(p) for p in files.values())]
    return "\n".join(text)
