"""The command line basics: ``clrdsl check`` and ``clrdsl fmt``.

Exit codes: 0 ok (canonical form on stdout), 1 bad expression (diagnostics on
stderr), 2 usage error.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from strategies import MISSION

from clrdsl.tools.cli import main

MESSY = "triangular(0.001,0.006,step=2000)*exp(gamma=0.99994,on=iterations)"


def run(*args, input=None):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart
    return runner.invoke(main, list(args), input=input, catch_exceptions=False)


# -- check ------------------------------------------------------------------------------


def test_check_prints_the_canonical_form():
    r = run("check", MESSY)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == MISSION + "\n"
    assert r.stderr == ""


def test_check_bad_expression_exits_1_with_rendered_diagnostics_on_stderr():
    r = run("check", "triangular(0.001, 0.006, stp=2000)")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert "error[E103]: `triangular` has no parameter `stp`" in r.stderr
    assert " --> <expr>:1:26" in r.stderr
    assert "1 | triangular(0.001, 0.006, stp=2000)" in r.stderr
    assert re.search(r"\n  \| {26}\^{3}\n", r.stderr)  # under `stp`
    assert "did you mean `step`?" in r.stderr
    assert "\x1b[" not in r.stderr  # no colour when not a terminal


def test_check_syntax_error_exits_1():
    r = run("check", "triangular(0.001 0.006, step=2000)")
    assert r.exit_code == 1
    assert "error[E003]" in r.stderr


def test_check_reads_stdin_with_dash():
    r = run("check", "-", input=MESSY + "\n")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == MISSION + "\n"
    r = run("check", "-", input="triangulr(1, 2, step=3)")
    assert r.exit_code == 1
    assert " --> <stdin>:1:1" in r.stderr


def test_check_bindings():
    r = run("check", "triangular(0.001, 0.006, step=4ep)")
    assert r.exit_code == 1 and "steps_per_epoch" in r.stderr and "--steps-per-epoch" in r.stderr
    r = run("check", "triangular(0.001, 0.006, step=4ep)", "--steps-per-epoch", "500")
    assert r.exit_code == 0, r.stderr
    r = run("check", "onecycle(0.1)", "--total-steps", "1000")
    assert r.exit_code == 0, r.stderr


def test_check_json_diagnostics():
    r = run("check", "--format", "json", "triangular(0.001, 0.006, step=2000, step=1)")
    assert r.exit_code == 1
    data = json.loads(r.stderr)
    (err,) = data["errors"]
    assert err["code"] == "E008" and err["kind"] == "syntax"
    assert err["span"] == {"start": 36, "end": 40, "line": 1, "column": 37}
    assert err["labels"][0]["span"]["start"] == 25
    assert data["source"] == "<expr>"


def test_check_json_with_several_errors():
    r = run("check", "--format", "json", "triangular(0.001, 0.006, step=0) * exp(gamma=-1)")
    assert r.exit_code == 1
    codes = [e["code"] for e in json.loads(r.stderr)["errors"]]
    assert codes == ["E301", "E301"]


# -- config files ---------------------------------------------------------------------------


@pytest.fixture
def configs(tmp_path):
    files = {
        "plain.clr": MESSY + "\n",
        "conf.yaml": f"optim:\n  name: sgd\n  lr: \"{MESSY}\"\n  momentum: 0.9\n",
        "conf.toml": f"[optim]\nlr = \"{MESSY}\"\nmomentum = 0.9\n",
        "conf.json": json.dumps({"optim": {"lr": MESSY, "groups": [{"lr": "constant(0.1)"}]}}),
        "bad.yaml": "optim:\n  lr: \"triangular(0.001, 0.006, stp=2000)\"\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_check_plain_text_file(configs):
    r = run("check", "-f", str(configs / "plain.clr"))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == MISSION + "\n"


@pytest.mark.parametrize("name", ["conf.yaml", "conf.toml", "conf.json"])
def test_check_config_file_with_key(configs, name):
    r = run("check", "-f", str(configs / name), "--key", "optim.lr")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == MISSION + "\n"


def test_check_config_list_index(configs):
    r = run("check", "-f", str(configs / "conf.json"), "--key", "optim.groups.0.lr")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "constant(0.1)\n"


def test_check_config_error_names_the_file_and_key(configs):
    r = run("check", "-f", str(configs / "bad.yaml"), "--key", "optim.lr")
    assert r.exit_code == 1
    assert "bad.yaml:optim.lr:1:26" in r.stderr
    assert "did you mean `step`?" in r.stderr


def test_check_missing_key_is_a_usage_error(configs):
    r = run("check", "-f", str(configs / "conf.yaml"), "--key", "optim.learning_rate")
    assert r.exit_code == 2
    assert "optim.learning_rate" in r.stderr and "lr" in r.stderr  # lists what is there


def test_check_key_pointing_at_a_non_string_is_a_usage_error(configs):
    r = run("check", "-f", str(configs / "conf.yaml"), "--key", "optim.momentum")
    assert r.exit_code == 2
    assert "not a string" in r.stderr


# -- usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check"],  # no expression
        ["check", "1", "-f", "x.yaml"],  # both
        ["check", "--steps-per-epoch", "0", "1"],  # out of range
        ["check", "--steps-per-epoch", "many", "1"],
        ["check", "--format", "xml", "1"],
        ["check", "-f", "/nonexistent/dir/conf.yaml"],
        ["nosuchcommand"],
        ["fmt", "-i", "1"],  # -i needs -f
        ["check", "--no-such-option", "1"],
    ],
)
def test_usage_errors_exit_2(args):
    r = run(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert "Usage:" in r.stderr or "Error:" in r.stderr


def test_help_and_version():
    r = run("--help")
    assert r.exit_code == 0 and "check" in r.stdout and "fmt" in r.stdout and "plugins" in r.stdout
    r = run("check", "--help")
    assert r.exit_code == 0 and "--steps-per-epoch" in r.stdout
    r = run("--version")
    assert r.exit_code == 0 and re.search(r"\d+\.\d+", r.stdout)


# -- fmt ------------------------------------------------------------------------------------


def test_fmt_prints_canonical_text_without_checking_names():
    r = run("fmt", MESSY)
    assert r.exit_code == 0 and r.stdout == MISSION + "\n"
    r = run("fmt", "nosuchfunction(1,x=2)")  # syntax only: names are not resolved
    assert r.exit_code == 0 and r.stdout == "nosuchfunction(1, x=2)\n"


def test_fmt_reports_syntax_errors():
    r = run("fmt", "triangular(0.001, 0.006, step=2000")
    assert r.exit_code == 1 and "error[E004]: unclosed `(`" in r.stderr
    r = run("fmt", "--format", "json", "1 +")
    assert r.exit_code == 1 and json.loads(r.stderr)["errors"][0]["code"] == "E006"


def test_fmt_stdin():
    r = run("fmt", "-", input="let a=linear(0,1,over=5)\na>>constant( 1 )")
    assert r.exit_code == 0
    assert r.stdout == "let a = linear(0, 1, over=5)\na >> constant(1)\n"


def test_fmt_file_in_place(tmp_path):
    f = tmp_path / "schedule.clr"
    f.write_text("let warm=linear(0,0.1,over=500)\nwarm>>cosine(0.1,0,over=9500)", encoding="utf-8")
    r = run("fmt", "-f", str(f), "-i")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    expected = "let warm = linear(0, 0.1, over=500)\nwarm >> cosine(0.1, 0, over=9500)\n"
    assert f.read_text(encoding="utf-8") == expected
    # idempotent
    assert run("fmt", "-f", str(f), "-i").exit_code == 0
    assert f.read_text(encoding="utf-8") == expected
    # without -i the file is printed, not rewritten
    r = run("fmt", "-f", str(f))
    assert r.stdout == expected


def test_fmt_in_place_leaves_a_bad_file_alone(tmp_path):
    f = tmp_path / "bad.clr"
    f.write_text("linear(0, 0.1 over=500)", encoding="utf-8")
    r = run("fmt", "-f", str(f), "-i")
    assert r.exit_code == 1 and "E003" in r.stderr
    assert f.read_text(encoding="utf-8") == "linear(0, 0.1 over=500)"


def test_console_script_runs():
    """The installed entry point works as a real process (exit codes included)."""
    exe = [sys.executable, "-m", "clrdsl.tools.cli"]
    ok = subprocess.run(exe + ["check", MESSY], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == MISSION
    bad = subprocess.run(exe + ["check", "1 +"], capture_output=True, text=True)
    assert bad.returncode == 1 and "error[E006]" in bad.stderr and "Traceback" not in bad.stderr
