"""The ``clrdsl`` command line.

Exit codes: 0 ok, 1 bad expression (diagnostics on stderr), 2 usage error.
Commands import their heavy dependencies lazily, so ``clrdsl --help`` stays fast.
"""

from __future__ import annotations

import json
import sys

import click

from .errors import ClrdslError

EXIT_BAD_EXPR = 1


def _color(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in __import__("os").environ


def fail(err: ClrdslError, fmt: str = "text") -> "NoReturn":  # noqa: F821
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clrdsl")
def main() -> None:
    """clrdsl — one language for training schedules.

    \b
    Examples:
      clrdsl check "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
      clrdsl check -f config.yaml --key optim.lr --steps-per-epoch 500
      clrdsl plugins
    """


@main.command()
@expr_argument
@file_option
@key_option
@spe_option
@total_option
@format_option
def check(expr, file, key, steps_per_epoch, total_steps, fmt):
    """Check an expression; print its canonical form.

    \b
    Exit 0 and the canonical form on stdout, or exit 1 and diagnostics on stderr.
    Examples:
      clrdsl check "triangular2(0.001, 0.006, step=4ep)" --steps-per-epoch 500
      echo "onecycle(0.1, total=10000)" | clrdsl check -
    """
    from .api import check as do_check

    text, name = read_expression(expr, file, key)
    try:
        checked = do_check(text, steps_per_epoch=steps_per_epoch, total_steps=total_steps, name=name)
    except ClrdslError as err:
        fail(err, fmt)
    click.echo(checked.expr)


@main.command()
@expr_argument
@file_option
@click.option("-i", "--in-place", is_flag=True, help="rewrite FILE (a plain-text schedule file) in place")
@format_option
def fmt(expr, file, in_place, fmt):
    """Rewrite an expression in canonical form (syntax only, no name checks).

    \b
    Examples:
      clrdsl fmt "triangular(0.001,0.006,step=2000)*exp(gamma=0.99994,on=iterations)"
      clrdsl fmt -f schedule.clr -i
    """
    from .parse import parse
    from .unparse import unparse

    if file is not None and expr is None:
        with open(file, encoding="utf-8") as fh:
            text, name = fh.read(), file
    else:
        if in_place:
            raise click.UsageError("--in-place needs -f FILE")
        text, name = read_expression(expr, None, None)
    try:
        out = unparse(parse(text, name))
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

    rows = {"backends": [], "functions": []}
    for name, entry in sorted(registry.backends.entries().items()):
        rows["backends"].append({"name": name, "distribution": entry.dist, "entry_point": entry.value,
                                 "status": entry.status})
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
    for r in rows["backends"]:
        click.echo(f"  {r['name']:<12} {r['status']:<10} {r['distribution']}  ({r['entry_point']})")
    click.echo("\nFunctions:")
    for r in rows["functions"]:
        sig = r.get("signature", r["name"])
        click.echo(f"  {sig}\n      {r.get('kind', '?')} · {r['distribution']} · {r['status']}")


if __name__ == "__main__":  # pragma: no cover
    main()
