"""``clrdsl demo`` and ``clrdsl range-test``: the offline demo on MNIST-1D.

The demo distribution registers both in the ``clrdsl.commands`` entry-point group; the
``clrdsl`` command line imports this module only when one of them runs. They import
torch, matplotlib and tqdm (or Keras) only then, so ``clrdsl --help`` stays fast.
"""

from __future__ import annotations

import os

import click

from clrdsl.diagnostics.errors import ClrdslError
from clrdsl.tools.cli import fail, require


@click.command()
@click.option("--quick", is_flag=True, help="a small, fast run (2 seeds, 8 epochs) for CI and smoke tests")
@click.option("--out", "out_dir", default="clrdsl-demo", show_default=True, type=click.Path(file_okay=False),
              help="where the plots and results.json go")
@click.option("--seeds", type=click.IntRange(min=1), help="number of evaluation seeds (default 3; quick 2)")
@click.option("--epochs", type=click.IntRange(min=4), help="the full budget in epochs (a multiple of 4 half cycles)")
@click.option("--rule", type=click.Choice(["paper", "loss", "steepest", "valley"]),
              help="the range test's suggestion rule (default: valley; see docs/demo.md)")
@click.option("--workers", type=click.IntRange(min=0), default=0, help="worker processes (0: one per core)")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="progress on stderr: a bar on a terminal, else a start and a final line per stage")
def demo(quick, out_dir, seeds, epochs, rule, workers, progress):
    """Compare fixed LR, triangular, triangular2, exp_range and onecycle on MNIST-1D.

    \b
    Fully offline: the data is generated locally. A range test picks the bounds, a
    small grid picks the fixed rate, and every policy trains from several seeds in
    parallel processes. Prints a table in the form of the CLR paper's Table 1 and says
    plainly whether CLR beat fixed LR in this run.
    Examples:
      clrdsl demo
      clrdsl demo --quick --out demo-out
    """
    require("torch", "matplotlib", "tqdm")
    from dataclasses import replace

    from . import experiment, table

    cfg = experiment.QUICK if quick else experiment.DEFAULT
    changes = {"workers": workers}
    if seeds:
        changes["seeds"] = tuple(range(1, seeds + 1))
    if epochs:
        changes["epochs"] = epochs
    if rule:
        changes["rule"] = rule
    try:
        cfg = replace(cfg, **changes)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    result = experiment.run(cfg, progress=progress, log=lambda s: click.echo(s, err=True))
    click.echo(table.report(result, out_dir))


@click.command("range-test")
@click.option("--framework", type=click.Choice(["torch", "keras"]), default="torch", show_default=True)
@click.option("--start", type=float, default=1e-4, show_default=True, help="the first learning rate")
@click.option("--end", type=float, default=10.0, show_default=True, help="the last learning rate")
@click.option("--steps", type=click.IntRange(min=5), default=200, show_default=True, help="updates in the test")
@click.option("--mode", type=click.Choice(["exp", "linear"]), default="exp", show_default=True)
@click.option("--rule", type=click.Choice(["auto", "paper", "loss", "steepest", "valley"]), default="valley",
              show_default=True, help="the suggestion rule (the demo's; see docs/demo.md)")
@click.option("--policy", type=click.Choice(["triangular", "triangular2", "exp_range", "onecycle"]),
              default="triangular2", show_default=True, help="the policy of the printed expression")
@click.option("--epochs-per-half-cycle", type=click.FloatRange(min=0, min_open=True), default=4, show_default=True)
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=40, show_default=True,
              help="the training budget in epochs (onecycle's total)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="progress on stderr: a bar on a terminal, else a start and a final line")
@click.option("--out", "out_dir", default="clrdsl-demo", show_default=True, type=click.Path(file_okay=False),
              help="where range_test.png goes")
def range_test_cmd(framework, start, end, steps, mode, rule, policy, epochs_per_half_cycle, epochs, seed,
                   progress, out_dir):
    """Run an LR range test on the demo problem (MNIST-1D, a small CNN).

    \b
    Prints the suggested bounds and a ready clrdsl expression, and plots loss and
    accuracy against the learning rate. The suggestion is a heuristic: look at the plot.
    Examples:
      clrdsl range-test
      clrdsl range-test --mode linear --start 0.001 --end 1 --steps 300 --policy exp_range
      clrdsl range-test --framework keras
    """
    require(*(("torch",) if framework == "torch" else ("keras",)), "matplotlib", "tqdm")
    from clrdsl.api import check

    from . import experiment

    data, val = experiment.load_data()
    runner = experiment.torch_range_test if framework == "torch" else experiment.keras_range_test
    try:
        result = runner(data, val, seed, start=start, end=end, steps=steps, mode=mode, rule=rule,
                        progress=progress)
        click.echo(result.summary())
        expr = result.expression(policy, epochs_per_half_cycle, units="epochs", epochs=epochs)
        checked = check(expr, steps_per_epoch=result.steps_per_epoch)
    except ClrdslError as err:
        fail(err)
    click.echo(f"\n{checked.expr}\n  (`ep` = {result.steps_per_epoch} updates: compile with "
               f"steps_per_epoch={result.steps_per_epoch})")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "range_test.png")
    import matplotlib.pyplot as plt

    plt.close(result.plot(path))
    click.echo(f"Wrote {path}")

