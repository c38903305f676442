"""Configs: the Hydra `_target_` factories and the OmegaConf `${clrdsl:...}` resolver."""

from __future__ import annotations

import subprocess
import sys
import traceback

import numpy as np
import pytest

omegaconf = pytest.importorskip("omegaconf")
hydra_utils = pytest.importorskip("hydra.utils")
torch = pytest.importorskip("torch")

from hydra.errors import InstantiationException  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from omegaconf.errors import InterpolationResolutionError  # noqa: E402

import clrdsl  # noqa: E402
from clrdsl.integrations.hydra import schedule, torch_scheduler  # noqa: E402
from clrdsl.integrations.omegaconf import check_schedule, register_resolver  # noqa: E402

MISSION = "triangular(0.001, 0.006, step=4ep) * exp(gamma=0.99994, on=iterations)"

CONFIG = f"""
data:
  steps_per_epoch: 5
optimizer:
  _target_: torch.optim.SGD
  _partial_: true
  lr: 0.1
  momentum: 0.9
scheduler:
  _target_: clrdsl.integrations.hydra.torch_scheduler
  _partial_: true
  expr: "{MISSION}"
  steps_per_epoch: ${{data.steps_per_epoch}}
"""


@pytest.fixture(autouse=True, scope="module")
def _resolver():
    register_resolver()


def _model():
    return torch.nn.Linear(3, 1)


def _lrs(opt, sched, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def test_integrations_import_no_framework():
    code = ("import sys, clrdsl, clrdsl.integrations.hydra, clrdsl.integrations.omegaconf; "
            "print(sorted(m for m in ('omegaconf', 'hydra', 'torch', 'jax', 'tensorflow', 'keras') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_instantiate_torch_scheduler_with_partial_optimizer():
    cfg = OmegaConf.create(CONFIG)
    model = _model()
    opt = hydra_utils.instantiate(cfg.optimizer)(model.parameters())
    sched = hydra_utils.instantiate(cfg.scheduler)(optimizer=opt)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    want = clrdsl.compile(MISSION, steps_per_epoch=5)(np.arange(60))
    np.testing.assert_allclose(_lrs(opt, sched, 60), want, rtol=1e-12)


def test_instantiate_mapping_of_hyperparameters():
    cfg = OmegaConf.create("""
    scheduler:
      _target_: clrdsl.integrations.hydra.torch_scheduler
      _partial_: true
      expr:
        lr: onecycle(0.1, total=50)
        momentum: onecycle_momentum(total=50)
    """)
    opt = torch.optim.SGD(_model().parameters(), lr=0.1, momentum=0.9)
    sched = hydra_utils.instantiate(cfg.scheduler)(opt)
    moms = []
    for _ in range(50):
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(moms, clrdsl.compile("onecycle_momentum(total=50)")(np.arange(50)), rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_instantiate_any_backend(backend):
    if backend == "jax":
        pytest.importorskip("clrdsl_jax")
    cfg = OmegaConf.create({"s": {"_target_": "clrdsl.integrations.hydra.schedule",
                                  "expr": "warmup_cosine(1, warmup=10, decay=100)", "backend": backend}})
    s = hydra_utils.instantiate(cfg.s)
    want = clrdsl.compile("warmup_cosine(1, warmup=10, decay=100)")(np.arange(120))
    np.testing.assert_allclose(np.asarray(s(np.arange(120)), dtype=np.float64), want, rtol=2e-6, atol=1e-7)


def test_factories_called_directly():
    opt = torch.optim.SGD(_model().parameters(), lr=0.1)
    assert torch_scheduler(opt, "constant(0.01)").get_last_lr() == [0.01]
    assert schedule("linear(0, 1, over=10)")(5) == pytest.approx(0.5)


def test_bad_expression_in_hydra_call_keeps_the_diagnostic():
    cfg = OmegaConf.create({"s": {"_target_": "clrdsl.integrations.hydra.schedule",
                                  "expr": "triangular(0.001, 0.006, stp=2000)"}})
    with pytest.raises(InstantiationException) as info:
        hydra_utils.instantiate(cfg.s)
    cause = info.value.__cause__
    assert isinstance(cause, clrdsl.ClrdslError) and cause.code == "E103"
    shown = "".join(traceback.format_exception(info.value))  # what the user sees
    assert "triangular(0.001, 0.006, stp=2000)" in shown
    assert "^^^" in shown and "did you mean `step`?" in shown


def test_bad_expression_with_partial_raises_clrdsl_error_when_called():
    cfg = OmegaConf.create(CONFIG.replace("gamma=", "gama="))
    factory = hydra_utils.instantiate(cfg.scheduler)  # Hydra defers the call
    with pytest.raises(clrdsl.ClrdslError) as info:
        factory(optimizer=torch.optim.SGD(_model().parameters(), lr=0.1))
    assert "did you mean `gamma`?" in str(info.value) and "^^^^" in str(info.value)


# -- the resolver ----------------------------------------------------------------------------


def test_resolver_returns_the_canonical_text():
    cfg = OmegaConf.create("""
    data: {steps_per_epoch: 500}
    optim:
      lr: ${clrdsl:'triangular(0.001,0.006,step=2000)*exp(gamma=0.99994,on=iterations)'}
      lr2: "${clrdsl:'triangular2(0.001, 0.006, step=4ep)', {steps_per_epoch: ${data.steps_per_epoch}}}"
    """)
    assert cfg.optim.lr == "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)"
    assert cfg.optim.lr2 == "triangular2(0.001, 0.006, step=4ep)"
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert clrdsl.compile(resolved["optim"]["lr2"], steps_per_epoch=500)(2000) == pytest.approx(0.006)


def test_resolver_error_is_the_rendered_diagnostic():
    cfg = OmegaConf.create({"optim": {"lr": "${clrdsl:'triangular(0.001, 0.006, stp=2000)'}"}})
    with pytest.raises(InterpolationResolutionError) as info:
        _ = cfg.optim.lr
    text = str(info.value)
    assert "error[E103]: `triangular` has no parameter `stp`" in text
    assert "--> <optim.lr>:1:26" in text  # the source is named after the config key
    lines = text.splitlines()
    snippet = next(i for i, line in enumerate(lines) if line.endswith("triangular(0.001, 0.006, stp=2000)"))
    assert lines[snippet + 1].rstrip().endswith("^^^")
    caret = lines[snippet + 1].index("^") - lines[snippet].index("triangular")
    assert caret == len("triangular(0.001, 0.006, ")  # under `stp`
    assert "did you mean `step`?" in text


def test_resolver_needs_its_bindings():
    cfg = OmegaConf.create({"lr": "${clrdsl:'linear(0, 1, over=30%)'}",
                            "ok": "${clrdsl:'linear(0, 1, over=30%)', {total_steps: 1000}}",
                            "typo": "${clrdsl:'linear(0, 1, over=30%)', {total_step: 1000}}"})
    with pytest.raises(InterpolationResolutionError, match="total_steps"):
        _ = cfg.lr
    assert cfg.ok == "linear(0, 1, over=30%)"
    with pytest.raises(InterpolationResolutionError, match="unknown binding total_step"):
        _ = cfg.typo


def test_resolver_rejects_non_strings():
    with pytest.raises(TypeError, match="schedule string"):
        check_schedule(0.1)


def test_resolver_inside_hydra_instantiate_fails_at_resolution():
    cfg = OmegaConf.create(CONFIG.replace(f'"{MISSION}"', "${clrdsl:'triangular(0.001, 0.006, step=-4)'}"))
    with pytest.raises(InterpolationResolutionError) as info:  # before any optimizer exists
        hydra_utils.instantiate(cfg.scheduler)
    shown = "".join(traceback.format_exception(info.value))
    assert "error[" in shown and "^" in shown and "<scheduler.expr>" in shown


def test_new_modules_import_no_framework():
    code = ("import sys, clrdsl, clrdsl.integrations.hf, clrdsl.integrations.timm, clrdsl.tools.config, "
            "clrdsl.tools.display, clrdsl.vocabulary, clrdsl.tools.precommit; "
            "print(sorted(m for m in ('omegaconf', 'hydra', 'torch', 'jax', 'tensorflow', 'keras', 'transformers', "
            "'lightning', 'timm', 'accelerate', 'matplotlib', 'IPython', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
