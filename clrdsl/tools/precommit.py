"""``python -m clrdsl.tools.precommit FILE... [--key K]...``: lint the schedules in config files.

The entry of the ``clrdsl-check`` hook in ``.pre-commit-hooks.yaml``. For each file it
checks every schedule string under each ``--key`` (a string or a mapping; a file
without that key is skipped) and every ``${clrdsl:...}`` value anywhere (those are
schedules by construction), with the bindings written beside them
(``steps_per_epoch`` / ``total_steps``), else ``--steps-per-epoch`` / ``--total-steps``. ``--strict`` makes the lints errors. Exit 1
with the diagnostics when any schedule fails, else 0.
"""

from __future__ import annotations

import sys

import click

from clrdsl.diagnostics.errors import ClrdslError


def _resolver_keys(node, prefix=""):
    """Key paths of the values written as ``${clrdsl:...}`` (read before resolution)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        sub = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, str) and v.lstrip().startswith("${clrdsl:"):
            yield sub
        elif isinstance(v, (dict, list)):
            yield from _resolver_keys(v, sub)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, exists=True))
@click.option("--key", "keys", multiple=True, help="dotted key path holding schedules (repeatable)")
@click.option("--steps-per-epoch", type=click.IntRange(min=1),
              help="binding for `ep` where the config has none beside the schedule")
@click.option("--total-steps", type=click.IntRange(min=1),
              help="binding for `%` where the config has none beside the schedule")
@click.option("--strict", is_flag=True, help="lints are errors too")
def main(files, keys, steps_per_epoch, total_steps, strict):
    """Check the schedule strings in config files (a pre-commit hook)."""
    from clrdsl.api import check
    from clrdsl.diagnostics.errors import Source
    from clrdsl.tools import config
    from clrdsl.tools.explain import lint, lint_error

    failed = 0
    for path in files:
        try:
            raw = config._parse(config._read(path), path, config.FORMATS.get(_ext(path), "yaml"))
            config._measure(raw, path)
            wanted = list(keys) + [k for k in _resolver_keys(raw) if not any(
                k == p or k.startswith(p + ".") for p in keys)]
            for key in wanted:
                try:
                    entries = config.read_config_entries(path, key)
                except KeyError:
                    continue  # this file has no such key
                given = {"steps_per_epoch": steps_per_epoch, "total_steps": total_steps}
                for e in entries:
                    b = {k: e.bindings.get(k, given[k]) for k in config.BINDINGS}
                    try:
                        check(e.text, name=e.name, **b)
                        found = lint(e.text, name=e.name, **b) if strict else []
                        if found:
                            raise lint_error(found, Source(e.text, e.name))
                    except ClrdslError as err:  # report every bad schedule, not just the first
                        click.echo(err.render(color=False), err=True)
                        failed += 1
        except ClrdslError as err:
            click.echo(err.render(color=False), err=True)
            failed += 1
        except (OSError, ValueError) as exc:
            click.echo(f"{path}: {exc}", err=True)
            failed += 1
    sys.exit(1 if failed else 0)


def _ext(path: str) -> str:
    import os

    return os.path.splitext(path)[1].lower()


if __name__ == "__main__":  # pragma: no cover
    main()
