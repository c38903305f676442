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

from clrdsl.diagnostics.errors import ClrdslError
from clrdsl.diagnostics.errors import escape as _esc
from clrdsl.semantics.model import plateau_clocks

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
        from clrdsl.tools.config import read_config_value

        read_text_file(file)  # exists, is a file, readable, UTF-8, within MAX_FILE_BYTES
        try:
            return read_config_value(file, key)
        except ClrdslError as err:  # the file does not parse, or breaks a limit: exit 1
            fail(err)
        except (OSError, KeyError, ValueError, RecursionError) as exc:
            raise click.UsageError(_esc(str(exc) if not isinstance(exc, RecursionError)
                                        else f"{file}: nested too deeply to read")) from None
    if expr is None:
        raise click.UsageError("missing expression (or - for stdin, or -f FILE)")
    if expr == "-":
        return _decode(_read_bounded(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None, "<stdin>"),
                       "<stdin>"), "<stdin>"
    return expr, "<expr>"


# Files (-f, stdin) are read at most this many bytes: a schedule is short and a config
# holding one is small; /dev/zero or a multi-GB log is refused instead of read to the end.
MAX_FILE_BYTES = 4 * 1024 * 1024


def _read_bounded(fh, name: str) -> bytes:
    if fh is None:  # a text-only stdin (tests): bounded too
        text = sys.stdin.read(MAX_FILE_BYTES + 1)
        data = text.encode("utf-8", "surrogateescape")
    else:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise click.UsageError(f"{_esc(name)} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                               "a schedule file must be smaller")
    return data


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.UsageError(f"{_esc(name)} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                               f"{exc.start}); is it a binary file?") from None


def read_text_file(path: str) -> str:
    """The UTF-8 text of ``path``, read within MAX_FILE_BYTES; any problem is a usage error (exit 2)."""
    import os

    try:
        if os.path.isdir(path):
            raise click.UsageError(f"{_esc(path)} is a directory, not a file")
        with open(path, "rb") as fh:
            data = _read_bounded(fh, path)
    except OSError as exc:
        raise click.UsageError(f"cannot read {_esc(path)}: {exc.strerror or exc}") from None
    return _decode(data, path)


def config_bindings(file, key, steps_per_epoch, total_steps) -> tuple:
    """The bindings given on the command line, else those written beside the schedule
    in the config (``steps_per_epoch`` / ``total_steps``; see clrdsl.tools.config)."""
    if file is None or (steps_per_epoch is not None and total_steps is not None):
        return steps_per_epoch, total_steps
    from clrdsl.tools.config import bindings_near

    try:
        near = bindings_near(file, key)
    except (OSError, KeyError, ValueError):  # reported by read_expression
        return steps_per_epoch, total_steps
    return (steps_per_epoch if steps_per_epoch is not None else near.get("steps_per_epoch"),
            total_steps if total_steps is not None else near.get("total_steps"))


def _check_config_entries(file, key, steps_per_epoch, total_steps, lint, strict, fmt) -> None:
    """`check -f FILE --key K` where K may hold a mapping: check every schedule string
    under it, each named by its key path; print `key: canonical` lines; exit 1 if any fails."""
    from clrdsl.api import check as do_check
    from clrdsl.tools.config import read_config_entries

    read_text_file(file)  # exists, is a file, readable, UTF-8, within MAX_FILE_BYTES (else exit 2)
    try:
        entries = read_config_entries(file, key)
    except ClrdslError as err:
        fail(err, fmt)
    except (OSError, KeyError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    single = len(entries) == 1 and entries[0].key == (key or "")
    failed = []
    for e in entries:
        spe = steps_per_epoch if steps_per_epoch is not None else e.bindings.get("steps_per_epoch")
        tot = total_steps if total_steps is not None else e.bindings.get("total_steps")
        try:
            checked = do_check(e.text, steps_per_epoch=spe, total_steps=tot, name=e.name)
        except ClrdslError as err:
            failed.append(err)
            continue
        if lint or strict:
            _report_lints(e.text, e.name, spe, tot, strict, fmt)
        click.echo(checked.expr if single else f"{e.key}: {checked.expr}")
    for bad in failed[:-1]:
        click.echo(bad.to_json_str() if fmt == "json" else bad.render(color=_color(sys.stderr)), err=True)
    if failed:
        fail(failed[-1], fmt)


expr_argument = click.argument("expr", required=False)
file_option = click.option("-f", "--file", "file", type=click.Path(dir_okay=False),
                           help="read the expression from a YAML, TOML, JSON or text file")
key_option = click.option("--key", help="dotted path of the expression inside the config (e.g. optim.lr)")
spe_option = click.option("--steps-per-epoch", type=click.FloatRange(min=0, min_open=True, max=2**62),
                          help="binding for `ep` units (may be fractional: 390.625)")
total_option = click.option("--total-steps", type=click.IntRange(min=1, max=2**62), help="binding for `%` units")
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

    from clrdsl.contract.registry import install_hint

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



class _Main(Commands):
    """The command group; whatever escapes a command becomes a diagnostic, never a traceback:
    a clrdsl error exits 1, a file that cannot be read or written exits 2, anything else
    (a bug, here or in a plugin) is reported in one line and exits 1. Set CLRDSL_DEBUG=1
    for the traceback."""

    def invoke(self, ctx):
        import os

        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                KeyboardInterrupt):
            raise
        except ClrdslError as err:
            fail(err)
        except SystemExit as exc:  # a plugin calling sys.exit: not ours to exit with
            if exc.code in (None, 0, EXIT_BAD_EXPR, EXIT_USAGE) and _own_exit(exc):
                raise
            _internal(exc)
        except OSError as exc:
            if os.environ.get("CLRDSL_DEBUG"):
                raise
            click.echo(f"error: {_esc(str(exc.strerror or exc))}"
                       + (f": {_esc(str(exc.filename))}" if exc.filename else ""), err=True)
            sys.exit(EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001
            if os.environ.get("CLRDSL_DEBUG"):
                raise
            _internal(exc)


def _own_exit(exc: SystemExit) -> bool:
    """Whether ``exc`` comes from this module's sys.exit (fail, _backend)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return name.split(".")[0].startswith("clrdsl")  # our own code: clrdsl and its apps


def _internal(exc: BaseException) -> "NoReturn":  # noqa: F821
    if isinstance(exc, MemoryError):
        what = "out of memory"
    elif isinstance(exc, SystemExit):
        what = f"something called sys.exit({exc.code!r}) (a plugin?)"
    else:
        what = f"{type(exc).__name__}: {exc}"
    click.echo(f"error[E900]: internal error: {_esc(what)[:500]}\n"
               "      help: this is a bug in clrdsl or in a plugin; please report it "
               "(CLRDSL_DEBUG=1 shows the traceback)", err=True)
    sys.exit(EXIT_BAD_EXPR)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
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
metrics_option = click.option("--metrics", "metrics_file", type=click.Path(dir_okay=False), metavar="RUN.CSV",
                              help="a run's reported metrics (CSV: `step` and the metric) for plateau clocks: "
                              "what the schedule would have done on that run")
metric_name_option = click.option("--metric", "metric_name", metavar="COLUMN",
                                  help="the metric's column in --metrics (default: the only one beside `step`)")


def read_metrics_option(metrics_file, metric_name, fmt: str = "text"):
    """The ``(step, value)`` rows of ``--metrics`` (``None`` without it)."""
    if metrics_file is None:
        if metric_name is not None:
            raise click.UsageError("--metric names a column of --metrics RUN.CSV")
        return None
    from clrdsl.evaluation.plateau import read_metrics

    try:
        return read_metrics(metrics_file, metric_name)
    except ClrdslError as err:
        fail(err, fmt)


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
    from clrdsl.api import check as do_check

    if file is not None and expr is None:  # a key may name a mapping of schedules
        _check_config_entries(file, key, steps_per_epoch, total_steps, lint, strict, fmt)
        return
    text, name = read_expression(expr, file, key)
    try:
        checked = do_check(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    except ClrdslError as err:
        fail(err, fmt)
    if lint or strict:
        _report_lints(text, name, steps_per_epoch, total_steps, strict, fmt)
    click.echo(checked.expr)


def _report_lints(text, name, steps_per_epoch, total_steps, strict, fmt) -> None:
    from clrdsl.diagnostics.errors import Source
    from clrdsl.tools.explain import lint as do_lint
    from clrdsl.tools.explain import lint_error, render_lints

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
    from clrdsl.language.unparse import format_source

    if file is not None and expr is None:
        text, name = read_text_file(file), file
    else:
        if in_place:
            raise click.UsageError("--in-place needs -f FILE")
        text, name = read_expression(expr, None, None)
    try:
        out = format_source(text, name)
    except ClrdslError as err:
        fail(err, fmt)
    if in_place:
        _write(file, out + "\n", quiet=True)
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
    from clrdsl.contract import registry
    from clrdsl.language.check import prelude

    rows = {"backends": [], "functions": []}
    for st in registry.plugin_report():  # every plugin with its status; never raises
        row = st.to_json()
        row.pop("kind")
        row["install"] = st.hint if st.state in ("not installed", "needs") else None  # what to run
        if st.kind == "function" and st.state in ("ok", "shadowed") and st.obj is not None:
            try:
                row.update(kind=st.obj.kind, signature=st.obj.signature(), doc=st.obj.doc)
            except Exception as exc:  # noqa: BLE001 - a plugin whose signature() raises
                row.update(state="broken", status=f"broken: signature() raised {type(exc).__name__}")
        rows["backends" if st.kind == "backend" else "functions"].append(row)
    for name, d in sorted(prelude().items()):
        from clrdsl.language.unparse import unparse

        params = ", ".join(unparse(d.node).split("(", 1)[1].split(") =", 1)[0].split(", "))
        rows["functions"].append({"name": name, "distribution": "clrdsl (prelude)", "entry_point": "prelude.clr",
                                  "status": "ok", "kind": "definition", "signature": f"{name}({params})"})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo("Backends:")
    click.echo(_table(("NAME", "STATUS", "DISTRIBUTION", "ENTRY POINT", "TO INSTALL"),
                      [(r["name"], _esc(r["status"]), r["distribution"] or "-", r["entry_point"] or "-",
                        _esc(r.get("hint") or "") if r.get("state") != "ok" else "")
                       for r in rows["backends"]]))
    click.echo("\nFunctions:")
    for r in rows["functions"]:
        sig = r.get("signature", r["name"])
        click.echo(f"  {sig}\n      {r.get('kind', '?')} · {r['distribution']} · {_esc(r['status'])}")
        if r.get("hint") and r.get("state") not in (None, "ok"):
            click.echo(f"      help: {_esc(r['hint'])}")


def _table(head: tuple[str, ...], body: list[tuple[str, ...]], indent: str = "  ") -> str:
    """Columns padded to their widest cell (a long status is shortened to 60 characters)."""
    cells = [head] + [tuple(c if len(c) <= 60 or i != 1 else c[:59] + "…" for i, c in enumerate(r)) for r in body]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


# -- compile, eval, plot, explain, lint ------------------------------------------------


def _checked(text: str, name: str, steps_per_epoch, total_steps, fmt: str = "text"):
    from clrdsl.api import check as do_check

    try:
        return do_check(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    except ClrdslError as err:
        fail(err, fmt)


def _backend(name: str, *, need_framework: bool = True, fmt: str = "text"):
    """The backend plugin ``name``; a missing or broken one is a usage error (exit 2)."""
    from clrdsl.contract import registry

    try:
        return registry.get_backend(name) if need_framework else registry.backends.get(name)
    except ClrdslError as err:
        click.echo(err.to_json_str() if fmt == "json" else err.render(color=_color(sys.stderr)), err=True)
        sys.exit(EXIT_USAGE)


EXIT_USAGE = 2


def _write(path: str | None, text: str, quiet: bool = False) -> None:
    if path is None or path == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:  # a missing folder, no permission, a full disk: a usage error
        _cannot_write(path, exc)
    if not quiet:
        click.echo(f"wrote {_esc(path)}", err=True)


def _cannot_write(path: str, exc: OSError) -> "NoReturn":  # noqa: F821
    raise click.UsageError(f"cannot write {_esc(path)}: {exc.strerror or exc}")


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
    steps_per_epoch, total_steps = config_bindings(file, key, steps_per_epoch, total_steps)
    checked = _checked(text, name, steps_per_epoch, total_steps, "json" if fmt == "json" else "text")
    if fmt == "json":
        _write(output, json.dumps(checked.to_json(), indent=2) + "\n")
        return
    plugin = _backend(backend, need_framework=False)
    emit = getattr(plugin, "emit", None)
    if emit is None:
        raise click.UsageError(f"the {backend} backend cannot generate standalone code (it has no `emit`)")
    from clrdsl.diagnostics.errors import Source

    try:
        source = emit(checked)
    except ClrdslError as err:  # e.g. E644 with a span into the text: show it under a caret
        fail(err.with_source(Source(text, name)))
    if not isinstance(source, str):
        from clrdsl.contract.registry import plugin_failure

        fail(plugin_failure(backend, "clrdsl.backends", f"its `emit` returned a {type(source).__name__}, "
                            "not the module's text", found=repr(source)[:80]))
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
    if stop > MAX_STEP:
        raise click.BadParameter(f"`{text}`: steps are < 2**63 (int64)")
    return bounded_steps(range(start, stop, stride), f"`{text}`")


# eval prints at most this many values (about 30 MB of text); the size is known before
# any work, so a typo such as 0:10000000000 is refused at once instead of exhausting memory.
MAX_EVAL_VALUES = 1_000_000
MAX_STEP = 2**63 - 1


def bounded_steps(steps: range, what: str) -> range:
    if len(steps) > MAX_EVAL_VALUES:
        raise click.BadParameter(
            f"{what} selects {len(steps):,} steps; eval prints at most {MAX_EVAL_VALUES:,} "
            f"(pick fewer with a stride, e.g. --steps {steps.start}:{steps.stop}:"
            f"{-(-len(steps) * steps.step // MAX_EVAL_VALUES)})",
            param_hint="'--steps'")
    return steps


def _default_steps(checked) -> range:
    total = checked.bindings_dict.get("total_steps")
    if total:
        return bounded_steps(range(0, total), f"--total-steps {total}")
    length = checked.length
    if length == float("inf"):
        raise click.UsageError("the schedule never ends: give --steps START:STOP[:STRIDE] "
                               "(or --total-steps N)")
    return bounded_steps(range(0, int(length) + 1), "the whole schedule")


def backend_values(backend: str, checked, steps, metrics=None) -> list[float]:
    """Values at ``steps`` from the compiled object of ``backend``: through its
    ``values`` capability (:class:`clrdsl.contract.backend.Evaluates`), or by calling the object
    it compiles to when that is a function of the step."""
    import numpy as np

    from clrdsl.contract.backend import Evaluates, has

    plugin = _backend(backend)
    t = [int(s) for s in steps]
    if metrics is not None:
        if backend != "numpy":
            raise click.UsageError("--metrics replays a run on the numpy backend (leave out -b)")
        return [float(v) for v in plugin.values(checked, t, metrics=metrics)]
    if has(plugin, Evaluates):
        return [float(v) for v in plugin.values(checked, t)]
    from clrdsl.contract import registry

    obj = registry.compile_with(backend, plugin, checked)
    if not callable(obj):
        raise click.UsageError(f"the {backend} backend's object is not a function of the step and the "
                               "backend has no `values` capability (clrdsl.contract.backend.Evaluates)")
    try:
        v = _to_numpy(obj(np.asarray(t, dtype=np.int64)))
        if v.shape == (len(t),):
            return [float(x) for x in v]
    except (TypeError, ValueError):
        pass
    return [float(_to_numpy(obj(step))) for step in t]


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
@metrics_option
@metric_name_option
@click.option("--format", "fmt", type=click.Choice(["tsv", "csv", "json"]), default="tsv", show_default=True)
def eval_cmd(expr, file, key, steps_text, backend, steps_per_epoch, total_steps, metrics_file, metric_name, fmt):
    """Print the values of a schedule at a range of steps.

    Values come from the compiled object of --backend; floats print in their
    shortest exact form.

    \b
    Examples:
      clrdsl eval "triangular2(0.001, 0.006, step=2000)" --steps 0:20000:500
      clrdsl eval "onecycle(0.1, total=1000)" --format csv > lr.csv
      clrdsl eval -f conf.toml --key optim.lr --total-steps 10000 --steps 0:10000:1000 -b torch
      clrdsl eval "constant(0.1) * exp(gamma=0.1, on=plateau(patience=2))" --metrics run.csv --steps 0:5000:100
    """
    text, name = read_expression(expr, file, key)
    steps_per_epoch, total_steps = config_bindings(file, key, steps_per_epoch, total_steps)
    checked = _checked(text, name, steps_per_epoch, total_steps, "json" if fmt == "json" else "text")
    metrics = read_metrics_option(metrics_file, metric_name)
    steps = parse_steps(steps_text) if steps_text else _default_steps(checked)
    try:
        values = backend_values(backend, checked, steps, metrics)
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
@metrics_option
@metric_name_option
def plot(exprs, file, keys, output, steps, log, steps_per_epoch, total_steps, ylabel, title, width, height,
         metrics_file, metric_name):
    """Plot one or more schedules (overlaid, with a legend; several config keys: a panel each).

    Phase boundaries are dashed, cycle boundaries dotted; with --steps-per-epoch
    the figure has an epoch axis too. Values come from the compiled NumPy object.

    \b
    Examples:
      clrdsl plot "triangular2(0.001, 0.006, step=2000)" --steps 20000
      clrdsl plot "onecycle(0.1, total=10000)" "warmup_cosine(0.1, warmup=500, decay=9500)" -o cmp.png
      clrdsl plot -f conf.yaml --key optim.lr --key optim.momentum --steps-per-epoch 500 -o sched.svg
    """
    from clrdsl.tools.plot import FORMATS, default_steps, save, series, terminal

    sources: list[tuple[str, str]] = []
    group_of: list[str | None]
    if file is not None:
        if exprs:
            raise click.UsageError("give expressions or -f FILE, not both")
        for k in keys or (None,):
            sources.append(read_expression(None, file, k))
        if len(sources) == 1:
            steps_per_epoch, total_steps = config_bindings(file, keys[0] if keys else None, steps_per_epoch,
                                                           total_steps)
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
    metrics = read_metrics_option(metrics_file, metric_name)
    n = steps or default_steps(checked)
    try:
        all_series = [series(c, n, label=g, group=g, metrics=metrics if plateau_clocks(c.root) else None)
                      for c, g in zip(checked, group_of)]
    except ClrdslError as err:
        fail(err)
    if output is None:
        click.echo(terminal(all_series, width=width, height=height, log=log, color=_color(sys.stdout),
                            steps_per_epoch=steps_per_epoch))
        return
    try:
        save(all_series, output, log=log, steps_per_epoch=steps_per_epoch, ylabel=ylabel, title=title)
    except ImportError:
        raise MissingDependency('writing a figure needs matplotlib\n  help: pip install "clrdsl[plot]"') from None
    except OSError as exc:
        _cannot_write(output, exc)
    click.echo(f"wrote {_esc(output)}", err=True)


@main.command()
@expr_argument
@file_option
@key_option
@spe_option
@total_option
@strict_option
@metrics_option
@metric_name_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(expr, file, key, steps_per_epoch, total_steps, strict, metrics_file, metric_name, fmt):
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
      W007  a plateau clock in a phase too short for its patience

    A schedule with plateau clocks is explained before any report, or, with
    --metrics RUN.CSV, as it would have run on those reports.

    --strict makes the lints errors (exit 1).

    \b
    Examples:
      clrdsl explain "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
      clrdsl explain "onecycle(0.1, total=100%)" --total-steps 10000
      clrdsl explain -f conf.yaml --key optim.lr --total-steps 30000 --strict
    """
    from clrdsl.diagnostics.errors import Source
    from clrdsl.tools.explain import explain as do_explain
    from clrdsl.tools.explain import lint_error

    text, name = read_expression(expr, file, key)
    steps_per_epoch, total_steps = config_bindings(file, key, steps_per_epoch, total_steps)
    metrics = read_metrics_option(metrics_file, metric_name, fmt)
    try:
        ex = do_explain(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name,
                        metrics=metrics)
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
    from clrdsl.diagnostics.errors import Source
    from clrdsl.tools.explain import lint as do_lint
    from clrdsl.tools.explain import lint_error, render_lints

    text, name = read_expression(expr, file, key)
    steps_per_epoch, total_steps = config_bindings(file, key, steps_per_epoch, total_steps)
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
