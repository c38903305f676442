"""Reading schedules out of real config files: OmegaConf interpolations and the
``${clrdsl:...}`` resolver, mappings checked at once, bindings written once beside the
schedule, parse errors as diagnostics with file/line/column, safe loading and bounds,
and the pre-commit hook's entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import clrdsl
from clrdsl.tools.cli import main

ROOT = Path(__file__).resolve().parents[1]
HYDRA_CONFIG = ROOT / "examples" / "hydra_app" / "conf" / "config.yaml"

pytest.importorskip("yaml")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- the project's own Hydra config --------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "explain", "plot", "lint"])
def test_the_hydra_config_reads_through_omegaconf(command):
    pytest.importorskip("omegaconf")
    r = run(command, "-f", HYDRA_CONFIG, "--key", "scheduler.expr")
    assert r.exit_code == 0, r.output
    if command == "check":  # the resolver's value, with `ep` bound from the steps_per_epoch beside it
        assert r.stdout == "triangular(0.001, 0.01, step=1ep) * exp(gamma=0.999, on=iterations)\n"
    if command == "explain":
        assert "64" in r.stdout  # 1ep resolved with steps_per_epoch=64


def test_resolver_takes_its_bindings_from_the_config():
    omegaconf = pytest.importorskip("omegaconf")
    from clrdsl.integrations.omegaconf import register_resolver

    register_resolver()
    cfg = omegaconf.OmegaConf.create({
        "data": {"steps_per_epoch": 50},
        "train": {"total_steps": 1000,
                  "sched": {"lr": "${clrdsl:'onecycle(0.1, total=100%) + constant(0, over=2ep)'}",
                            "steps_per_epoch": "${data.steps_per_epoch}"}},
    })
    assert cfg.train.sched.lr == "onecycle(0.1, total=100%) + constant(0, over=2ep)"
    # the bindings the resolver found are the ones it checked with: a wrong one is refused
    bad = omegaconf.OmegaConf.create({"total_steps": 10, "lr": "${clrdsl:'linear(0.1, 0, over=100%)'}",
                                      "momentum": "${clrdsl:'linear(0.9, 0.8, over=1ep)'}"})
    assert bad.lr == "linear(0.1, 0, over=100%)"
    with pytest.raises(omegaconf.errors.InterpolationResolutionError) as e:
        bad.momentum  # no steps_per_epoch anywhere: the diagnostic names it
    assert "steps_per_epoch" in str(e.value)


# -- mappings ---------------------------------------------------------------------------------

def test_a_mapping_key_checks_every_schedule_under_it(tmp_path):
    cfg = tmp_path / "conf.yaml"
    cfg.write_text("train:\n  steps_per_epoch: 10\n  total_steps: 100\n  optim:\n"
                   "    lr: onecycle(0.1, total=100%)\n    momentum: onecycle_momentum(total=100%)\n"
                   "    groups:\n      - linear(0.1, 0, over=2ep)\n")
    r = run("check", "-f", cfg, "--key", "train.optim")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["train.optim.lr: onecycle(0.1, total=100%)",
                                     "train.optim.momentum: onecycle_momentum(total=100%)",
                                     "train.optim.groups.0: linear(0.1, 0, over=2ep)"]


def test_every_bad_schedule_in_a_mapping_is_reported_by_its_key_path(tmp_path):
    cfg = tmp_path / "conf.toml"
    cfg.write_text('[optim]\nlr = "triangular(0.001, 0.006, stepp=2000)"\n'
                   'momentum = "linear(0.95, 0.85, over=100)"\nwd = "cosine(1e-4, 0, ovr=10)"\n')
    r = run("check", "-f", cfg, "--key", "optim")
    assert r.exit_code == 1
    assert "conf.toml:optim.lr:1:" in r.stderr and "conf.toml:optim.wd:1:" in r.stderr
    assert r.stdout == "optim.momentum: linear(0.95, 0.85, over=100)\n"


def test_a_key_holding_no_string_is_a_usage_error(tmp_path):
    cfg = tmp_path / "conf.json"
    cfg.write_text(json.dumps({"optim": {"epochs": 3}}))
    r = run("check", "-f", cfg, "--key", "optim")
    assert r.exit_code == 2 and "no schedule strings" in r.stderr


# -- parse errors, safety, bounds ---------------------------------------------------------------

@pytest.mark.parametrize("name, text, where", [
    ("bad.yaml", "optim:\n  lr: [1, 2\n  momentum: 3\n", "bad.yaml:3:"),
    ("bad.toml", 'optim.lr = "cosine(0.1, 0, over=10)"\nmomentum = [1,\n', "bad.toml:3:"),
    ("bad.json", '{"optim": {"lr": "constant(0.1)",\n  "x": }}', "bad.json:2:8"),
])
def test_a_file_that_does_not_parse_is_a_diagnostic_with_line_and_column(tmp_path, name, text, where):
    (tmp_path / name).write_text(text)
    r = run("check", "-f", tmp_path / name, "--key", "optim.lr")
    assert r.exit_code == 1, r.output
    assert "E901" in r.stderr and where in r.stderr and "^" in r.stderr and "Traceback" not in r.output


def test_yaml_python_tags_are_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f"lr: !!python/object/apply:os.system ['touch {marker}']\n")
    r = run("check", "-f", cfg, "--key", "lr")
    assert r.exit_code == 1 and "E901" in r.stderr and "evil.yaml:1:5" in r.stderr
    assert not marker.exists()


def test_deep_nesting_and_alias_bombs_are_bounded(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    r = run("check", "-f", deep, "--key", "0")
    assert r.exit_code == 1 and "E902" in r.stderr
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("lr: constant(0.1)")
    bomb.write_text("\n".join(lines) + "\n")
    r = run("check", "-f", bomb, "--key", "lr")
    assert r.exit_code == 1 and "E902" in r.stderr and "aliases" in r.stderr


def test_a_huge_file_is_refused_before_parsing(tmp_path):
    from clrdsl.tools.config import MAX_BYTES

    big = tmp_path / "big.yaml"
    big.write_text("lr: constant(0.1)\n" + "# padding\n" * (MAX_BYTES // 10 + 1))
    r = run("check", "-f", big, "--key", "lr")
    # refused by the bounded read, before any parsing: a file that cannot be read is exit 2
    assert r.exit_code == 2 and "larger than 4 MiB" in r.stderr
    from clrdsl.tools.config import read_config_entries  # the reader's own bound, for library callers

    with pytest.raises(clrdsl.ClrdslError) as e:
        read_config_entries(str(big), "lr")
    assert e.value.code == "E902"


def test_missing_file_is_exit_2_and_unresolvable_interpolation_exit_1(tmp_path):
    assert run("check", "-f", tmp_path / "nope.yaml", "--key", "lr").exit_code == 2
    pytest.importorskip("omegaconf")
    cfg = tmp_path / "conf.yaml"
    cfg.write_text("optim:\n  lr: ${nowhere.lr}\n")
    r = run("check", "-f", cfg, "--key", "optim.lr")
    assert r.exit_code == 1 and "E903" in r.stderr and "optim.lr" in r.stderr


def test_interpolations_resolve(tmp_path):
    pytest.importorskip("omegaconf")
    cfg = tmp_path / "conf.yaml"
    cfg.write_text("base: 'cosine(0.1, 0, over=100)'\noptim:\n  lr: ${base}\n")
    r = run("check", "-f", cfg, "--key", "optim.lr")
    assert r.exit_code == 0 and r.stdout == "cosine(0.1, 0, over=100)\n"


def test_a_bad_resolver_value_is_the_clrdsl_diagnostic(tmp_path):
    pytest.importorskip("omegaconf")
    cfg = tmp_path / "conf.yaml"
    cfg.write_text("optim:\n  lr: \"${clrdsl:'onecycle(0.1, totl=100)'}\"\n")
    r = run("check", "-f", cfg, "--key", "optim.lr")
    assert r.exit_code == 1 and "<optim.lr>" in r.stderr and "total" in r.stderr


# -- pre-commit ---------------------------------------------------------------------------------

def test_pre_commit_hook_definition_and_entry(tmp_path):
    yaml = pytest.importorskip("yaml")
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "clrdsl-check" and hook["language"] == "python"
    entry = hook["entry"].split()
    good = tmp_path / "good.yaml"
    good.write_text("optim:\n  steps_per_epoch: 10\n  lr: cosine(0.1, 0, over=3ep)\n"
                    "other:\n  lr: \"${clrdsl:'constant(0.1)'}\"\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: cosine(0.1, 0, ovr=3)\n  momentum: linear(0.9, 0.8, over=1ep)\n")
    unrelated = tmp_path / "unrelated.json"
    unrelated.write_text('{"name": "x"}')
    args = [sys.executable if entry[0] == "python" else entry[0], *entry[1:], "--key", "optim"]
    ok = subprocess.run([*args, str(good), str(unrelated)], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    r = subprocess.run([*args, str(good), str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1
    assert "bad.yaml:optim.lr" in r.stderr and "bad.yaml:optim.momentum" in r.stderr  # both reported


def test_tomli_is_a_runtime_dependency_below_python_3_11():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("tomli") and "python_version<'3.11'" in d.replace(" ", "")
               for d in deps)


def test_only_what_is_read_is_resolved(tmp_path):
    pytest.importorskip("omegaconf")
    cfg = tmp_path / "conf.yaml"
    # run-time interpolations elsewhere in the file (Hydra's, an unset variable) are left alone
    cfg.write_text("paths:\n  out: ${hydra:runtime.output_dir}\n  home: ${oc.env:CLRDSL_NO_SUCH_VAR}\n"
                   "data:\n  steps_per_epoch: 20\n"
                   "optim:\n  steps_per_epoch: ${data.steps_per_epoch}\n  lr: ${base}\n"
                   "base: 'cosine(0.1, 0, over=2ep)'\n")
    r = run("check", "-f", cfg, "--key", "optim")
    assert r.exit_code == 0, r.output
    assert r.stdout == "optim.lr: cosine(0.1, 0, over=2ep)\n"
    r = run("explain", "-f", cfg, "--key", "optim.lr")
    assert r.exit_code == 0 and "40" in r.stdout  # 2ep with steps_per_epoch=20
    r = run("check", "-f", cfg, "--key", "paths.home")
    assert r.exit_code == 1 and "E903" in r.stderr and "paths.home" in r.stderr
