"""Every code block of README.md and docs/*.md runs here, with the real libraries.

A fenced block says what it is by its language, and each language has one treatment:

- ``python``: executed. The blocks of one file share a namespace and run in order, in a
  fresh folder, so a page reads as one session. What a page takes as given (``model``,
  ``loader``: the reader's own) is made small and real in the page's hidden
  ``<!-- docs-setup ... -->`` comment, run first. A block that cannot run (it needs
  another library, changes the whole process) is preceded by
  ``<!-- not run: the reason -->``.
- ``clrdsl``: a schedule program, parsed and checked (``ep`` and ``%`` bound as the
  block's ``# bindings:`` comment says, else 500 steps per epoch and 100,000 steps).
- ``sh``: shell lines. Each ``clrdsl ...`` line is parsed by the real command line (the
  command and every option must exist and accept its value); other lines (``pip``,
  ``python``) are installation or scripts, tested elsewhere.
- ``yaml``, ``toml``, ``json``: parsed.
- ``text``: output, diagrams and grammar, shown as is (never run).

A block without a language fails the test: every block is either run or marked.
docs/cli.md is also checked against the commands themselves, and the site builds with
warnings as errors.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGS = {"python", "clrdsl", "sh", "yaml", "toml", "json", "text"}
FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<why>[^>]+?)\s*-->\s*$")


def blocks(page: Path):
    text = page.read_text(encoding="utf-8")
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n ").rsplit("\n", 1)[-1]
        body = "\n".join(line[len(m["indent"]):] for line in m["body"].splitlines())
        yield text.count("\n", 0, m.start()) + 1, m["lang"].strip(), body, NOT_RUN.search(before)


def _ids(pages):
    return [p.relative_to(ROOT).as_posix() for p in pages]


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_block_has_a_language(page):
    bad = [(line, lang) for line, lang, _, _ in blocks(page) if lang.split()[0:1] == [] or lang.split()[0] not in LANGS]
    assert bad == [], f"{page.name}: blocks without a known language (line, language): {bad}"


PY_PAGES = [p for p in PAGES if any(lang == "python" and not nr for _, lang, _, nr in blocks(p))]


@pytest.mark.parametrize("page", PY_PAGES, ids=_ids(PY_PAGES))
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    setup = re.search(r"<!--\s*docs-setup\n(.*?)-->", page.read_text(encoding="utf-8"), re.S)
    if setup:
        exec(compile(setup.group(1), f"{page.name}:docs-setup", "exec"), namespace)
    ran = 0
    for line, lang, body, not_run in blocks(page):
        if lang != "python" or not_run:
            continue
        code = compile(body, f"{page.name}:{line}", "exec")
        try:
            exec(code, namespace)
        except Exception as exc:  # name the block, not this test
            pytest.fail(f"{page.name}, the python block at line {line}: {type(exc).__name__}: {exc}")
        ran += 1
    assert ran > 0


def _bindings(body: str) -> dict:
    m = re.search(r"#\s*bindings:\s*(.+)", body)
    if not m:
        return {"steps_per_epoch": 500, "total_steps": 100_000}
    return {k.strip(): int(v) for k, v in (kv.split("=") for kv in m.group(1).split(","))}


CLR_BLOCKS = [(p, line, body) for p in PAGES for line, lang, body, nr in blocks(p) if lang == "clrdsl" and not nr]


@pytest.mark.parametrize("page,line,body", CLR_BLOCKS, ids=[f"{p.name}:{n}" for p, n, _ in CLR_BLOCKS])
def test_clrdsl_blocks_check(page, line, body):
    import clrdsl

    clrdsl.check(body, name=f"{page.name}:{line}", **_bindings(body))


def _clrdsl_lines(body: str):
    joined = re.sub(r"\\\n\s*", " ", body)
    for raw in joined.splitlines():
        line = raw.strip()
        if line.startswith("$ "):
            line = line[2:]
        if re.match(r"(echo .*\| *)?clrdsl\b", line):
            yield line


SH_LINES = [(p, n, cmd) for p in PAGES for n, lang, body, nr in blocks(p) if lang == "sh" and not nr
            for cmd in _clrdsl_lines(body)]


@pytest.mark.parametrize("page,line,cmd", SH_LINES, ids=[f"{p.name}:{n}:{c[:40]}" for p, n, c in SH_LINES])
def test_clrdsl_command_lines_parse(page, line, cmd):
    from clrdsl.tools.cli import main

    cmd = cmd.split("|")[-1].strip()
    args = shlex.split(cmd, comments=True)[1:]
    if not args or args[0].startswith("-"):
        main.make_context("clrdsl", list(args))  # `clrdsl --version`, `clrdsl --help`
        return
    ctx = click.Context(main, info_name="clrdsl")
    sub = main.get_command(ctx, args[0])
    assert sub is not None, f"{page.name}:{line}: no command `{args[0]}`"
    try:
        sub.make_context(args[0], list(args[1:]), parent=ctx)
    except click.UsageError as exc:
        pytest.fail(f"{page.name}:{line}: `{cmd}`: {exc.format_message()}")


DATA = [(p, n, lang, body) for p in PAGES for n, lang, body, _ in blocks(p) if lang in ("yaml", "toml", "json")]


@pytest.mark.parametrize("page,line,lang,body", DATA, ids=[f"{p.name}:{n}" for p, n, _, _ in DATA])
def test_config_blocks_parse(page, line, lang, body):
    if lang == "json":
        json.loads(body)
    elif lang == "toml":
        import tomllib

        tomllib.loads(body)
    else:
        yaml = pytest.importorskip("yaml")
        yaml.safe_load(body)


# -- docs/cli.md and the commands ---------------------------------------------------------------


def _all_commands():
    from clrdsl.tools.cli import main

    ctx = click.Context(main)
    return {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}


def test_cli_md_documents_every_command_and_option():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = []
    for name, cmd in _all_commands().items():
        if f"`clrdsl {name}`" not in text:
            missing.append(f"a section for `clrdsl {name}`")
        for param in cmd.params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                if longest not in text and "--help" not in param.opts:
                    missing.append(f"`clrdsl {name} {longest}`")
    assert missing == []


def _script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_md_reference_is_generated_from_the_commands():
    import importlib.metadata as md

    try:
        md.distribution("clrdsl-demo")
    except md.PackageNotFoundError:
        pytest.skip("the demo app is not installed: its commands would be missing from the reference")
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    want = _script("cli_reference").reference()
    got = text[text.index("<!-- cli-reference:start -->"):text.index("<!-- cli-reference:end -->") + 26]
    assert got == want, "docs/cli.md is stale: run python scripts/cli_reference.py --write docs/cli.md"


def test_readme_diagnostic_is_what_check_prints():
    from click.testing import CliRunner

    from clrdsl.tools.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = next(body for _, lang, body, _ in blocks(ROOT / "README.md") if lang == "text" and "error[E103]" in body)
    r = CliRunner().invoke(main, ["check", "triangular(0.001, 0.006, stp=2000)"])
    assert r.exit_code == 1
    assert r.stderr.strip() == shown.strip()
    assert "Bad input gets a diagnostic" in readme


@pytest.mark.parametrize("page", ["README.md", "docs/demo.md"])
def test_demo_table_is_written_from_the_demo_results(page):
    readme = (ROOT / page).read_text(encoding="utf-8")
    m = re.search(r"written from `([^`]+)` by `scripts/demo_table.py`", readme)
    assert m, "the README's demo table names its results file"
    results = json.loads((ROOT / m.group(1)).read_text(encoding="utf-8"))
    want = _script("demo_table").section(results, m.group(1))
    got = readme[readme.index("<!-- demo-table:start -->"):readme.index("<!-- demo-table:end -->") + 23]
    assert got == want, f"{page} is stale: run python scripts/demo_table.py RESULTS --write {page}"
    assert results["machine"]["cpus"] and len({r["seed"] for r in results["runs"]}) >= 3


def test_cli_md_exit_codes_are_the_real_ones(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from clrdsl.tools.cli import main

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "0: ok. 1: a bad expression" in text and "2: a usage error" in text
    r = CliRunner()
    assert r.invoke(main, ["check", "onecycle(0.1, total=100)"]).exit_code == 0
    assert r.invoke(main, ["check", "onecycle(0.1, totl=100)"]).exit_code == 1
    assert r.invoke(main, ["eval", "onecycle(0.1, total=100)", "--steps", "x"]).exit_code == 2
    assert r.invoke(main, ["compile", "onecycle(0.1, total=100)", "-b", "nosuch"]).exit_code == 2
    # a missing optional dependency is exit 2 too, with what to install
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    out = r.invoke(main, ["plot", "onecycle(0.1, total=100)", "-o", str(tmp_path / "x.png")])
    assert out.exit_code == 2 and 'pip install "clrdsl[plot]"' in out.output


def test_shell_completion_as_documented(tmp_path):
    for page in ("cli.md", "install.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for shell in ("bash", "zsh", "fish"):
            assert f"_CLRDSL_COMPLETE={shell}_source clrdsl" in text
    env = {**os.environ, "_CLRDSL_COMPLETE": "bash_source"}
    exe = Path(sys.executable).with_name("clrdsl")
    if not exe.exists():
        pytest.skip("the clrdsl script is not installed next to this Python")
    script = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "_clrdsl_completion" in script and "complete " in script
    env = {**os.environ, "_CLRDSL_COMPLETE": "bash_complete", "COMP_WORDS": "clrdsl ex", "COMP_CWORD": "1"}
    words = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=60).stdout.split()
    assert "plain,explain" in words  # click's bash protocol: TYPE,VALUE per line


# -- the site ------------------------------------------------------------------------------------


def test_docs_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    # the API reference comes from the docstrings
    assert "Compile an expression to a backend" in api and "set_step" in api
