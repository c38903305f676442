"""The reference section of docs/cli.md, generated from the click commands themselves.

    python scripts/cli_reference.py                       # print it
    python scripts/cli_reference.py --write docs/cli.md   # replace the marked section

Every command the ``clrdsl`` command line has (built in, or added through the
``clrdsl.commands`` entry-point group, such as the demo app's) with its usage, its
summary and each option: a test checks that docs/cli.md holds exactly this.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import click

START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def reference() -> str:
    from clrdsl.tools.cli import main

    ctx = click.Context(main, info_name="clrdsl")
    out = [START, "", "Generated from the commands by `scripts/cli_reference.py`.", ""]
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        sub = click.Context(cmd, info_name=name, parent=ctx)
        summary = cmd.get_short_help_str(limit=200)
        out += [f"### `clrdsl {name}`", "", summary, "", "```text", " ".join(cmd.collect_usage_pieces(sub)).join(
            [f"clrdsl {name} ", ""]).rstrip(), "```", ""]
        rows = []
        for p in cmd.get_params(sub):
            if not isinstance(p, click.Option) or "--help" in p.opts:
                continue
            record = p.get_help_record(sub)
            if record is None:
                continue
            opts, help_text = record
            rows.append(f"| `{_cell(opts)}` | {_cell(help_text)} |")
        if rows:
            out += ["| option | meaning |", "|---|---|", *rows, ""]
    out.append(END)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", metavar="MARKDOWN", help="replace the marked section of this file")
    args = ap.parse_args(argv)
    text = reference()
    if not args.write:
        print(text)
        return 0
    page = Path(args.write)
    old = page.read_text(encoding="utf-8")
    if START not in old:
        old = old.rstrip("\n") + f"\n\n## Reference\n\n{START}\n{END}\n"
    page.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: text, old, flags=re.S),
                    encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
