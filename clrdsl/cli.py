"""The ``clrdsl`` command line.

Exit codes: 0 ok, 1 bad expression (diagnostics on stderr), 2 usage error.
Commands import their heavy dependencies lazily, so ``clrdsl --help`` stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import NoReturn

import click

from .errors import ClrdslError

EXIT_BAD_EXPR = 1


def _color(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in __import__("os").environ


def fail(err: ClrdslError, fmt: str = "text") -> NoReturn:
    """Print a clrdsl error (text with carets, or JSON) and exit 1."""
    if fmt == "json":
        click.echo(err.to_json_str(), err=True)
    else:
        click.echo(err.render(color=_color(sys.stderr)), err=True)
    sys.exit(EXIT_BAD_EXPR)


def read_expression(expr: str | None, file: str | None, key: str | None) -> tuple[str, str]:
    """The expression text and a name for diagnostics, from an argument, `-` (stdin),
    or a config file (-f FILE [--key dotted.path])."""
    if file is not None:
        if expr is not None:
            raise click.UsageError("give an expression or -f FILE, not both")
        from .config import read_config_value

        try:
            return read_config_value(file, key)
        except (OSError, KeyError, ValueError) as exc:
            raise click.UsageError(str(exc)) from None
    if expr is None:
        raise click.UsageError("missing expression (or - for stdin, or -f FILE)")
    if expr == "-":
        return sys.stdin.read(), "<stdin>"
    return expr, "<expr>"


expr_argument = click.argument("expr", required=False)
file_option = click.option("-f", "--file", "file", type=click.Path(dir_okay=False),
                           help="read the expression from a YAML, TOML, JSON or text file")
key_option = click.option("--key", help="dotted path of the expression inside the config (e.g. optim.lr)")
spe_option = click.option("--steps-per-epoch", type=click.IntRange(min=1), help="binding for `ep` units")
total_option = click.option("--total-steps", type=click.IntRange(min=1), help="binding for `%` units")
format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="how diagnostics are printed")


COMMANDS = "clrdsl.commands"
# Commands of applications the project documents, and how to get them.
KNOWN_COMMANDS = {"demo": "the demo app (apps/demo): pip install -e ./apps/demo, in a clone",
                  "range-test": "the demo app (apps/demo): pip install -e ./apps/demo, in a clone"}


class MissingDependency(click.ClickException):
    """A command needs a package that is not installed: exit 2, with how to install it."""

    exit_code = 2


def require(*modules: str, hint: str | None = None) -> None:
    """Exit 2 with an install hint unless every module is importable (for command plugins)."""
    import importlib.util

    from .registry import install_hint

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        hints = [hint] if hint else [h for h in dict.fromkeys(install_hint(m) for m in missing) if h]
        raise MissingDependency(f"this command needs {', '.join(missing)}, which is not installed"
                                + "".join(f"\n  help: {h}" for h in hints))


class Commands(click.Group):
    """The built-in commands, and those other distributions add through the
    ``clrdsl.commands`` entry-point group (``name = "module:click_command"``), each
    imported only when it runs or its help is shown."""

    def _plugin_commands(self) -> dict:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=COMMANDS) if ep.name not in self.commands}

    def list_commands(self, ctx):
        return sorted(set(self.commands) | set(self._plugin_commands()))

    def get_command(self, ctx, cmd_name):
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        ep = self._plugin_commands().get(cmd_name)
        if ep is None:
            if cmd_name in KNOWN_COMMANDS:
                raise MissingDependency(f"`clrdsl {cmd_name}` comes with {KNOWN_COMMANDS[cmd_name]}")
            return None
        try:
            cmd = ep.load()
        except Exception as exc:  # a broken command plugin must not break the others
            dist = ep.dist.name if getattr(ep, "dist", None) is not None else "its distribution"
            raise click.ClickException(f"the command `{cmd_name}` ({ep.value}, from {dist}) failed to load: "
                                       f"{type(exc).__name__}: {exc}") from None
        if not isinstance(cmd, click.Command):
            raise click.ClickException(f"the command `{cmd_name}` ({ep.value}) is not a click command")
        return cmd


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clrdsl")
def main() -> None:
    """clrdsl — one language for training schedules.

    \b
    Examples:
      clrdsl check "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
      clrdsl check -f config.yaml --key optim.lr --steps-per-epoch 500 --strict
      clrdsl explain "onecycle(0.1, total=10_000)"
      clrdsl eval "warmup_cosine(0.1, warmup=500, decay=9500)" --steps 0:10000:500
      clrdsl plot "triangular2(0.001, 0.006, step=2000)" --steps 20000 -o clr.png
      clrdsl compile "onecycle(0.1, total=10_000)" --backend torch -o schedule.py
      clrdsl plugins

    Exit status: 0 ok, 1 bad expression (diagnostics on stderr), 2 usage error.
    """


lint_option = click.option("--lint", "lint", is_flag=True,
                           help="also print the lints (W001...) as warnings on stderr")
strict_option = click.option("--strict", is_flag=True, help="lints are errors: print them and exit 1")


@main.command()
@expr_argument
@file_option
@key_option
@spe_option
@total_option
@lint_option
@strict_option
@format_option
def check(expr, file, key, steps_per_epoch, total_steps, lint, strict, fmt):
    """Check an expression; print its canonical form.

    \b
    Exit 0 and the canonical form on stdout, or exit 1 and diagnostics on stderr.
    With --strict the lints of `clrdsl explain` are errors too (for CI).
    Examples:
      clrdsl check "triangular2(0.001, 0.006, step=4ep)" --steps-per-epoch 500
      echo "onecycle(0.1, total=10000)" | clrdsl check -
      clrdsl check -f conf.yaml --key optim.lr --total-steps 10000 --strict
    """
    from .api import check as do_check

    text, name = read_expression(expr, file, key)
    try:
        checked = do_check(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    except ClrdslError as err:
        fail(err, fmt)
    if lint or strict:
        _report_lints(text, name, steps_per_epoch, total_steps, strict, fmt)
    click.echo(checked.expr)


def _report_lints(text, name, steps_per_epoch, total_steps, strict, fmt) -> None:
    from .explain import lint_error, lint as do_lint, render_lints
    from .errors import Source

    lints = do_lint(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    if not lints:
        return
    source = Source(text, name)
    if strict:
        fail(lint_error(lints, source), fmt)
    if fmt == "json":
        click.echo(json.dumps({"warnings": [w.to_json() for w in lints]}, indent=2), err=True)
    else:
        click.echo(render_lints(lints, source, color=_color(sys.stderr)), err=True)


@main.command()
@expr_argument
@file_option
@click.option("-i", "--in-place", is_flag=True, help="rewrite FILE (a plain-text schedule file) in place")
@format_option
def fmt(expr, file, in_place, fmt):
    """Rewrite an expression in canonical form (syntax only, no name checks); comments are kept.

    \b
    Examples:
      clrdsl fmt "triangular(0.001,0.006,step=2000)*exp(gamma=0.99994,on=iterations)"
      clrdsl fmt -f schedule.clr -i
    """
    from .unparse import format_source

    if file is not None and expr is None:
        with open(file, encoding="utf-8") as fh:
            text, name = fh.read(), file
    else:
        if in_place:
            raise click.UsageError("--in-place needs -f FILE")
        text, name = read_expression(expr, None, None)
    try:
        out = format_source(text, name)
    except ClrdslError as err:
        fail(err, fmt)
    if in_place:
        with open(file, "w", encoding="utf-8") as fh:
            fh.write(out + "\n")
    else:
        click.echo(out)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plugins(fmt):
    """List backends and functions: signature, distribution, status.

    \b
    Example:
      clrdsl plugins --format json
    """
    from . import registry
    from .check import prelude

    rows: dict[str, list[dict]] = {"backends": [], "functions": []}
    entries = registry.backends.entries()
    for name in sorted(set(entries) | set(registry.BACKEND_EXTRAS)):
        entry = entries.get(name)
        if entry is None:  # a backend the project documents, not installed here
            rows["backends"].append({"name": name, "distribution": "-", "entry_point": "-",
                                     "status": "not installed", "install": registry.install_hint(name)})
            continue
        status = entry.status
        if name in registry.BACKEND_EXTRAS and status != "ok" and importlib.util.find_spec(name) is None:
            status = f"needs {name}"  # clrdsl's own backend, its framework missing
        install = None
        if status.startswith("needs "):
            install = registry.install_hint(status[len("needs "):].split(",")[0].strip(), entry.dist)
        elif status != "ok":
            install = registry._install_hint(entry.dist, None)
        rows["backends"].append({"name": name, "distribution": entry.dist, "entry_point": entry.value,
                                 "status": status, "install": install})
    for name, entry in sorted(registry.functions.entries().items()):
        row = {"name": name, "distribution": entry.dist, "entry_point": entry.value, "status": entry.status}
        if row["status"] == "ok":
            fn = entry.load()
            row.update(kind=fn.kind, signature=fn.signature(), doc=fn.doc)
        rows["functions"].append(row)
    for name, d in sorted(prelude().items()):
        from .unparse import unparse

        params = ", ".join(unparse(d.node).split("(", 1)[1].split(") =", 1)[0].split(", "))
        rows["functions"].append({"name": name, "distribution": "clrdsl (prelude)", "entry_point": "prelude.clr",
                                  "status": "ok", "kind": "definition", "signature": f"{name}({params})"})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo("Backends:")
    click.echo(_table(("NAME", "STATUS", "DISTRIBUTION", "ENTRY POINT", "TO INSTALL"),
                      [(r["name"], r["status"], r["distribution"], r["entry_point"], r["install"] or "")
                       for r in rows["backends"]]))
    click.echo("\nFunctions:")
    for r in rows["functions"]:
        sig = r.get("signature", r["name"])
        click.echo(f"  {sig}\n      {r.get('kind', '?')} · {r['distribution']} · {r['status']}")


def _table(head: tuple[str, ...], body: list[tuple[str, ...]], indent: str = "  ") -> str:
    """Columns padded to their widest cell (a long status is shortened to 60 characters)."""
    cells = [head] + [tuple(c if len(c) <= 60 or i != 1 else c[:59] + "…" for i, c in enumerate(r)) for r in body]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


# -- compile, eval, plot, explain, lint ------------------------------------------------


def _checked(text: str, name: str, steps_per_epoch, total_steps, fmt: str = "text"):
    from .api import check as do_check

    try:
        return do_check(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    except ClrdslError as err:
        fail(err, fmt)


def _backend(name: str, *, need_framework: bool = True, fmt: str = "text"):
    """The backend plugin ``name``; a missing or broken one is a usage error (exit 2)."""
    from . import registry

    try:
        return registry.get_backend(name) if need_framework else registry.backends.get(name)
    except ClrdslError as err:
        click.echo(err.to_json_str() if fmt == "json" else err.render(color=_color(sys.stderr)), err=True)
        sys.exit(EXIT_USAGE)


EXIT_USAGE = 2


def _write(path: str | None, text: str) -> None:
    if path is None or path == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    click.echo(f"wrote {path}", err=True)


@main.command(name="compile")
@expr_argument
@file_option
@key_option
@click.option("-b", "--backend", default="numpy", show_default=True,
              help="the backend whose standalone code to generate (numpy, torch, keras, ...)")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write to this file (default: stdout)")
@spe_option
@total_option
@click.option("--format", "fmt", type=click.Choice(["python", "json"]), default="python", show_default=True,
              help="python: the standalone module; json: the checked semantic model")
def compile_cmd(expr, file, key, backend, output, steps_per_epoch, total_steps, fmt):
    """Generate a standalone Python module for a backend.

    The module imports only the framework (never clrdsl), starts with a comment
    holding the canonical expression and its bindings, and defines
    `schedule(step)` (an int gives a float) and the backend's native object:
    `make_scheduler(optimizer)` (an LRScheduler) for torch, the registered
    LearningRateSchedule class `Schedule` for keras; numpy's `schedule` also takes
    an integer array. A backend provides this through the plugin contract
    (`emit(checked) -> str`), so third-party backends can too.

    \b
    Examples:
      clrdsl compile "triangular2(0.001, 0.006, step=2000)" > clr_schedule.py
      clrdsl compile "onecycle(0.1, total=100%)" --total-steps 10000 -b torch -o sched.py
      clrdsl compile -f conf.yaml --key optim.lr -b keras -o lr_schedule.py
      clrdsl compile "warmup_cosine(0.1, warmup=500, decay=9500)" --format json
    """
    text, name = read_expression(expr, file, key)
    checked = _checked(text, name, steps_per_epoch, total_steps, "json" if fmt == "json" else "text")
    if fmt == "json":
        _write(output, json.dumps(checked.to_json(), indent=2) + "\n")
        return
    plugin = _backend(backend, need_framework=False)
    emit = getattr(plugin, "emit", None)
    if emit is None:
        raise click.UsageError(f"the {backend} backend cannot generate standalone code (it has no `emit`)")
    try:
        source = emit(checked)
    except ClrdslError as err:
        fail(err)
    _write(output, source)


def parse_steps(text: str) -> range:
    """``START:STOP[:STRIDE]`` (STOP excluded, as in Python) or ``N`` (= ``0:N``)."""
    parts = text.split(":")
    try:
        nums = [int(p.replace("_", "")) if p.strip() else None for p in parts]
    except ValueError:
        raise click.BadParameter(f"`{text}` is not START:STOP[:STRIDE] (whole numbers of steps)") from None
    stop: int | None
    if len(nums) == 1 and nums[0] is not None:
        start, stop, stride = 0, nums[0], 1
    elif len(nums) in (2, 3):
        start = nums[0] or 0
        stop = nums[1]
        stride = nums[2] if len(nums) == 3 and nums[2] is not None else 1
        if stop is None:
            raise click.BadParameter(f"`{text}` needs a STOP step")
    else:
        raise click.BadParameter(f"`{text}` is not START:STOP[:STRIDE]")
    if start < 0 or stop < 0 or stride <= 0:
        raise click.BadParameter(f"`{text}`: steps are >= 0 and the stride is > 0")
    if stop <= start:
        raise click.BadParameter(f"`{text}` selects no steps (STOP is excluded)")
    return range(start, stop, stride)


def _default_steps(checked) -> range:
    total = checked.bindings_dict.get("total_steps")
    if total:
        return range(0, total)
    length = checked.length
    if length == float("inf"):
        raise click.UsageError("the schedule never ends: give --steps START:STOP[:STRIDE] "
                               "(or --total-steps N)")
    return range(0, int(length) + 1)


def backend_values(backend: str, checked, steps) -> list[float]:
    """Values at ``steps`` from the compiled object of ``backend``."""
    import numpy as np

    plugin = _backend(backend)
    t = np.asarray(list(steps), dtype=np.int64)
    if backend == "torch":  # an LRScheduler drives an optimizer: position it at each step
        import torch

        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = plugin.compile(checked, optimizer=opt)
        out = []
        for step in t.tolist():
            sched.set_step(step)
            out.append(float(sched.get_last_lr()[0]))
        return out
    obj = plugin.compile(checked)
    if not callable(obj):
        raise click.UsageError(f"the {backend} backend's object is not a function of the step; "
                               "eval supports numpy, torch, keras and callable backends")
    try:
        v = _to_numpy(obj(t))
        if v.shape == t.shape:
            return [float(x) for x in v]
    except (TypeError, ValueError):
        pass
    return [float(_to_numpy(obj(int(step)))) for step in t.tolist()]


def _to_numpy(x):
    import numpy as np

    if hasattr(x, "numpy") and callable(x.numpy):
        x = x.numpy()
    elif hasattr(x, "__array__"):
        x = np.asarray(x)
    return np.asarray(x, dtype=np.float64)


@main.command(name="eval")
@expr_argument
@file_option
@key_option
@click.option("--steps", "steps_text", metavar="START:STOP[:STRIDE]",
              help="the steps (STOP excluded; N means 0:N). Default: the whole schedule and one step "
              "past its end, or the run when --total-steps is given")
@click.option("-b", "--backend", default="numpy", show_default=True,
              help="whose compiled object gives the values (numpy, torch, keras, ...)")
@spe_option
@total_option
@click.option("--format", "fmt", type=click.Choice(["tsv", "csv", "json"]), default="tsv", show_default=True)
def eval_cmd(expr, file, key, steps_text, backend, steps_per_epoch, total_steps, fmt):
    """Print the values of a schedule at a range of steps.

    Values come from the compiled object of --backend; floats print in their
    shortest exact form.

    \b
    Examples:
      clrdsl eval "triangular2(0.001, 0.006, step=2000)" --steps 0:20000:500
      clrdsl eval "onecycle(0.1, total=1000)" --format csv > lr.csv
      clrdsl eval -f conf.toml --key optim.lr --total-steps 10000 --steps 0:10000:1000 -b torch
    """
    text, name = read_expression(expr, file, key)
    checked = _checked(text, name, steps_per_epoch, total_steps, "json" if fmt == "json" else "text")
    steps = parse_steps(steps_text) if steps_text else _default_steps(checked)
    try:
        values = backend_values(backend, checked, steps)
    except ClrdslError as err:
        fail(err)
    if fmt == "json":
        click.echo(json.dumps({"expr": checked.expr, "bindings": checked.bindings_dict, "backend": backend,
                               "steps": list(steps), "values": values}))
        return
    sep = "\t" if fmt == "tsv" else ","
    lines = [f"step{sep}value"] + [f"{s}{sep}{v!r}" for s, v in zip(steps, values)]
    click.echo("\n".join(lines))


@main.command()
@click.argument("exprs", nargs=-1)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False),
              help="read the expressions from a YAML, TOML, JSON or text file")
@click.option("--key", "keys", multiple=True,
              help="dotted path of an expression inside the config (repeat for several)")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="write a figure (.png, .svg or .pdf); without it, plot in the terminal")
@click.option("--steps", type=click.IntRange(min=2), help="steps to draw, from 0 (default: the run, or the "
              "whole schedule)")
@click.option("--log", is_flag=True, help="logarithmic value axis")
@spe_option
@total_option
@click.option("--ylabel", default="value", show_default=True, help="the value axis label")
@click.option("--title", help="a title for the figure")
@click.option("--width", type=click.IntRange(min=20), default=72, show_default=True,
              help="terminal plot width in characters")
@click.option("--height", type=click.IntRange(min=4), default=16, show_default=True,
              help="terminal plot height in characters")
def plot(exprs, file, keys, output, steps, log, steps_per_epoch, total_steps, ylabel, title, width, height):
    """Plot one or more schedules (overlaid, with a legend; several config keys: a panel each).

    Phase boundaries are dashed, cycle boundaries dotted; with --steps-per-epoch
    the figure has an epoch axis too. Values come from the compiled NumPy object.

    \b
    Examples:
      clrdsl plot "triangular2(0.001, 0.006, step=2000)" --steps 20000
      clrdsl plot "onecycle(0.1, total=10000)" "warmup_cosine(0.1, warmup=500, decay=9500)" -o cmp.png
      clrdsl plot -f conf.yaml --key optim.lr --key optim.momentum --steps-per-epoch 500 -o sched.svg
    """
    from .plot import FORMATS, default_steps, save, series, terminal

    sources: list[tuple[str, str]] = []
    group_of: list[str | None]
    if file is not None:
        if exprs:
            raise click.UsageError("give expressions or -f FILE, not both")
        for k in keys or (None,):
            sources.append(read_expression(None, file, k))
        # several keys are several hyperparameters: each its own panel, labelled by its key
        group_of = list(keys) if len(keys) > 1 else [None] * len(sources)
    else:
        if keys:
            raise click.UsageError("--key needs -f FILE")
        for e in exprs:
            sources.append(read_expression(e, None, None))
        group_of = [None] * len(sources)
    if not sources:
        raise click.UsageError("missing expression (or -f FILE --key ...)")
    if output is not None and not output.lower().endswith(FORMATS):
        raise click.BadParameter(f"`{output}`: the figure formats are {', '.join(FORMATS)}",
                                 param_hint="'-o' / '--output'")
    checked = [_checked(text, name, steps_per_epoch, total_steps) for text, name in sources]
    n = steps or default_steps(checked)
    all_series = [series(c, n, label=g, group=g) for c, g in zip(checked, group_of)]
    if output is None:
        click.echo(terminal(all_series, width=width, height=height, log=log, color=_color(sys.stdout),
                            steps_per_epoch=steps_per_epoch))
        return
    try:
        save(all_series, output, log=log, steps_per_epoch=steps_per_epoch, ylabel=ylabel, title=title)
    except ImportError:
        raise MissingDependency('writing a figure needs matplotlib\n  help: pip install "clrdsl[plot]"') from None
    click.echo(f"wrote {output}", err=True)


@main.command()
@expr_argument
@file_option
@key_option
@spe_option
@total_option
@strict_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(expr, file, key, steps_per_epoch, total_steps, strict, fmt):
    """Explain a schedule in plain words, with the numbers resolved.

    Its length, the values at the start, peak and end, where each phase starts
    and ends, each shape's resolved arguments, the cycles and what each scale does
    per cycle; then the lints:

    \b
      W001  the amplitude of a cyclic schedule falls below 1% of its base
      W002  a phase runs past total_steps
      W003  a warmup that decreases
      W004  a value <= 0 at a step an update uses
      W005  a cyclic schedule ends mid-cycle (CLR: end at a cycle boundary)
      W006  the schedule ends before total_steps

    --strict makes the lints errors (exit 1).

    \b
    Examples:
      clrdsl explain "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
      clrdsl explain "onecycle(0.1, total=100%)" --total-steps 10000
      clrdsl explain -f conf.yaml --key optim.lr --total-steps 30000 --strict
    """
    from .errors import Source
    from .explain import explain as do_explain, lint_error

    text, name = read_expression(expr, file, key)
    try:
        ex = do_explain(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    except ClrdslError as err:
        fail(err, fmt)
    if fmt == "json":
        click.echo(json.dumps(ex.to_json(), indent=2))
    else:
        click.echo(ex.render(color=_color(sys.stdout)))
    if strict and ex.lints:
        fail(lint_error(ex.lints, Source(text, name)), fmt)


@main.command(name="lint")
@expr_argument
@file_option
@key_option
@spe_option
@total_option
@strict_option
@format_option
def lint_cmd(expr, file, key, steps_per_epoch, total_steps, strict, fmt):
    """Print the lints of a schedule (see `clrdsl explain --help` for the codes).

    Exit 0 (warnings only), or 1 with --strict when there is any, or for a bad
    expression.

    \b
    Examples:
      clrdsl lint "linear(0.1, 0.001, over=500) >> cosine(0.1, 0, over=9500)"
      clrdsl lint -f conf.yaml --key optim.lr --total-steps 30000 --strict
    """
    from .errors import Source
    from .explain import lint as do_lint, lint_error, render_lints

    text, name = read_expression(expr, file, key)
    try:
        lints = do_lint(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    except ClrdslError as err:
        fail(err, fmt)
    if strict and lints:
        fail(lint_error(lints, Source(text, name)), fmt)
    if fmt == "json":
        click.echo(json.dumps({"warnings": [w.to_json() for w in lints]}, indent=2))
    elif lints:
        click.echo(render_lints(lints, Source(text, name), color=_color(sys.stdout)))
    else:
        click.echo("no warnings")


if __name__ == "__main__":  # pragma: no cover
    main()
