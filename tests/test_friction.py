"""What a newcomer tripped on, each fixed: fmt keeps comments, W002's hint is one that
works, `clrdsl plugins` is a table with install hints and every known backend, plot
gives each hyperparameter its own axis, progress shows on any terminal, the demo's
output folder is ignored by git."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import clrdsl
from clrdsl.contract import registry
from clrdsl.contract.registry import BACKENDS, FUNCTIONS, Registry
from clrdsl.language.parse import parse
from clrdsl.language.unparse import format_source
from clrdsl.tools.cli import main
from clrdsl.tools.explain import lint

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, **kw):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kw)


# -- fmt keeps comments -------------------------------------------------------------------

SOURCE = """\
# warmup, then a long cosine
let warm = linear(0, 0.1,   # climbs to the peak
                  over=2ep)
let   peak=0.1  # the top
# the body
warm >> cosine(peak,0.001,over=90%)   # decays
# end of file
"""


def test_fmt_in_place_keeps_every_comment(tmp_path):
    f = tmp_path / "schedule.clr"
    f.write_text(SOURCE)
    r = _cli("fmt", "-f", str(f), "-i")
    assert r.exit_code == 0, r.output
    out = f.read_text()
    assert out == (
        "# warmup, then a long cosine\n"
        "let warm = linear(0, 0.1, over=2ep)  # climbs to the peak\n"
        "let peak = 0.1  # the top\n"
        "# the body\n"
        "warm >> cosine(peak, 0.001, over=90%)  # decays\n"
        "# end of file\n")
    assert parse(out) == parse(SOURCE)  # the same program
    assert format_source(out) + "\n" == out  # formatting again changes nothing


def test_fmt_without_comments_is_the_canonical_form():
    r = _cli("fmt", "triangular(0.001,0.006,step=2000)*exp(gamma=0.99994,on=iterations)")
    assert r.output.strip() == "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"


# -- W002: the hint names the duration that fits -----------------------------------------


def test_w002_hint_gives_a_duration_that_ends_at_total_steps():
    text = "let warm = linear(0, 0.1, over=2ep)\nwarm >> cosine(0.1, 0.001, over=90%)"  # the README's
    (w,) = [x for x in lint(text, steps_per_epoch=100, total_steps=1000) if x.code == "W002"]
    assert "relative to the run" not in w.hint  # it already was: the old hint said nothing useful
    steps, pct = re.search(r"over=(\d+) \(= ([\d.]+)% of total_steps\)", w.hint).groups()
    assert (steps, pct) == ("800", "80")
    for fixed in (text.replace("90%", f"{steps}"), text.replace("90%", f"{pct}%")):
        assert [x.code for x in lint(fixed, steps_per_epoch=100, total_steps=1000)].count("W002") == 0


# -- clrdsl plugins ------------------------------------------------------------------------


@pytest.fixture
def without(monkeypatch):
    """An environment without some frameworks, and without some backends' entry points."""
    real = registry.entry_points

    def apply(frameworks=(), entry_points=()):
        for fw in frameworks:
            monkeypatch.setitem(sys.modules, fw, None)  # `import fw` and find_spec fail as if absent
        for mod in [m for m in sys.modules if m.startswith(("clrdsl_torch", "clrdsl_keras", "clrdsl_jax"))]:
            monkeypatch.delitem(sys.modules, mod)
        monkeypatch.setattr(registry, "entry_points",
                            lambda group: [e for e in real(group=group) if e.name not in entry_points])
        monkeypatch.setattr(registry, "backends", Registry(BACKENDS))
        monkeypatch.setattr(registry, "functions", Registry(FUNCTIONS))

    return apply


def test_plugins_is_an_aligned_table_with_hints_and_every_known_backend(without):
    without(frameworks=("torch", "keras"), entry_points=("jax",))
    r = _cli("plugins")
    assert r.exit_code == 0, r.output
    lines = r.output.split("\n\nFunctions:")[0].splitlines()[1:]
    head, rows = lines[0], {line.split()[0]: line for line in lines[1:]}
    assert head.split() == ["NAME", "STATUS", "DISTRIBUTION", "ENTRY", "POINT", "TO", "INSTALL"]
    assert set(rows) == {"jax", "keras", "numpy", "torch"}
    # aligned: every column starts where its heading does
    for col in ("STATUS", "DISTRIBUTION", "ENTRY POINT"):
        at = head.index(col)
        assert all(line[at - 2:at] == "  " and line[at] != " " for line in rows.values()), col
    assert rows["torch"][head.index("STATUS"):].startswith("needs torch")
    assert registry.TORCH_HINT in rows["torch"]
    assert 'pip install "clrdsl[keras]"' in rows["keras"]
    assert rows["jax"][head.index("STATUS"):].startswith("not installed")
    assert rows["jax"].endswith('pip install "clrdsl[jax]"')
    assert rows["numpy"].split()[1] == "ok" and rows["numpy"].rstrip().endswith("clrdsl_numpy:backend")


def test_plugins_json_lists_the_known_backends_with_install_hints(without):
    import json

    without(frameworks=("torch",), entry_points=("jax",))
    data = {b["name"]: b for b in json.loads(_cli("plugins", "--format", "json").output)["backends"]}
    assert data["jax"]["state"] == "not installed" and data["jax"]["install"] == 'pip install "clrdsl[jax]"'
    assert data["torch"]["status"].startswith("needs torch") and data["torch"]["install"] == registry.TORCH_HINT
    assert data["numpy"]["install"] is None


# -- plot: one axis per hyperparameter ------------------------------------------------------


def test_plot_gives_each_key_its_own_panel_labelled_by_key(tmp_path):
    pytest.importorskip("matplotlib")
    conf = tmp_path / "config.yaml"
    pytest.importorskip("yaml")
    conf.write_text("optim:\n  lr: onecycle(0.006, total=1000)\n  momentum: onecycle_momentum(total=1000)\n")
    from clrdsl.tools.plot import figure, series

    checked = [clrdsl.check("onecycle(0.006, total=1000)"), clrdsl.check("onecycle_momentum(total=1000)")]
    fig = figure([series(c, 1000, label=k, group=k) for c, k in zip(checked, ("optim.lr", "optim.momentum"))])
    axes = [a for a in fig.axes if a.get_ylabel()]
    assert [a.get_ylabel() for a in axes] == ["optim.lr", "optim.momentum"]
    lr_lo, lr_hi = axes[0].get_ylim()
    assert lr_hi < 0.01  # lr has an axis of its own: not flattened by momentum's 0.85-0.95
    assert axes[1].get_ylim()[0] > 0.5
    assert [t.get_text() for t in axes[0].get_legend().get_texts()][0] == "optim.lr"
    # the command line: a file, and the terminal form headed by each key
    r = _cli("plot", "-f", str(conf), "--key", "optim.lr", "--key", "optim.momentum", "-o", str(tmp_path / "p.png"))
    assert r.exit_code == 0 and (tmp_path / "p.png").stat().st_size > 0
    r = _cli("plot", "-f", str(conf), "--key", "optim.lr", "--key", "optim.momentum")
    assert r.output.startswith("optim.lr\n") and "\n\noptim.momentum\n" in r.output
    # several expressions of one hyperparameter still share an axis
    fig = figure([series(clrdsl.check(e), 1000) for e in ("onecycle(0.1, total=1000)", "constant(0.05)")])
    assert len([a for a in fig.axes if a.get_ylabel()]) == 1


# -- progress on any terminal ----------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere():
    pytest.importorskip("tqdm")
    from clrdsl.tools.progress import LineProgress, progress_bar

    log = io.StringIO()
    bar = progress_bar(5, "range test", "step", stream=log)
    assert isinstance(bar, LineProgress)
    for _ in range(3):
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert lines[0] == "range test: 5 steps ..."
    assert re.fullmatch(r"range test: 3/5 steps in \d+\.\d s", lines[1])
    assert "\r" not in log.getvalue()
    tty = _Tty()
    bar = progress_bar(5, "range test", "step", stream=tty)
    bar.update(5)
    bar.close()
    assert "\r" in tty.getvalue() and "5/5" in tty.getvalue()  # tqdm's bar


def test_range_test_reports_progress_when_not_a_tty(capsys):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    data = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 64, 8)]
    clrdsl.range_test(model, torch.nn.functional.cross_entropy, data, opt, start=1e-3, end=1.0, steps=20,
                      progress=True)
    err = capsys.readouterr().err.splitlines()  # pytest's stderr is not a terminal
    assert err[0] == "range test: 20 steps ..." and re.fullmatch(r"range test: \d+/20 steps in .* s", err[-1])


# -- the demo's output folder ------------------------------------------------------------------


def test_demo_output_folder_is_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "clrdsl-demo/" in ignored


# -- the examples: a config that is not there -----------------------------------------------------


def test_example_with_a_missing_config_says_so(tmp_path):
    import subprocess

    pytest.importorskip("torch")
    pytest.importorskip("yaml")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "torch_loop.py"), "--config", "my_schedules.yaml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "--config my_schedules.yaml: no such file" in out.stderr
    assert "Traceback" not in out.stderr
    readme = (ROOT / "examples" / "README.md").read_text()
    for path in re.findall(r"--config (\S+)", readme):
        assert (ROOT / path).is_file(), path


# -- a command whose dependency is missing -----------------------------------------------------


def test_demo_commands_without_torch_exit_2_with_pytorchs_instructions(monkeypatch):
    import importlib.metadata as md

    try:
        md.distribution("clrdsl-demo")
    except md.PackageNotFoundError:
        r = _cli("demo")  # without the app: where the command comes from
        assert r.exit_code == 2 and "apps/demo" in r.output
        return
    monkeypatch.setitem(sys.modules, "torch", None)
    for cmd in (["demo", "--quick"], ["range-test"]):
        r = CliRunner().invoke(main, cmd)
        assert r.exit_code == 2, r.output
        assert "needs torch" in r.output and registry.TORCH_HINT in r.output
